//! The repository's `statemachine.asl.json` on the embedded engine, with scripted step results:
//! the retry, catch and escalation paths that issue 3 §1 specifies, on the real file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use iras_local::asl::{
    Engine, EngineOptions, ExecutionStatus, HistoryEventKind, MemoryExecutionStore, TaskFailure,
    TaskInvoker,
};
use iras_local::runtime::{definition, STATE_MACHINE};
use serde_json::{json, Value};

/// Answers each function with the next scripted result; unscripted functions succeed with `{}`.
#[derive(Default)]
struct Script {
    results: Mutex<HashMap<String, Vec<Result<Value, TaskFailure>>>>,
    calls: Mutex<Vec<String>>,
}

impl Script {
    fn on(self, function: &str, results: Vec<Result<Value, TaskFailure>>) -> Self {
        self.results
            .lock()
            .unwrap()
            .insert(function.into(), results);
        self
    }
}

fn fail(error: &str) -> Result<Value, TaskFailure> {
    Err(TaskFailure::new(error, format!("{error} from the script")))
}

#[async_trait]
impl TaskInvoker for Script {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let (function, wait) = match input.get("FunctionName").and_then(Value::as_str) {
            Some(f) => (f.to_owned(), true),
            None => (resource.to_owned(), false),
        };
        let name = function.rsplit(':').next().unwrap_or_default().to_owned();
        self.calls.lock().unwrap().push(name.clone());
        let next = {
            let mut r = self.results.lock().unwrap();
            r.get_mut(&name).and_then(|v| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.remove(0))
                }
            })
        };
        let default = match name.as_str() {
            "ingest" => input.clone(),
            "triage" => json!({"severity": "P2", "approval_timeout_seconds": 60}),
            "gather-context" => json!({"attempt": 1}),
            "analyze-root-cause" => {
                json!({"attempt": 1, "confident": true, "can_retry": false, "confidence": 0.9})
            }
            "plan-remediation" => json!({"auto_apply": true, "steps": 1}),
            "apply-remediation" => json!({"outcome": "resolved", "applied": 1}),
            _ => json!({}),
        };
        let out = next.unwrap_or(Ok(default))?;
        Ok(if wait {
            json!({"Payload": out, "StatusCode": 200})
        } else {
            out
        })
    }
}

async fn run(script: Script) -> (iras_local::asl::ExecutionSummary, Vec<String>) {
    let script = Arc::new(script);
    let options = EngineOptions {
        time_scale: 0.005,
        ..EngineOptions::default()
    };
    let engine = Engine::new(
        Arc::new(definition().unwrap()),
        script.clone(),
        Arc::new(MemoryExecutionStore::new()),
        options,
    );
    engine
        .start_execution(
            "run",
            json!({"incident_id": "01J0000000000000000000000A", "trace_id": "t"}),
        )
        .await
        .unwrap();
    let summary = engine
        .wait_until_finished("run", Duration::from_secs(20))
        .await
        .unwrap();
    let calls = script.calls.lock().unwrap().clone();
    (summary, calls)
}

fn states(s: &iras_local::asl::ExecutionSummary) -> Vec<String> {
    s.history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::StateEntered { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_task_retries_transient_and_lambda_errors_and_all_but_two_catch_into_escalate() {
    let asl: Value = serde_json::from_str(STATE_MACHINE).unwrap();
    let tasks: Vec<(&String, &Value)> = asl["States"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["Type"] == "Task")
        .collect();
    assert_eq!(tasks.len(), 9);
    for (name, state) in tasks {
        let retried: Vec<&str> = state["Retry"][0]["ErrorEquals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for e in [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Iras.Transient",
        ] {
            assert!(retried.contains(&e), "{name} does not retry {e}");
        }
        assert!(
            state["Retry"][0]["BackoffRate"].as_f64().unwrap() > 1.0,
            "{name} backs off"
        );
        let catch = &state["Catch"][0];
        match name.as_str() {
            "WritePostmortem" => assert!(catch.is_null(), "the last state has nowhere to go"),
            "Escalate" => assert_eq!(catch["Next"], "WritePostmortem"),
            _ => {
                assert_eq!(catch["ErrorEquals"][0], "States.ALL", "{name}");
                assert_eq!(catch["Next"], "Escalate", "{name}");
                assert_eq!(catch["ResultPath"], "$.error", "{name}");
            }
        }
    }
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_the_run_continues() {
    let (s, calls) = run(Script::default().on(
        "triage",
        vec![
            fail("Iras.Transient"),
            fail("Lambda.TooManyRequestsException"),
        ],
    ))
    .await;
    assert_eq!(s.status, ExecutionStatus::Succeeded);
    assert_eq!(calls.iter().filter(|c| *c == "triage").count(), 3);
    assert!(!states(&s).contains(&"Escalate".to_string()));
}

#[tokio::test]
async fn a_step_that_fails_for_good_is_caught_into_escalate_with_the_error_recorded() {
    let (s, calls) =
        run(Script::default().on("plan-remediation", vec![fail("Iras.InvalidInput")])).await;
    assert_eq!(s.status, ExecutionStatus::Succeeded);
    assert_eq!(
        calls.iter().filter(|c| *c == "plan-remediation").count(),
        1,
        "invalid input is not retried"
    );
    let st = states(&s);
    assert_eq!(&st[st.len() - 2..], ["Escalate", "WritePostmortem"]);
    let escalate_input = s.history.iter().find_map(|e| match &e.kind {
        HistoryEventKind::StateEntered { state, input, .. } if state == "Escalate" => {
            Some(input.clone())
        }
        _ => None,
    });
    assert_eq!(
        escalate_input.unwrap()["error"]["Error"],
        "Iras.InvalidInput"
    );
}

#[tokio::test]
async fn a_failed_escalation_still_reaches_the_postmortem() {
    let (s, _) = run(Script::default()
        .on(
            "analyze-root-cause",
            vec![Ok(
                json!({"attempt": 1, "confident": false, "can_retry": false, "confidence": 0.2}),
            )],
        )
        .on("escalate", vec![fail("Iras.Unexpected")]))
    .await;
    assert_eq!(s.status, ExecutionStatus::Succeeded);
    let st = states(&s);
    assert_eq!(&st[st.len() - 2..], ["Escalate", "WritePostmortem"]);
    assert_eq!(
        s.output.unwrap()["escalation_error"]["Error"],
        "Iras.Unexpected"
    );
}

#[tokio::test]
async fn low_confidence_loops_back_to_gathering_while_attempts_remain() {
    let low = |attempt: u32, retry: bool| {
        Ok(json!({"attempt": attempt, "confident": false, "can_retry": retry, "confidence": 0.3}))
    };
    let (s, _) = run(Script::default().on(
        "analyze-root-cause",
        vec![low(1, true), low(2, true), low(3, false)],
    ))
    .await;
    let st = states(&s);
    assert_eq!(st.iter().filter(|x| *x == "GatherContext").count(), 3);
    assert!(st.contains(&"Escalate".to_string()));
    assert!(!st.contains(&"PlanRemediation".to_string()));
}

#[tokio::test]
async fn a_plan_that_may_not_auto_apply_waits_for_approval_and_the_deadline_escalates() {
    let (s, _) = run(Script::default()
        .on(
            "plan-remediation",
            vec![Ok(json!({"auto_apply": false, "steps": 1}))],
        )
        .on(
            "triage",
            vec![Ok(json!({"severity": "P2", "approval_timeout_seconds": 1}))],
        ))
    .await;
    let st = states(&s);
    assert!(st.contains(&"RequestApproval".to_string()));
    assert_eq!(&st[st.len() - 2..], ["Escalate", "WritePostmortem"]);
    assert_eq!(s.output.unwrap()["error"]["Error"], "States.Timeout");
}

//! `.waitForTaskToken` tasks and the callback API: success, failure, heartbeats, timeouts,
//! unknown and stale tokens; execution names; concurrency.

use std::sync::Arc;
use std::time::Duration;

use iras_local::asl::{
    CallbackError, ExecutionStatus, HistoryEventKind, StartOutcome, TaskFailure,
};
use serde_json::{json, Value};

use crate::support::{engine, run_named, token_of, wait_until_waiting, TableInvoker};

const CALLBACK: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/// RequestApproval-like flow: wait for a decision, Escalate on any error.
fn approval(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": CALLBACK,
        "Parameters": {"FunctionName": "request-approval",
                       "Payload": {"incident.$": "$.incident", "token.$": "$$.Task.Token"}},
        "ResultPath": "$.decision",
        "Next": "Apply",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Escalate", "ResultPath": "$.error"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"StartAt": "RequestApproval", "States": {
        "RequestApproval": task,
        "Apply": {"Type": "Pass", "Result": "applied", "ResultPath": "$.result", "End": true},
        "Escalate": {"Type": "Pass", "Result": "escalated", "ResultPath": "$.result", "End": true}
    }})
}

fn callback_invoker() -> Arc<TableInvoker> {
    let invoker = TableInvoker::new();
    invoker.on(CALLBACK, |_| {
        Ok(json!({"StatusCode": 200, "Payload": null}))
    });
    invoker
}

#[tokio::test]
async fn a_callback_task_waits_for_send_task_success_and_uses_its_output_as_the_result() {
    let invoker = callback_invoker();
    let engine = engine(approval(json!({})), &invoker);
    engine
        .start_execution("inc-1", json!({"incident": "inc-1"}))
        .await
        .unwrap();
    let call = invoker.wait_for_calls(CALLBACK, 1).await.remove(0);
    let token = token_of(&call);
    assert_eq!(call.input["FunctionName"], json!("request-approval"));
    assert_eq!(call.input["Payload"]["incident"], json!("inc-1"));
    assert!(token.len() >= 43, "tokens are long and random");

    wait_until_waiting(&engine, "inc-1").await;
    let waiting = engine.describe("inc-1").await.unwrap().unwrap();
    assert_eq!(waiting.current_state.as_deref(), Some("RequestApproval"));

    engine
        .send_task_success(&token, json!({"approved": true, "approver": "ana"}))
        .await
        .unwrap();
    let done = engine
        .wait_until_finished("inc-1", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(
        output["decision"],
        json!({"approved": true, "approver": "ana"})
    );
    assert_eq!(output["result"], json!("applied"));
    // The token is nowhere in the history.
    let history = serde_json::to_string(&done.history).unwrap();
    assert!(!history.contains(&token));
    assert!(history.contains("<task token>"));
    // And a second success for the same token is refused: the task is closed.
    assert!(matches!(
        engine.send_task_success(&token, json!({})).await,
        Err(CallbackError::TaskTimedOut)
    ));
}

#[tokio::test]
async fn send_task_failure_fails_the_task_through_retry_and_catch() {
    let invoker = callback_invoker();
    let engine = engine(
        approval(json!({"Retry": [{"ErrorEquals": ["Iras.Transient"], "MaxAttempts": 1}]})),
        &invoker,
    );
    engine
        .start_execution("inc-2", json!({"incident": "inc-2"}))
        .await
        .unwrap();
    // A transient failure is retried: the task is re-invoked with a new token.
    let first = token_of(&invoker.wait_for_calls(CALLBACK, 1).await[0]);
    engine
        .send_task_failure(&first, "Iras.Transient", "slack down")
        .await
        .unwrap();
    let second = token_of(&invoker.wait_for_calls(CALLBACK, 2).await[1]);
    assert_ne!(first, second);
    // A rejection is caught into Escalate with the error object.
    engine
        .send_task_failure(&second, "Iras.Rejected", "not safe")
        .await
        .unwrap();
    let done = engine
        .wait_until_finished("inc-2", Duration::from_secs(5))
        .await
        .unwrap();
    let output = done.output.unwrap();
    assert_eq!(
        output["error"],
        json!({"Error": "Iras.Rejected", "Cause": "not safe"})
    );
    assert_eq!(output["result"], json!("escalated"));
}

#[tokio::test]
async fn heartbeats_keep_a_callback_task_alive_until_they_stop() {
    // HeartbeatSeconds 30 → 300 ms at 1/100; a heartbeat every 50 ms for 600 ms.
    let invoker = callback_invoker();
    let engine = engine(
        approval(json!({"HeartbeatSeconds": 30, "TimeoutSeconds": 3600})),
        &invoker,
    );
    engine
        .start_execution("inc-3", json!({"incident": "inc-3"}))
        .await
        .unwrap();
    let token = token_of(&invoker.wait_for_calls(CALLBACK, 1).await[0]);
    wait_until_waiting(&engine, "inc-3").await;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        engine.send_task_heartbeat(&token).await.unwrap();
    }
    // 600 ms in, well past one heartbeat interval, it still waits.
    let summary = engine.describe("inc-3").await.unwrap().unwrap();
    assert_eq!(summary.status, ExecutionStatus::Waiting);
    // Then heartbeats stop and it fails with States.HeartbeatTimeout.
    let done = engine
        .wait_until_finished("inc-3", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        done.output.unwrap()["error"]["Error"],
        json!("States.HeartbeatTimeout")
    );
    assert!(matches!(
        engine.send_task_heartbeat(&token).await,
        Err(CallbackError::TaskTimedOut)
    ));
}

#[tokio::test]
async fn timeout_seconds_path_sets_the_callback_deadline_from_the_input() {
    // The approval timeout comes from the input (per severity): 30 s → 300 ms.
    let invoker = callback_invoker();
    let engine = engine(
        approval(json!({"TimeoutSecondsPath": "$.approval_timeout_seconds"})),
        &invoker,
    );
    let started = std::time::Instant::now();
    let done = run_named(
        &engine,
        "inc-4",
        json!({"incident": "inc-4", "approval_timeout_seconds": 30}),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    let output = done.output.unwrap();
    assert_eq!(output["error"]["Error"], json!("States.Timeout"));
    assert_eq!(output["result"], json!("escalated"));
    // A decision after the timeout is refused with TaskTimedOut.
    let token = token_of(&invoker.calls(CALLBACK)[0]);
    assert!(matches!(
        engine
            .send_task_success(&token, json!({"approved": true}))
            .await,
        Err(CallbackError::TaskTimedOut)
    ));
}

#[tokio::test]
async fn a_timeout_seconds_path_that_is_not_a_positive_integer_fails_with_states_runtime() {
    let invoker = callback_invoker();
    let engine = engine(approval(json!({"TimeoutSecondsPath": "$.t"})), &invoker);
    let done = run_named(&engine, "inc-5", json!({"incident": "inc-5", "t": "soon"})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(invoker.calls(CALLBACK).is_empty());
}

#[tokio::test]
async fn an_unknown_token_is_task_does_not_exist() {
    let invoker = callback_invoker();
    let engine = engine(approval(json!({})), &invoker);
    assert!(matches!(
        engine.send_task_success("not-a-token", json!({})).await,
        Err(CallbackError::TaskDoesNotExist)
    ));
    assert!(matches!(
        engine.send_task_failure("", "E", "c").await,
        Err(CallbackError::TaskDoesNotExist)
    ));
    assert!(matches!(
        engine.send_task_heartbeat("nope").await,
        Err(CallbackError::TaskDoesNotExist)
    ));
}

#[tokio::test]
async fn an_output_larger_than_256_kib_is_invalid_output() {
    let invoker = callback_invoker();
    let engine = engine(approval(json!({})), &invoker);
    engine
        .start_execution("inc-6", json!({"incident": "inc-6"}))
        .await
        .unwrap();
    let token = token_of(&invoker.wait_for_calls(CALLBACK, 1).await[0]);
    let huge = json!({"blob": "x".repeat(300 * 1024)});
    assert!(matches!(
        engine.send_task_success(&token, huge).await,
        Err(CallbackError::InvalidOutput(_))
    ));
    engine
        .send_task_success(&token, json!({"approved": true}))
        .await
        .unwrap();
    let done = engine
        .wait_until_finished("inc-6", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_callback_that_arrives_before_the_invoke_returns_completes_the_task() {
    let invoker = TableInvoker::new();
    invoker.on_async(CALLBACK, |_| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(json!({}))
    });
    let engine = engine(approval(json!({})), &invoker);
    engine
        .start_execution("inc-7", json!({"incident": "inc-7"}))
        .await
        .unwrap();
    let token = token_of(&invoker.wait_for_calls(CALLBACK, 1).await[0]);
    engine
        .send_task_success(&token, json!({"approved": true}))
        .await
        .unwrap();
    let done = engine
        .wait_until_finished("inc-7", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(done.output.unwrap()["decision"], json!({"approved": true}));
}

#[tokio::test]
async fn a_failing_callback_invoke_fails_the_task() {
    let invoker = TableInvoker::new();
    invoker.on(CALLBACK, |params| {
        // The error text echoes the payload (token included); the history must not keep it.
        Err(TaskFailure::new(
            "Lambda.ServiceException",
            format!("could not deliver {params}"),
        ))
    });
    let engine = engine(approval(json!({})), &invoker);
    let done = run_named(&engine, "inc-8", json!({"incident": "inc-8"})).await;
    let output = done.output.unwrap();
    assert_eq!(output["error"]["Error"], json!("Lambda.ServiceException"));
    let token = token_of(&invoker.calls(CALLBACK)[0]);
    assert!(!output.to_string().contains(&token));
    assert!(!serde_json::to_string(&done.history)
        .unwrap()
        .contains(&token));
}

#[tokio::test]
async fn a_second_start_with_the_same_name_is_already_exists_and_never_runs_again() {
    let invoker = TableInvoker::new();
    invoker.on("arn:aws:lambda:us-east-1:1:function:count", |_| {
        Ok(json!(1))
    });
    let engine = engine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:1:function:count", "End": true}}}),
        &invoker,
    );
    let first = run_named(&engine, "01HX-incident", json!({})).await;
    let again = engine
        .start_execution("01HX-incident", json!({"other": 1}))
        .await
        .unwrap();
    assert_eq!(
        again,
        StartOutcome::AlreadyExists {
            execution_arn: first.execution_arn.clone()
        }
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        invoker
            .calls("arn:aws:lambda:us-east-1:1:function:count")
            .len(),
        1
    );
    assert!(engine.start_execution("bad name", json!({})).await.is_err());
}

#[tokio::test]
async fn many_executions_run_concurrently_without_sharing_state() {
    let invoker = TableInvoker::new();
    invoker.on("arn:aws:lambda:us-east-1:1:function:double", |input| {
        Ok(json!(input["n"].as_i64().unwrap() * 2))
    });
    let engine = Arc::new(engine(
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 20, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:double",
                  "ResultPath": "$.doubled", "End": true}}}),
        &invoker,
    ));
    let started = std::time::Instant::now();
    for n in 0..25 {
        engine
            .start_execution(&format!("e{n}"), json!({"n": n}))
            .await
            .unwrap();
    }
    for n in 0..25 {
        let done = engine
            .wait_until_finished(&format!("e{n}"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(done.output.unwrap()["doubled"], json!(n * 2));
    }
    // 25 waits of 200 ms each, run side by side.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let history = engine.describe("e0").await.unwrap().unwrap().history;
    assert!(history
        .iter()
        .any(|e| matches!(e.kind, HistoryEventKind::TaskSucceeded { .. })));
}

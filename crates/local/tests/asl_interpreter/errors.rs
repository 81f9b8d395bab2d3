//! Retry, Catch, Fail, Wait and timeouts. Durations are AWS-scale in the definitions and run at
//! `SCALE` (1 s → 10 ms), so the assertions on gaps are in scaled milliseconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iras_local::asl::{ExecutionStatus, HistoryEventKind, TaskFailure};
use serde_json::{json, Value};

use crate::support::{engine, run, run_definition, TableInvoker};

const FLAKY: &str = "arn:aws:lambda:us-east-1:123456789012:function:flaky";

fn gaps_ms(invoker: &TableInvoker, resource: &str) -> Vec<f64> {
    let calls = invoker.calls(resource);
    calls
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64() * 1000.0)
        .collect()
}

fn always_fails(invoker: &TableInvoker, error: &'static str) {
    invoker.on(FLAKY, move |input| {
        Err(TaskFailure::new(
            error,
            format!("retry count {}", input["retry"]),
        ))
    });
}

fn task_with(extra: Value) -> Value {
    let mut task = json!({"Type": "Task", "Resource": FLAKY, "End": true,
                          "Parameters": {"retry.$": "$$.State.RetryCount"}});
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    let mut states = json!({"Flaky": task});
    if extra.get("Catch").is_some() {
        states["Escalate"] = json!({"Type": "Pass", "End": true});
    }
    json!({"StartAt": "Flaky", "States": states})
}

#[tokio::test]
async fn a_retry_backs_off_by_the_backoff_rate_until_max_attempts() {
    // IntervalSeconds 10, BackoffRate 2, MaxAttempts 3 → waits of 10, 20, 40 s (100, 200, 400 ms).
    let invoker = TableInvoker::new();
    always_fails(&invoker, "Iras.Transient");
    let summary = run(
        &engine(
            task_with(
                json!({"Retry": [{"ErrorEquals": ["Iras.Transient"], "IntervalSeconds": 10,
                                        "BackoffRate": 2.0, "MaxAttempts": 3}]}),
            ),
            &invoker,
        ),
        json!({}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(summary.error.as_deref(), Some("Iras.Transient"));
    // The first attempt and three retries, with $$.State.RetryCount counting them.
    let calls = invoker.calls(FLAKY);
    let counts: Vec<Value> = calls.iter().map(|c| c.input["retry"].clone()).collect();
    assert_eq!(counts, vec![json!(0), json!(1), json!(2), json!(3)]);
    let gaps = gaps_ms(&invoker, FLAKY);
    for (gap, expected) in gaps.iter().zip([100.0, 200.0, 400.0]) {
        assert!(
            *gap >= expected * 0.95 && *gap < expected + 150.0,
            "gaps {gaps:?}"
        );
    }
}

#[tokio::test]
async fn the_defaults_are_one_second_doubling_three_times_and_max_attempts_zero_never_retries() {
    let invoker = TableInvoker::new();
    always_fails(&invoker, "Iras.Transient");
    run(
        &engine(
            task_with(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}]})),
            &invoker,
        ),
        json!({}),
    )
    .await;
    assert_eq!(invoker.calls(FLAKY).len(), 4);
    let gaps = gaps_ms(&invoker, FLAKY);
    for (gap, expected) in gaps.iter().zip([10.0, 20.0, 40.0]) {
        assert!(
            *gap >= expected * 0.95 && *gap < expected + 150.0,
            "gaps {gaps:?}"
        );
    }

    let invoker = TableInvoker::new();
    always_fails(&invoker, "Iras.Transient");
    run(
        &engine(
            task_with(
                json!({"Retry": [{"ErrorEquals": ["Iras.Transient"], "MaxAttempts": 0},
                                       {"ErrorEquals": ["States.ALL"]}]}),
            ),
            &invoker,
        ),
        json!({}),
    )
    .await;
    // The first matching retrier decides: no retry, and the States.ALL one is not consulted.
    assert_eq!(invoker.calls(FLAKY).len(), 1);
}

#[tokio::test]
async fn max_delay_seconds_caps_the_backoff() {
    // 10 s × 10^n capped at 15 s: waits of 10, 15, 15 s (100, 150, 150 ms), not 10, 100, 1000.
    let invoker = TableInvoker::new();
    always_fails(&invoker, "Iras.Transient");
    run(
        &engine(
            task_with(
                json!({"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10,
                "BackoffRate": 10, "MaxAttempts": 3, "MaxDelaySeconds": 15,
                "JitterStrategy": "NONE"}]}),
            ),
            &invoker,
        ),
        json!({}),
    )
    .await;
    let gaps = gaps_ms(&invoker, FLAKY);
    assert_eq!(gaps.len(), 3);
    for (gap, expected) in gaps.iter().zip([100.0, 150.0, 150.0]) {
        assert!(
            *gap >= expected * 0.95 && *gap < expected + 150.0,
            "gaps {gaps:?}"
        );
    }
}

#[tokio::test]
async fn each_retrier_counts_its_own_attempts_as_in_the_spec_example() {
    // The States language spec: errors A, B, C, B → waits of 1 and 2 s (first retrier), 5 s
    // (second retrier); the fourth error matches the first retrier, whose MaxAttempts (2) is
    // used up, so Catch sends the execution to Z.
    let sequence = ["ErrorA", "ErrorB", "ErrorC", "ErrorB"];
    let attempt = Arc::new(AtomicUsize::new(0));
    let invoker = TableInvoker::new();
    let counter = Arc::clone(&attempt);
    invoker.on(FLAKY, move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Err(TaskFailure::new(sequence[n.min(3)], "boom"))
    });
    let def = json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": FLAKY, "Next": "Y",
              "Retry": [{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                        {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}]},
        "Y": {"Type": "Pass", "End": true},
        "Z": {"Type": "Pass", "Result": "Z", "End": true}
    }});
    let summary = run(&engine(def, &invoker), json!({})).await;
    assert_eq!(summary.output.unwrap(), json!("Z"));
    assert_eq!(attempt.load(Ordering::SeqCst), 4);
    let gaps = gaps_ms(&invoker, FLAKY);
    for (gap, expected) in gaps.iter().zip([10.0, 20.0, 50.0]) {
        assert!(
            *gap >= expected * 0.95 && *gap < expected + 150.0,
            "gaps {gaps:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_that_succeeds_continues_with_the_successful_result() {
    let attempt = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&attempt);
    let invoker = TableInvoker::new();
    invoker.on(FLAKY, move |_| {
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => Err(TaskFailure::new("Lambda.ServiceException", "try again")),
            _ => Ok(json!({"ok": true})),
        }
    });
    let summary = run(
        &engine(
            task_with(json!({"Retry": [{"ErrorEquals": ["Lambda.ServiceException"]}]})),
            &invoker,
        ),
        json!({}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Succeeded);
    assert_eq!(summary.output.unwrap(), json!({"ok": true}));
}

#[tokio::test]
async fn catch_places_the_error_object_at_its_result_path_and_moves_to_next() {
    let invoker = TableInvoker::new();
    invoker.on(FLAKY, |_| Err(TaskFailure::new("Error here", "the cause")));
    let summary = run(
        &engine(
            task_with(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Escalate", "ResultPath": "$.error"}]})),
            &invoker,
        ),
        json!({"foo": "bar"}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Succeeded);
    assert_eq!(
        summary.output.unwrap(),
        json!({"foo": "bar", "error": {"Error": "Error here", "Cause": "the cause"}})
    );
}

#[tokio::test]
async fn catch_without_result_path_replaces_the_input_with_the_error_output() {
    let invoker = TableInvoker::new();
    invoker.on(FLAKY, |_| {
        Err(TaskFailure::new("Iras.InvalidInput", "no service"))
    });
    let summary = run(
        &engine(
            task_with(json!({"Catch": [
                {"ErrorEquals": ["java.lang.Exception"], "Next": "Flaky"},
                {"ErrorEquals": ["States.ALL"], "Next": "Escalate"}]})),
            &invoker,
        ),
        json!({"foo": "bar"}),
    )
    .await;
    assert_eq!(
        summary.output.unwrap(),
        json!({"Error": "Iras.InvalidInput", "Cause": "no service"})
    );
}

#[tokio::test]
async fn states_task_failed_catches_task_errors_but_not_timeouts() {
    let invoker = TableInvoker::new();
    invoker.on(FLAKY, |_| {
        Err(TaskFailure::new("CustomError", "This is a custom error!"))
    });
    let def = json!({"StartAt": "CreateAccount", "States": {
        "CreateAccount": {"Type": "Task", "Resource": FLAKY, "End": true, "Catch": [
            {"ErrorEquals": ["States.TaskFailed"], "Next": "ReservedTypeFallback"},
            {"ErrorEquals": ["States.ALL"], "Next": "CatchAllFallback"}]},
        "ReservedTypeFallback": {"Type": "Pass", "Result": "reserved", "End": true},
        "CatchAllFallback": {"Type": "Pass", "Result": "all", "End": true}
    }});
    assert_eq!(
        run(&engine(def.clone(), &invoker), json!({})).await.output,
        Some(json!("reserved"))
    );

    let slow = TableInvoker::new();
    slow.on_async(FLAKY, |_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(json!("late"))
    });
    let mut timed = def;
    timed["States"]["CreateAccount"]["TimeoutSeconds"] = json!(2);
    assert_eq!(
        run(&engine(timed, &slow), json!({})).await.output,
        Some(json!("all"))
    );
}

#[tokio::test]
async fn a_task_past_its_timeout_seconds_fails_with_states_timeout_which_catch_can_handle() {
    let invoker = TableInvoker::new();
    invoker.on_async(FLAKY, |_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(json!("late"))
    });
    let started = std::time::Instant::now();
    let summary = run(
        &engine(
            task_with(json!({"TimeoutSeconds": 5,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Escalate", "ResultPath": "$.error"}]})),
            &invoker,
        ),
        json!({}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        summary.output.unwrap()["error"]["Error"],
        json!("States.Timeout")
    );
    assert!(summary
        .history
        .iter()
        .any(|e| matches!(&e.kind, HistoryEventKind::TaskTimedOut { error, .. } if error == "States.Timeout")));
}

#[tokio::test]
async fn an_uncaught_task_error_fails_the_execution_with_its_name_and_cause() {
    let invoker = TableInvoker::new();
    invoker.on(FLAKY, |_| Err(TaskFailure::new("Iras.Unexpected", "bug")));
    let summary = run(&engine(task_with(json!({})), &invoker), json!({})).await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(
        (summary.error.as_deref(), summary.cause.as_deref()),
        (Some("Iras.Unexpected"), Some("bug"))
    );
}

#[tokio::test]
async fn a_fail_state_reports_its_error_and_cause_literal_or_from_paths() {
    let summary = run_definition(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Iras.Escalated", "Cause": "no approver"}}}),
        json!({}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(
        (summary.error.as_deref(), summary.cause.as_deref()),
        (Some("Iras.Escalated"), Some("no approver"))
    );

    let summary = run_definition(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.error.Error",
            "CausePath": "States.Format('incident {} failed: {}', $.id, $.error.Cause)"}}}),
        json!({"id": "i-1", "error": {"Error": "Iras.Transient", "Cause": "db"}}),
    )
    .await;
    assert_eq!(summary.error.as_deref(), Some("Iras.Transient"));
    assert_eq!(summary.cause.as_deref(), Some("incident i-1 failed: db"));
}

#[tokio::test]
async fn wait_states_wait_for_seconds_a_seconds_path_or_a_timestamp() {
    let started = std::time::Instant::now();
    let past = "2000-01-01T00:00:00Z";
    let summary = run_definition(
        json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 10, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "W3"},
            "W3": {"Type": "Wait", "Timestamp": past, "Next": "W4"},
            "W4": {"Type": "Wait", "TimestampPath": "$.until", "OutputPath": "$.delay", "End": true}
        }}),
        json!({"delay": 10, "until": past}),
    )
    .await;
    assert_eq!(summary.output.unwrap(), json!(10));
    let elapsed = started.elapsed();
    // 20 s of Seconds/SecondsPath at 1/100 → 200 ms; timestamps in the past do not wait.
    assert!(
        elapsed >= Duration::from_millis(190) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn the_top_level_timeout_seconds_times_out_the_execution() {
    let summary = run_definition(
        json!({"StartAt": "W", "TimeoutSeconds": 5, "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::TimedOut);
    assert_eq!(summary.error.as_deref(), Some("States.Timeout"));
    assert!(summary.stop_time.unwrap() - summary.start_time < chrono::Duration::seconds(2));
}

#[tokio::test]
async fn the_history_records_states_and_tasks_in_order() {
    let invoker = TableInvoker::new();
    let attempt = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&attempt);
    invoker.on(FLAKY, move |_| {
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => Err(TaskFailure::new("Iras.Transient", "once")),
            _ => Ok(json!(1)),
        }
    });
    let summary = run(
        &engine(
            task_with(json!({"Retry": [{"ErrorEquals": ["Iras.Transient"]}]})),
            &invoker,
        ),
        json!({}),
    )
    .await;
    let kinds: Vec<&str> = summary
        .history
        .iter()
        .map(|e| match &e.kind {
            HistoryEventKind::ExecutionStarted { .. } => "ExecutionStarted",
            HistoryEventKind::StateEntered { .. } => "StateEntered",
            HistoryEventKind::StateExited { .. } => "StateExited",
            HistoryEventKind::TaskScheduled { .. } => "TaskScheduled",
            HistoryEventKind::TaskSubmitted { .. } => "TaskSubmitted",
            HistoryEventKind::TaskSucceeded { .. } => "TaskSucceeded",
            HistoryEventKind::TaskFailed { .. } => "TaskFailed",
            HistoryEventKind::TaskTimedOut { .. } => "TaskTimedOut",
            HistoryEventKind::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            HistoryEventKind::ExecutionFailed { .. } => "ExecutionFailed",
            HistoryEventKind::ExecutionTimedOut { .. } => "ExecutionTimedOut",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "StateEntered",
            "TaskScheduled",
            "TaskFailed",
            "TaskScheduled",
            "TaskSucceeded",
            "StateExited",
            "ExecutionSucceeded"
        ]
    );
    let ids: Vec<u64> = summary.history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
    assert!(summary
        .history
        .windows(2)
        .all(|w| w[0].timestamp <= w[1].timestamp));
}

//! Durability with `SqliteExecutionStore`: an engine is dropped (a process exit) and a new one on
//! the same file resumes, keeping original deadlines and honouring callbacks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iras_local::asl::{
    CallbackError, Engine, ExecutionStatus, ExecutionStore, HistoryEventKind, SqliteExecutionStore,
};
use serde_json::{json, Value};

use crate::support::{engine_with, token_of, wait_until_waiting, TableInvoker, SCALE};

const CALLBACK: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";
const STEP: &str = "arn:aws:lambda:us-east-1:123456789012:function:step";

fn approval(timeout_seconds: u64) -> Value {
    json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Task", "Resource": STEP, "ResultPath": "$.prepared", "Next": "RequestApproval"},
        "RequestApproval": {
            "Type": "Task", "Resource": CALLBACK, "TimeoutSeconds": timeout_seconds,
            "Parameters": {"FunctionName": "request-approval",
                           "Payload": {"incident.$": "$.incident", "token.$": "$$.Task.Token"}},
            "ResultPath": "$.decision", "Next": "Apply",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Escalate", "ResultPath": "$.error"}]},
        "Apply": {"Type": "Pass", "Result": "applied", "ResultPath": "$.result", "End": true},
        "Escalate": {"Type": "Pass", "Result": "escalated", "ResultPath": "$.result", "End": true}
    }})
}

fn invoker() -> Arc<TableInvoker> {
    let invoker = TableInvoker::new();
    invoker.on(STEP, |_| Ok(json!(true)));
    invoker.on(CALLBACK, |_| Ok(json!({"StatusCode": 200})));
    invoker
}

fn open(dir: &tempfile::TempDir) -> Arc<dyn ExecutionStore> {
    Arc::new(SqliteExecutionStore::open(dir.path().join("iras.db")).expect("opens"))
}

async fn start_and_wait(engine: &Engine, invoker: &TableInvoker, name: &str) -> String {
    engine
        .start_execution(name, json!({"incident": name}))
        .await
        .unwrap();
    let token = token_of(&invoker.wait_for_calls(CALLBACK, 1).await[0]);
    wait_until_waiting(engine, name).await;
    token
}

#[tokio::test]
async fn a_waiting_execution_survives_a_restart_and_finishes_after_its_callback() {
    let dir = tempfile::tempdir().unwrap();
    let first_invoker = invoker();
    let first = engine_with(approval(7200), &first_invoker, open(&dir), SCALE);
    let token = start_and_wait(&first, &first_invoker, "inc-1").await;
    let deadline_before = first.describe("inc-1").await.unwrap().unwrap();
    drop(first); // the process dies while the approval is pending

    // A new process on the same database.
    let second_invoker = invoker();
    let second = engine_with(approval(7200), &second_invoker, open(&dir), SCALE);
    let paused = second.describe("inc-1").await.unwrap().unwrap();
    assert_eq!(paused.status, ExecutionStatus::Waiting);
    assert_eq!(paused.current_state.as_deref(), Some("RequestApproval"));
    assert_eq!(paused.history, deadline_before.history);
    assert_eq!(second.resume().await.unwrap(), 1);
    assert_eq!(second.resume().await.unwrap(), 0, "resume is idempotent");

    second
        .send_task_success(&token, json!({"approved": true}))
        .await
        .unwrap();
    let done = second
        .wait_until_finished("inc-1", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.output.as_ref().unwrap()["decision"],
        json!({"approved": true})
    );
    assert_eq!(done.output.as_ref().unwrap()["result"], json!("applied"));
    // The pending approval was not requested again, and no step ran twice.
    assert!(second_invoker.calls(CALLBACK).is_empty());
    assert!(second_invoker.calls(STEP).is_empty());
    // The database never held the token.
    let bytes = std::fs::read(dir.path().join("iras.db")).unwrap();
    let wal = std::fs::read(dir.path().join("iras.db-wal")).unwrap_or_default();
    for content in [bytes, wal] {
        assert!(!String::from_utf8_lossy(&content).contains(&token));
    }
}

#[tokio::test]
async fn a_deadline_that_passed_while_down_fires_states_timeout_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let first_invoker = invoker();
    // TimeoutSeconds 100 → 1 s.
    let first = engine_with(approval(100), &first_invoker, open(&dir), SCALE);
    let token = start_and_wait(&first, &first_invoker, "inc-2").await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(1100)).await; // down past the deadline

    let second_invoker = invoker();
    let second = engine_with(approval(100), &second_invoker, open(&dir), SCALE);
    let resumed_at = std::time::Instant::now();
    assert_eq!(second.resume().await.unwrap(), 1);
    let done = second
        .wait_until_finished("inc-2", Duration::from_secs(5))
        .await
        .unwrap();
    // At once: a fresh deadline would have waited another second.
    assert!(
        resumed_at.elapsed() < Duration::from_millis(700),
        "{:?}",
        resumed_at.elapsed()
    );
    let output = done.output.unwrap();
    assert_eq!(output["error"]["Error"], json!("States.Timeout"));
    assert_eq!(output["result"], json!("escalated"));
    assert!(matches!(
        second.send_task_success(&token, json!({})).await,
        Err(CallbackError::TaskTimedOut)
    ));
}

#[tokio::test]
async fn a_resumed_wait_keeps_its_original_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let def =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let invoker = TableInvoker::new();
    let first = engine_with(def.clone(), &invoker, open(&dir), SCALE);
    let started = std::time::Instant::now();
    first.start_execution("w", json!({"x": 1})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(first);
    let second = engine_with(def, &invoker, open(&dir), SCALE);
    second.resume().await.unwrap();
    let done = second
        .wait_until_finished("w", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.output.unwrap(), json!({"x": 1}));
    let elapsed = started.elapsed();
    // 1 s in total (the original deadline), not 0.5 + 1 s.
    assert!(
        elapsed >= Duration::from_millis(990) && elapsed < Duration::from_millis(1400),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_task_interrupted_mid_invoke_is_re_entered_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let def = json!({"StartAt": "Step", "States": {"Step": {"Type": "Task", "Resource": STEP, "End": true}}});
    let hanging = TableInvoker::new();
    hanging.on_async(STEP, |_| std::future::pending());
    let first = engine_with(def.clone(), &hanging, open(&dir), SCALE);
    first.start_execution("s", json!({"n": 1})).await.unwrap();
    hanging.wait_for_calls(STEP, 1).await;
    drop(first);

    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let working = TableInvoker::new();
    working.on(STEP, move |input| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"done": input["n"]}))
    });
    let second = engine_with(def, &working, open(&dir), SCALE);
    second.resume().await.unwrap();
    let done = second
        .wait_until_finished("s", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.output.unwrap(), json!({"done": 1}));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let scheduled = done
        .history
        .iter()
        .filter(|e| matches!(e.kind, HistoryEventKind::TaskScheduled { .. }))
        .count();
    assert_eq!(
        scheduled, 2,
        "at-least-once: the interrupted attempt and the re-entry"
    );
}

#[tokio::test]
async fn a_callback_to_an_execution_not_yet_resumed_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let first_invoker = invoker();
    let first = engine_with(approval(7200), &first_invoker, open(&dir), SCALE);
    let token = start_and_wait(&first, &first_invoker, "inc-3").await;
    drop(first);
    let second = engine_with(approval(7200), &invoker(), open(&dir), SCALE);
    second
        .send_task_success(&token, json!({"approved": false}))
        .await
        .unwrap();
    let done = second
        .wait_until_finished("inc-3", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.output.unwrap()["decision"], json!({"approved": false}));
}

#[tokio::test]
async fn the_sqlite_store_shares_a_database_file_without_touching_other_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iras.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE incidents (id TEXT PRIMARY KEY); INSERT INTO incidents VALUES ('i-1');",
        )
        .unwrap();
    }
    let invoker = invoker();
    let engine = engine_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        &invoker,
        Arc::new(SqliteExecutionStore::open(&path).unwrap()),
        SCALE,
    );
    crate::support::run(&engine, json!({})).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let id: String = conn
        .query_row("SELECT id FROM incidents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, "i-1");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM asl_executions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

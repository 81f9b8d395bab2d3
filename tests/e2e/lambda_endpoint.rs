//! With `IRAS_LAMBDA_ENDPOINT` set, Task states go through the Lambda Invoke API instead of
//! in-process calls. Here a peer on 127.0.0.1 serves that API the way `cargo lambda watch` does
//! (errors as HTTP 500 `{"errorType","errorMessage"}`) and runs the real step code.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use iras_adapters::config::build_deps;
use iras_adapters::SqliteStore;
use iras_core::policy::Policy;
use iras_core::ports::Deps;
use iras_core::IncidentStatus;
use iras_local::asl::EngineOptions;
use iras_local::runtime::Runtime;
use serde_json::{json, Value};

use crate::support::*;

#[derive(Clone)]
struct Peer {
    deps: Deps,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

async fn invoke(
    State(p): State<Peer>,
    Path(name): Path<String>,
    Json(payload): Json<Value>,
) -> (StatusCode, Json<Value>) {
    *p.calls.lock().unwrap().entry(name.clone()).or_default() += 1;
    match iras_core::steps::run_named(&p.deps, &name, payload).await {
        Ok(v) => (StatusCode::OK, Json(v)),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"errorType": e.error_type(), "errorMessage": e.to_string()})),
        ),
    }
}

#[tokio::test]
async fn steps_run_through_the_lambda_invoke_api_when_an_endpoint_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let db = dir.path().join("iras.db");
    // The "functions" and the runner share the store file, as Lambdas share DynamoDB.
    let deps = build_deps(
        Arc::new(SqliteStore::open(&db).unwrap()),
        Policy::default(),
        Some(s.clone()),
    );
    let peer = Peer {
        deps: deps.clone(),
        calls: Arc::default(),
    };
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(peer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let rt = Runtime::with_deps(deps, &db, Some(&url), EngineOptions::default()).unwrap();
    let id = send_alert(&rt, &s).await;
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    let pm = wait_for_postmortem(&rt, id).await;
    assert_eq!(pm.status, IncidentStatus::Resolved);
    let calls = peer.calls.lock().unwrap().clone();
    for step in [
        "ingest",
        "triage",
        "gather-context",
        "analyze-root-cause",
        "plan-remediation",
        "request-approval",
        "apply-remediation",
        "write-postmortem",
    ] {
        assert!(
            calls.get(step).copied().unwrap_or(0) >= 1,
            "{step} was not invoked over HTTP: {calls:?}"
        );
    }
    server.abort();
}

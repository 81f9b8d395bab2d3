//! `LambdaInvokeClient` against a small Lambda Invoke API server on 127.0.0.1 that answers like
//! `cargo lambda watch` (handler errors as 500) or like Lambda (200 + `X-Amz-Function-Error`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use iras_local::asl::{
    Definition, Engine, EngineOptions, ExecutionStatus, LambdaInvokeClient, MemoryExecutionStore,
    TaskInvoker,
};
use serde_json::{json, Value};

#[derive(Default)]
struct Server {
    flaky_calls: AtomicUsize,
}

async fn invoke(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(event): Json<Value>,
) -> Response {
    let error =
        |errortype: &str, message: &str| json!({"errorType": errortype, "errorMessage": message});
    match name.as_str() {
        "echo" => Json(json!({
            "event": event,
            "qualifier": query.get("Qualifier"),
            "invocationType": headers.get("x-amz-invocation-type").and_then(|v| v.to_str().ok()),
        }))
        .into_response(),
        "fails-like-cargo-lambda" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(error("Iras.Transient", "store unavailable")),
        )
            .into_response(),
        "fails-like-lambda" => (
            StatusCode::OK,
            [("X-Amz-Function-Error", "Unhandled")],
            Json(error("Iras.InvalidInput", "missing service")),
        )
            .into_response(),
        "throttled" => StatusCode::TOO_MANY_REQUESTS.into_response(),
        "broken" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "flaky" => {
            if server.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(error("Iras.Transient", "first call fails")),
                )
                    .into_response()
            } else {
                Json(json!({"severity": "P1", "seen": event})).into_response()
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve() -> (String, Arc<Server>) {
    let server = Arc::new(Server::default());
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), server)
}

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

#[tokio::test]
async fn a_plain_lambda_arn_sends_the_effective_input_and_returns_the_function_result() {
    let (base, _) = serve().await;
    let client = LambdaInvokeClient::new(base);
    let result = client
        .invoke(&format!("{ARN}echo"), json!({"incident": "i-1"}))
        .await
        .unwrap();
    assert_eq!(result["event"], json!({"incident": "i-1"}));
    let qualified = client
        .invoke(&format!("{ARN}echo:live"), json!({}))
        .await
        .unwrap();
    assert_eq!(qualified["qualifier"], json!("live"));
}

#[tokio::test]
async fn the_optimized_integration_sends_the_payload_and_wraps_the_result() {
    let (base, _) = serve().await;
    let client = LambdaInvokeClient::new(format!("{base}/"));
    let result = client
        .invoke(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": format!("{ARN}echo"), "Payload": {"id": 7}}),
        )
        .await
        .unwrap();
    assert_eq!(result["StatusCode"], json!(200));
    assert_eq!(result["ExecutedVersion"], json!("$LATEST"));
    assert_eq!(result["Payload"]["event"], json!({"id": 7}));

    let asynchronous = client
        .invoke(
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            json!({"FunctionName": "echo", "InvocationType": "Event", "Qualifier": "v2"}),
        )
        .await
        .unwrap();
    assert_eq!(
        asynchronous["Payload"]["event"],
        json!({}),
        "no Payload sends {{}}"
    );
    assert_eq!(asynchronous["Payload"]["invocationType"], json!("Event"));
    assert_eq!(asynchronous["Payload"]["qualifier"], json!("v2"));
}

#[tokio::test]
async fn function_errors_become_task_failures_named_by_their_error_type() {
    let (base, _) = serve().await;
    let client = LambdaInvokeClient::new(base);
    let cargo = client
        .invoke(&format!("{ARN}fails-like-cargo-lambda"), json!({}))
        .await
        .unwrap_err();
    assert_eq!(cargo.error, "Iras.Transient");
    let cause: Value = serde_json::from_str(&cargo.cause).unwrap();
    assert_eq!(cause["errorMessage"], json!("store unavailable"));

    let lambda = client
        .invoke(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "fails-like-lambda", "Payload": {}}),
        )
        .await
        .unwrap_err();
    assert_eq!(lambda.error, "Iras.InvalidInput");
    assert!(lambda.cause.contains("missing service"));
}

#[tokio::test]
async fn service_errors_map_to_the_lambda_exception_names_step_functions_uses() {
    let (base, _) = serve().await;
    let client = LambdaInvokeClient::new(base);
    for (function, expected) in [
        ("throttled", "Lambda.TooManyRequestsException"),
        ("broken", "Lambda.ServiceException"),
        ("no-such-function", "Lambda.ResourceNotFoundException"),
    ] {
        let failure = client
            .invoke(&format!("{ARN}{function}"), json!({}))
            .await
            .unwrap_err();
        assert_eq!(failure.error, expected, "{function}");
    }
    // Nothing listens on port 9 of localhost.
    let unreachable = LambdaInvokeClient::new("http://127.0.0.1:9");
    let failure = unreachable
        .invoke(&format!("{ARN}echo"), json!({}))
        .await
        .unwrap_err();
    assert_eq!(failure.error, "Lambda.SdkClientException");
    let missing = client
        .invoke("arn:aws:states:::lambda:invoke", json!({"Payload": {}}))
        .await
        .unwrap_err();
    assert_eq!(missing.error, "Lambda.InvalidParameterValueException");
}

#[tokio::test]
async fn an_engine_runs_a_definition_end_to_end_through_the_invoke_api() {
    let (base, server) = serve().await;
    let definition = Definition::from_json(
        &json!({"StartAt": "Triage", "States": {"Triage": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${TriageFunctionArn}", "Payload.$": "$"},
            "ResultSelector": {"severity.$": "$.Payload.severity"},
            "ResultPath": "$.triage",
            "Retry": [{"ErrorEquals": ["Iras.Transient"], "IntervalSeconds": 1}],
            "End": true}}})
        .to_string(),
        &HashMap::from([("TriageFunctionArn".to_string(), format!("{ARN}flaky"))]),
    )
    .unwrap();
    let engine = Engine::new(
        Arc::new(definition),
        Arc::new(LambdaInvokeClient::new(base)),
        Arc::new(MemoryExecutionStore::new()),
        EngineOptions {
            time_scale: 0.01,
            ..EngineOptions::default()
        },
    );
    let done = crate::support::run(&engine, json!({"incident": "i-9"})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(
        done.output.unwrap(),
        json!({"incident": "i-9", "triage": {"severity": "P1"}})
    );
    assert_eq!(server.flaky_calls.load(Ordering::SeqCst), 2);
}

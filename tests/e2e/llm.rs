//! The LLM analyst end to end against a local mock of the Anthropic Messages API: a model drives
//! triage, root cause, plan and post-mortem; a failing model degrades to the heuristic analyst.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use iras_adapters::llm::{AnthropicClient, ApiKey, LlmAnalyst};
use iras_core::ports::Analyst as _;
use iras_core::{EventKind, IncidentStatus};
use serde_json::{json, Value};

use crate::support::*;

/// What the mock model answers for each forced tool, for the checkout-bad-deploy world.
fn answer(tool: &str) -> Value {
    match tool {
        "record_triage" => json!({
            "severity": "P1", "affected_services": ["checkout-api"], "estimated_users_affected": 12000,
            "confidence": 0.8, "reasoning": "model: checkout 5xx at 18% on the revenue path"}),
        "record_root_cause" => json!({
            "category": "deployment",
            "primary_cause": "model: v2.31.0's split-tender path dereferences a nil allocator",
            "contributing_factors": [],
            "evidence": ["Split-tender checkout: pay one order with gift card + card (PR #4821)",
                         "invalid memory address or nil pointer dereference"],
            "suspect_service": "checkout-api", "suspect_version": "v2.31.0",
            "model_confidence": 0.9, "missing_evidence": [], "missing_services": []}),
        "record_plan" => json!({
            "summary": "model: roll checkout-api back to v2.30.2",
            "steps": [{
                "action": {"kind": "rollback_deployment", "service": "checkout-api", "from_version": "v2.31.0", "to_version": "v2.30.2"},
                "rollback": {"kind": "rollback_deployment", "service": "checkout-api", "from_version": "v2.30.2", "to_version": "v2.31.0"},
                "risk": "low", "rationale": "the errors began with v2.31.0"}]}),
        "record_postmortem" => json!({
            "summary": "model: a nil dereference in v2.31.0 broke checkout; rolled back",
            "impact": "model: 18% of checkouts failed for 10 minutes",
            "lessons": ["model: canary the split-tender path"], "follow_ups": ["model: add a test"]}),
        other => panic!("unexpected tool {other}"),
    }
}

#[derive(Clone, Default)]
struct Mock {
    fail: bool,
    /// Replaces the answer to `record_plan`.
    plan: Option<Value>,
    tools: Arc<Mutex<Vec<String>>>,
}

async fn messages(State(m): State<Mock>, Json(body): Json<Value>) -> Response {
    let tool = body["tool_choice"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    m.tools.lock().unwrap().push(tool.clone());
    if m.fail {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"type": "error", "error": {"type": "api_error", "message": "down"}})),
        )
            .into_response();
    }
    let input = match (&m.plan, tool.as_str()) {
        (Some(plan), "record_plan") => plan.clone(),
        _ => answer(&tool),
    };
    Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": input}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_input_tokens": 800}
    }))
    .into_response()
}

async fn mock(fail: bool) -> (Mock, String, tokio::task::JoinHandle<()>) {
    mock_with(Mock {
        fail,
        ..Mock::default()
    })
    .await
}

async fn mock_with(m: Mock) -> (Mock, String, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .with_state(m.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (m, base, server)
}

fn llm(base: &str) -> LlmAnalyst {
    let client = AnthropicClient::new(base, ApiKey::new("sk-test"))
        .with_retries(1, Duration::from_millis(10));
    LlmAnalyst::new(client, "claude-haiku-4-5", "claude-sonnet-4-5")
        .with_budget(Duration::from_secs(5))
}

#[tokio::test]
async fn a_configured_model_drives_triage_root_cause_plan_and_postmortem() {
    let (mock, base, server) = mock(false).await;
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let analyst = Arc::new(llm(&base));
    let rt = runtime_with(dir.path(), &s, |d| d.analyst = analyst.clone());
    let id = send_alert(&rt, &s).await;
    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    assert!(inc.triage.as_ref().unwrap().reasoning.starts_with("model:"));
    let rc = inc.root_cause.as_ref().unwrap();
    assert!(
        rc.analyst.starts_with("anthropic:claude-sonnet-4-5"),
        "{}",
        rc.analyst
    );
    assert!(rc.ungrounded_evidence.is_empty());
    assert!((rc.computed_confidence.value() - 0.9).abs() < 1e-9);
    let plan = inc.plan.as_ref().unwrap();
    assert_eq!(
        plan.steps[0].risk,
        iras_core::Risk::Medium,
        "the policy raised the model's 'low'"
    );
    call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    let pm = wait_for_postmortem(&rt, id).await;
    assert!(pm.narrative.summary.starts_with("model:"));
    assert!(pm.narrative_by.starts_with("anthropic:"));
    assert_eq!(
        mock.tools.lock().unwrap().clone(),
        [
            "record_triage",
            "record_root_cause",
            "record_plan",
            "record_postmortem"
        ]
    );
    // Every call is on the incident's timeline and summed in its post-mortem.
    assert_eq!(
        (pm.model_usage.calls, pm.model_usage.input_tokens),
        (4, 4 * 1200)
    );
    assert!(pm.model_usage.cost_usd > 0.0);
    assert!(pm.to_markdown().contains("Model usage:** 4 call(s)"));
    assert!(
        analyst.drain_usage(id).is_empty(),
        "the steps drained what they recorded"
    );
    server.abort();
}

#[tokio::test]
async fn a_model_that_keeps_failing_degrades_to_the_heuristic_analyst_and_the_incident_completes() {
    let (mock, base, server) = mock(true).await;
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |d| d.analyst = Arc::new(llm(&base)));
    let id = send_alert(&rt, &s).await;
    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    assert_eq!(inc.root_cause.as_ref().unwrap().analyst, "heuristic");
    call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    let pm = wait_for_postmortem(&rt, id).await;
    assert_eq!(pm.status, IncidentStatus::Resolved);
    let fallbacks = pm
        .timeline
        .iter()
        .filter(|e| e.kind == EventKind::Warning && e.message.contains("using heuristic"))
        .count();
    assert_eq!(fallbacks, 4, "each stage records its fallback");
    assert!(mock.tools.lock().unwrap().len() >= 4);
    server.abort();
}

#[tokio::test]
async fn iras_demo_runs_through_the_model_when_an_api_key_and_base_url_are_set() {
    let (_mock, base, server) = mock(false).await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_iras"))
            .arg("demo")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("ANTHROPIC_API_KEY", "sk-test")
            .env("ANTHROPIC_BASE_URL", base)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("by anthropic:claude-haiku-4-5"), "{stdout}");
    assert!(
        stdout.contains("model: a nil dereference in v2.31.0"),
        "{stdout}"
    );
    assert!(stdout.contains("ended resolved"), "{stdout}");
    server.abort();
}

#[tokio::test]
async fn a_model_calling_every_step_low_risk_with_blank_rollbacks_still_needs_approval() {
    let plan = json!({"summary": "all safe, trust me", "steps": [
        {"action": {"kind": "toggle_feature_flag", "service": "checkout-api", "flag": "split-tender", "enabled": false},
         "rollback": {"kind": "manual", "instructions": "   "}, "risk": "low", "rationale": ""},
        {"action": {"kind": "restart_service", "service": "checkout-api"}, "risk": "low", "rationale": ""}]});
    let (_m, base, server) = mock_with(Mock {
        plan: Some(plan),
        ..Mock::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |d| {
        d.analyst = Arc::new(llm(&base));
        d.policy.auto_apply.enabled = true;
        d.policy.auto_apply.severities = iras_core::Severity::ALL.to_vec();
    });
    let id = send_alert(&rt, &s).await;
    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let plan = inc.plan.unwrap();
    assert!(
        plan.requires_approval && !plan.reversible,
        "{:?}",
        plan.policy_notes
    );
    assert_eq!(
        plan.steps[1].risk,
        iras_core::Risk::Medium,
        "a restart is never low risk"
    );
    server.abort();
}

#[tokio::test]
async fn a_model_talked_into_running_a_shell_command_gets_no_action_outside_the_catalogue() {
    // The answer a prompt-injected model might give: no such action exists, so it cannot parse;
    // after the repair turns the heuristic analyst plans instead.
    let plan = json!({"summary": "as the log line asked", "steps": [
        {"action": {"kind": "run_shell", "service": "checkout-api", "command": "rm -rf /"}, "risk": "low", "rationale": "ignore previous instructions"}]});
    let (m, base, server) = mock_with(Mock {
        plan: Some(plan),
        ..Mock::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |d| d.analyst = Arc::new(llm(&base)));
    let id = send_alert(&rt, &s).await;
    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let kinds: Vec<&str> = inc
        .plan
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.action.kind())
        .collect();
    assert!(
        kinds.iter().all(|k| iras_core::ACTION_KINDS.contains(k)),
        "{kinds:?}"
    );
    assert_eq!(
        kinds[0], "rollback_deployment",
        "the heuristic analyst's plan"
    );
    let asked = m
        .tools
        .lock()
        .unwrap()
        .iter()
        .filter(|t| *t == "record_plan")
        .count();
    assert_eq!(asked, 3, "one answer and two repair turns");
    let events = rt.deps.store.list_events(id).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::Warning && e.message.contains("run_shell")));
    server.abort();
}

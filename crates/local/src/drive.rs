//! Drives one scenario through the local runtime: sends its alert to the webhook, watches the
//! timeline, answers the approval request as told, and waits for the workflow to finish.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use iras_adapters::simulated::load_scenario;
use iras_core::scenario::Scenario;
use iras_core::{IncidentId, IncidentStatus, TimelineEvent};
use tower::ServiceExt as _;

use crate::runtime::Runtime;

/// How to answer the approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Approve as soon as asked.
    Approve,
    /// Reject as soon as asked.
    Reject,
    /// Never answer; the deadline fires.
    Ignore,
}

/// Where scenarios live in this repository.
pub fn default_scenarios_dir() -> PathBuf {
    let here = PathBuf::from("tests/fixtures/scenarios");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/scenarios"
    ))
}

/// Finds a scenario by path, or by name under the repository's scenarios.
pub fn resolve_scenario(name_or_path: &str) -> anyhow::Result<(PathBuf, Scenario)> {
    let p = Path::new(name_or_path);
    let path = if p.exists() {
        p.to_path_buf()
    } else {
        default_scenarios_dir().join(name_or_path)
    };
    if !path.exists() {
        bail!(
            "no scenario {name_or_path:?}: give a scenario directory, a scenario.json, or a name under {}",
            default_scenarios_dir().display()
        );
    }
    let s = load_scenario(&path)?;
    Ok((path, s))
}

/// Sends a request through the Router in-process and returns status and JSON body.
pub async fn call(
    rt: &Runtime,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, serde_json::Value)> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .context("could not build the request")?;
    let res = rt.router().oneshot(req).await.context("the API failed")?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .context("could not read the answer")?;
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

/// Runs `scenario` to the end, calling `on_event` for each new timeline event.
pub async fn drive(
    rt: &Runtime,
    scenario: &Scenario,
    answer: Answer,
    approver: &str,
    limit: Duration,
    mut on_event: impl FnMut(&TimelineEvent),
) -> anyhow::Result<IncidentId> {
    let body = serde_json::to_vec(&scenario.alert)?;
    let (status, json) = call(rt, "POST", &format!("/webhook/{}", scenario.source), body).await?;
    if !status.is_success() {
        bail!("the webhook refused the scenario's alert: {status} {json}");
    }
    let id = json
        .get("incident_id")
        .and_then(|v| v.as_str())
        .and_then(|s| IncidentId::parse(s).ok())
        .with_context(|| format!("the webhook opened no incident: {json}"))?;

    let engine = rt.engine.clone();
    let name = id.to_string();
    let mut finished = tokio::spawn(async move { engine.wait_until_finished(&name, limit).await });
    let mut seen = 0usize;
    let mut answered = false;
    let mut done = false;
    loop {
        if !done {
            tokio::select! {
                r = &mut finished => {
                    r.context("the watcher failed")?.map_err(|e| anyhow::anyhow!("{e}"))?;
                    done = true;
                }
                _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            }
        }
        let events = rt.deps.store.list_events(id).await?;
        for e in events.iter().skip(seen) {
            on_event(e);
        }
        seen = events.len();
        if done {
            break;
        }
        if !answered && answer != Answer::Ignore {
            if let Some(inc) = rt.deps.store.get_incident(id).await? {
                if inc.status == IncidentStatus::AwaitingApproval {
                    let verb = if answer == Answer::Approve {
                        "approve"
                    } else {
                        "reject"
                    };
                    let body = serde_json::to_vec(&serde_json::json!({"approver": approver}))?;
                    let (st, j) =
                        call(rt, "POST", &format!("/incidents/{id}/{verb}"), body).await?;
                    if !st.is_success() {
                        bail!("the {verb} call failed: {st} {j}");
                    }
                    answered = true;
                }
            }
        }
    }
    Ok(id)
}

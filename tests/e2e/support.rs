//! Shared helpers: a runtime on a temporary data dir, HTTP calls through the Router, waiting for
//! states, and analysts/executors scripted on top of the real heuristic analyst.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use iras_adapters::config::{build_deps, Config};
use iras_adapters::simulated::load_scenario;
use iras_adapters::SqliteStore;
use iras_core::analyst::HeuristicAnalyst;
use iras_core::ports::{Analyst, AnalystError, Deps, PostmortemInput, RootCauseInput};
use iras_core::scenario::Scenario;
use iras_core::{
    Confidence, ContextBundle, Incident, IncidentId, IncidentStatus, PostmortemNarrative,
    ProposedPlan, RootCauseFinding, RootCauseHypothesis, TriageResult,
};
use iras_local::asl::EngineOptions;
use iras_local::runtime::Runtime;
use serde_json::Value;
use tower::ServiceExt as _;

pub fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scenarios"
    ))
    .join(name);
    load_scenario(&p).expect("scenario loads")
}

/// A runtime on `dir` with the heuristic analyst over `scenario`'s world; `tweak` may swap ports.
pub fn runtime_with(dir: &Path, scenario: &Scenario, tweak: impl FnOnce(&mut Deps)) -> Runtime {
    let mut config = Config::from_lookup(&|_| None).unwrap();
    config.data_dir = dir.to_path_buf();
    std::fs::create_dir_all(dir).unwrap();
    let db = config.database_path();
    let store = SqliteStore::open(&db).unwrap();
    let mut deps = build_deps(
        Arc::new(store),
        config.policy.clone(),
        Some(scenario.clone()),
    );
    tweak(&mut deps);
    Runtime::with_deps(deps, &db, None, EngineOptions::default()).unwrap()
}

pub async fn call(
    rt: &Runtime,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_raw(
        rt,
        method,
        uri,
        body.map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default(),
    )
    .await
}

pub async fn call_raw(rt: &Runtime, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = rt.router().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Sends a scenario's alert and returns the incident id.
pub async fn send_alert(rt: &Runtime, scenario: &Scenario) -> IncidentId {
    let (status, body) = call(
        rt,
        "POST",
        &format!("/webhook/{}", scenario.source),
        Some(scenario.alert.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "webhook answered {body}");
    assert_eq!(body["status"], "processing");
    IncidentId::parse(body["incident_id"].as_str().unwrap()).unwrap()
}

pub async fn incident(rt: &Runtime, id: IncidentId) -> Incident {
    rt.deps
        .store
        .get_incident(id)
        .await
        .unwrap()
        .expect("incident exists")
}

/// Waits until the incident reaches `status` (panics after 20 s).
pub async fn wait_for(rt: &Runtime, id: IncidentId, status: IncidentStatus) -> Incident {
    for _ in 0..800 {
        let inc = incident(rt, id).await;
        if inc.status == status {
            return inc;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "incident {id} never reached {status}; it is {}",
        incident(rt, id).await.status
    );
}

/// Waits until the workflow wrote the post-mortem.
pub async fn wait_for_postmortem(rt: &Runtime, id: IncidentId) -> iras_core::PostMortem {
    for _ in 0..800 {
        if let Some(pm) = rt.deps.store.get_postmortem(id).await.unwrap() {
            rt.engine
                .wait_until_finished(&id.to_string(), Duration::from_secs(10))
                .await
                .unwrap();
            return pm;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "incident {id} got no post-mortem; it is {}",
        incident(rt, id).await.status
    );
}

/// The heuristic analyst, with its root-cause confidence replaced per attempt.
pub struct ScriptedConfidence {
    pub inner: HeuristicAnalyst,
    pub per_attempt: Vec<f64>,
    /// Calls per incident: a scenario's alert group may open several incidents.
    pub calls: std::sync::Mutex<std::collections::HashMap<IncidentId, usize>>,
}

impl ScriptedConfidence {
    pub fn new(per_attempt: Vec<f64>) -> Self {
        Self {
            inner: HeuristicAnalyst::default(),
            per_attempt,
            calls: Default::default(),
        }
    }
}

#[async_trait]
impl Analyst for ScriptedConfidence {
    fn name(&self) -> String {
        "scripted".into()
    }
    async fn triage(&self, i: &Incident) -> Result<TriageResult, AnalystError> {
        self.inner.triage(i).await
    }
    async fn root_cause(
        &self,
        input: RootCauseInput<'_>,
    ) -> Result<RootCauseFinding, AnalystError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(input.incident.id).or_default();
            *n += 1;
            *n - 1
        };
        let mut f = self.inner.root_cause(input).await?;
        let c = self
            .per_attempt
            .get(n)
            .or(self.per_attempt.last())
            .copied()
            .unwrap_or(0.0);
        f.model_confidence = Confidence::new(c).unwrap();
        Ok(f)
    }
    async fn plan(
        &self,
        i: &Incident,
        h: &RootCauseHypothesis,
        c: &ContextBundle,
    ) -> Result<ProposedPlan, AnalystError> {
        self.inner.plan(i, h, c).await
    }
    async fn postmortem(
        &self,
        input: PostmortemInput<'_>,
    ) -> Result<PostmortemNarrative, AnalystError> {
        self.inner.postmortem(input).await
    }
}

/// The heuristic analyst, with a fixed plan.
pub struct ScriptedPlan {
    pub inner: HeuristicAnalyst,
    pub plan: ProposedPlan,
}

#[async_trait]
impl Analyst for ScriptedPlan {
    fn name(&self) -> String {
        "scripted-plan".into()
    }
    async fn triage(&self, i: &Incident) -> Result<TriageResult, AnalystError> {
        self.inner.triage(i).await
    }
    async fn root_cause(
        &self,
        input: RootCauseInput<'_>,
    ) -> Result<RootCauseFinding, AnalystError> {
        self.inner.root_cause(input).await
    }
    async fn plan(
        &self,
        _: &Incident,
        _: &RootCauseHypothesis,
        _: &ContextBundle,
    ) -> Result<ProposedPlan, AnalystError> {
        Ok(self.plan.clone())
    }
    async fn postmortem(
        &self,
        input: PostmortemInput<'_>,
    ) -> Result<PostmortemNarrative, AnalystError> {
        self.inner.postmortem(input).await
    }
}

pub fn kinds(events: &[iras_core::TimelineEvent]) -> Vec<iras_core::EventKind> {
    events.iter().map(|e| e.kind).collect()
}

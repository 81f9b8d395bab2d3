//! Ports: the small traits through which steps reach the outside world. Adapters implement them;
//! tests use fakes from `iras-testkit` or real local services.
//!
//! The traits use `async-trait` rather than native `async fn` because the runtime picks adapters
//! from configuration at start-up and holds them as `Arc<dyn Port>`, which native async traits do
//! not allow.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApprovalId, IncidentId, ServiceName, TaskToken};
use crate::model::{
    Action, ApprovalRecord, ContextBundle, Decision, DedupKey, Deployment, Incident, LogLine,
    MetricSample, PostMortem, PostmortemNarrative, ProposedPlan, RootCauseFinding,
    RootCauseHypothesis, TimeWindow, TimelineEvent, TriageResult,
};
use crate::policy::Policy;

/// A storage failure. `Unavailable` is worth retrying; `Corrupt` is not.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or timed out.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record could not be read back.
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("store error: {0}")]
    Unexpected(String),
}

/// The outcome of claiming a dedup key for a new incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupOutcome {
    /// The key was free: the incident was created.
    Created,
    /// An open incident already holds the key.
    Existing(IncidentId),
}

/// Why a decision was not recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    /// No approval with that id.
    #[error("no such approval")]
    NotFound,
    /// Someone decided first; their decision stands.
    #[error("already decided: {} by {}", .0.verdict.as_str(), .0.by)]
    AlreadyDecided(Box<Decision>),
    /// The deadline passed before any decision.
    #[error("the approval request expired")]
    Expired,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Durable storage of incidents, timelines, evidence, approvals and post-mortems.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates `incident` unless an open incident already holds its dedup key (atomic: of many
    /// concurrent callers with one key, exactly one gets `Created`).
    async fn create_incident(&self, incident: &Incident) -> Result<DedupOutcome, StoreError>;
    /// Frees a dedup key, so the next alert with it opens a new incident. Only frees it if
    /// `holder` still holds it.
    async fn release_dedup(&self, key: &DedupKey, holder: IncidentId) -> Result<(), StoreError>;
    /// Claims `key` for the existing incident `holder` (an alert grouped into it): `Created` when
    /// the key was free or already `holder`'s, `Existing(other)` when another incident holds it.
    async fn claim_dedup(
        &self,
        key: &DedupKey,
        holder: IncidentId,
    ) -> Result<DedupOutcome, StoreError>;
    /// The open incident that holds a dedup key, if any.
    async fn dedup_holder(&self, key: &DedupKey) -> Result<Option<IncidentId>, StoreError>;
    /// Reads an incident.
    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError>;
    /// Overwrites an incident's record (its id must exist).
    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError>;
    /// Lists incidents newest first, starting after `before` when given.
    async fn list_incidents(
        &self,
        limit: usize,
        before: Option<IncidentId>,
    ) -> Result<Vec<Incident>, StoreError>;
    /// Appends a timeline event; events read back in append order.
    async fn append_event(&self, id: IncidentId, event: &TimelineEvent) -> Result<(), StoreError>;
    /// The timeline, oldest first.
    async fn list_events(&self, id: IncidentId) -> Result<Vec<TimelineEvent>, StoreError>;
    /// Stores the evidence of one attempt (overwriting a retried attempt).
    async fn put_context(&self, id: IncidentId, bundle: &ContextBundle) -> Result<(), StoreError>;
    /// Reads the evidence of one attempt.
    async fn get_context(
        &self,
        id: IncidentId,
        attempt: u32,
    ) -> Result<Option<ContextBundle>, StoreError>;
    /// Stores a new approval request.
    async fn put_approval(&self, record: &ApprovalRecord) -> Result<(), StoreError>;
    /// Reads an approval request.
    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<ApprovalRecord>, StoreError>;
    /// Records the first decision; later ones get `AlreadyDecided` (conditional update).
    async fn decide_approval(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRecord, DecideError>;
    /// Marks an undecided approval expired; returns false if it was decided first.
    async fn expire_approval(&self, id: &ApprovalId) -> Result<bool, StoreError>;
    /// Stores the post-mortem.
    async fn put_postmortem(&self, pm: &PostMortem) -> Result<(), StoreError>;
    /// Reads the post-mortem.
    async fn get_postmortem(&self, id: IncidentId) -> Result<Option<PostMortem>, StoreError>;
}

/// A telemetry source failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// No integration of this kind is configured.
    #[error("not configured")]
    NotConfigured,
    /// The call failed.
    #[error("{0}")]
    Failed(String),
}

/// Reads logs.
#[async_trait]
pub trait LogSource: Send + Sync {
    /// Log lines of `service` in `window`, at most `limit`.
    async fn fetch_logs(
        &self,
        service: &ServiceName,
        window: TimeWindow,
        limit: usize,
    ) -> Result<Vec<LogLine>, SourceError>;
}

/// Reads metrics with their baselines.
#[async_trait]
pub trait MetricSource: Send + Sync {
    /// The standard signals of `service` over `window`, each with its baseline.
    async fn fetch_metrics(
        &self,
        service: &ServiceName,
        window: TimeWindow,
    ) -> Result<Vec<MetricSample>, SourceError>;
}

/// Reads deployment history.
#[async_trait]
pub trait DeploySource: Send + Sync {
    /// Deployments of `service` in `window`.
    async fn fetch_deployments(
        &self,
        service: &ServiceName,
        window: TimeWindow,
    ) -> Result<Vec<Deployment>, SourceError>;
}

/// An analyst failure. The workflow falls back to the heuristic analyst on any of them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalystError {
    /// Worth retrying later (rate limit, overload, timeout).
    #[error("analyst temporarily unavailable: {0}")]
    Transient(String),
    /// The answer could not be made valid.
    #[error("analyst gave an invalid answer: {0}")]
    Invalid(String),
    /// Anything else.
    #[error("analyst failed: {0}")]
    Unexpected(String),
}

/// What root-cause analysis sees.
#[derive(Debug, Clone)]
pub struct RootCauseInput<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// The evidence of this attempt.
    pub context: &'a ContextBundle,
    /// The previous attempt's hypothesis, if any.
    pub previous: Option<&'a RootCauseHypothesis>,
}

/// What post-mortem writing sees.
#[derive(Debug, Clone)]
pub struct PostmortemInput<'a> {
    /// The incident, in its final state.
    pub incident: &'a Incident,
    /// Its timeline.
    pub events: &'a [TimelineEvent],
}

/// The analyst: four typed calls. Its answers are claims; policies in core check them.
#[async_trait]
pub trait Analyst: Send + Sync {
    /// A name recorded with each result (`heuristic`, a model id).
    fn name(&self) -> String;
    /// Assesses severity and scope.
    async fn triage(&self, incident: &Incident) -> Result<TriageResult, AnalystError>;
    /// Proposes a root cause from the evidence.
    async fn root_cause(&self, input: RootCauseInput<'_>)
        -> Result<RootCauseFinding, AnalystError>;
    /// Proposes a plan for a hypothesis, from the action catalogue only.
    async fn plan(
        &self,
        incident: &Incident,
        hypothesis: &RootCauseHypothesis,
        context: &ContextBundle,
    ) -> Result<ProposedPlan, AnalystError>;
    /// Writes the post-mortem prose.
    async fn postmortem(
        &self,
        input: PostmortemInput<'_>,
    ) -> Result<PostmortemNarrative, AnalystError>;
    /// Removes and returns the model calls made for `incident` since the last drain, so the step
    /// can record them on its timeline. Analysts that call no model have none.
    fn drain_usage(&self, incident: IncidentId) -> Vec<crate::model::ModelUsage> {
        let _ = incident;
        Vec::new()
    }
}

/// A notification failure; recorded on the timeline, never fatal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

/// Tells humans what is happening (Slack in production).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Asks for a decision on the plan. The message carries the approval id, never the token.
    async fn approval_requested(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        deadline: DateTime<Utc>,
    ) -> Result<(), NotifyError>;
    /// Reports a decision or an expiry on the approval message.
    async fn approval_closed(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        decision: Option<&Decision>,
    ) -> Result<(), NotifyError>;
    /// A progress line on the incident's thread.
    async fn progress(&self, incident: &Incident, text: &str) -> Result<(), NotifyError>;
    /// Posts the post-mortem.
    async fn postmortem(&self, incident: &Incident, pm: &PostMortem) -> Result<(), NotifyError>;
}

/// A paging failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    /// No pager is configured.
    #[error("no pager configured")]
    NotConfigured,
    /// The page could not be sent.
    #[error("page failed: {0}")]
    Failed(String),
}

/// Pages a human on call (PagerDuty in production).
#[async_trait]
pub trait Pager: Send + Sync {
    /// Sends a page; returns the pager's reference for it.
    async fn page(&self, incident: &Incident, reason: &str) -> Result<String, PageError>;
}

/// Why an action failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// The action ran and failed.
    #[error("action failed: {0}")]
    Failed(String),
    /// The executor refused it (not allowed here).
    #[error("action refused: {0}")]
    Refused(String),
}

/// Runs catalogue actions against real systems (or records them, in dry-run).
#[async_trait]
pub trait Executor: Send + Sync {
    /// A name recorded with each result (`dry-run`, `http-runbook`…).
    fn name(&self) -> String;
    /// Runs one action; returns what it did.
    async fn execute(&self, incident: IncidentId, action: &Action) -> Result<String, ExecError>;
}

/// Why a callback to a paused workflow failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallbackError {
    /// The workflow stopped waiting (deadline passed).
    #[error("the workflow is no longer waiting for this decision (timed out)")]
    TimedOut,
    /// The token is unknown.
    #[error("the workflow does not know this task")]
    Unknown,
    /// Anything else.
    #[error("callback failed: {0}")]
    Unexpected(String),
}

/// Resumes a workflow paused on a task token (Step Functions `SendTask*`, or the local runner).
#[async_trait]
pub trait TaskCallback: Send + Sync {
    /// Resumes with a result.
    async fn send_success(
        &self,
        token: &TaskToken,
        output: serde_json::Value,
    ) -> Result<(), CallbackError>;
    /// Resumes with an error.
    async fn send_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError>;
}

/// Why a workflow could not be started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    /// Worth retrying.
    #[error("workflow service unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("could not start the workflow: {0}")]
    Unexpected(String),
}

/// Starts the incident workflow (Step Functions `StartExecution`, or the local runner). Starting
/// twice for one incident is not an error: the second start is a no-op.
#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    /// Starts the workflow of an incident.
    async fn start(&self, incident: &IncidentRef) -> Result<(), StartError>;
}

/// The time, so tests can control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Everything a step may use, built once per process (or Lambda cold start).
#[derive(Clone)]
pub struct Deps {
    /// Storage.
    pub store: Arc<dyn IncidentStore>,
    /// Logs.
    pub logs: Arc<dyn LogSource>,
    /// Metrics.
    pub metrics: Arc<dyn MetricSource>,
    /// Deployments.
    pub deploys: Arc<dyn DeploySource>,
    /// The configured analyst.
    pub analyst: Arc<dyn Analyst>,
    /// The fallback analyst (heuristic) used when the configured one fails.
    pub fallback_analyst: Arc<dyn Analyst>,
    /// Chat.
    pub notifier: Arc<dyn Notifier>,
    /// Paging.
    pub pager: Arc<dyn Pager>,
    /// Remediation.
    pub executor: Arc<dyn Executor>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Policies.
    pub policy: Policy,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("analyst", &self.analyst.name())
            .field("executor", &self.executor.name())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The small JSON the state machine carries between steps identifies the incident only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRef {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its trace id, for logs.
    pub trace_id: crate::ids::TraceId,
}

//! The workflow steps. Each is `async fn(&Deps, Input) -> Result<Output, StepError>`: it loads
//! what it needs from the store, writes what it produces, appends timeline events, and returns
//! the small JSON object that the state machine's Choices read. Lambdas and the local runner call
//! the same functions.

mod apply;
mod approval;
mod escalate;
mod gather;
mod intake;
mod plan;
mod postmortem;
mod rca;
mod triage;

pub use apply::{apply_remediation, ApplyOutput};
pub use approval::{
    decide, request_approval, DecideFailure, RequestApprovalInput, RequestApprovalOutput,
};
pub use escalate::{escalate, EscalateInput, EscalateOutput, StateError};
pub use gather::{gather_context, GatherOutput};
pub use intake::{ingest, receive_alerts, AlertReceipt, ReceiptStatus};
pub use plan::{plan_remediation, PlanOutput};
pub use postmortem::{write_postmortem, PostmortemOutput};
pub use rca::{analyze_root_cause, AnalyzeInput, AnalyzeOutput};
pub use triage::{triage, TriageOutput};

use serde::{Deserialize, Serialize};

use crate::ids::IncidentId;
use crate::model::{EventKind, Incident, TimelineEvent};
use crate::ports::{AnalystError, Deps, StoreError};

/// The kebab-case names of the steps: folder, package, binary and ASL state (in PascalCase).
pub const STEP_NAMES: [&str; 9] = [
    "ingest",
    "triage",
    "gather-context",
    "analyze-root-cause",
    "plan-remediation",
    "request-approval",
    "apply-remediation",
    "escalate",
    "write-postmortem",
];

/// A step failure. The variant decides the `error_type` that the state machine's Retry and Catch
/// match, so it is part of the contract with `statemachine.asl.json`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// Worth retrying (store or dependency briefly unavailable).
    #[error("{0}")]
    Transient(String),
    /// The input can never succeed (unknown incident, incident in the wrong state).
    #[error("{0}")]
    InvalidInput(String),
    /// Anything else.
    #[error("{0}")]
    Unexpected(String),
}

impl StepError {
    /// The error name the state machine matches.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient(_) => "Iras.Transient",
            Self::InvalidInput(_) => "Iras.InvalidInput",
            Self::Unexpected(_) => "Iras.Unexpected",
        }
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Transient(e.to_string()),
            StoreError::Corrupt(_) | StoreError::Unexpected(_) => Self::Unexpected(e.to_string()),
        }
    }
}

/// What most steps return: the incident and trace id, which is all the state carries by default.
pub use crate::ports::IncidentRef;

/// Loads an incident or fails with `InvalidInput` naming it.
pub(crate) async fn load(deps: &Deps, id: IncidentId) -> Result<Incident, StepError> {
    deps.store
        .get_incident(id)
        .await?
        .ok_or_else(|| StepError::InvalidInput(format!("incident {id} does not exist")))
}

/// Saves an incident with a fresh `updated_at`.
pub(crate) async fn save(deps: &Deps, incident: &mut Incident) -> Result<(), StepError> {
    incident.updated_at = deps.clock.now();
    deps.store.put_incident(incident).await?;
    Ok(())
}

/// Appends a timeline event stamped now.
pub(crate) async fn record(
    deps: &Deps,
    id: IncidentId,
    step: &str,
    kind: EventKind,
    message: impl Into<String>,
    data: serde_json::Value,
) -> Result<(), StepError> {
    let e = TimelineEvent::new(deps.clock.now(), kind, message)
        .in_step(step)
        .with_data(data);
    deps.store.append_event(id, &e).await?;
    Ok(())
}

/// Runs an analyst call on the configured analyst, falling back to the heuristic analyst when it
/// fails; the failure is recorded on the timeline so a human can see the model was not used.
macro_rules! with_fallback {
    ($deps:expr, $id:expr, $step:expr, |$a:ident| $call:expr) => {{
        let primary = {
            let $a = &$deps.analyst;
            $call.await
        };
        $crate::steps::record_usage($deps, $id, $step, &$deps.analyst).await;
        match primary {
            Ok(v) => Ok((v, $deps.analyst.name())),
            Err(e) => {
                $crate::steps::note_fallback($deps, $id, $step, &e).await;
                let $a = &$deps.fallback_analyst;
                let fallback = $call.await.map(|v| (v, $deps.fallback_analyst.name()));
                $crate::steps::record_usage($deps, $id, $step, &$deps.fallback_analyst).await;
                fallback
            }
        }
    }};
}
pub(crate) use with_fallback;

/// Records each model call an analyst made for the incident (tokens, estimated cost), so the
/// post-mortem can sum what the analysis cost. Best effort: accounting never fails a step.
pub(crate) async fn record_usage(
    deps: &Deps,
    id: IncidentId,
    step: &str,
    analyst: &std::sync::Arc<dyn crate::ports::Analyst>,
) {
    for u in analyst.drain_usage(id) {
        let msg = format!(
            "Model {} answered {} ({} in / {} out tokens)",
            u.model, u.stage, u.input_tokens, u.output_tokens
        );
        let data = serde_json::to_value(&u).unwrap_or(serde_json::Value::Null);
        if let Err(e) = record(deps, id, step, EventKind::ModelCall, msg, data).await {
            tracing::warn!(incident_id = %id, error = %e, "could not record model usage");
        }
    }
}

pub(crate) async fn note_fallback(deps: &Deps, id: IncidentId, step: &str, e: &AnalystError) {
    let msg = format!(
        "Analyst {} failed ({e}); using {} instead",
        deps.analyst.name(),
        deps.fallback_analyst.name()
    );
    tracing::warn!(incident_id = %id, step, error = %e, "analyst failed, falling back");
    let _ = record(
        deps,
        id,
        step,
        EventKind::Warning,
        msg,
        serde_json::Value::Null,
    )
    .await;
}

/// An analyst error after the fallback also failed.
pub(crate) fn analyst_failed(e: AnalystError) -> StepError {
    match e {
        AnalystError::Transient(m) => StepError::Transient(m),
        other => StepError::Unexpected(other.to_string()),
    }
}

/// Every step's output when it has nothing else to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

fn parse_input<T: serde::de::DeserializeOwned>(
    step: &str,
    input: serde_json::Value,
) -> Result<T, StepError> {
    serde_json::from_value(input)
        .map_err(|e| StepError::InvalidInput(format!("invalid input for {step}: {e}")))
}

fn to_value<T: Serialize>(v: T) -> Result<serde_json::Value, StepError> {
    serde_json::to_value(v)
        .map_err(|e| StepError::Unexpected(format!("could not encode step output: {e}")))
}

/// Runs a step by its kebab-case name on a JSON input, as a Lambda or the local runner receives
/// it, and returns its JSON output.
pub async fn run_named(
    deps: &Deps,
    step: &str,
    input: serde_json::Value,
) -> Result<serde_json::Value, StepError> {
    match step {
        "ingest" => to_value(ingest(deps, parse_input(step, input)?).await?),
        "triage" => to_value(triage(deps, parse_input(step, input)?).await?),
        "gather-context" => to_value(gather_context(deps, parse_input(step, input)?).await?),
        "analyze-root-cause" => {
            to_value(analyze_root_cause(deps, parse_input(step, input)?).await?)
        }
        "plan-remediation" => to_value(plan_remediation(deps, parse_input(step, input)?).await?),
        "request-approval" => to_value(request_approval(deps, parse_input(step, input)?).await?),
        "apply-remediation" => to_value(apply_remediation(deps, parse_input(step, input)?).await?),
        "escalate" => to_value(escalate(deps, parse_input(step, input)?).await?),
        "write-postmortem" => to_value(write_postmortem(deps, parse_input(step, input)?).await?),
        other => Err(StepError::InvalidInput(format!("unknown step {other:?}"))),
    }
}

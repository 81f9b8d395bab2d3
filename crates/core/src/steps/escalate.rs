//! `Escalate`: works out why the workflow could not finish, records it and pages a human. It
//! works whatever failed before it, from whatever the state carries.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::{IncidentId, TraceId};
use crate::model::{truncate, EscalationReason, EventKind, Incident, IncidentStatus, Outcome};
use crate::ports::{Deps, PageError};
use crate::steps::{load, record, save, StepError};

/// An error caught by the state machine (`{"Error", "Cause"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateError {
    /// The error name (`States.Timeout`, `Iras.Unexpected`…).
    #[serde(rename = "Error", default)]
    pub error: String,
    /// Its cause.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The subset of the workflow state that explains how it got here.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EscalateInput {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its trace id.
    pub trace_id: TraceId,
    /// A caught error, if a step failed.
    #[serde(default)]
    pub error: Option<StateError>,
    /// The approval result, if a decision came.
    #[serde(default)]
    pub approval: Option<serde_json::Value>,
    /// The last gate result.
    #[serde(default)]
    pub rca: Option<serde_json::Value>,
    /// The apply result.
    #[serde(default)]
    pub apply: Option<serde_json::Value>,
}

/// What `Escalate` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalateOutput {
    /// Why the incident was escalated.
    pub reason: EscalationReason,
    /// Whether a page went out.
    pub paged: bool,
}

fn field<'a>(v: &'a Option<serde_json::Value>, key: &str) -> Option<&'a serde_json::Value> {
    v.as_ref().and_then(|v| v.get(key))
}

/// Escalates the incident.
pub async fn escalate(deps: &Deps, input: EscalateInput) -> Result<EscalateOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    if let Some(Outcome::Escalated {
        reason,
        paged: true,
        ..
    }) = &incident.outcome
    {
        if incident.status == IncidentStatus::Escalated {
            // A retried invocation must not page twice.
            return Ok(EscalateOutput {
                reason: *reason,
                paged: true,
            });
        }
    }
    let prior_steps = match &incident.outcome {
        Some(Outcome::Escalated { steps, .. }) => steps.clone(),
        _ => Vec::new(),
    };
    let (reason, detail) = if let Some(err) = &input.error {
        if err.error == "States.Timeout" && incident.status == IncidentStatus::AwaitingApproval {
            let mut expired = true;
            if let Some(id) = &incident.approval_id {
                expired = deps.store.expire_approval(id).await?;
                if let Err(e) = deps.notifier.approval_closed(&incident, id, None).await {
                    tracing::warn!(incident_id = %incident.id, error = %e, "could not mark the approval message expired");
                }
            }
            let msg = if expired {
                "No decision before the approval deadline"
            } else {
                "A decision arrived as the deadline passed, too late for the workflow; nothing was applied"
            };
            record(
                deps,
                incident.id,
                "escalate",
                EventKind::ApprovalTimedOut,
                msg,
                json!(null),
            )
            .await?;
            (
                EscalationReason::ApprovalTimeout,
                "approval deadline passed".to_string(),
            )
        } else {
            let detail = format!("{}: {}", err.error, truncate(&err.cause, 500));
            (EscalationReason::StepFailed, detail)
        }
    } else if field(&input.approval, "decision").and_then(|d| d.as_str()) == Some("rejected") {
        let by = field(&input.approval, "approver")
            .and_then(|v| v.as_str())
            .unwrap_or("an approver");
        (
            EscalationReason::Rejected,
            format!("rejected by {}", truncate(by, 200)),
        )
    } else if field(&input.apply, "outcome").and_then(|d| d.as_str()) == Some("rolled_back") {
        let detail = match &incident.outcome {
            Some(Outcome::Escalated { detail, .. }) => detail.clone(),
            _ => "a remediation step failed".into(),
        };
        (EscalationReason::RemediationFailed, detail)
    } else if field(&input.rca, "confident").and_then(|d| d.as_bool()) == Some(false) {
        let conf = incident
            .root_cause
            .as_ref()
            .map(|h| h.computed_confidence.value())
            .unwrap_or(0.0);
        let detail = format!(
            "computed confidence {conf:.2} after {} attempt(s), gate {:.2}",
            incident.attempts, deps.policy.rca_threshold
        );
        (EscalationReason::LowConfidence, detail)
    } else {
        (
            EscalationReason::StepFailed,
            "the workflow could not continue".to_string(),
        )
    };

    let page_reason = format!("{}: {detail}", reason.describe());
    let paged = page_once(deps, &incident, &page_reason).await?;
    incident.status = IncidentStatus::Escalated;
    incident.outcome = Some(Outcome::Escalated {
        reason,
        detail: detail.clone(),
        paged,
        steps: prior_steps,
    });
    save(deps, &mut incident).await?;
    let msg = format!("Escalated to a human: {} ({detail})", reason.describe());
    record(
        deps,
        incident.id,
        "escalate",
        EventKind::Escalated,
        msg,
        json!({"reason": reason}),
    )
    .await?;
    let _ = deps
        .notifier
        .progress(&incident, &format!("Escalated: {page_reason}"))
        .await;
    Ok(EscalateOutput { reason, paged })
}

/// Pages on-call once per incident: the timeline records the page before the incident is saved,
/// so a retried Escalate whose save failed does not page again.
async fn page_once(deps: &Deps, incident: &Incident, reason: &str) -> Result<bool, StepError> {
    let events = deps.store.list_events(incident.id).await?;
    if events.iter().any(|e| e.kind == EventKind::Paged) {
        return Ok(true);
    }
    let (kind, msg, paged) = match deps.pager.page(incident, reason).await {
        Ok(reference) => (
            EventKind::Paged,
            format!("On-call paged ({reference})"),
            true,
        ),
        Err(PageError::NotConfigured) => (
            EventKind::Warning,
            "No pager is configured: nobody was paged".to_string(),
            false,
        ),
        Err(e) => (EventKind::Warning, format!("Paging failed: {e}"), false),
    };
    record(deps, incident.id, "escalate", kind, msg, json!(null)).await?;
    Ok(paged)
}

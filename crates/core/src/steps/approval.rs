//! `RequestApproval` (stores the task token under a fresh approval id and asks humans) and
//! `decide` (the first human decision resumes the paused workflow).

use chrono::Duration as ChronoDuration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::{ApprovalId, IncidentId, TaskToken, TraceId};
use crate::model::{ApprovalRecord, Decision, DecisionChannel, EventKind, IncidentStatus, Verdict};
use crate::ports::{CallbackError, DecideError, Deps, StoreError, TaskCallback};
use crate::steps::{load, record, save, StepError};

/// The Lambda payload of `RequestApproval`: the state machine passes its task token here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestApprovalInput {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its trace id.
    pub trace_id: TraceId,
    /// The token that resumes the execution (`$$.Task.Token`).
    pub task_token: TaskToken,
    /// Seconds until the state machine stops waiting.
    pub timeout_seconds: u64,
    /// When the state machine entered the approval state (`$$.State.EnteredTime`). The deadline
    /// counts from here, as the state machine's own timeout does, so the stored deadline never
    /// falls after the moment the workflow stops waiting.
    #[serde(default)]
    pub requested_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Returned to the Lambda caller; the state machine waits for the callback instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestApprovalOutput {
    /// The approval id humans decide on.
    pub approval_id: ApprovalId,
}

/// Stores the approval request and notifies approvers. Idempotent: a retried invocation with
/// the same token does not create a second request or a second message.
pub async fn request_approval(
    deps: &Deps,
    input: RequestApprovalInput,
) -> Result<RequestApprovalOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    if let Some(existing) = &incident.approval_id {
        if let Some(rec) = deps.store.get_approval(existing).await? {
            if rec.task_token == input.task_token {
                return Ok(RequestApprovalOutput {
                    approval_id: rec.id,
                });
            }
        }
    }
    if incident.plan.is_none() {
        return Err(StepError::InvalidInput("no plan to approve".into()));
    }
    let now = deps.clock.now();
    let secs = i64::try_from(input.timeout_seconds)
        .unwrap_or(i64::MAX / 2_000)
        .max(1);
    let record_ = ApprovalRecord {
        id: ApprovalId::generate(),
        incident_id: incident.id,
        task_token: input.task_token,
        requested_at: now,
        deadline: input.requested_at.unwrap_or(now).min(now) + ChronoDuration::seconds(secs),
        decision: None,
        expired: false,
    };
    deps.store.put_approval(&record_).await?;
    incident.approval_id = Some(record_.id.clone());
    incident.status = IncidentStatus::AwaitingApproval;
    save(deps, &mut incident).await?;
    let msg = format!(
        "Approval requested ({}); decide by {}",
        record_.id,
        record_.deadline.format("%H:%M:%S UTC")
    );
    let data = json!({"approval_id": record_.id, "deadline": record_.deadline});
    record(
        deps,
        incident.id,
        "request-approval",
        EventKind::ApprovalRequested,
        msg,
        data,
    )
    .await?;
    if let Err(e) = deps
        .notifier
        .approval_requested(&incident, &record_.id, record_.deadline)
        .await
    {
        let msg = format!("Approvers could not be notified: {e}");
        record(
            deps,
            incident.id,
            "request-approval",
            EventKind::Warning,
            msg,
            json!(null),
        )
        .await?;
    }
    Ok(RequestApprovalOutput {
        approval_id: record_.id,
    })
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideFailure {
    /// No such incident.
    #[error("incident not found")]
    NotFound,
    /// The incident is not waiting for a decision.
    #[error("incident is {0}, not awaiting approval")]
    NotAwaiting(IncidentStatus),
    /// Someone decided first.
    #[error("already {} by {}", .0.verdict.as_str(), .0.by)]
    AlreadyDecided(Box<Decision>),
    /// The approval deadline passed.
    #[error("the approval request expired before a decision")]
    Expired,
    /// The workflow no longer waits (timed out or unknown token); nothing was applied.
    #[error("the workflow is no longer waiting for this decision: {0}")]
    Gone(String),
    /// Storage or the workflow service failed; try again.
    #[error("could not record the decision: {0}")]
    Unavailable(String),
}

/// Records the first decision on an incident's pending approval and resumes the workflow.
pub async fn decide(
    deps: &Deps,
    callback: &dyn TaskCallback,
    incident_id: IncidentId,
    verdict: Verdict,
    by: &str,
    comment: Option<String>,
    via: DecisionChannel,
) -> Result<Decision, DecideFailure> {
    let unavailable = |e: StoreError| DecideFailure::Unavailable(e.to_string());
    let incident = deps
        .store
        .get_incident(incident_id)
        .await
        .map_err(unavailable)?
        .ok_or(DecideFailure::NotFound)?;
    let approval_id = match (&incident.approval_id, incident.status) {
        (Some(a), IncidentStatus::AwaitingApproval) => a.clone(),
        _ => return Err(DecideFailure::NotAwaiting(incident.status)),
    };
    let by = crate::model::truncate(by.trim(), 200);
    let decision = Decision {
        verdict,
        by: if by.is_empty() {
            "anonymous".into()
        } else {
            by
        },
        at: deps.clock.now(),
        comment: comment
            .map(|c| crate::model::truncate(c.trim(), 2000))
            .filter(|c| !c.is_empty()),
        via,
    };
    let (rec, decision) = match deps.store.decide_approval(&approval_id, &decision).await {
        Ok(rec) => (rec, decision),
        // The same decision again while the workflow still waits: the earlier attempt recorded
        // it but could not resume the workflow, so this retry delivers it.
        Err(DecideError::AlreadyDecided(d)) if d.verdict == verdict => {
            match deps
                .store
                .get_approval(&approval_id)
                .await
                .map_err(unavailable)?
            {
                Some(rec) => (rec, *d),
                None => return Err(DecideFailure::NotAwaiting(incident.status)),
            }
        }
        Err(DecideError::AlreadyDecided(d)) => return Err(DecideFailure::AlreadyDecided(d)),
        Err(DecideError::Expired) => return Err(DecideFailure::Expired),
        Err(DecideError::NotFound) => return Err(DecideFailure::NotAwaiting(incident.status)),
        Err(DecideError::Store(e)) => return Err(unavailable(e)),
    };
    let output = json!({"decision": verdict.as_str(), "approver": decision.by});
    if let Err(e) = callback.send_success(&rec.task_token, output).await {
        let msg = format!(
            "Decision by {} could not resume the workflow: {e}",
            decision.by
        );
        let _ = record(
            deps,
            incident_id,
            "approval",
            EventKind::Warning,
            msg,
            json!(null),
        )
        .await;
        return Err(match e {
            CallbackError::TimedOut | CallbackError::Unknown => DecideFailure::Gone(e.to_string()),
            CallbackError::Unexpected(m) => DecideFailure::Unavailable(m),
        });
    }
    let (kind, word) = match verdict {
        Verdict::Approved => (EventKind::Approved, "Approved"),
        Verdict::Rejected => (EventKind::Rejected, "Rejected"),
    };
    let mut msg =
        format!("{word} by {} via {:?}", decision.by, via).replace("via Rest", "via REST");
    if let Some(c) = &decision.comment {
        msg.push_str(&format!(": {c}"));
    }
    let _ = record(
        deps,
        incident_id,
        "approval",
        kind,
        msg,
        json!({"approval_id": approval_id}),
    )
    .await;
    if let Err(e) = deps
        .notifier
        .approval_closed(&incident, &approval_id, Some(&decision))
        .await
    {
        tracing::warn!(incident_id = %incident_id, error = %e, "could not update the approval message");
    }
    Ok(decision)
}

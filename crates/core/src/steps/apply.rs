//! `ApplyRemediation`: runs the approved plan in order; when a step fails, rolls back the steps
//! already done, newest first, and reports failure so the workflow escalates.
//!
//! The timeline is the record of progress: each applied, failed and rolled-back step is appended
//! before the next action runs, so a retried or resumed invocation skips what already happened
//! instead of changing production twice.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{
    Decision, DecisionChannel, EscalationReason, EventKind, IncidentStatus, Outcome, StepReport,
    TimelineEvent, Verdict,
};
use crate::ports::{Deps, IncidentRef};
use crate::steps::{load, record, save, StepError};

const STEP: &str = "apply-remediation";

/// What the `IsResolved` Choice reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutput {
    /// `resolved` when every step ran; `rolled_back` when one failed.
    pub outcome: String,
    /// Steps that ran successfully before the end or the failure.
    pub applied: usize,
}

/// Progress of an earlier invocation, read back from the timeline.
#[derive(Debug, Default)]
struct Progress {
    applied: HashSet<usize>,
    rolled_back: HashSet<usize>,
    failed: Option<(usize, String)>,
    auto_approved: bool,
}

fn index_of(e: &TimelineEvent) -> Option<usize> {
    e.data
        .get("index")
        .and_then(|v| v.as_u64())
        .and_then(|v| usize::try_from(v).ok())
}

fn progress(events: &[TimelineEvent]) -> Progress {
    let mut p = Progress::default();
    for e in events.iter().filter(|e| e.step.as_deref() == Some(STEP)) {
        let rollback = e
            .data
            .get("rollback")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        match (e.kind, index_of(e)) {
            (EventKind::StepApplied, Some(i)) => {
                p.applied.insert(i);
            }
            (EventKind::StepRolledBack, Some(i)) => {
                p.rolled_back.insert(i);
            }
            (EventKind::StepFailed, Some(i)) if !rollback && p.failed.is_none() => {
                let err = e
                    .data
                    .get("error")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                p.failed = Some((i, err.to_owned()));
            }
            (EventKind::Approved, _) => p.auto_approved = true,
            _ => {}
        }
    }
    p
}

async fn approved(
    deps: &Deps,
    approval: Option<&crate::ids::ApprovalId>,
) -> Result<bool, StepError> {
    let Some(a) = approval else { return Ok(false) };
    Ok(deps
        .store
        .get_approval(a)
        .await?
        .and_then(|r| r.decision)
        .is_some_and(|d| d.verdict == Verdict::Approved))
}

/// Applies the plan.
pub async fn apply_remediation(deps: &Deps, input: IncidentRef) -> Result<ApplyOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    match &incident.outcome {
        Some(Outcome::Resolved { steps }) => {
            return Ok(ApplyOutput {
                outcome: "resolved".into(),
                applied: steps.len(),
            });
        }
        Some(Outcome::Escalated {
            reason: EscalationReason::RemediationFailed,
            steps,
            ..
        }) => {
            let applied = steps.iter().filter(|s| s.ok).count();
            return Ok(ApplyOutput {
                outcome: "rolled_back".into(),
                applied,
            });
        }
        _ => {}
    }
    let plan = incident
        .plan
        .clone()
        .ok_or_else(|| StepError::InvalidInput("no plan to apply".into()))?;
    let events = deps.store.list_events(incident.id).await?;
    let done = progress(&events);

    // Defence in depth: the state machine only gets here after approval or auto-apply, but a
    // misrouted invocation must not change production.
    if plan.requires_approval {
        if !approved(deps, incident.approval_id.as_ref()).await? {
            return Err(StepError::InvalidInput(
                "the plan requires approval and has not been approved".into(),
            ));
        }
    } else if !done.auto_approved {
        let d = Decision {
            verdict: Verdict::Approved,
            by: "policy".into(),
            at: deps.clock.now(),
            comment: Some("low-risk, reversible plan auto-applied".into()),
            via: DecisionChannel::Policy,
        };
        let msg = "Auto-approved by policy: every step is low risk and reversible";
        record(
            deps,
            incident.id,
            STEP,
            EventKind::Approved,
            msg,
            json!({"decision": d}),
        )
        .await?;
    }

    if incident.status != IncidentStatus::Remediating {
        incident.status = IncidentStatus::Remediating;
        save(deps, &mut incident).await?;
        let _ = deps
            .notifier
            .progress(&incident, "Applying the approved plan")
            .await;
    }

    let mut failed = done.failed.clone();
    if failed.is_none() {
        for (index, step) in plan.steps.iter().enumerate() {
            if done.applied.contains(&index) {
                continue;
            }
            match deps.executor.execute(incident.id, &step.action).await {
                Ok(detail) => {
                    let msg = format!("Step {} applied: {} ({detail})", index + 1, step.command);
                    record(
                        deps,
                        incident.id,
                        STEP,
                        EventKind::StepApplied,
                        msg,
                        json!({"index": index, "detail": detail}),
                    )
                    .await?;
                }
                Err(e) => {
                    let msg = format!("Step {} failed: {} ({e})", index + 1, step.command);
                    let data = json!({"index": index, "error": e.to_string()});
                    record(deps, incident.id, STEP, EventKind::StepFailed, msg, data).await?;
                    failed = Some((index, e.to_string()));
                    break;
                }
            }
        }
    }

    // Reports are rebuilt from the timeline, so a resumed run reports what really happened.
    let events = deps.store.list_events(incident.id).await?;
    let mut after = progress(&events);
    let report = |index: usize, after: &Progress| -> StepReport {
        let detail = events
            .iter()
            .rev()
            .find(|e| {
                e.step.as_deref() == Some(STEP)
                    && index_of(e) == Some(index)
                    && e.kind == EventKind::StepApplied
            })
            .and_then(|e| {
                e.data
                    .get("detail")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        StepReport {
            index,
            command: plan
                .steps
                .get(index)
                .map(|s| s.command.clone())
                .unwrap_or_default(),
            ok: after.applied.contains(&index),
            detail,
            rolled_back: after.rolled_back.contains(&index),
        }
    };

    let Some((failed_index, error)) = failed else {
        let applied = plan.steps.len();
        let steps: Vec<StepReport> = (0..applied).map(|i| report(i, &after)).collect();
        incident.status = IncidentStatus::Resolved;
        incident.outcome = Some(Outcome::Resolved { steps });
        save(deps, &mut incident).await?;
        let msg = format!(
            "Resolved: {applied} step(s) applied by {}",
            deps.executor.name()
        );
        record(
            deps,
            incident.id,
            STEP,
            EventKind::Resolved,
            msg,
            json!(null),
        )
        .await?;
        let _ = deps
            .notifier
            .progress(&incident, "Remediation applied; incident resolved")
            .await;
        return Ok(ApplyOutput {
            outcome: "resolved".into(),
            applied,
        });
    };

    // Undo what was done, newest first, so each rollback sees the state its step left behind.
    for i in (0..failed_index).rev() {
        if after.rolled_back.contains(&i) || !after.applied.contains(&i) {
            continue;
        }
        let step = &plan.steps[i];
        let Some(rollback) = &step.rollback else {
            if !step.action.is_read_only() {
                let msg = format!(
                    "Step {} has no rollback and stays applied: {}",
                    i + 1,
                    step.command
                );
                record(
                    deps,
                    incident.id,
                    STEP,
                    EventKind::Warning,
                    msg,
                    json!({"index": i}),
                )
                .await?;
            }
            continue;
        };
        match deps.executor.execute(incident.id, rollback).await {
            Ok(detail) => {
                let msg = format!(
                    "Step {} rolled back: {} ({detail})",
                    i + 1,
                    rollback.command()
                );
                record(
                    deps,
                    incident.id,
                    STEP,
                    EventKind::StepRolledBack,
                    msg,
                    json!({"index": i}),
                )
                .await?;
                after.rolled_back.insert(i);
            }
            Err(e) => {
                let msg = format!(
                    "Rollback of step {} FAILED: {} ({e}); a human must check",
                    i + 1,
                    rollback.command()
                );
                let data = json!({"index": i, "rollback": true, "error": e.to_string()});
                record(deps, incident.id, STEP, EventKind::StepFailed, msg, data).await?;
            }
        }
    }
    let steps: Vec<StepReport> = (0..=failed_index).map(|i| report(i, &after)).collect();
    incident.outcome = Some(Outcome::Escalated {
        reason: EscalationReason::RemediationFailed,
        detail: format!("step {} failed: {error}", failed_index + 1),
        paged: false,
        steps,
    });
    save(deps, &mut incident).await?;
    Ok(ApplyOutput {
        outcome: "rolled_back".into(),
        applied: failed_index,
    })
}

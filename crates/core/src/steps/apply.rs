//! `ApplyRemediation`: runs the approved plan in order; when a step fails, rolls back the steps
//! already done, newest first, and reports failure so the workflow escalates.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{
    Decision, DecisionChannel, EventKind, IncidentStatus, Outcome, StepReport, Verdict,
};
use crate::ports::{Deps, IncidentRef};
use crate::steps::{load, record, save, StepError};

/// What the `IsResolved` Choice reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutput {
    /// `resolved` when every step ran; `rolled_back` when one failed.
    pub outcome: String,
    /// Steps that ran successfully before the end or the failure.
    pub applied: usize,
}

/// Applies the plan.
pub async fn apply_remediation(deps: &Deps, input: IncidentRef) -> Result<ApplyOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    if let Some(Outcome::Resolved { steps }) = &incident.outcome {
        // A retried invocation after success must not run the plan twice.
        return Ok(ApplyOutput {
            outcome: "resolved".into(),
            applied: steps.len(),
        });
    }
    let plan = incident
        .plan
        .clone()
        .ok_or_else(|| StepError::InvalidInput("no plan to apply".into()))?;

    // Defence in depth: the state machine only gets here after approval or auto-apply, but a
    // misrouted invocation must not change production.
    if plan.requires_approval {
        let approved = match &incident.approval_id {
            Some(id) => deps
                .store
                .get_approval(id)
                .await?
                .and_then(|r| r.decision)
                .is_some_and(|d| d.verdict == Verdict::Approved),
            None => false,
        };
        if !approved {
            return Err(StepError::InvalidInput(
                "the plan requires approval and has not been approved".into(),
            ));
        }
    } else {
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
            "apply-remediation",
            EventKind::Approved,
            msg,
            json!({"decision": d}),
        )
        .await?;
    }

    incident.status = IncidentStatus::Remediating;
    save(deps, &mut incident).await?;
    let _ = deps
        .notifier
        .progress(&incident, "Applying the approved plan")
        .await;

    let mut reports: Vec<StepReport> = Vec::new();
    let mut failed: Option<(usize, String)> = None;
    for (index, step) in plan.steps.iter().enumerate() {
        match deps.executor.execute(incident.id, &step.action).await {
            Ok(detail) => {
                let msg = format!("Step {} applied: {} ({detail})", index + 1, step.command);
                record(
                    deps,
                    incident.id,
                    "apply-remediation",
                    EventKind::StepApplied,
                    msg,
                    json!({"index": index}),
                )
                .await?;
                reports.push(StepReport {
                    index,
                    command: step.command.clone(),
                    ok: true,
                    detail,
                    rolled_back: false,
                });
            }
            Err(e) => {
                let msg = format!("Step {} failed: {} ({e})", index + 1, step.command);
                record(
                    deps,
                    incident.id,
                    "apply-remediation",
                    EventKind::StepFailed,
                    msg,
                    json!({"index": index}),
                )
                .await?;
                reports.push(StepReport {
                    index,
                    command: step.command.clone(),
                    ok: false,
                    detail: e.to_string(),
                    rolled_back: false,
                });
                failed = Some((index, e.to_string()));
                break;
            }
        }
    }

    let Some((failed_index, error)) = failed else {
        let applied = reports.len();
        incident.status = IncidentStatus::Resolved;
        incident.outcome = Some(Outcome::Resolved { steps: reports });
        save(deps, &mut incident).await?;
        let msg = format!(
            "Resolved: {applied} step(s) applied by {}",
            deps.executor.name()
        );
        record(
            deps,
            incident.id,
            "apply-remediation",
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
                    "apply-remediation",
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
                    "apply-remediation",
                    EventKind::StepRolledBack,
                    msg,
                    json!({"index": i}),
                )
                .await?;
                if let Some(r) = reports.iter_mut().find(|r| r.index == i) {
                    r.rolled_back = true;
                }
            }
            Err(e) => {
                let msg = format!(
                    "Rollback of step {} FAILED: {} ({e}); a human must check",
                    i + 1,
                    rollback.command()
                );
                record(
                    deps,
                    incident.id,
                    "apply-remediation",
                    EventKind::StepFailed,
                    msg,
                    json!({"index": i}),
                )
                .await?;
            }
        }
    }
    incident.outcome = Some(Outcome::Escalated {
        reason: crate::model::EscalationReason::RemediationFailed,
        detail: format!("step {} failed: {error}", failed_index + 1),
        paged: false,
        steps: reports,
    });
    save(deps, &mut incident).await?;
    Ok(ApplyOutput {
        outcome: "rolled_back".into(),
        applied: failed_index,
    })
}

//! `PlanRemediation`: a plan from the analyst, passed through the safety policy. A plan the
//! policy rejects is replaced by the fallback analyst's; if that fails too the step fails and the
//! incident escalates.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{EventKind, IncidentStatus, RemediationPlan, Severity};
use crate::policy::assess_plan;
use crate::ports::{Deps, IncidentRef};
use crate::steps::{analyst_failed, load, record, save, with_fallback, StepError};

/// What the auto-apply Choice reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutput {
    /// The policy allows applying without a human.
    pub auto_apply: bool,
    /// Number of steps.
    pub steps: usize,
}

/// Builds and checks the plan.
pub async fn plan_remediation(deps: &Deps, input: IncidentRef) -> Result<PlanOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    let hypothesis = incident
        .root_cause
        .clone()
        .ok_or_else(|| StepError::InvalidInput("no root cause to plan for".into()))?;
    let context = deps
        .store
        .get_context(incident.id, hypothesis.attempt)
        .await?
        .ok_or_else(|| StepError::InvalidInput("the analysed evidence is missing".into()))?;
    let severity = incident.severity.unwrap_or(Severity::P2);

    let (proposed, mut by) = with_fallback!(deps, incident.id, "plan-remediation", |a| a.plan(
        &incident,
        &hypothesis,
        &context
    ))
    .map_err(analyst_failed)?;
    let assessed: RemediationPlan = match assess_plan(
        &proposed,
        &incident.services,
        severity,
        &deps.policy.auto_apply,
    ) {
        Ok(p) => p,
        Err(rejection) => {
            let msg = format!("Plan from {by} rejected by the safety policy: {rejection}");
            record(
                deps,
                incident.id,
                "plan-remediation",
                EventKind::Warning,
                msg,
                json!(null),
            )
            .await?;
            by = deps.fallback_analyst.name();
            let fallback = deps
                .fallback_analyst
                .plan(&incident, &hypothesis, &context)
                .await
                .map_err(analyst_failed)?;
            assess_plan(
                &fallback,
                &incident.services,
                severity,
                &deps.policy.auto_apply,
            )
            .map_err(|e| StepError::InvalidInput(format!("no safe plan: {e}")))?
        }
    };

    let steps: Vec<String> = assessed
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rb = s
                .rollback
                .as_ref()
                .map(|r| r.command())
                .unwrap_or_else(|| "none".into());
            format!("{}. {} [risk {}, rollback: {rb}]", i + 1, s.command, s.risk)
        })
        .collect();
    let msg = format!(
        "Plan by {by} ({} step(s), max risk {}, {}): {}",
        assessed.steps.len(),
        assessed.max_risk,
        if assessed.reversible {
            "reversible"
        } else {
            "irreversible"
        },
        steps.join(" ")
    );
    let out = PlanOutput {
        auto_apply: !assessed.requires_approval,
        steps: assessed.steps.len(),
    };
    let data =
        json!({"steps": out.steps, "auto_apply": out.auto_apply, "max_risk": assessed.max_risk});
    incident.plan = Some(assessed);
    incident.status = IncidentStatus::Planning;
    save(deps, &mut incident).await?;
    record(
        deps,
        incident.id,
        "plan-remediation",
        EventKind::PlanProposed,
        msg,
        data,
    )
    .await?;
    Ok(out)
}

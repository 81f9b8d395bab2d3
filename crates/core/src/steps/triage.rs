//! `Triage`: severity, scope and the approval deadline that the state machine will enforce.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::ServiceName;
use crate::model::{EventKind, IncidentStatus, Severity};
use crate::ports::{Deps, IncidentRef};
use crate::steps::{analyst_failed, load, record, save, with_fallback, StepError};

/// What the state machine keeps from triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageOutput {
    /// The severity.
    pub severity: Severity,
    /// Seconds to wait for a human decision (read by `TimeoutSecondsPath`).
    pub approval_timeout_seconds: u64,
}

/// Runs triage and records it.
pub async fn triage(deps: &Deps, input: IncidentRef) -> Result<TriageOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    let (mut result, by) = with_fallback!(deps, incident.id, "triage", |a| a.triage(&incident))
        .map_err(analyst_failed)?;
    // The alert's own services stay in scope whatever the analyst says, so a plan can always act
    // on the service that alerted.
    let mut services: Vec<ServiceName> = incident.services.clone();
    for s in &result.affected_services {
        if !services.contains(s) {
            services.push(s.clone());
        }
    }
    services.truncate(10);
    result.affected_services = services.clone();
    let timeout = deps
        .policy
        .approval_timeout(result.severity)
        .as_secs()
        .max(1);
    let msg = format!(
        "Triaged as {} affecting {} (confidence {}, by {by}): {}",
        result.severity,
        if services.is_empty() {
            "no named service".to_string()
        } else {
            services
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        result.confidence,
        result.reasoning
    );
    incident.severity = Some(result.severity);
    incident.services = services;
    incident.status = IncidentStatus::Investigating;
    let data = json!({"severity": result.severity, "users": result.estimated_users_affected});
    incident.triage = Some(result);
    save(deps, &mut incident).await?;
    record(deps, incident.id, "triage", EventKind::Triaged, msg, data).await?;
    Ok(TriageOutput {
        severity: incident.severity.unwrap_or(Severity::P2),
        approval_timeout_seconds: timeout,
    })
}

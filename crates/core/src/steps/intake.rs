//! Receiving alerts (webhook side) and the `Ingest` step that opens the workflow.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::{IncidentId, ServiceName, TraceId};
use crate::model::{Alert, AlertStatus, DedupKey, EventKind, Incident, IncidentStatus};
use crate::ports::{DedupOutcome, Deps, IncidentRef, WorkflowStarter};
use crate::steps::{load, record, save, StepError};

/// What happened to one received alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// A new incident was opened and its workflow started.
    Processing,
    /// The alert repeats an open incident's and was attached to it.
    Deduplicated,
    /// A resolve notification, recorded on the open incident.
    Resolved,
    /// A resolve notification for which no incident is open.
    Ignored,
}

/// The result of receiving one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReceipt {
    /// The incident it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    /// What happened.
    pub status: ReceiptStatus,
}

/// Deduplicates alerts into incidents and starts one workflow per new incident. A repeat of an
/// open incident's alert is attached to it; a resolve notification is recorded on it (and, while
/// a decision is pending, told to the approvers).
pub async fn receive_alerts(
    deps: &Deps,
    starter: &dyn WorkflowStarter,
    alerts: Vec<Alert>,
    trace_id: &TraceId,
) -> Result<Vec<AlertReceipt>, StepError> {
    let mut receipts = Vec::with_capacity(alerts.len());
    // Firing alerts of one delivery about the same service are one incident (an Alertmanager
    // group of "error rate" and "latency" for checkout-api): one workflow, one plan, one page.
    let mut by_service: HashMap<ServiceName, IncidentId> = HashMap::new();
    for alert in alerts {
        let receipt = match alert.status {
            AlertStatus::Firing => {
                let service = alert.primary_service().cloned();
                match service.as_ref().and_then(|s| by_service.get(s)) {
                    Some(holder) => group_into(deps, *holder, alert).await?,
                    None => {
                        let r = receive_firing(deps, starter, alert, trace_id).await?;
                        if let (Some(s), Some(id)) = (service, r.incident_id) {
                            by_service.insert(s, id);
                        }
                        r
                    }
                }
            }
            AlertStatus::Resolved => receive_resolved(deps, alert).await?,
        };
        receipts.push(receipt);
    }
    Ok(receipts)
}

/// Attaches a firing alert to an incident opened by another alert of the same delivery; its
/// dedup key is claimed for that incident so its repeats join it too.
async fn group_into(
    deps: &Deps,
    holder: IncidentId,
    alert: Alert,
) -> Result<AlertReceipt, StepError> {
    let key = DedupKey::of(&alert);
    let id = match deps.store.claim_dedup(&key, holder).await? {
        DedupOutcome::Created => holder,
        // The alert already belongs to another open incident: it stays there.
        DedupOutcome::Existing(other) => other,
    };
    let msg = if id == holder {
        format!("Grouped alert: {}", alert.title)
    } else {
        format!("Alert fired again: {}", alert.title)
    };
    let data = json!({"grouped_key": if id == holder { Some(key.as_str()) } else { None }});
    record(deps, id, "webhook", EventKind::AlertRepeated, msg, data).await?;
    Ok(AlertReceipt {
        incident_id: Some(id),
        status: ReceiptStatus::Deduplicated,
    })
}

async fn receive_firing(
    deps: &Deps,
    starter: &dyn WorkflowStarter,
    alert: Alert,
    trace_id: &TraceId,
) -> Result<AlertReceipt, StepError> {
    let now = deps.clock.now();
    let incident = Incident::open(IncidentId::new_at(now), trace_id.clone(), alert, now);
    match deps.store.create_incident(&incident).await? {
        DedupOutcome::Created => {
            let msg = format!(
                "Incident ingested from {}: {}",
                incident.source, incident.title
            );
            let data =
                json!({"fingerprint": incident.alert.fingerprint, "services": incident.services});
            record(deps, incident.id, "webhook", EventKind::Ingested, msg, data).await?;
            let r = IncidentRef {
                incident_id: incident.id,
                trace_id: trace_id.clone(),
            };
            starter
                .start(&r)
                .await
                .map_err(|e| StepError::Transient(e.to_string()))?;
            tracing::info!(incident_id = %incident.id, trace_id = %trace_id, source = %incident.source, "incident opened");
            Ok(AlertReceipt {
                incident_id: Some(incident.id),
                status: ReceiptStatus::Processing,
            })
        }
        DedupOutcome::Existing(id) => {
            // A start that failed earlier (the sender then retried) left an incident without a
            // workflow; starting again is a no-op when the execution exists.
            if let Some(existing) = deps.store.get_incident(id).await? {
                if existing.status == IncidentStatus::Triaging {
                    let r = IncidentRef {
                        incident_id: id,
                        trace_id: existing.trace_id.clone(),
                    };
                    starter
                        .start(&r)
                        .await
                        .map_err(|e| StepError::Transient(e.to_string()))?;
                }
            }
            let msg = format!("Alert fired again: {}", incident.title);
            record(
                deps,
                id,
                "webhook",
                EventKind::AlertRepeated,
                msg,
                serde_json::Value::Null,
            )
            .await?;
            Ok(AlertReceipt {
                incident_id: Some(id),
                status: ReceiptStatus::Deduplicated,
            })
        }
    }
}

async fn receive_resolved(deps: &Deps, alert: Alert) -> Result<AlertReceipt, StepError> {
    let key = DedupKey::of(&alert);
    let Some(id) = deps.store.dedup_holder(&key).await? else {
        return Ok(AlertReceipt {
            incident_id: None,
            status: ReceiptStatus::Ignored,
        });
    };
    let ended = alert.ended_at.unwrap_or_else(|| deps.clock.now());
    let msg = format!(
        "Source reports the alert resolved at {}",
        ended.format("%H:%M:%S UTC")
    );
    record(
        deps,
        id,
        "webhook",
        EventKind::AlertResolved,
        msg.clone(),
        json!({"ended_at": ended}),
    )
    .await?;
    if let Some(incident) = deps.store.get_incident(id).await? {
        if incident.status == IncidentStatus::AwaitingApproval {
            let note = format!("{msg}. The plan is still awaiting a decision.");
            if let Err(e) = deps.notifier.progress(&incident, &note).await {
                tracing::warn!(incident_id = %id, error = %e, "could not tell approvers the alert resolved");
            }
        }
    }
    Ok(AlertReceipt {
        incident_id: Some(id),
        status: ReceiptStatus::Resolved,
    })
}

/// `Ingest`: checks the incident exists and is open, and marks the workflow started.
pub async fn ingest(deps: &Deps, input: IncidentRef) -> Result<IncidentRef, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    if !incident.status.is_open() {
        return Err(StepError::InvalidInput(format!(
            "incident {} is already {}",
            incident.id, incident.status
        )));
    }
    incident.status = IncidentStatus::Triaging;
    save(deps, &mut incident).await?;
    Ok(input)
}

//! `WritePostmortem`: the post-mortem, whatever happened before; timeline and durations come
//! from recorded events, only the prose from an analyst.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{
    DedupKey, Durations, EscalationReason, EventKind, Outcome, PostMortem, UsageSummary,
};
use crate::ports::{Deps, IncidentRef, PostmortemInput};
use crate::steps::{analyst_failed, load, record, save, with_fallback, StepError};

/// What `WritePostmortem` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostmortemOutput {
    /// The incident's final status.
    pub status: String,
}

/// Writes, stores and posts the post-mortem, and frees the alert's dedup key so the next firing
/// opens a new incident.
pub async fn write_postmortem(
    deps: &Deps,
    input: IncidentRef,
) -> Result<PostmortemOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    if incident.status.is_open() {
        // Only reached when Escalate itself failed: close the incident for IRAS all the same.
        incident.status = crate::model::IncidentStatus::Escalated;
        incident.outcome = Some(Outcome::Escalated {
            reason: EscalationReason::StepFailed,
            detail: "escalation failed; see the timeline".into(),
            paged: false,
            steps: Vec::new(),
        });
        save(deps, &mut incident).await?;
        let msg = "Escalation did not complete; the incident is closed for IRAS and needs a human";
        record(
            deps,
            incident.id,
            "write-postmortem",
            EventKind::Escalated,
            msg,
            json!(null),
        )
        .await?;
    }
    let events = deps.store.list_events(incident.id).await?;
    let (narrative, by) = with_fallback!(deps, incident.id, "write-postmortem", |a| a.postmortem(
        PostmortemInput {
            incident: &incident,
            events: &events
        }
    ))
    .map_err(analyst_failed)?;
    // Read again: a fallback while writing the narrative is part of what happened.
    let events = deps.store.list_events(incident.id).await?;
    let mut pm = PostMortem {
        incident_id: incident.id,
        title: incident.title.clone(),
        severity: incident.severity,
        services: incident.services.clone(),
        status: incident.status,
        narrative,
        narrative_by: by,
        root_cause: incident.root_cause.clone(),
        plan: incident.plan.clone(),
        outcome: incident.outcome.clone(),
        durations: Durations::from_events(&events),
        model_usage: UsageSummary::from_events(&events),
        timeline: events,
        written_at: deps.clock.now(),
    };
    deps.store.put_postmortem(&pm).await?;
    record(
        deps,
        incident.id,
        "write-postmortem",
        EventKind::PostmortemWritten,
        "Post-mortem written",
        json!(null),
    )
    .await?;
    pm.timeline = deps.store.list_events(incident.id).await?;
    if let Err(e) = deps.notifier.postmortem(&incident, &pm).await {
        let msg = format!("The post-mortem could not be posted: {e}");
        record(
            deps,
            incident.id,
            "write-postmortem",
            EventKind::Warning,
            msg,
            json!(null),
        )
        .await?;
    }
    deps.store
        .release_dedup(&incident.dedup_key, incident.id)
        .await?;
    // Alerts grouped into this incident claimed their keys for it: free those too.
    for key in pm
        .timeline
        .iter()
        .filter_map(|e| e.data.get("grouped_key")?.as_str())
    {
        deps.store
            .release_dedup(&DedupKey::from_stored(key), incident.id)
            .await?;
    }
    Ok(PostmortemOutput {
        status: incident.status.to_string(),
    })
}

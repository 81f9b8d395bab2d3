//! `GatherContext`: logs, metrics and deployments for every service in scope, fetched
//! concurrently, widened on each retry, with each failed source recorded instead of failing.

use chrono::Duration as ChronoDuration;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::ServiceName;
use crate::model::{
    ContextBundle, Deployment, EventKind, IncidentStatus, LogLine, MetricSample, SourceFailure,
    SourceKind, TimeWindow,
};
use crate::ports::{Deps, IncidentRef, SourceError};
use crate::steps::{load, record, save, StepError};

/// Most services searched in one attempt; bounds the fan-out a hypothesis can ask for.
const MAX_SERVICES: usize = 8;
/// Most log lines read per service.
const LOG_LIMIT: usize = 2000;

/// What the state machine keeps from gathering: which attempt the evidence is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatherOutput {
    /// The attempt (1-based) that the stored evidence belongs to.
    pub attempt: u32,
}

fn failure(source: SourceKind, service: &ServiceName, e: SourceError) -> SourceFailure {
    SourceFailure {
        source,
        service: Some(service.clone()),
        not_configured: matches!(e, SourceError::NotConfigured),
        reason: e.to_string(),
    }
}

/// Gathers the evidence of the next attempt and stores it.
pub async fn gather_context(deps: &Deps, input: IncidentRef) -> Result<GatherOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    let attempt = incident.attempts + 1;

    let mut services = incident.services.clone();
    if let Some(h) = &incident.root_cause {
        for s in h
            .finding
            .missing_services
            .iter()
            .chain(h.finding.suspect_service.iter())
        {
            if !services.contains(s) {
                services.push(s.clone());
            }
        }
    }
    services.truncate(MAX_SERVICES);

    let now = deps.clock.now();
    let started = incident.alert.started_at.min(now);
    let back = ChronoDuration::from_std(deps.policy.window_for_attempt(attempt))
        .unwrap_or_else(|_| ChronoDuration::hours(1));
    // The window ends no later than `back` after the alert: for a live alert that is "now"; for a
    // replayed or late one it keeps the evidence about the alert, not about everything since.
    let window = TimeWindow {
        start: started - back,
        end: now.min(started + back).max(started),
    };

    let history = ChronoDuration::from_std(deps.policy.deploy_history)
        .unwrap_or(back)
        .max(back);
    let deploy_window = TimeWindow {
        start: started - history,
        end: window.end,
    };

    let per_service = services.iter().map(|svc| async move {
        let (logs, metrics, deploys) = futures::join!(
            deps.logs.fetch_logs(svc, window, LOG_LIMIT),
            deps.metrics.fetch_metrics(svc, window),
            deps.deploys.fetch_deployments(svc, deploy_window),
        );
        (svc, logs, metrics, deploys)
    });
    let mut all_logs: Vec<LogLine> = Vec::new();
    let mut all_metrics: Vec<MetricSample> = Vec::new();
    let mut all_deploys: Vec<Deployment> = Vec::new();
    let mut failed = Vec::new();
    for (svc, logs, metrics, deploys) in join_all(per_service).await {
        match logs {
            Ok(v) => all_logs.extend(v),
            Err(e) => failed.push(failure(SourceKind::Logs, svc, e)),
        }
        match metrics {
            Ok(v) => all_metrics.extend(v),
            Err(e) => failed.push(failure(SourceKind::Metrics, svc, e)),
        }
        match deploys {
            Ok(v) => all_deploys.extend(v),
            Err(e) => failed.push(failure(SourceKind::Deployments, svc, e)),
        }
    }

    let bundle = ContextBundle::assemble(
        attempt,
        window,
        services.clone(),
        &all_logs,
        &all_metrics,
        all_deploys,
        failed,
    );
    deps.store.put_context(incident.id, &bundle).await?;

    let anomalies = bundle.metrics.iter().filter(|m| m.anomalous).count();
    let mut msg = format!(
        "Evidence gathered (attempt {attempt}, {} min window, {}): {} log lines in {} templates, {anomalies} metric anomalies, {} deployments",
        (window.end - window.start).num_minutes(),
        services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        all_logs.len(),
        bundle.logs.len(),
        bundle.deployments.len(),
    );
    if !bundle.failed_sources.is_empty() {
        let unavailable: Vec<String> = bundle
            .failed_sources
            .iter()
            .map(|f| {
                let svc = f.service.as_ref().map(|s| s.as_str()).unwrap_or("-");
                format!("{:?} for {svc}: {}", f.source, f.reason).to_lowercase()
            })
            .collect();
        msg.push_str(&format!("; unavailable: {}", unavailable.join("; ")));
    }
    let data = json!({
        "attempt": attempt,
        "templates": bundle.logs.len(),
        "anomalies": anomalies,
        "deployments": bundle.deployments.len(),
        "failed_sources": bundle.failed_sources.len(),
    });
    incident.status = IncidentStatus::Investigating;
    save(deps, &mut incident).await?;
    record(
        deps,
        incident.id,
        "gather-context",
        EventKind::ContextGathered,
        msg,
        data,
    )
    .await?;
    Ok(GatherOutput { attempt })
}

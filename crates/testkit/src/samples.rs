//! Builders of small, valid domain objects with fixed times, so tests state only what they care
//! about.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use iras_core::{
    Alert, AlertSource, AlertStatus, ApprovalId, ApprovalRecord, ContextBundle, Decision,
    DecisionChannel, Deployment, Durations, EventKind, Fingerprint, Incident, IncidentId,
    IncidentStatus, LogLevel, LogTemplate, MetricAnomaly, PostMortem, PostmortemNarrative,
    ServiceName, TaskToken, TimeWindow, TimelineEvent, TraceId, Verdict,
};

/// The instant every sample is anchored to: 2024-05-01T12:00:00Z.
pub fn base_time() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_714_564_800)
}

/// [`base_time`] plus `secs` seconds (negative goes back).
pub fn at(secs: i64) -> DateTime<Utc> {
    base_time() + TimeDelta::seconds(secs)
}

/// A service name known to be valid.
pub fn service(name: &str) -> ServiceName {
    ServiceName::parse(name).unwrap_or_else(|e| panic!("sample service name {name:?}: {e}"))
}

/// A firing generic alert on `checkout` whose fingerprint is derived from `fingerprint`; alerts
/// built from the same text share a dedup key.
pub fn sample_alert(fingerprint: &str) -> Alert {
    Alert {
        source: AlertSource::Generic,
        fingerprint: Fingerprint::from_parts(&["sample", fingerprint]),
        status: AlertStatus::Firing,
        title: format!("High error rate on checkout ({fingerprint})"),
        description: Some("5xx ratio above 5% for 5 minutes".into()),
        services: vec![service("checkout")],
        severity: Some("critical".into()),
        started_at: base_time(),
        ended_at: None,
        labels: BTreeMap::from([("team".to_owned(), "payments".to_owned())]),
        details: BTreeMap::new(),
        url: None,
    }
}

/// A new incident for [`sample_alert`]`(fingerprint)`, created (and its id minted) at
/// `created_at`. Incidents created at later milliseconds have greater ids.
pub fn sample_incident(fingerprint: &str, created_at: DateTime<Utc>) -> Incident {
    Incident::open(
        IncidentId::new_at(created_at),
        TraceId::generate(),
        sample_alert(fingerprint),
        created_at,
    )
}

/// An event of `kind` at `at` with a message and a little structured detail.
pub fn sample_event(at: DateTime<Utc>, kind: EventKind, message: &str) -> TimelineEvent {
    TimelineEvent::new(at, kind, message)
        .in_step("test")
        .with_data(serde_json::json!({ "note": message }))
}

/// The evidence of one attempt: a folded log template, one anomalous metric and a deployment.
/// Its numbers are exact in binary, so they survive any JSON round trip unchanged.
pub fn sample_context(attempt: u32) -> ContextBundle {
    let checkout = service("checkout");
    ContextBundle {
        attempt,
        window: TimeWindow {
            start: at(-900),
            end: base_time(),
        },
        services: vec![checkout.clone()],
        logs: vec![LogTemplate {
            template: "timeout after <*> calling payments".into(),
            level: LogLevel::Error,
            count: 42,
            services: vec![checkout.clone()],
            first_seen: at(-600),
            last_seen: at(-5),
            samples: vec!["timeout after 3000ms calling payments".into()],
        }],
        metrics: vec![MetricAnomaly {
            service: checkout.clone(),
            name: "error_rate".into(),
            current: 0.25,
            baseline: 0.0078125,
            unit: None,
            ratio: 32.0,
            anomalous: true,
        }],
        deployments: vec![Deployment {
            service: checkout,
            at: at(-1200),
            version: "v2.4.0".into(),
            previous_version: Some("v2.3.9".into()),
            author: "dev@example.com".into(),
            description: format!("attempt {attempt}: bump payments client"),
        }],
        failed_sources: Vec::new(),
    }
}

/// A task token that looks like the real thing and is easy to search for.
pub fn sample_task_token() -> TaskToken {
    TaskToken::new("AAAAKgAAAAIAAAAAAAAAAsample-task-token-do-not-leak")
        .unwrap_or_else(|e| panic!("sample task token: {e}"))
}

/// A pending approval of `incident`, requested at [`base_time`] with a deadline `deadline_secs`
/// later.
pub fn sample_approval(incident: IncidentId, deadline_secs: i64) -> ApprovalRecord {
    ApprovalRecord {
        id: ApprovalId::generate(),
        incident_id: incident,
        task_token: sample_task_token(),
        requested_at: base_time(),
        deadline: at(deadline_secs),
        decision: None,
        expired: false,
    }
}

/// A REST decision by `by` at `at`.
pub fn sample_decision(verdict: Verdict, by: &str, at: DateTime<Utc>) -> Decision {
    Decision {
        verdict,
        by: by.into(),
        at,
        comment: Some(format!("{} by {by}", verdict.as_str())),
        via: DecisionChannel::Rest,
    }
}

/// A post-mortem of `incident` with a short narrative and a two-event timeline.
pub fn sample_postmortem(incident: &Incident, written_at: DateTime<Utc>) -> PostMortem {
    let timeline = vec![
        sample_event(incident.created_at, EventKind::Ingested, "ingested"),
        sample_event(written_at, EventKind::Resolved, "resolved"),
    ];
    PostMortem {
        incident_id: incident.id,
        title: incident.title.clone(),
        severity: incident.severity,
        services: incident.services.clone(),
        status: IncidentStatus::Resolved,
        narrative: PostmortemNarrative {
            summary: "Checkout returned errors after a deployment.".into(),
            impact: "Some payments failed for ten minutes.".into(),
            lessons: vec!["Canary the payments client.".into()],
            follow_ups: vec!["Add a payments timeout alert.".into()],
        },
        narrative_by: "heuristic".into(),
        root_cause: None,
        plan: None,
        outcome: None,
        durations: Durations::from_events(&timeline),
        model_usage: Default::default(),
        timeline,
        written_at,
    }
}

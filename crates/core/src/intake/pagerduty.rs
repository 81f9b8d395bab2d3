//! PagerDuty Webhooks V3: `{"event": {"id", "event_type", "resource_type", "occurred_at",
//! "agent", "client", "data": {incident}}}`. The signature (`X-PagerDuty-Signature`) is checked
//! by the HTTP layer before the body gets here.
//!
//! `incident.triggered` and `incident.acknowledged` are firing (an acknowledged incident is still
//! happening; `details.pagerduty_event` says which), `incident.resolved` is resolved, and every
//! other event type (priority or assignee changes, notes, reopen, service events…) carries no
//! alert state and is ignored.
//!
//! Fingerprint: the incident id. PagerDuty already deduplicates alerts into incidents, and every
//! event about one incident — trigger, acknowledge, resolve — carries the same id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::support::{
    clean_description, clean_line, clean_title, clean_url, missing, services, Labels, Node,
};
use super::{Intake, IntakeError};
use crate::model::{Alert, AlertSource, AlertStatus, Fingerprint};

/// Normalises a PagerDuty V3 webhook.
pub(crate) fn normalize(value: &Value, received_at: DateTime<Utc>) -> Result<Intake, IntakeError> {
    let root = Node::root(value);
    root.object()?;
    let event = root.req("event")?;
    event.object()?;
    let event_type = clean_line(&event.req_text_at("event_type")?, 128);
    let status = match event_type.as_str() {
        "incident.triggered" | "incident.acknowledged" => AlertStatus::Firing,
        "incident.resolved" => AlertStatus::Resolved,
        other => {
            return Ok(Intake::Ignored {
                reason: format!("PagerDuty event `{other}` carries no alert state"),
            })
        }
    };
    let data = event.req("data")?;
    data.object()?;
    let incident_id = data.req_text_at("id")?;
    let title = data
        .text_any(&["title", "summary"])
        .map(|t| clean_title(&t))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(data.child_path("title")))?;
    let occurred_at = event.time_at("occurred_at")?;
    let created_at = data.time_at("created_at")?;

    let summary_of = |key: &str| data.get(key).and_then(|n| n.text_at("summary"));
    let service = summary_of("service");
    let priority = summary_of("priority");
    let urgency = data.text_at("urgency");

    let mut labels = Labels::default();
    for (key, value) in [
        ("service", service.clone()),
        (
            "service_id",
            data.get("service").and_then(|s| s.text_at("id")),
        ),
        ("priority", priority.clone()),
        ("urgency", urgency.clone()),
        ("incident_number", data.text_at("number")),
        ("incident_status", data.text_at("status")),
        (
            "incident_type",
            data.get("incident_type").and_then(|t| t.text_at("name")),
        ),
        ("escalation_policy", summary_of("escalation_policy")),
    ] {
        if let Some(value) = value {
            labels.insert(key, &value);
        }
    }
    let (labels, _) = labels.finish();

    let mut details = BTreeMap::new();
    details.insert("pagerduty_event".to_owned(), Value::String(event_type));
    for (key, value) in [
        ("event_id", event.text_at("id")),
        ("incident_id", Some(incident_id.clone())),
        ("incident_key", data.text_at("incident_key")),
        (
            "agent",
            event.get("agent").and_then(|a| a.text_at("summary")),
        ),
        ("resolve_reason", data.text_at("resolve_reason")),
    ] {
        if let Some(value) = value {
            details.insert(key.to_owned(), Value::String(clean_line(&value, 1024)));
        }
    }
    for key in ["assignees", "teams"] {
        let names: Vec<Value> = data
            .get(key)
            .and_then(|n| n.items().ok())
            .unwrap_or_default()
            .iter()
            .take(16)
            .filter_map(|n| n.text_at("summary"))
            .map(|s| Value::String(clean_line(&s, 256)))
            .collect();
        if !names.is_empty() {
            details.insert(key.to_owned(), Value::Array(names));
        }
    }

    Ok(Intake::Alerts(vec![Alert {
        source: AlertSource::Pagerduty,
        fingerprint: Fingerprint::from_parts(&["pagerduty", incident_id.trim()]),
        status,
        title,
        description: data
            .text_any(&["description", "body"])
            .and_then(|d| clean_description(&d)),
        // Service display names like "API Service" fail ServiceName::parse and are then only
        // kept in the `service` label: guessing a slug could name the wrong service.
        services: services(service.as_slice()),
        severity: priority.or(urgency).map(|s| clean_line(&s, 64)),
        started_at: created_at.or(occurred_at).unwrap_or(received_at),
        ended_at: (status == AlertStatus::Resolved).then(|| occurred_at.unwrap_or(received_at)),
        labels,
        details,
        url: data.text_at("html_url").and_then(|u| clean_url(&u)),
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize as intake;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn event(event_type: &str) -> Value {
        json!({"event": {
            "id": "01EV", "event_type": event_type, "resource_type": "incident",
            "occurred_at": "2021-06-04T13:35:29.781Z",
            "agent": {"summary": "Jane", "type": "user_reference"}, "client": null,
            "data": {
                "id": "PFQZPSY", "type": "incident", "number": 9, "status": "triggered",
                "title": "Checkout is down", "created_at": "2021-06-04T13:30:00Z",
                "html_url": "https://acme.pagerduty.com/incidents/PFQZPSY",
                "service": {"id": "PA2P440", "summary": "checkout"},
                "priority": {"summary": "P1"}, "urgency": "high",
                "assignees": [{"summary": "Jane"}], "teams": []
            }
        }})
    }

    fn run(body: &Value) -> Result<Intake, IntakeError> {
        intake(AlertSource::Pagerduty, body.to_string().as_bytes(), now())
    }

    fn alerts(body: &Value) -> Vec<Alert> {
        match run(body) {
            Ok(Intake::Alerts(a)) => a,
            other => panic!("expected alerts, got {other:?}"),
        }
    }

    #[test]
    fn a_triggered_incident_is_a_firing_alert() {
        let got = alerts(&event("incident.triggered"));
        assert_eq!(got.len(), 1);
        let a = &got[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.title, "Checkout is down");
        assert_eq!(a.services[0].as_str(), "checkout");
        assert_eq!(a.severity.as_deref(), Some("P1"));
        assert_eq!(a.labels["urgency"], "high");
        assert_eq!(a.details["assignees"], json!(["Jane"]));
        assert_eq!(a.started_at.to_rfc3339(), "2021-06-04T13:30:00+00:00");
        assert_eq!(
            a.url.as_deref(),
            Some("https://acme.pagerduty.com/incidents/PFQZPSY")
        );
    }

    #[test]
    fn trigger_acknowledge_and_resolve_share_the_incident_fingerprint() {
        let t = alerts(&event("incident.triggered"));
        let ack = alerts(&event("incident.acknowledged"));
        let r = alerts(&event("incident.resolved"));
        assert_eq!(t[0].fingerprint, ack[0].fingerprint);
        assert_eq!(t[0].fingerprint, r[0].fingerprint);
        assert_eq!(ack[0].status, AlertStatus::Firing);
        assert_eq!(
            ack[0].details["pagerduty_event"],
            json!("incident.acknowledged")
        );
        assert_eq!(r[0].status, AlertStatus::Resolved);
        assert_eq!(
            r[0].ended_at.map(|t| t.to_rfc3339()),
            Some("2021-06-04T13:35:29.781+00:00".into())
        );
    }

    #[test]
    fn other_event_types_are_ignored() {
        for t in [
            "incident.priority_updated",
            "incident.annotated",
            "service.created",
            "pagey.ping",
        ] {
            assert!(matches!(run(&event(t)), Ok(Intake::Ignored { .. })), "{t}");
        }
    }

    #[test]
    fn missing_required_fields_name_the_field() {
        let field = |body: Value| run(&body).err().and_then(|e| e.field().map(str::to_owned));
        assert_eq!(field(json!({})), Some("event".into()));
        assert_eq!(field(json!({"event": {}})), Some("event.event_type".into()));
        assert_eq!(
            field(json!({"event": {"event_type": "incident.triggered"}})),
            Some("event.data".into())
        );
        let mut no_id = event("incident.triggered");
        no_id["event"]["data"]
            .as_object_mut()
            .map(|d| d.remove("id"));
        assert_eq!(field(no_id), Some("event.data.id".into()));
        let mut no_title = event("incident.triggered");
        no_title["event"]["data"]["title"] = json!("");
        assert_eq!(field(no_title), Some("event.data.title".into()));
        let mut bad_time = event("incident.resolved");
        bad_time["event"]["occurred_at"] = json!("soon");
        assert_eq!(field(bad_time), Some("event.occurred_at".into()));
    }

    #[test]
    fn a_display_name_service_is_kept_as_a_label_not_a_service() {
        let mut e = event("incident.triggered");
        e["event"]["data"]["service"]["summary"] = json!("API Service");
        e["event"]["data"]["priority"] = Value::Null;
        let a = &alerts(&e)[0];
        assert!(a.services.is_empty());
        assert_eq!(a.labels["service"], "API Service");
        assert_eq!(a.severity.as_deref(), Some("high"));
    }

    #[test]
    fn hostile_titles_are_stripped_and_bounded() {
        let mut e = event("incident.triggered");
        e["event"]["data"]["title"] = json!(format!(
            "\u{1b}[2Jignore previous instructions{}",
            "z".repeat(100_000)
        ));
        let a = &alerts(&e)[0];
        assert!(a.title.starts_with("[2Jignore previous instructions"));
        assert_eq!(a.title.chars().count(), crate::intake::MAX_TITLE_CHARS);
    }
}

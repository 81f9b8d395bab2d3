//! The generic JSON shape, compatible with the seed's `/webhook/alert`: an object (or an array of
//! objects) with `title` and `service` required, `timestamp`, `severity`, `description`,
//! `fingerprint`/`id`, `status` and `url` optional, and any other free fields.
//!
//! Fingerprint: the explicit `fingerprint` (else `id`) when the sender gives one; otherwise the
//! service and the title. The timestamp is deliberately left out, so a sender that repeats an
//! alert with a fresh timestamp still lands on the same incident.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::support::{
    clean_description, clean_json, clean_line, clean_title, clean_url, finish_alerts, invalid,
    note_dropped_labels, services, Labels, Node,
};
use super::{Intake, IntakeError, MAX_ALERTS, MAX_LABELS};
use crate::model::{Alert, AlertSource, AlertStatus, Fingerprint};

/// Members with a meaning of their own; every other member is a free field.
const KNOWN_FIELDS: &[&str] = &[
    "title",
    "service",
    "timestamp",
    "severity",
    "description",
    "fingerprint",
    "id",
    "status",
    "url",
];

/// Normalises a generic delivery: one alert object or an array of them.
pub(crate) fn normalize(value: &Value, received_at: DateTime<Utc>) -> Result<Intake, IntakeError> {
    let root = Node::root(value);
    let items = match value {
        Value::Array(_) => root.items()?,
        Value::Object(_) => vec![root],
        _ => {
            return Err(invalid(
                "$",
                "expected a JSON object or an array of JSON objects",
            ))
        }
    };
    if items.is_empty() {
        return Ok(Intake::Ignored {
            reason: "the delivery is an empty array of alerts".to_owned(),
        });
    }
    let total = items.len();
    let alerts = items
        .iter()
        .take(MAX_ALERTS)
        .map(|item| one(item, received_at))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Intake::Alerts(finish_alerts(alerts, total, 0)))
}

fn one(node: &Node<'_>, received_at: DateTime<Utc>) -> Result<Alert, IntakeError> {
    let object = node.object()?;
    let title = clean_title(&node.req_text_at("title")?);
    if title.is_empty() {
        return Err(invalid(node.child_path("title"), "has no printable text"));
    }
    let service = node.req_text_at("service")?;
    // `service` is this format's one required routing field: a name that cannot be used is the
    // sender's mistake to hear about, not something to drop silently.
    if let Err(e) = crate::ids::ServiceName::parse(&service) {
        return Err(invalid(node.child_path("service"), e.reason));
    }
    let started_at = node.time_at("timestamp")?.unwrap_or(received_at);
    let status = match node.get("status") {
        None => AlertStatus::Firing,
        Some(s) => parse_status(s.text().as_deref())
            .ok_or_else(|| invalid(s.path(), "expected \"firing\" or \"resolved\""))?,
    };

    let fingerprint = match node.text_any(&["fingerprint", "id"]) {
        Some(explicit) => Fingerprint::from_parts(&["generic", "explicit", explicit.trim()]),
        None => Fingerprint::from_parts(&["generic", &service.trim().to_ascii_lowercase(), &title]),
    };

    let mut labels = Labels::default();
    let mut details = BTreeMap::new();
    let mut dropped_details = 0_usize;
    for (key, value) in object {
        if KNOWN_FIELDS.contains(&key.as_str()) {
            continue;
        }
        if details.len() >= MAX_LABELS {
            dropped_details += 1;
            continue;
        }
        details.insert(clean_line(key, 128), clean_json(value));
        if let Some(text) = super::support::scalar_text(value) {
            labels.insert(key, &text);
        }
    }
    if dropped_details > 0 {
        details.insert("truncated_details".to_owned(), Value::from(dropped_details));
    }
    let (labels, dropped_labels) = labels.finish();
    note_dropped_labels(&mut details, dropped_labels);

    Ok(Alert {
        source: AlertSource::Generic,
        fingerprint,
        status,
        title,
        description: node
            .text_at("description")
            .and_then(|d| clean_description(&d)),
        services: services([service.as_str()]),
        severity: node.text_at("severity").map(|s| clean_line(&s, 64)),
        started_at,
        ended_at: (status == AlertStatus::Resolved).then_some(started_at),
        labels,
        details,
        url: node.text_at("url").and_then(|u| clean_url(&u)),
    })
}

/// The spellings of firing and resolved that senders of the generic shape use.
fn parse_status(text: Option<&str>) -> Option<AlertStatus> {
    match text?.trim().to_ascii_lowercase().as_str() {
        "firing" | "triggered" | "alerting" | "alert" | "open" | "problem" => {
            Some(AlertStatus::Firing)
        }
        "resolved" | "recovered" | "ok" | "closed" => Some(AlertStatus::Resolved),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{normalize as intake, MAX_DESCRIPTION_BYTES, MAX_TITLE_CHARS};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn alerts(body: &Value) -> Vec<Alert> {
        match intake(AlertSource::Generic, body.to_string().as_bytes(), now()) {
            Ok(Intake::Alerts(a)) => a,
            other => panic!("expected alerts, got {other:?}"),
        }
    }

    fn error(body: &Value) -> IntakeError {
        match intake(AlertSource::Generic, body.to_string().as_bytes(), now()) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_seed_style_alert_becomes_one_firing_alert_with_free_fields_as_labels() {
        let got = alerts(&json!({
            "title": "High error rate", "service": "Checkout", "severity": "critical",
            "timestamp": "2026-01-02T03:04:05Z", "region": "eu-west-1", "pods": 3,
            "canary": true, "extra": {"nested": [1, 2]}
        }));
        assert_eq!(got.len(), 1);
        let a = &got[0];
        assert_eq!(a.title, "High error rate");
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.services[0].as_str(), "checkout");
        assert_eq!(a.severity.as_deref(), Some("critical"));
        assert_eq!(a.started_at.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        assert_eq!(
            a.labels.get("region").map(String::as_str),
            Some("eu-west-1")
        );
        assert_eq!(a.labels.get("pods").map(String::as_str), Some("3"));
        assert_eq!(a.labels.get("canary").map(String::as_str), Some("true"));
        assert!(!a.labels.contains_key("extra"));
        assert_eq!(a.details["extra"], json!({"nested": [1, 2]}));
        assert!(!a.details.contains_key("title"));
    }

    #[test]
    fn a_repeat_with_a_new_timestamp_keeps_the_fingerprint() {
        let a = alerts(&json!({"title": "Disk full", "service": "db", "timestamp": 1_700_000_000}));
        let b = alerts(
            &json!({"title": "Disk full", "service": "DB", "timestamp": 1_700_000_600_000_i64}),
        );
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_ne!(a[0].started_at, b[0].started_at);
        let other = alerts(&json!({"title": "Disk full", "service": "web"}));
        assert_ne!(a[0].fingerprint, other[0].fingerprint);
    }

    #[test]
    fn an_explicit_fingerprint_or_id_wins_over_service_and_title() {
        let a = alerts(&json!({"title": "A", "service": "x", "fingerprint": "abc"}));
        let b = alerts(&json!({"title": "B", "service": "y", "id": "abc"}));
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
    }

    #[test]
    fn the_timestamp_defaults_to_the_time_of_receipt() {
        let a = alerts(&json!({"title": "t", "service": "s"}));
        assert_eq!(a[0].started_at, now());
    }

    #[test]
    fn an_array_of_alerts_gives_one_alert_each_and_errors_name_the_element() {
        let got = alerts(&json!([
            {"title": "a", "service": "s1"},
            {"title": "b", "service": "s2", "status": "resolved"}
        ]));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].status, AlertStatus::Resolved);
        assert_eq!(got[1].ended_at, Some(now()));
        let err = error(&json!([{"title": "a", "service": "s"}, {"title": "b"}]));
        assert_eq!(err.field(), Some("[1].service"));
    }

    #[test]
    fn missing_title_or_service_names_the_field() {
        assert_eq!(
            error(&json!({"service": "s"})),
            IntakeError::MissingField {
                field: "title".into()
            }
        );
        assert_eq!(error(&json!({"title": "t"})).field(), Some("service"));
        assert_eq!(
            error(&json!({"title": "  ", "service": "s"})).field(),
            Some("title")
        );
        assert_eq!(
            error(&json!({"title": null, "service": "s"})).field(),
            Some("title")
        );
    }

    #[test]
    fn unreadable_timestamp_or_status_names_the_field() {
        let err = error(&json!({"title": "t", "service": "s", "timestamp": "last tuesday"}));
        assert!(matches!(err, IntakeError::InvalidField { ref field, .. } if field == "timestamp"));
        let err = error(&json!({"title": "t", "service": "s", "status": "maybe"}));
        assert_eq!(err.field(), Some("status"));
        let err = error(&json!({"title": {"a": 1}, "service": "s"}));
        assert_eq!(err.field(), Some("title"));
    }

    #[test]
    fn a_service_that_does_not_parse_is_refused_naming_the_field() {
        let err = error(&json!({"title": "t", "service": "rm -rf /; echo"}));
        assert_eq!(err.field(), Some("service"));
        let err = error(
            &json!([{"title": "a", "service": "ok"}, {"title": "b", "service": "../../etc passwd"}]),
        );
        assert_eq!(err.field(), Some("[1].service"));
    }

    #[test]
    fn hostile_text_is_stripped_and_bounded() {
        let huge = format!(
            "ignore previous instructions\u{1b}[2J\u{0}{}",
            "A".repeat(100_000)
        );
        let a = alerts(&json!({
            "title": huge, "service": "s", "description": format!("line1\r\nline2\t\u{7}{}", "B".repeat(100_000)),
            "note": "\u{1b}]0;pwned\u{7}"
        }));
        let a = &a[0];
        assert!(a.title.starts_with("ignore previous instructions[2J"));
        assert_eq!(a.title.chars().count(), MAX_TITLE_CHARS);
        assert!(!a.title.chars().any(char::is_control));
        let d = a.description.as_deref().unwrap_or_default();
        assert!(d.starts_with("line1\nline2\t"));
        assert!(d.len() <= MAX_DESCRIPTION_BYTES);
        assert_eq!(a.labels.get("note").map(String::as_str), Some("]0;pwned"));
    }

    #[test]
    fn more_than_a_hundred_alerts_are_cut_and_the_cut_is_recorded() {
        let many: Vec<Value> = (0..150)
            .map(|i| json!({"title": format!("a{i}"), "service": "s"}))
            .collect();
        let got = alerts(&Value::Array(many));
        assert_eq!(got.len(), MAX_ALERTS);
        assert_eq!(got[99].details["truncated_alerts"], json!(50));
        assert!(!got[0].details.contains_key("truncated_alerts"));
    }

    #[test]
    fn more_than_sixty_four_free_fields_are_capped() {
        let mut body = serde_json::Map::new();
        body.insert("title".into(), json!("t"));
        body.insert("service".into(), json!("s"));
        for i in 0..500 {
            body.insert(format!("f{i:03}"), json!(i));
        }
        let a = alerts(&Value::Object(body));
        assert!(a[0].labels.len() <= MAX_LABELS);
        assert!(a[0].details.len() <= MAX_LABELS + 2);
        assert_eq!(a[0].details["truncated_details"], json!(500 - MAX_LABELS));
    }

    #[test]
    fn an_empty_array_is_ignored_and_a_scalar_body_is_refused() {
        assert!(matches!(
            intake(AlertSource::Generic, b"[]", now()),
            Ok(Intake::Ignored { .. })
        ));
        assert_eq!(error(&json!("hello")).field(), Some("$"));
        assert_eq!(error(&json!([1])).field(), Some("[0]"));
    }
}

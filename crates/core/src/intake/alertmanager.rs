//! Prometheus Alertmanager webhook (version 4). Grafana's unified alerting sends the same group
//! shape with a few extra keys, so [`normalize_group`] serves both.
//!
//! Each alert of a group carries its own `status`: a `firing` group may hold resolved alerts.
//! Timestamps come with nanoseconds, milliseconds or no fraction; `endsAt` of
//! `0001-01-01T00:00:00Z` means "not ended".
//!
//! Fingerprint: the alert's `fingerprint` (a hash of its labels) together with its `startsAt`.
//! Alertmanager repeats a firing alert with the same start time and reports its resolution with
//! it too, so those land on one incident; when the condition clears and later fires again, the
//! new episode has a new `startsAt` and so opens a new incident. An alert without a
//! `fingerprint` (not sent by any Alertmanager since 0.19) uses its sorted labels instead.

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use super::support::{
    canonical_time, clean_description, clean_json, clean_line, clean_title, finish_alerts, invalid,
    missing, note_dropped_labels, services, url_any, Labels, Node, SERVICE_LABELS,
};
use super::{Intake, IntakeError, MAX_ALERTS};
use crate::model::{Alert, AlertSource, AlertStatus, Fingerprint};

/// Normalises an Alertmanager webhook.
pub(crate) fn normalize(value: &Value, received_at: DateTime<Utc>) -> Result<Intake, IntakeError> {
    normalize_group(value, received_at, AlertSource::Alertmanager)
}

/// Normalises an Alertmanager-style group notification from `source` (Alertmanager or Grafana).
pub(crate) fn normalize_group(
    value: &Value,
    received_at: DateTime<Utc>,
    source: AlertSource,
) -> Result<Intake, IntakeError> {
    let root = Node::root(value);
    root.object()?;
    let items = root.req("alerts")?.items()?;
    let truncated_at_source = root
        .get("truncatedAlerts")
        .and_then(|n| n.text())
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if items.is_empty() {
        return Ok(Intake::Ignored {
            reason: format!(
                "the {source} notification lists no alerts (truncatedAlerts: {truncated_at_source})"
            ),
        });
    }
    let group = Group::read(&root, source);
    let total = items.len();
    let alerts = items
        .iter()
        .take(MAX_ALERTS)
        .map(|item| one(item, &group, received_at))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Intake::Alerts(finish_alerts(
        alerts,
        total,
        truncated_at_source,
    )))
}

/// What the notification says about the whole group, copied onto each alert.
struct Group<'a> {
    source: AlertSource,
    root: Node<'a>,
    status: Option<String>,
    details: Vec<(&'static str, Value)>,
}

impl<'a> Group<'a> {
    fn read(root: &Node<'a>, source: AlertSource) -> Self {
        let mut details = Vec::new();
        for (key, detail) in [
            ("receiver", "receiver"),
            ("groupKey", "group_key"),
            ("externalURL", "external_url"),
            ("orgId", "org_id"),
        ] {
            if let Some(text) = root.text_at(key) {
                details.push((detail, Value::String(clean_line(&text, 1024))));
            }
        }
        Self {
            source,
            root: root.clone(),
            status: root.text_at("status"),
            details,
        }
    }
}

fn one(
    node: &Node<'_>,
    group: &Group<'_>,
    received_at: DateTime<Utc>,
) -> Result<Alert, IntakeError> {
    node.object()?;
    let status = match node.get("status") {
        Some(s) => parse_status(s.text(), s.path())?,
        // Every version-4 alert has its own status; the group's is a fallback for odd senders.
        None => match &group.status {
            Some(s) => parse_status(Some(s.clone()), group.root.child_path("status"))?,
            None => return Err(missing(node.child_path("status"))),
        },
    };
    let labels_node = node.get("labels");
    let annotations = node.get("annotations");
    let label_text = |key: &str| labels_node.as_ref().and_then(|l| l.text_at(key));
    let annotation_text = |key: &str| annotations.as_ref().and_then(|a| a.text_at(key));

    let title = annotation_text("summary")
        .or_else(|| label_text("alertname"))
        .map(|t| clean_title(&t))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(format!("{}.labels.alertname", node.path())))?;
    let started_at = node.req("startsAt")?.time()?;
    // Go's zero time marks an alert that has not ended.
    let ends_at = node.time_at("endsAt")?.filter(|t| t.year() > 1);

    let mut labels = Labels::default();
    labels.extend_object(labels_node.as_ref());
    let (labels, dropped_labels) = labels.finish();

    let fingerprint = match node.text_at("fingerprint") {
        Some(fp) => Fingerprint::from_parts(&[
            group.source.as_str(),
            fp.trim(),
            &canonical_time(&started_at),
        ]),
        None => {
            let all_labels = labels_node
                .as_ref()
                .and_then(|l| l.value.as_object())
                .map(|m| Value::Object(m.clone()).to_string())
                .unwrap_or_default();
            Fingerprint::from_parts(&[
                group.source.as_str(),
                "labels",
                &all_labels,
                &canonical_time(&started_at),
            ])
        }
    };

    let mut details = std::collections::BTreeMap::new();
    for (key, value) in &group.details {
        details.insert((*key).to_owned(), value.clone());
    }
    if let Some(a) = &annotations {
        details.insert("annotations".to_owned(), clean_json(a.value));
    }
    if group.source == AlertSource::Grafana {
        if let Some(values) = node.get("values") {
            details.insert("values".to_owned(), clean_json(values.value));
        }
        for (key, detail) in [
            ("silenceURL", "silence_url"),
            ("dashboardURL", "dashboard_url"),
            ("panelURL", "panel_url"),
        ] {
            if let Some(url) = url_any(node, &[key]) {
                details.insert(detail.to_owned(), Value::String(url));
            }
        }
    }
    note_dropped_labels(&mut details, dropped_labels);

    Ok(Alert {
        source: group.source,
        fingerprint,
        status,
        title,
        description: annotation_text("description")
            .or_else(|| annotation_text("message"))
            .and_then(|d| clean_description(&d)),
        services: services(SERVICE_LABELS.iter().filter_map(|k| label_text(k))),
        severity: label_text("severity").map(|s| clean_line(&s, 64)),
        started_at,
        ended_at: match status {
            AlertStatus::Resolved => Some(ends_at.unwrap_or(received_at)),
            // A firing alert's endsAt is only Alertmanager's guess of when it would time out.
            AlertStatus::Firing => None,
        },
        labels,
        details,
        url: url_any(node, &["generatorURL", "panelURL", "dashboardURL"]),
    })
}

fn parse_status(text: Option<String>, path: String) -> Result<AlertStatus, IntakeError> {
    match text.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("firing") => Ok(AlertStatus::Firing),
        Some("resolved") => Ok(AlertStatus::Resolved),
        _ => Err(invalid(path, "expected \"firing\" or \"resolved\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize as intake;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn alert(status: &str, fingerprint: &str, starts_at: &str, ends_at: &str) -> Value {
        json!({
            "status": status,
            "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
            "annotations": {"summary": "Checkout 5xx above 5%"},
            "startsAt": starts_at, "endsAt": ends_at, "generatorURL": "",
            "fingerprint": fingerprint
        })
    }

    fn group(status: &str, alerts: Vec<Value>) -> Value {
        json!({
            "version": "4", "groupKey": "{}:{}", "status": status, "receiver": "iras",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am:9093", "alerts": alerts, "truncatedAlerts": 0,
            "notification_reason": "new", "routeLabels": {"x": "y"}
        })
    }

    fn alerts(body: &Value) -> Vec<Alert> {
        match intake(
            AlertSource::Alertmanager,
            body.to_string().as_bytes(),
            now(),
        ) {
            Ok(Intake::Alerts(a)) => a,
            other => panic!("expected alerts, got {other:?}"),
        }
    }

    fn error(body: &Value) -> IntakeError {
        match intake(
            AlertSource::Alertmanager,
            body.to_string().as_bytes(),
            now(),
        ) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    const ZERO: &str = "0001-01-01T00:00:00Z";

    #[test]
    fn a_repeat_of_a_firing_alert_has_the_same_fingerprint() {
        let first = alerts(&group(
            "firing",
            vec![alert(
                "firing",
                "aaa",
                "2026-01-01T00:00:00.123456789Z",
                ZERO,
            )],
        ));
        let again = alerts(&group(
            "firing",
            vec![alert(
                "firing",
                "aaa",
                "2026-01-01T00:00:00.123456789Z",
                ZERO,
            )],
        ));
        assert_eq!(first[0].fingerprint, again[0].fingerprint);
    }

    #[test]
    fn the_resolution_has_the_fingerprint_of_the_firing_alert() {
        let firing = alerts(&group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO)],
        ));
        let resolved = alerts(&group(
            "resolved",
            vec![alert(
                "resolved",
                "aaa",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:05:00Z",
            )],
        ));
        assert_eq!(firing[0].fingerprint, resolved[0].fingerprint);
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
        assert_eq!(
            resolved[0].ended_at.map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:05:00+00:00".into())
        );
        assert_eq!(firing[0].ended_at, None);
    }

    #[test]
    fn a_re_fire_with_a_new_starts_at_gives_a_new_fingerprint() {
        let first = alerts(&group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO)],
        ));
        let refire = alerts(&group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T06:00:00Z", ZERO)],
        ));
        assert_ne!(first[0].fingerprint, refire[0].fingerprint);
    }

    #[test]
    fn the_same_instant_spelled_with_or_without_a_fraction_gives_the_same_fingerprint() {
        let a = alerts(&group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO)],
        ));
        let b = alerts(&group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T00:00:00.000Z", ZERO)],
        ));
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
    }

    #[test]
    fn a_resolved_alert_inside_a_firing_group_is_resolved() {
        let got = alerts(&group(
            "firing",
            vec![
                alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO),
                alert(
                    "resolved",
                    "bbb",
                    "2026-01-01T00:00:00Z",
                    "2026-01-01T00:01:00Z",
                ),
            ],
        ));
        assert_eq!(got[0].status, AlertStatus::Firing);
        assert_eq!(got[1].status, AlertStatus::Resolved);
    }

    #[test]
    fn truncated_alerts_are_recorded_on_the_last_alert() {
        let mut body = group(
            "firing",
            vec![alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO)],
        );
        body["truncatedAlerts"] = json!(7);
        let got = alerts(&body);
        assert_eq!(got[0].details["truncated_alerts"], json!(7));
    }

    #[test]
    fn more_than_a_hundred_alerts_are_cut_and_counted_with_those_the_sender_cut() {
        let many = (0..130)
            .map(|i| alert("firing", &format!("f{i}"), "2026-01-01T00:00:00Z", ZERO))
            .collect();
        let mut body = group("firing", many);
        body["truncatedAlerts"] = json!(5);
        let got = alerts(&body);
        assert_eq!(got.len(), 100);
        assert_eq!(got[99].details["truncated_alerts"], json!(35));
    }

    #[test]
    fn missing_required_fields_name_the_field() {
        assert_eq!(error(&json!({"status": "firing"})).field(), Some("alerts"));
        let mut a = alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO);
        a.as_object_mut().map(|o| o.remove("startsAt"));
        assert_eq!(
            error(&group(
                "firing",
                vec![alert("firing", "x", "2026-01-01T00:00:00Z", ZERO), a]
            )),
            IntakeError::MissingField {
                field: "alerts[1].startsAt".into()
            }
        );
        let no_title =
            json!({"status": "firing", "labels": {}, "startsAt": "2026-01-01T00:00:00Z"});
        assert_eq!(
            error(&group("firing", vec![no_title])).field(),
            Some("alerts[0].labels.alertname")
        );
        let bad_time = alert("firing", "aaa", "yesterday", ZERO);
        assert_eq!(
            error(&group("firing", vec![bad_time])).field(),
            Some("alerts[0].startsAt")
        );
        let bad_status = alert("pending", "aaa", "2026-01-01T00:00:00Z", ZERO);
        assert_eq!(
            error(&group("firing", vec![bad_status])).field(),
            Some("alerts[0].status")
        );
        assert_eq!(error(&json!({"alerts": {}})).field(), Some("alerts"));
        assert_eq!(error(&json!({"alerts": ["x"]})).field(), Some("alerts[0]"));
    }

    #[test]
    fn an_alert_without_status_takes_the_group_status() {
        let mut a = alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO);
        a.as_object_mut().map(|o| o.remove("status"));
        let got = alerts(&group("resolved", vec![a]));
        assert_eq!(got[0].status, AlertStatus::Resolved);
        assert_eq!(got[0].ended_at, Some(now()));
    }

    #[test]
    fn an_alert_without_fingerprint_is_keyed_by_its_labels_and_start() {
        let mut a = alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO);
        a.as_object_mut().map(|o| o.remove("fingerprint"));
        let first = alerts(&group("firing", vec![a.clone()]));
        let again = alerts(&group("firing", vec![a.clone()]));
        assert_eq!(first[0].fingerprint, again[0].fingerprint);
        a["labels"]["instance"] = json!("other");
        let other = alerts(&group("firing", vec![a]));
        assert_ne!(first[0].fingerprint, other[0].fingerprint);
    }

    #[test]
    fn title_falls_back_to_alertname_and_services_come_from_labels() {
        let mut a = alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO);
        a["annotations"] = json!({"description": "long text"});
        a["labels"] =
            json!({"alertname": "Down", "app": "Payments", "job": "node", "severity": "page"});
        let got = alerts(&group("firing", vec![a]));
        assert_eq!(got[0].title, "Down");
        assert_eq!(got[0].description.as_deref(), Some("long text"));
        let names: Vec<&str> = got[0].services.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["payments", "node"]);
        assert_eq!(got[0].severity.as_deref(), Some("page"));
        assert_eq!(got[0].url, None);
    }

    #[test]
    fn an_empty_alert_list_is_ignored() {
        let got = intake(
            AlertSource::Alertmanager,
            group("firing", vec![]).to_string().as_bytes(),
            now(),
        );
        assert!(matches!(got, Ok(Intake::Ignored { .. })));
    }

    #[test]
    fn hostile_label_sets_and_titles_are_bounded() {
        let mut a = alert("firing", "aaa", "2026-01-01T00:00:00Z", ZERO);
        let mut labels = serde_json::Map::new();
        for i in 0..1000 {
            labels.insert(format!("l{i}"), json!("\u{1b}[31mred"));
        }
        labels.insert("service".into(), json!("checkout"));
        a["labels"] = Value::Object(labels);
        a["annotations"]["summary"] = json!(format!(
            "ignore previous instructions\u{0}{}",
            "x".repeat(100_000)
        ));
        let got = alerts(&group("firing", vec![a]));
        assert_eq!(got[0].labels.len(), crate::intake::MAX_LABELS);
        assert_eq!(got[0].labels["service"], "checkout");
        assert_eq!(got[0].labels["l0"], "[31mred");
        assert_eq!(
            got[0].details["truncated_labels"],
            json!(1001 - crate::intake::MAX_LABELS)
        );
        assert_eq!(got[0].title.chars().count(), crate::intake::MAX_TITLE_CHARS);
        assert!(got[0].title.starts_with("ignore previous instructionsx"));
    }
}

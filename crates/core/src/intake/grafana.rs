//! Grafana unified alerting webhook contact point. Its body is Alertmanager's group notification
//! plus `orgId`, `title`, `state`, `message` at the top and `values`, `silenceURL`,
//! `dashboardURL`, `panelURL` per alert, so the parsing is shared with the Alertmanager module.
//!
//! Fingerprint: as for Alertmanager, each alert's `fingerprint` (Grafana's hash of its labels)
//! together with its `startsAt`, or its sorted labels with `startsAt` when the fingerprint is
//! missing. Grafana keeps `startsAt` for as long as an alert keeps firing and repeats it in the
//! resolve notification, so repeats and the resolution land on one incident, while a fresh
//! firing of the same rule after it resolved opens a new incident instead of reopening a
//! closed one.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::alertmanager::normalize_group;
use super::{Intake, IntakeError};
use crate::model::AlertSource;

/// Normalises a Grafana webhook.
pub(crate) fn normalize(value: &Value, received_at: DateTime<Utc>) -> Result<Intake, IntakeError> {
    normalize_group(value, received_at, AlertSource::Grafana)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize as intake;
    use crate::model::{Alert, AlertStatus};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn body(alerts: Vec<Value>) -> Value {
        json!({
            "receiver": "iras", "status": "firing", "orgId": 1, "alerts": alerts,
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "https://grafana.example/", "version": "1", "groupKey": "{}:{}",
            "truncatedAlerts": 0, "title": "[FIRING:1]", "state": "alerting", "message": "…"
        })
    }

    fn alert(status: &str, fingerprint: Option<&str>, starts_at: &str) -> Value {
        let mut a = json!({
            "status": status,
            "labels": {"alertname": "High memory", "service_name": "cart", "team": "blue"},
            "annotations": {"summary": "Memory above 90%", "description": "The cart pods use too much"},
            "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/abc/edit",
            "silenceURL": "https://grafana.example/alerting/silence/new",
            "dashboardURL": "", "panelURL": "https://grafana.example/d/x?viewPanel=2",
            "values": {"B": 91.5, "C": 1}
        });
        if let Some(fp) = fingerprint {
            a["fingerprint"] = json!(fp);
        }
        a
    }

    fn alerts(body: &Value) -> Vec<Alert> {
        match intake(AlertSource::Grafana, body.to_string().as_bytes(), now()) {
            Ok(Intake::Alerts(a)) => a,
            other => panic!("expected alerts, got {other:?}"),
        }
    }

    #[test]
    fn a_grafana_alert_keeps_its_values_and_links() {
        let got = alerts(&body(vec![alert(
            "firing",
            Some("c6ea"),
            "2021-10-12T09:51:03.157076+02:00",
        )]));
        let a = &got[0];
        assert_eq!(a.source, AlertSource::Grafana);
        assert_eq!(a.title, "Memory above 90%");
        assert_eq!(a.services[0].as_str(), "cart");
        assert_eq!(a.details["values"], json!({"B": 91.5, "C": 1}));
        assert_eq!(a.details["org_id"], json!("1"));
        assert_eq!(
            a.details["panel_url"],
            json!("https://grafana.example/d/x?viewPanel=2")
        );
        assert!(!a.details.contains_key("dashboard_url"));
        assert_eq!(
            a.url.as_deref(),
            Some("https://grafana.example/alerting/abc/edit")
        );
        assert_eq!(
            a.started_at.to_rfc3339(),
            "2021-10-12T07:51:03.157076+00:00"
        );
    }

    #[test]
    fn a_repeat_has_the_same_fingerprint_and_a_re_fire_a_new_one() {
        let a = alerts(&body(vec![alert(
            "firing",
            Some("c6ea"),
            "2021-10-12T09:51:03+02:00",
        )]));
        let b = alerts(&body(vec![alert(
            "firing",
            Some("c6ea"),
            "2021-10-12T07:51:03Z",
        )]));
        let c = alerts(&body(vec![alert(
            "firing",
            Some("c6ea"),
            "2021-10-12T10:51:03+02:00",
        )]));
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_ne!(a[0].fingerprint, c[0].fingerprint);
    }

    #[test]
    fn without_a_fingerprint_the_labels_and_start_identify_the_alert() {
        let a = alerts(&body(vec![alert(
            "firing",
            None,
            "2021-10-12T09:51:03+02:00",
        )]));
        let b = alerts(&body(vec![alert(
            "resolved",
            None,
            "2021-10-12T09:51:03+02:00",
        )]));
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_eq!(b[0].status, AlertStatus::Resolved);
    }

    #[test]
    fn a_resolved_alert_inside_a_firing_group_is_resolved() {
        let got = alerts(&body(vec![
            alert("firing", Some("a"), "2021-10-12T09:51:03Z"),
            alert("resolved", Some("b"), "2021-10-12T09:51:03Z"),
        ]));
        assert_eq!(got[0].status, AlertStatus::Firing);
        assert_eq!(got[1].status, AlertStatus::Resolved);
    }

    #[test]
    fn truncated_alerts_are_recorded() {
        let mut b = body(vec![alert("firing", Some("a"), "2021-10-12T09:51:03Z")]);
        b["truncatedAlerts"] = json!(3);
        assert_eq!(alerts(&b)[0].details["truncated_alerts"], json!(3));
    }

    #[test]
    fn missing_alerts_or_start_names_the_field() {
        let err = intake(
            AlertSource::Grafana,
            br#"{"receiver":"x","status":"firing"}"#,
            now(),
        );
        assert_eq!(
            err.map_err(|e| e.field().map(str::to_owned)),
            Err(Some("alerts".into()))
        );
        let mut a = alert("firing", Some("a"), "2021-10-12T09:51:03Z");
        a.as_object_mut().map(|o| o.remove("startsAt"));
        let err = intake(
            AlertSource::Grafana,
            body(vec![a]).to_string().as_bytes(),
            now(),
        );
        assert_eq!(
            err,
            Err(IntakeError::MissingField {
                field: "alerts[0].startsAt".into()
            })
        );
    }
}

//! Conformance of the alert normalizers against real vendor samples in
//! `tests/fixtures/conformance/` (see `SOURCES.md` there for where each came from).
//!
//! Every file of an alert vendor must appear in [`SAMPLES`] (an alert webhook, with its expected
//! outcome) or in [`NOT_ALERT_WEBHOOKS`] (with why it is not one); a new sample that is in
//! neither fails `every_alert_vendor_sample_is_covered_by_a_test`.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use iras_core::intake::{normalize, Intake, IntakeError};
use iras_core::{Alert, AlertSource, AlertStatus};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/conformance/"
);

/// The folders whose files are alert webhooks (or their near relatives).
const ALERT_VENDOR_DIRS: &[&str] = &["alertmanager", "pagerduty", "datadog", "grafana", "aws"];

/// What normalizing a sample should give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This many alerts.
    Alerts(usize),
    /// Accepted and ignored.
    Ignored,
    /// Refused, naming this field.
    Error(&'static str),
}

/// Every alert-format sample, the source it is posted as, and the outcome.
const SAMPLES: &[(&str, AlertSource, Expect)] = &[
    (
        "alertmanager/01-firing-single-amtool.json",
        AlertSource::Alertmanager,
        Expect::Alerts(1),
    ),
    (
        "alertmanager/02-firing-group-3-alerts.json",
        AlertSource::Alertmanager,
        Expect::Alerts(3),
    ),
    (
        "alertmanager/06-resolved-single.json",
        AlertSource::Alertmanager,
        Expect::Alerts(1),
    ),
    (
        "pagerduty/v3-zulip-incident.triggered.json",
        AlertSource::Pagerduty,
        Expect::Alerts(1),
    ),
    (
        "pagerduty/v3-docs-incident.priority_updated.json",
        AlertSource::Pagerduty,
        Expect::Ignored,
    ),
    // A V3 webhook body too (the one go-pagerduty signs): a priority change, so ignored.
    (
        "pagerduty/v3-signed-body-go-pagerduty-test.json",
        AlertSource::Pagerduty,
        Expect::Ignored,
    ),
    // Only the `event.data` part of a webhook: on its own it lacks the envelope.
    (
        "pagerduty/v3-docs-event-data-incident-object.json",
        AlertSource::Pagerduty,
        Expect::Error("event"),
    ),
    (
        "datadog/rendered-default-payload-relay-test-notification.json",
        AlertSource::Datadog,
        Expect::Alerts(1),
    ),
    // The unrendered template: `$EVENT_TITLE` names no transition.
    (
        "datadog/default-payload-template.json",
        AlertSource::Datadog,
        Expect::Ignored,
    ),
    (
        "grafana/docs-webhook-notifier-example-firing-2-alerts.json",
        AlertSource::Grafana,
        Expect::Alerts(2),
    ),
    (
        "aws/eventbridge-alarm-state-change-single-metric.json",
        AlertSource::Cloudwatch,
        Expect::Alerts(1),
    ),
    (
        "aws/example-cloudwatch-alarm-sns-payload-single-metric.json",
        AlertSource::Cloudwatch,
        Expect::Alerts(1),
    ),
];

/// Files in the alert vendor folders that are not alert webhooks, and what they are for.
const NOT_ALERT_WEBHOOKS: &[(&str, &str)] = &[
    (
        "alertmanager/01-firing-single-amtool.headers.txt",
        "HTTP headers of the 01 capture",
    ),
    (
        "pagerduty/events-v2-docs-resolve-request.json",
        "Events API v2 request IRAS would send",
    ),
    (
        "pagerduty/events-v2-docs-trigger-request.json",
        "Events API v2 request IRAS would send",
    ),
    (
        "pagerduty/events-v2-response-202-success.json",
        "Events API v2 response",
    ),
    (
        "pagerduty/events-v2-response-error-example.json",
        "Events API v2 response",
    ),
    (
        "pagerduty/v3-signature-test-vector.json",
        "signature vector metadata; its body is a sample above",
    ),
];

fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{path}")).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn run(source: AlertSource, body: &[u8]) -> Result<Intake, IntakeError> {
    normalize(source, body, received_at())
}

fn alerts_of(source: AlertSource, body: &[u8]) -> Vec<Alert> {
    match run(source, body) {
        Ok(Intake::Alerts(alerts)) => alerts,
        other => panic!("expected alerts, got {other:?}"),
    }
}

fn alerts(source: AlertSource, path: &str) -> Vec<Alert> {
    alerts_of(source, &fixture(path))
}

fn error_field(source: AlertSource, body: &Value) -> Option<String> {
    match run(source, body.to_string().as_bytes()) {
        Err(e) => e.field().map(str::to_owned),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn services(alert: &Alert) -> Vec<&str> {
    alert.services.iter().map(|s| s.as_str()).collect()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn files_under(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {dir:?}: {e}"));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if entry.path().is_dir() {
            files_under(&entry.path(), &format!("{rel}/"), out);
        } else {
            out.insert(rel);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coverage and the table

#[test]
fn every_alert_vendor_sample_is_covered_by_a_test() {
    let mut files = BTreeSet::new();
    for dir in ALERT_VENDOR_DIRS {
        files_under(&Path::new(DIR).join(dir), &format!("{dir}/"), &mut files);
    }
    assert!(files.len() >= SAMPLES.len(), "fixtures missing: {files:?}");
    let known: BTreeSet<String> = SAMPLES
        .iter()
        .map(|(p, _, _)| (*p).to_owned())
        .chain(NOT_ALERT_WEBHOOKS.iter().map(|(p, _)| (*p).to_owned()))
        .collect();
    let untested: Vec<&String> = files.difference(&known).collect();
    assert!(
        untested.is_empty(),
        "add these samples to SAMPLES (with a test) or NOT_ALERT_WEBHOOKS: {untested:?}"
    );
    let vanished: Vec<&String> = known.difference(&files).collect();
    assert!(vanished.is_empty(), "listed but not on disk: {vanished:?}");
}

#[test]
fn every_alert_sample_gives_its_expected_outcome() {
    for (path, source, expect) in SAMPLES {
        let got = run(*source, &fixture(path));
        match (expect, &got) {
            (Expect::Alerts(n), Ok(Intake::Alerts(alerts))) => {
                assert_eq!(alerts.len(), *n, "{path}");
                for alert in alerts {
                    assert_eq!(alert.source, *source, "{path}");
                    assert!(!alert.title.is_empty(), "{path}");
                    assert!(!alert.fingerprint.as_str().is_empty(), "{path}");
                }
            }
            (Expect::Ignored, Ok(Intake::Ignored { reason })) => {
                assert!(!reason.is_empty(), "{path}");
            }
            (Expect::Error(field), Err(e)) => assert_eq!(e.field(), Some(*field), "{path}"),
            _ => panic!("{path}: expected {expect:?}, got {got:?}"),
        }
    }
}

#[test]
fn every_alert_sample_normalizes_to_the_same_fingerprints_twice() {
    for (path, source, _) in SAMPLES {
        let body = fixture(path);
        let first = run(*source, &body);
        let second = run(*source, &body);
        assert_eq!(first, second, "{path}");
    }
}

#[test]
fn any_sample_posted_as_any_source_gives_an_answer_not_a_panic() {
    let mut files = BTreeSet::new();
    files_under(Path::new(DIR), "", &mut files);
    for path in &files {
        let body = fixture(path);
        for source in AlertSource::ALL {
            // Whatever the outcome, an error must be one the HTTP layer can report.
            if let Err(e) = run(source, &body) {
                assert!(!e.to_string().is_empty(), "{path} as {source}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Alertmanager (captured from Alertmanager 0.25.0)

#[test]
fn the_amtool_capture_is_one_firing_checkout_alert() {
    let got = alerts(
        AlertSource::Alertmanager,
        "alertmanager/01-firing-single-amtool.json",
    );
    let a = &got[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.title, "Checkout 5xx rate above 5%");
    assert_eq!(services(a), ["checkout"]);
    assert_eq!(a.severity.as_deref(), Some("critical"));
    assert_eq!(a.started_at, time("2026-11-26T12:18:29.590423573Z"));
    assert_eq!(a.ended_at, None);
    assert_eq!(a.labels["alertname"], "HighErrorRate");
    assert_eq!(a.labels["instance"], "checkout-1:8080");
    assert_eq!(
        a.details["annotations"]["runbook_url"],
        json!("https://runbooks.example.com/HighErrorRate")
    );
    assert_eq!(a.details["receiver"], json!("incident-webhook"));
    assert!(!a.details.contains_key("truncated_alerts"));
    assert!(a
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("http://prometheus.example:9090/graph?g0.expr=")));
}

#[test]
fn the_group_of_three_is_three_firing_db_alerts_with_their_own_fingerprints() {
    let got = alerts(
        AlertSource::Alertmanager,
        "alertmanager/02-firing-group-3-alerts.json",
    );
    let titles: Vec<&str> = got.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Disk sda1 on db-1 is 92% full",
            "Disk sda1 on db-2 is 95% full",
            "Disk sdb1 on db-3 is 97% full"
        ]
    );
    for a in &got {
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(services(a), ["db"]);
        assert_eq!(a.severity.as_deref(), Some("warning"));
        assert!(a
            .description
            .as_deref()
            .is_some_and(|d| d.contains("less than 8% space left")));
    }
    let fingerprints: BTreeSet<_> = got.iter().map(|a| a.fingerprint.clone()).collect();
    assert_eq!(fingerprints.len(), 3);
}

#[test]
fn the_resolve_notification_resolves_the_amtool_alert() {
    let firing = alerts(
        AlertSource::Alertmanager,
        "alertmanager/01-firing-single-amtool.json",
    );
    let resolved = alerts(
        AlertSource::Alertmanager,
        "alertmanager/06-resolved-single.json",
    );
    let r = &resolved[0];
    assert_eq!(r.status, AlertStatus::Resolved);
    assert_eq!(r.ended_at, Some(time("2026-11-26T12:18:57Z")));
    assert_eq!(r.fingerprint, firing[0].fingerprint);
}

#[test]
fn the_amtool_alert_re_fired_later_is_a_new_fingerprint() {
    let mut body = fixture_json("alertmanager/01-firing-single-amtool.json");
    let first = alerts_of(AlertSource::Alertmanager, body.to_string().as_bytes());
    body["alerts"][0]["startsAt"] = json!("2026-11-26T13:00:00.5Z");
    let refire = alerts_of(AlertSource::Alertmanager, body.to_string().as_bytes());
    assert_ne!(first[0].fingerprint, refire[0].fingerprint);
}

#[test]
fn the_amtool_alert_without_starts_at_names_the_field() {
    let mut body = fixture_json("alertmanager/01-firing-single-amtool.json");
    if let Some(alert) = body["alerts"][0].as_object_mut() {
        alert.remove("startsAt");
    }
    assert_eq!(
        error_field(AlertSource::Alertmanager, &body).as_deref(),
        Some("alerts[0].startsAt")
    );
}

#[test]
fn the_capture_with_keys_from_newer_alertmanagers_still_parses() {
    let mut body = fixture_json("alertmanager/02-firing-group-3-alerts.json");
    body["notification_reason"] = json!("repeat");
    body["routeLabels"] = json!({"team": "db"});
    body["truncatedAlerts"] = json!(4);
    let got = alerts_of(AlertSource::Alertmanager, body.to_string().as_bytes());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].details["truncated_alerts"], json!(4));
}

// ---------------------------------------------------------------------------------------------
// PagerDuty Webhooks V3

#[test]
fn the_zulip_triggered_incident_is_one_firing_alert() {
    let got = alerts(
        AlertSource::Pagerduty,
        "pagerduty/v3-zulip-incident.triggered.json",
    );
    let a = &got[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.title, "Test Incident 3");
    assert_eq!(services(a), ["pig208"]);
    // `priority` is null in this delivery, so the urgency is the severity.
    assert_eq!(a.severity.as_deref(), Some("high"));
    assert_eq!(a.details["pagerduty_event"], json!("incident.triggered"));
    assert_eq!(a.details["incident_id"], json!("PFQZPSY"));
    assert_eq!(a.labels["incident_number"], "9");
    assert_eq!(
        a.url.as_deref(),
        Some("https://pig208.pagerduty.com/incidents/PFQZPSY")
    );
    assert_eq!(a.started_at, time("2021-06-04T13:35:29.781Z"));
}

#[test]
fn the_zulip_incident_acknowledged_and_resolved_keeps_its_fingerprint() {
    let mut body = fixture_json("pagerduty/v3-zulip-incident.triggered.json");
    let triggered = alerts_of(AlertSource::Pagerduty, body.to_string().as_bytes());
    body["event"]["event_type"] = json!("incident.acknowledged");
    body["event"]["id"] = json!("01BZYIL05THJDFF2Y08X9SVMTV");
    let acked = alerts_of(AlertSource::Pagerduty, body.to_string().as_bytes());
    body["event"]["event_type"] = json!("incident.resolved");
    let resolved = alerts_of(AlertSource::Pagerduty, body.to_string().as_bytes());
    assert_eq!(acked[0].status, AlertStatus::Firing);
    assert_eq!(
        acked[0].details["pagerduty_event"],
        json!("incident.acknowledged")
    );
    assert_eq!(resolved[0].status, AlertStatus::Resolved);
    assert_eq!(triggered[0].fingerprint, acked[0].fingerprint);
    assert_eq!(triggered[0].fingerprint, resolved[0].fingerprint);
}

#[test]
fn the_zulip_incident_without_an_id_names_the_field() {
    let mut body = fixture_json("pagerduty/v3-zulip-incident.triggered.json");
    if let Some(data) = body["event"]["data"].as_object_mut() {
        data.remove("id");
    }
    assert_eq!(
        error_field(AlertSource::Pagerduty, &body).as_deref(),
        Some("event.data.id")
    );
}

#[test]
fn the_docs_incident_object_in_a_triggered_envelope_is_a_p1_alert() {
    let data = fixture_json("pagerduty/v3-docs-event-data-incident-object.json");
    let envelope = |event_type: &str| {
        json!({"event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f", "event_type": event_type,
            "resource_type": "incident", "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": null, "client": null, "data": data.clone()
        }})
    };
    let triggered = alerts_of(
        AlertSource::Pagerduty,
        envelope("incident.triggered").to_string().as_bytes(),
    );
    let a = &triggered[0];
    assert_eq!(a.title, "A little bump in the road");
    assert_eq!(a.severity.as_deref(), Some("P1"));
    assert_eq!(a.labels["urgency"], "high");
    assert_eq!(a.labels["incident_type"], "major");
    // "API Service" is a display name, not a service identifier.
    assert!(a.services.is_empty());
    assert_eq!(a.labels["service"], "API Service");
    assert_eq!(a.details["teams"], json!(["Engineering"]));
    assert_eq!(a.started_at, time("2020-04-09T15:16:27Z"));
    let resolved = alerts_of(
        AlertSource::Pagerduty,
        envelope("incident.resolved").to_string().as_bytes(),
    );
    assert_eq!(resolved[0].fingerprint, a.fingerprint);
    assert_eq!(resolved[0].ended_at, Some(time("2020-10-02T18:45:22.169Z")));
}

#[test]
fn the_docs_and_go_pagerduty_priority_updates_are_ignored_but_would_key_on_the_incident() {
    for path in [
        "pagerduty/v3-docs-incident.priority_updated.json",
        "pagerduty/v3-signed-body-go-pagerduty-test.json",
    ] {
        match run(AlertSource::Pagerduty, &fixture(path)) {
            Ok(Intake::Ignored { reason }) => {
                assert!(
                    reason.contains("incident.priority_updated"),
                    "{path}: {reason}"
                )
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    // Both describe incident PGR0VU2: as triggers they would be the same alert.
    let as_trigger = |path: &str| {
        let mut body = fixture_json(path);
        body["event"]["event_type"] = json!("incident.triggered");
        alerts_of(AlertSource::Pagerduty, body.to_string().as_bytes())
    };
    let docs = as_trigger("pagerduty/v3-docs-incident.priority_updated.json");
    let go = as_trigger("pagerduty/v3-signed-body-go-pagerduty-test.json");
    assert_eq!(docs[0].fingerprint, go[0].fingerprint);
}

#[test]
fn the_signed_body_fixture_is_byte_for_byte_the_one_go_pagerduty_signed() {
    let vector = fixture_json("pagerduty/v3-signature-test-vector.json");
    let body = fixture(&format!(
        "pagerduty/{}",
        vector["body_file"].as_str().unwrap_or_default()
    ));
    let digest = hex::encode(Sha256::digest(&body));
    assert_eq!(Some(digest.as_str()), vector["body_sha256"].as_str());
}

// ---------------------------------------------------------------------------------------------
// Datadog

#[test]
fn the_relay_test_notification_is_a_firing_alert_keyed_on_its_monitor() {
    let got = alerts(
        AlertSource::Datadog,
        "datadog/rendered-default-payload-relay-test-notification.json",
    );
    let a = &got[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.title, "[Triggered] [TEST] Host Cluster Alert");
    assert!(a
        .description
        .as_deref()
        .is_some_and(|d| d.starts_with("@webhook-relay-test") && !d.contains("%%%")));
    assert_eq!(a.started_at.timestamp_millis(), 1_591_216_985_000);
    assert_eq!(
        a.url.as_deref(),
        Some("https://app.datadoghq.com/monitors#18692904?")
    );
    assert_eq!(a.details["org"]["name"], json!("Puppet"));
    assert_eq!(a.details["id"], json!("5485379890863845239"));
    assert!(a.services.is_empty());
}

#[test]
fn the_relay_notification_recovered_with_a_new_event_id_keeps_the_fingerprint() {
    let path = "datadog/rendered-default-payload-relay-test-notification.json";
    let triggered = alerts(AlertSource::Datadog, path);
    let mut body = fixture_json(path);
    body["title"] = json!("[Recovered] [TEST] Host Cluster Alert");
    body["id"] = json!("5485379890863849999");
    body["date"] = json!("1591217985000");
    let recovered = alerts_of(AlertSource::Datadog, body.to_string().as_bytes());
    assert_eq!(recovered[0].status, AlertStatus::Resolved);
    assert_eq!(recovered[0].fingerprint, triggered[0].fingerprint);
}

#[test]
fn the_relay_notification_without_a_title_names_the_field() {
    let mut body = fixture_json("datadog/rendered-default-payload-relay-test-notification.json");
    if let Some(o) = body.as_object_mut() {
        o.remove("title");
    }
    assert_eq!(
        error_field(AlertSource::Datadog, &body).as_deref(),
        Some("title")
    );
}

#[test]
fn the_unrendered_default_template_is_ignored() {
    assert!(matches!(
        run(
            AlertSource::Datadog,
            &fixture("datadog/default-payload-template.json")
        ),
        Ok(Intake::Ignored { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Grafana

#[test]
fn the_grafana_docs_example_is_two_firing_alerts_with_values() {
    let got = alerts(
        AlertSource::Grafana,
        "grafana/docs-webhook-notifier-example-firing-2-alerts.json",
    );
    assert_eq!(got[0].title, "This alert was triggered for zone us-1");
    assert_eq!(got[1].title, "This alert was triggered for zone eu-1");
    assert_eq!(got[0].status, AlertStatus::Firing);
    assert_eq!(got[1].status, AlertStatus::Firing);
    assert_eq!(
        got[0].description.as_deref(),
        Some("The system has high memory usage")
    );
    assert_eq!(got[0].labels["team"], "blue");
    assert_eq!(got[0].labels["zone"], "us-1");
    assert!(got[0].services.is_empty());
    assert_eq!(got[0].started_at, time("2021-10-12T07:51:03.157076Z"));
    assert_eq!(got[0].details["values"]["C"], json!(1));
    assert_eq!(
        got[0].url.as_deref(),
        Some("https://play.grafana.org/alerting/1afz29v7z/edit")
    );
    assert_ne!(got[0].fingerprint, got[1].fingerprint);
}

#[test]
fn the_grafana_example_with_its_first_alert_resolved_keeps_that_fingerprint() {
    let path = "grafana/docs-webhook-notifier-example-firing-2-alerts.json";
    let firing = alerts(AlertSource::Grafana, path);
    let mut body = fixture_json(path);
    body["alerts"][0]["status"] = json!("resolved");
    body["alerts"][0]["endsAt"] = json!("2021-10-12T10:01:03.157076+02:00");
    let mixed = alerts_of(AlertSource::Grafana, body.to_string().as_bytes());
    assert_eq!(mixed[0].status, AlertStatus::Resolved);
    assert_eq!(mixed[1].status, AlertStatus::Firing);
    assert_eq!(mixed[0].fingerprint, firing[0].fingerprint);
    assert_eq!(mixed[0].ended_at, Some(time("2021-10-12T08:01:03.157076Z")));
}

#[test]
fn the_grafana_example_without_alerts_names_the_field() {
    let mut body = fixture_json("grafana/docs-webhook-notifier-example-firing-2-alerts.json");
    if let Some(o) = body.as_object_mut() {
        o.remove("alerts");
    }
    assert_eq!(
        error_field(AlertSource::Grafana, &body).as_deref(),
        Some("alerts")
    );
}

// ---------------------------------------------------------------------------------------------
// CloudWatch

#[test]
fn the_eventbridge_sample_is_a_firing_cpu_alarm() {
    let got = alerts(
        AlertSource::Cloudwatch,
        "aws/eventbridge-alarm-state-change-single-metric.json",
    );
    let a = &got[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.title, "ServerCpuTooHigh");
    assert_eq!(a.started_at, time("2019-10-02T17:04:40.989Z"));
    assert_eq!(a.severity.as_deref(), Some("ALARM"));
    assert_eq!(a.labels["InstanceId"], "i-12345678901234567");
    assert_eq!(a.labels["metric_name"], "CPUUtilization");
    assert_eq!(
        a.labels["cloudwatch_alarm"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    );
    // An EC2 instance is not a service name IRAS can act on.
    assert!(a.services.is_empty());
    assert!(
        a.description.as_deref().is_some_and(
            |d| d.starts_with("Goes into alarm when server CPU utilization is too high!")
        )
    );
    assert_eq!(
        a.url.as_deref(),
        Some("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/ServerCpuTooHigh")
    );
}

#[test]
fn the_eventbridge_sample_turned_ok_resolves_the_same_fingerprint() {
    let path = "aws/eventbridge-alarm-state-change-single-metric.json";
    let alarm = alerts(AlertSource::Cloudwatch, path);
    let mut body = fixture_json(path);
    let alarm_state = body["detail"]["state"].clone();
    body["detail"]["previousState"] = alarm_state;
    body["detail"]["state"] = json!({
        "value": "OK", "reason": "Threshold Crossed", "timestamp": "2019-10-02T17:20:40.989+0000"
    });
    let ok = alerts_of(AlertSource::Cloudwatch, body.to_string().as_bytes());
    assert_eq!(ok[0].status, AlertStatus::Resolved);
    assert_eq!(ok[0].fingerprint, alarm[0].fingerprint);
    assert_eq!(ok[0].ended_at, Some(time("2019-10-02T17:20:40.989Z")));
}

#[test]
fn the_eventbridge_sample_with_insufficient_data_is_ignored() {
    let mut body = fixture_json("aws/eventbridge-alarm-state-change-single-metric.json");
    body["detail"]["state"]["value"] = json!("INSUFFICIENT_DATA");
    assert!(matches!(
        run(AlertSource::Cloudwatch, body.to_string().as_bytes()),
        Ok(Intake::Ignored { .. })
    ));
}

#[test]
fn the_eventbridge_sample_without_an_alarm_name_names_the_field() {
    let mut body = fixture_json("aws/eventbridge-alarm-state-change-single-metric.json");
    if let Some(detail) = body["detail"].as_object_mut() {
        detail.remove("alarmName");
    }
    assert_eq!(
        error_field(AlertSource::Cloudwatch, &body).as_deref(),
        Some("detail.alarmName")
    );
}

#[test]
fn the_lambda_sns_event_is_a_firing_alarm() {
    let got = alerts(
        AlertSource::Cloudwatch,
        "aws/example-cloudwatch-alarm-sns-payload-single-metric.json",
    );
    let a = &got[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.title, "EXAMPLE");
    assert_eq!(a.started_at, time("2015-06-03T17:43:27.123Z"));
    assert_eq!(a.labels["InstanceId"], "TestInstance");
    assert_eq!(a.labels["namespace"], "AWS/EC2");
    assert_eq!(a.labels["metric_name"], "NetworkOut");
    assert_eq!(a.details["previous_state"], json!("INSUFFICIENT_DATA"));
    assert_eq!(a.details["delivery"], json!("sns"));
}

#[test]
fn the_same_sns_message_posted_over_https_gives_the_same_alert() {
    let path = "aws/example-cloudwatch-alarm-sns-payload-single-metric.json";
    let lambda = alerts(AlertSource::Cloudwatch, path);
    let event = fixture_json(path);
    let https_body = &event["Records"][0]["Sns"];
    let https = alerts_of(AlertSource::Cloudwatch, https_body.to_string().as_bytes());
    assert_eq!(https, lambda);
}

#[test]
fn the_sns_message_without_an_alarm_name_names_the_field() {
    let mut event = fixture_json("aws/example-cloudwatch-alarm-sns-payload-single-metric.json");
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap_or_default();
    let mut alarm: Value = serde_json::from_str(message).unwrap_or_default();
    if let Some(o) = alarm.as_object_mut() {
        o.remove("AlarmName");
    }
    event["Records"][0]["Sns"]["Message"] = json!(alarm.to_string());
    assert_eq!(
        error_field(AlertSource::Cloudwatch, &event).as_deref(),
        Some("Records[0].Sns.Message.AlarmName")
    );
}

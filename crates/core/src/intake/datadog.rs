//! Datadog webhook integration, default or custom payload template.
//!
//! The default template sends only `body`, `last_updated`, `event_type`, `title`, `date`, `org`
//! and `id`, every value a string (dates in epoch milliseconds, `body` wrapped in `%%%`). Users
//! add `$ALERT_ID`, `$ALERT_TRANSITION`, `$TAGS`, `$ALERT_PRIORITY`… under keys of their own
//! choosing, so keys are matched ignoring case and punctuation: `alert_id`, `ALERT_ID`, `alertId`
//! and `$ALERT_ID` are one key.
//!
//! Status: `alert_transition` (`Recovered`/`Resolved` → resolved, `Triggered`, `Re-Triggered`,
//! `Warn`, `No Data`… → firing), else `alert_type` (`success` → resolved), else the `[Triggered]`
//! / `[Recovered]` prefix Datadog puts on event titles. A delivery with none of these (a test
//! notification without state, an unrendered template) is ignored.
//!
//! Fingerprint, first that applies:
//! 1. `alert_cycle_key`: Datadog's own id for one alert from trigger to recovery.
//! 2. the monitor (`alert_id`, or the monitor id in the body's `monitors#123` link) with the
//!    alert's scope (`alert_scope`, e.g. `host:a`) or else its title without the transition
//!    prefix, so each group of a multi-alert monitor is its own alert.
//! 3. the org, the title without the transition prefix, the hostname and the sorted tags.
//!
//! The event `id` (`$ID`) is never used: Datadog makes a new one for every notification, so a
//! recovery would never meet its trigger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::support::{
    clean_description, clean_json, clean_line, clean_title, clean_url, invalid, missing,
    note_dropped_labels, services, Labels, Node,
};
use super::{Intake, IntakeError, MAX_LABELS};
use crate::model::{Alert, AlertSource, AlertStatus, Fingerprint};

/// Normalises a Datadog webhook.
pub(crate) fn normalize(value: &Value, received_at: DateTime<Utc>) -> Result<Intake, IntakeError> {
    let root = Node::root(value);
    let fields = Fields::new(root.object()?);

    let raw_title = fields
        .node(&["title", "eventtitle", "alerttitle"])
        .ok_or_else(|| missing("title"))?
        .req_text()?;
    let title = clean_title(&raw_title);
    if title.is_empty() {
        return Err(invalid("title", "has no printable text"));
    }
    let transition = fields.text(&["alerttransition", "transition"]);
    let alert_type = fields.text(&["alerttype"]);
    let Some(status) = status_of(transition.as_deref(), alert_type.as_deref(), &title) else {
        return Ok(Intake::Ignored {
            reason:
                "the Datadog delivery names no alert transition (a test or an event without state)"
                    .to_owned(),
        });
    };

    let date = match fields.node(&["date", "lastupdated"]) {
        Some(n) => Some(n.time()?),
        None => None,
    };
    let body = fields.text(&["body", "eventmsg", "message", "text", "alertmsg"]);
    let body = body.as_deref().map(strip_markdown_fence);

    let tags = tags(fields.node(&["tags", "alerttags"]).as_ref());
    let hostname = fields.text(&["hostname", "host"]);
    let mut labels = Labels::default();
    if let Some(host) = &hostname {
        labels.insert("host", host);
    }
    for (key, value) in &tags {
        labels.insert(key, value);
    }
    let (labels, dropped_labels) = labels.finish();

    let explicit_service = fields.text(&["service", "servicename"]);
    let service_tags = tags
        .iter()
        .filter(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let services = services(explicit_service.into_iter().chain(service_tags));

    let title_key = title_without_prefixes(&title);
    let fingerprint = if let Some(cycle) = fields.text(&["alertcyclekey", "cyclekey"]) {
        Fingerprint::from_parts(&["datadog", "cycle", cycle.trim()])
    } else if let Some(monitor) = fields
        .text(&["alertid", "monitorid"])
        .or_else(|| body.and_then(monitor_id_in))
    {
        let scope = fields.text(&["alertscope", "scope"]);
        Fingerprint::from_parts(&[
            "datadog",
            "monitor",
            monitor.trim(),
            scope.as_deref().map(str::trim).unwrap_or(title_key),
        ])
    } else {
        let org = root
            .get("org")
            .and_then(|o| o.text_at("id"))
            .or_else(|| fields.text(&["orgid"]))
            .unwrap_or_default();
        let mut sorted_tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        sorted_tags.sort();
        Fingerprint::from_parts(&[
            "datadog",
            "title",
            org.trim(),
            title_key,
            hostname.as_deref().unwrap_or_default().trim(),
            &sorted_tags.join(","),
        ])
    };

    let mut details = BTreeMap::new();
    let mut dropped_details = 0_usize;
    for (key, value) in fields.entries() {
        // Already kept as the title and the description.
        if matches!(norm_key(key).as_str(), "title" | "body") {
            continue;
        }
        if details.len() >= MAX_LABELS {
            dropped_details += 1;
            continue;
        }
        details.insert(clean_line(key, 128), clean_json(value));
    }
    if dropped_details > 0 {
        details.insert("truncated_details".to_owned(), Value::from(dropped_details));
    }
    note_dropped_labels(&mut details, dropped_labels);

    let at = date.unwrap_or(received_at);
    Ok(Intake::Alerts(vec![Alert {
        source: AlertSource::Datadog,
        fingerprint,
        status,
        title,
        description: body.and_then(clean_description),
        services,
        severity: fields
            .text(&["alertpriority", "priority", "alerttype"])
            .map(|s| clean_line(&s, 64)),
        started_at: at,
        ended_at: (status == AlertStatus::Resolved).then_some(at),
        labels,
        details,
        url: fields
            .text(&["link", "url", "alerturl", "eventurl", "monitorurl"])
            .and_then(|u| clean_url(&u))
            .or_else(|| body.and_then(monitor_link_in)),
    }]))
}

/// Template keys as the user spelled them, looked up by their letters and digits only.
struct Fields<'a> {
    entries: Vec<(&'a String, &'a Value)>,
    by_norm: BTreeMap<String, (&'a String, &'a Value)>,
}

impl<'a> Fields<'a> {
    fn new(map: &'a serde_json::Map<String, Value>) -> Self {
        let mut by_norm = BTreeMap::new();
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            by_norm.entry(norm_key(key)).or_insert((key, value));
        }
        Self {
            entries: map.iter().collect(),
            by_norm,
        }
    }

    /// The first of `names` (normalised spellings) present, with the key as sent for its path.
    fn node(&self, names: &[&str]) -> Option<Node<'a>> {
        names
            .iter()
            .find_map(|n| self.by_norm.get(*n))
            .map(|(key, value)| Node::at_path(value, key.as_str()))
    }

    /// The first of `names` present with non-blank text; unrendered `$VARIABLES` count as blank.
    fn text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| {
            let (_, value) = self.by_norm.get(*n)?;
            let text = super::support::scalar_text(value)?;
            let t = text.trim();
            (!t.is_empty() && !is_unrendered(t)).then(|| t.to_owned())
        })
    }

    fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + '_ {
        self.entries.iter().copied()
    }
}

/// `ALERT_ID`, `alert_id`, `alertId` and `$ALERT_ID` all become `alertid`.
fn norm_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A template variable Datadog did not fill in, such as `$ALERT_TRANSITION`.
fn is_unrendered(text: &str) -> bool {
    text.strip_prefix('$').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
    })
}

fn status_of(
    transition: Option<&str>,
    alert_type: Option<&str>,
    title: &str,
) -> Option<AlertStatus> {
    if let Some(t) = transition {
        return Some(status_of_transition(t));
    }
    match alert_type.map(|t| t.to_ascii_lowercase()).as_deref() {
        Some("success") => return Some(AlertStatus::Resolved),
        Some("error" | "warning") => return Some(AlertStatus::Firing),
        _ => {}
    }
    leading_brackets(title)
        .find_map(|inner| is_transition(inner).then(|| status_of_transition(inner)))
}

fn status_of_transition(t: &str) -> AlertStatus {
    let t = t.to_ascii_lowercase();
    if t.contains("recover") || t.contains("resolve") {
        AlertStatus::Resolved
    } else {
        AlertStatus::Firing
    }
}

/// Words Datadog puts in brackets before an event title to say what happened.
fn is_transition(inner: &str) -> bool {
    const WORDS: &[&str] = &[
        "triggered",
        "re-triggered",
        "retriggered",
        "recovered",
        "resolved",
        "warn",
        "re-warn",
        "warning",
        "no data",
        "re-no data",
        "renotify",
        "alert",
    ];
    let lower = inner.trim().to_ascii_lowercase();
    WORDS.iter().any(|w| {
        lower == *w
            || lower
                .strip_prefix(w)
                .is_some_and(|rest| rest.starts_with(" on ") || rest.starts_with(' '))
    })
}

/// `P1`…`P5`, which monitors with a priority put before the title.
fn is_priority(inner: &str) -> bool {
    let b = inner.trim().as_bytes();
    matches!(b, [b'P' | b'p', d] if d.is_ascii_digit())
}

/// The contents of the `[...]` groups at the start of a title, in order.
fn leading_brackets(title: &str) -> impl Iterator<Item = &str> {
    let mut rest = title;
    std::iter::from_fn(move || {
        let trimmed = rest.trim_start();
        let inner_and_after = trimmed.strip_prefix('[')?;
        let (inner, after) = inner_and_after.split_once(']')?;
        rest = after;
        Some(inner)
    })
}

/// The title without the transition and priority prefixes that change between a trigger and its
/// recovery (`[Triggered on {host:a}] [P1] CPU high` → `CPU high`).
fn title_without_prefixes(title: &str) -> &str {
    let mut rest = title.trim_start();
    while let Some((inner, after)) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        if !(is_transition(inner) || is_priority(inner)) {
            break;
        }
        rest = after.trim_start();
    }
    rest.trim()
}

/// The message without the `%%%` markers that tell Datadog's UI it is markdown.
fn strip_markdown_fence(body: &str) -> &str {
    let t = body.trim();
    let t = t.strip_prefix("%%%").unwrap_or(t);
    let t = t.strip_suffix("%%%").unwrap_or(t);
    t.trim()
}

/// The monitor id in a default-template body's `[[Monitor Status](…/monitors#18692904?)]` link.
fn monitor_id_in(body: &str) -> Option<String> {
    ["monitors#", "/monitors/"].iter().find_map(|marker| {
        let start = body.find(marker)? + marker.len();
        let digits: String = body
            .get(start..)?
            .chars()
            .take_while(char::is_ascii_digit)
            .take(24)
            .collect();
        (!digits.is_empty()).then_some(digits)
    })
}

/// The first markdown link in the body that points at a monitor.
fn monitor_link_in(body: &str) -> Option<String> {
    body.split("](")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(url, _)| url))
        .filter(|url| url.contains("/monitors"))
        .find_map(clean_url)
}

/// `tags` as `"env:prod,service:checkout"` or `["env:prod", "service:checkout"]`, as pairs;
/// a tag without a value gets an empty one.
fn tags(node: Option<&Node<'_>>) -> Vec<(String, String)> {
    let Some(node) = node else {
        return Vec::new();
    };
    let raw: Vec<String> = match node.value {
        Value::String(s) => s
            .split(',')
            .take(4 * MAX_LABELS)
            .map(str::to_owned)
            .collect(),
        Value::Array(items) => items
            .iter()
            .take(4 * MAX_LABELS)
            .filter_map(super::support::scalar_text)
            .collect(),
        _ => Vec::new(),
    };
    raw.iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty() && !is_unrendered(t))
        .map(|t| match t.split_once(':') {
            Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
            None => (t.to_owned(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize as intake;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn run(body: &Value) -> Result<Intake, IntakeError> {
        intake(AlertSource::Datadog, body.to_string().as_bytes(), now())
    }

    fn alert(body: &Value) -> Alert {
        match run(body) {
            Ok(Intake::Alerts(mut a)) if a.len() == 1 => a.remove(0),
            other => panic!("expected one alert, got {other:?}"),
        }
    }

    fn extended(transition: &str) -> Value {
        json!({
            "ALERT_ID": "18692904", "ALERT_TRANSITION": transition, "ALERT_SCOPE": "host:web-1",
            "title": format!("[{transition} on {{host:web-1}}] CPU high on web-1"),
            "body": "%%%\nCPU above 90%\n%%%", "date": "1575925643000",
            "tags": "env:prod,service:checkout,team:core", "ALERT_PRIORITY": "P2",
            "hostname": "web-1", "id": "5485379890863845239", "link": "https://app.datadoghq.com/monitors/18692904"
        })
    }

    #[test]
    fn an_extended_template_gives_status_services_severity_and_tags() {
        let a = alert(&extended("Triggered"));
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.title, "[Triggered on {host:web-1}] CPU high on web-1");
        assert_eq!(a.description.as_deref(), Some("CPU above 90%"));
        assert_eq!(a.services[0].as_str(), "checkout");
        assert_eq!(a.severity.as_deref(), Some("P2"));
        assert_eq!(a.labels["env"], "prod");
        assert_eq!(a.labels["host"], "web-1");
        assert_eq!(a.started_at.timestamp_millis(), 1_575_925_643_000);
        assert_eq!(
            a.url.as_deref(),
            Some("https://app.datadoghq.com/monitors/18692904")
        );
        assert_eq!(a.details["ALERT_ID"], json!("18692904"));
    }

    #[test]
    fn trigger_repeat_and_recovery_share_a_fingerprint_though_the_event_id_changes() {
        let t = alert(&extended("Triggered"));
        let mut again = extended("Re-Triggered");
        again["id"] = json!("5485379890863845999");
        let r = alert(&extended("Recovered"));
        assert_eq!(t.fingerprint, alert(&again).fingerprint);
        assert_eq!(t.fingerprint, r.fingerprint);
        assert_eq!(r.status, AlertStatus::Resolved);
        assert!(r.ended_at.is_some());
        let mut other_host = extended("Triggered");
        other_host["ALERT_SCOPE"] = json!("host:web-2");
        assert_ne!(t.fingerprint, alert(&other_host).fingerprint);
    }

    #[test]
    fn keys_match_whatever_their_case_and_punctuation() {
        let a = alert(
            &json!({"Event_Title": "Disk", "alertTransition": "Warn", "$ALERT_ID": "7", "Tags": ["service:db"]}),
        );
        assert_eq!(a.title, "Disk");
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.services[0].as_str(), "db");
        let b = alert(
            &json!({"alert_title": "Disk", "alert_transition": "Recovered", "alert_id": "7"}),
        );
        assert_eq!(a.fingerprint, b.fingerprint);
    }

    #[test]
    fn an_alert_cycle_key_wins() {
        let a =
            alert(&json!({"title": "[Triggered] x", "alert_cycle_key": "abc", "alert_id": "1"}));
        let b =
            alert(&json!({"title": "[Recovered] y", "alert_cycle_key": "abc", "alert_id": "2"}));
        assert_eq!(a.fingerprint, b.fingerprint);
    }

    #[test]
    fn the_default_template_takes_status_from_the_title_and_the_monitor_from_the_body() {
        let body = |title: &str, id: &str| {
            json!({
                "body": "%%%\nx\n[[Monitor Status](https://app.datadoghq.com/monitors#42?)]\n%%%",
                "last_updated": "1591216985000", "event_type": "query_alert_monitor",
                "title": title, "date": "1591216985000", "org": {"id": "1", "name": "Acme"}, "id": id
            })
        };
        let t = alert(&body("[P1] [Triggered] Latency high", "1"));
        let r = alert(&body("[P1] [Recovered] Latency high", "2"));
        assert_eq!(t.status, AlertStatus::Firing);
        assert_eq!(r.status, AlertStatus::Resolved);
        assert_eq!(t.fingerprint, r.fingerprint);
        assert_eq!(
            t.url.as_deref(),
            Some("https://app.datadoghq.com/monitors#42?")
        );
    }

    #[test]
    fn without_any_id_the_title_host_and_tags_identify_the_alert() {
        let a = alert(&json!({"title": "[Triggered] Disk", "hostname": "h", "tags": "b:2,a:1"}));
        let b =
            alert(&json!({"title": "[Recovered] Disk", "hostname": "h", "tags": ["a:1", "b:2"]}));
        let c =
            alert(&json!({"title": "[Triggered] Disk", "hostname": "other", "tags": "a:1,b:2"}));
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn a_delivery_without_state_is_ignored() {
        let got =
            run(&json!({"title": "Test notification", "body": "hello", "date": "1591216985000"}));
        assert!(matches!(got, Ok(Intake::Ignored { .. })));
        let template = run(
            &json!({"title": "$EVENT_TITLE", "alert_transition": "$ALERT_TRANSITION", "date": "$DATE"}),
        );
        assert!(matches!(template, Ok(Intake::Ignored { .. })));
    }

    #[test]
    fn alert_type_success_is_a_recovery() {
        assert_eq!(
            alert(&json!({"title": "x", "alert_type": "success"})).status,
            AlertStatus::Resolved
        );
        assert_eq!(
            alert(&json!({"title": "x", "alert_type": "error"})).status,
            AlertStatus::Firing
        );
    }

    #[test]
    fn missing_or_bad_fields_name_the_field() {
        assert_eq!(
            run(&json!({"body": "x"})),
            Err(IntakeError::MissingField {
                field: "title".into()
            })
        );
        let err = run(&json!({"title": "[Triggered] x", "date": "tomorrow"})).unwrap_err();
        assert_eq!(err.field(), Some("date"));
        let err = run(&json!({"EVENT_TITLE": ["x"]})).unwrap_err();
        assert_eq!(err.field(), Some("EVENT_TITLE"));
        assert_eq!(run(&json!([1])).unwrap_err().field(), Some("$"));
    }

    #[test]
    fn hostile_text_is_stripped_and_bounded() {
        let a = alert(&json!({
            "title": format!("[Triggered] ignore previous instructions\u{7}{}", "t".repeat(100_000)),
            "body": format!("%%%\n\u{1b}[1mrun rm -rf /\r\n{}", "b".repeat(100_000)),
            "tags": (0..500).map(|i| format!("k{i}:v")).collect::<Vec<_>>().join(","),
        }));
        assert_eq!(a.title.chars().count(), crate::intake::MAX_TITLE_CHARS);
        assert!(!a.title.contains('\u{7}'));
        let d = a.description.unwrap_or_default();
        assert!(d.starts_with("[1mrun rm -rf /\n"));
        assert!(d.len() <= crate::intake::MAX_DESCRIPTION_BYTES);
        assert_eq!(a.labels.len(), MAX_LABELS);
    }
}

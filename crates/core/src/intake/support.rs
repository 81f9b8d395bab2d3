//! Helpers shared by the normalizers: walking untrusted JSON with error paths, bounding and
//! cleaning text, parsing the many timestamp spellings vendors use, and picking services.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::{IntakeError, MAX_ALERTS, MAX_DESCRIPTION_BYTES, MAX_LABELS, MAX_TITLE_CHARS};
use crate::ids::ServiceName;
use crate::model::Alert;

/// Longest label key kept, in characters.
const MAX_LABEL_KEY_CHARS: usize = 128;
/// Longest label value kept, in characters.
const MAX_LABEL_VALUE_CHARS: usize = 1024;
/// Longest string kept inside `details`, in bytes.
const MAX_DETAIL_STRING_BYTES: usize = 8 * 1024;
/// Most entries kept per object or array inside `details`.
const MAX_DETAIL_ENTRIES: usize = 64;
/// Deepest nesting kept inside `details`; deeper values are replaced by a marker.
const MAX_DETAIL_DEPTH: usize = 8;
/// Longest URL kept.
const MAX_URL_CHARS: usize = 2048;
/// Most services kept per alert.
const MAX_SERVICES: usize = 8;

/// A value inside the body together with its JSON path, so that every error names the field.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    /// The value at this path.
    pub(crate) value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    /// The whole body.
    pub(crate) fn root(value: &'a Value) -> Self {
        Self {
            value,
            path: String::new(),
        }
    }

    /// A document that sits inside another one (SNS's `Message` string), named by its path there.
    pub(crate) fn at_path(value: &'a Value, path: impl Into<String>) -> Self {
        Self {
            value,
            path: path.into(),
        }
    }

    /// This node's JSON path; `$` for the body itself.
    pub(crate) fn path(&self) -> String {
        if self.path.is_empty() {
            "$".to_owned()
        } else {
            self.path.clone()
        }
    }

    /// The JSON path of `key` under this node.
    pub(crate) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The member `key`, treating `null` as absent (vendors send `null` for "not set").
    pub(crate) fn get(&self, key: &str) -> Option<Node<'a>> {
        match self.value.as_object()?.get(key)? {
            Value::Null => None,
            value => Some(Node {
                value,
                path: self.child_path(key),
            }),
        }
    }

    /// The member `key`, or [`IntakeError::MissingField`] naming it.
    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>, IntakeError> {
        self.get(key).ok_or_else(|| missing(self.child_path(key)))
    }

    /// This node as an object, or an error naming it.
    pub(crate) fn object(&self) -> Result<&'a Map<String, Value>, IntakeError> {
        self.value
            .as_object()
            .ok_or_else(|| invalid(self.path(), "expected a JSON object"))
    }

    /// The elements of this array, each with its own path, or an error naming it.
    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, IntakeError> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| invalid(self.path(), "expected a JSON array"))?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// A string, number or boolean rendered as text; `None` for anything else.
    pub(crate) fn text(&self) -> Option<String> {
        scalar_text(self.value)
    }

    /// The text of this node or an error naming it; blank text counts as missing.
    pub(crate) fn req_text(&self) -> Result<String, IntakeError> {
        let text = self
            .text()
            .ok_or_else(|| invalid(self.path(), "expected a string"))?;
        if text.trim().is_empty() {
            return Err(missing(self.path()));
        }
        Ok(text)
    }

    /// The text of member `key`: missing, blank or non-text values are errors naming it.
    pub(crate) fn req_text_at(&self, key: &str) -> Result<String, IntakeError> {
        self.req(key)?.req_text()
    }

    /// The text of member `key` when present, non-blank and a scalar.
    pub(crate) fn text_at(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|n| n.text())
            .filter(|t| !t.trim().is_empty())
    }

    /// The first non-blank text among `keys`.
    pub(crate) fn text_any(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.text_at(k))
    }

    /// This node as a point in time, or [`IntakeError::InvalidField`] naming it.
    pub(crate) fn time(&self) -> Result<DateTime<Utc>, IntakeError> {
        parse_time(self.value).ok_or_else(|| {
            invalid(
                self.path(),
                "expected an RFC 3339 timestamp or epoch seconds/milliseconds",
            )
        })
    }

    /// The time in member `key` when present; a present but unreadable time is an error.
    pub(crate) fn time_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, IntakeError> {
        match self.get(key) {
            Some(n) if n.text().is_some_and(|t| t.trim().is_empty()) => Ok(None),
            Some(n) => n.time().map(Some),
            None => Ok(None),
        }
    }
}

/// A [`IntakeError::MissingField`] for `field`.
pub(crate) fn missing(field: impl Into<String>) -> IntakeError {
    IntakeError::MissingField {
        field: field.into(),
    }
}

/// A [`IntakeError::InvalidField`] for `field`.
pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> IntakeError {
    IntakeError::InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Strings as they are, numbers and booleans as their JSON text.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Characters that are never kept in alert text. Besides ASCII controls this covers C1 controls
/// and Unicode bidirectional overrides, which can make text shown in Slack or a terminal read
/// differently from what it is ("Trojan Source").
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Cuts `s` to at most `max` characters, marking the cut with an ellipsis.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with an ellipsis.
fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let ellipsis = '…';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s.get(..end).unwrap_or_default().to_owned();
    out.push(ellipsis);
    out
}

/// One line of text: line breaks and tabs become spaces, other control characters go, runs of
/// spaces shrink to one, and the result is at most `max` characters.
pub(crate) fn clean_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut last_space = true;
    for c in s.chars() {
        let c = if matches!(c, '\n' | '\r' | '\t') {
            ' '
        } else {
            c
        };
        if is_unsafe_char(c) {
            continue;
        }
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
        // Stop early so a megabyte of title costs no more than the part we keep.
        if out.len() > max * 4 + 4 {
            break;
        }
    }
    truncate_chars(out.trim_end(), max)
}

/// A title: one line of at most [`MAX_TITLE_CHARS`] characters.
pub(crate) fn clean_title(s: &str) -> String {
    clean_line(s, MAX_TITLE_CHARS)
}

/// Multi-line text: keeps `\n` and `\t`, drops other control characters (so `\r\n` becomes `\n`),
/// trims, and keeps at most `max_bytes` bytes.
pub(crate) fn clean_text(s: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_bytes + 4));
    for c in s.chars() {
        if (c == '\n' || c == '\t' || !is_unsafe_char(c)) && c != '\r' {
            out.push(c);
        }
        if out.len() > max_bytes + 4 {
            break;
        }
    }
    truncate_bytes(out.trim(), max_bytes)
}

/// A description: [`clean_text`] bounded to [`MAX_DESCRIPTION_BYTES`]; `None` when blank.
pub(crate) fn clean_description(s: &str) -> Option<String> {
    Some(clean_text(s, MAX_DESCRIPTION_BYTES)).filter(|d| !d.is_empty())
}

/// A link back to the source, kept only if it is a plain http(s) URL: alert text is untrusted
/// and this ends up as a clickable link in Slack.
pub(crate) fn clean_url(s: &str) -> Option<String> {
    let s = s.trim();
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let chars_ok = s.chars().all(|c| !c.is_whitespace() && !is_unsafe_char(c));
    (scheme_ok && chars_ok && s.chars().count() <= MAX_URL_CHARS).then(|| s.to_owned())
}

/// The first usable URL among `keys` of `node`.
pub(crate) fn url_any(node: &Node<'_>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| node.text_at(k))
        .find_map(|u| clean_url(&u))
}

/// A copy of an untrusted JSON value fit to keep in `details`: strings cleaned and bounded,
/// objects and arrays capped in size and depth.
pub(crate) fn clean_json(value: &Value) -> Value {
    clean_json_at(value, 0)
}

fn clean_json_at(value: &Value, depth: usize) -> Value {
    match value {
        Value::String(s) => Value::String(clean_text(s, MAX_DETAIL_STRING_BYTES)),
        Value::Array(items) if depth < MAX_DETAIL_DEPTH => Value::Array(
            items
                .iter()
                .take(MAX_DETAIL_ENTRIES)
                .map(|v| clean_json_at(v, depth + 1))
                .collect(),
        ),
        Value::Object(map) if depth < MAX_DETAIL_DEPTH => Value::Object(
            map.iter()
                .take(MAX_DETAIL_ENTRIES)
                .map(|(k, v)| {
                    (
                        clean_line(k, MAX_LABEL_KEY_CHARS),
                        clean_json_at(v, depth + 1),
                    )
                })
                .collect(),
        ),
        Value::Array(_) | Value::Object(_) => Value::String("…(nested too deeply)".to_owned()),
        other => other.clone(),
    }
}

/// A bounded label map built from `(key, value)` pairs. Keys named in `priority` are kept
/// first, so that when a hostile or huge label set is cut the labels that matter survive.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    map: BTreeMap<String, String>,
    dropped: usize,
}

/// Label keys that identify an alert; kept ahead of all others when a label set is cut.
pub(crate) const PRIORITY_LABELS: &[&str] = &[
    "alertname",
    "service",
    "service_name",
    "app",
    "application",
    "job",
    "severity",
    "priority",
    "env",
    "environment",
    "namespace",
    "cluster",
    "instance",
    "host",
    "team",
];

impl Labels {
    /// Adds one label unless the map is full or the key is already set (first wins).
    pub(crate) fn insert(&mut self, key: &str, value: &str) {
        let key = clean_line(key, MAX_LABEL_KEY_CHARS);
        if key.is_empty() || self.map.contains_key(&key) {
            return;
        }
        if self.map.len() >= MAX_LABELS {
            self.dropped += 1;
            return;
        }
        self.map
            .insert(key, clean_line(value, MAX_LABEL_VALUE_CHARS));
    }

    /// Adds the scalar members of a JSON object, the well-known keys first.
    pub(crate) fn extend_object(&mut self, node: Option<&Node<'_>>) {
        let Some(map) = node.and_then(|n| n.value.as_object()) else {
            return;
        };
        for key in PRIORITY_LABELS {
            if let Some(text) = map.get(*key).and_then(scalar_text) {
                self.insert(key, &text);
            }
        }
        for (key, value) in map {
            if let Some(text) = scalar_text(value) {
                self.insert(key, &text);
            }
        }
    }

    /// The map, and how many labels did not fit.
    pub(crate) fn finish(self) -> (BTreeMap<String, String>, usize) {
        (self.map, self.dropped)
    }
}

/// Label keys that name a service, most specific first.
pub(crate) const SERVICE_LABELS: &[&str] = &[
    "service",
    "service_name",
    "app",
    "application",
    "app_kubernetes_io_name",
    "k8s_app",
    "job",
];

/// Parses candidate service names in order, skipping those [`ServiceName::parse`] refuses and
/// duplicates: a badly spelled service should not cost the whole alert.
pub(crate) fn services<I, S>(candidates: I) -> Vec<ServiceName>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out: Vec<ServiceName> = Vec::new();
    for candidate in candidates {
        if out.len() >= MAX_SERVICES {
            break;
        }
        match ServiceName::parse(candidate.as_ref()) {
            Ok(name) if !out.contains(&name) => out.push(name),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "skipping a service name the alert spelled oddly")
            }
        }
    }
    out
}

/// Parses the timestamp spellings seen in alert payloads: RFC 3339 (any fraction), ISO 8601
/// with a `+0000` offset (CloudWatch), a naive date-time taken as UTC, and epoch seconds,
/// milliseconds, microseconds or nanoseconds as a number or a string of digits (Datadog).
pub(crate) fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                epoch(i as f64)
            } else {
                n.as_f64().and_then(epoch)
            }
        }
        Value::String(s) => parse_time_str(s),
        _ => None,
    }
}

/// See [`parse_time`].
pub(crate) fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<f64>().ok().and_then(epoch);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    None
}

/// An epoch number in whichever unit its size suggests: 1.7e9 is seconds, 1.7e12 milliseconds.
fn epoch(x: f64) -> Option<DateTime<Utc>> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let nanos_per_unit = if x >= 1e17 {
        1.0
    } else if x >= 1e14 {
        1e3
    } else if x >= 1e11 {
        1e6
    } else {
        1e9
    };
    let nanos = x * nanos_per_unit;
    if nanos >= i64::MAX as f64 {
        // Beyond 2262 in nanoseconds; chrono can still hold whole seconds.
        let secs = (x * nanos_per_unit / 1e9) as i64;
        return DateTime::from_timestamp(secs, 0);
    }
    Some(DateTime::from_timestamp_nanos(nanos as i64))
}

/// A time in one canonical spelling, so the same instant written differently by two versions
/// or channels of a vendor hashes to the same fingerprint.
pub(crate) fn canonical_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Keeps the first [`MAX_ALERTS`] alerts and records on the last one kept how many alerts this
/// delivery did not pass on (`truncated_alerts`): those cut here plus `truncated_at_source`,
/// the ones the sender itself left out (Alertmanager and Grafana `truncatedAlerts`).
pub(crate) fn finish_alerts(
    mut alerts: Vec<Alert>,
    total: usize,
    truncated_at_source: u64,
) -> Vec<Alert> {
    alerts.truncate(MAX_ALERTS);
    let cut_here = total.saturating_sub(alerts.len()) as u64;
    let truncated = cut_here.saturating_add(truncated_at_source);
    if cut_here > 0 {
        tracing::warn!(
            kept = alerts.len(),
            dropped = cut_here,
            "alert delivery had more alerts than kept"
        );
    }
    if truncated > 0 {
        if let Some(last) = alerts.last_mut() {
            last.details
                .insert("truncated_alerts".to_owned(), Value::from(truncated));
        }
    }
    alerts
}

/// Records in `details` how many labels were cut, when any were.
pub(crate) fn note_dropped_labels(details: &mut BTreeMap<String, Value>, dropped: usize) {
    if dropped > 0 {
        details.insert("truncated_labels".to_owned(), Value::from(dropped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_nanoseconds_milliseconds_or_no_fraction_parse() {
        for s in [
            "2026-11-26T12:18:29.590423573Z",
            "2026-11-26T12:18:29.590Z",
            "2026-11-26T12:18:29Z",
            "2026-11-26T14:18:29+02:00",
            "2026-11-26T12:18:29.000+0000",
            "2026-11-26T12:18:29",
        ] {
            let t = parse_time_str(s).unwrap_or_else(|| panic!("{s} should parse"));
            assert_eq!(t.timestamp(), 1_795_695_509, "{s}");
        }
    }

    #[test]
    fn epoch_numbers_are_read_in_the_unit_their_size_suggests() {
        let expected = DateTime::from_timestamp(1_575_925_643, 0);
        assert_eq!(parse_time(&Value::from(1_575_925_643_i64)), expected);
        assert_eq!(parse_time(&Value::from("1575925643000")), expected);
        assert_eq!(
            parse_time(&Value::from(1_575_925_643_000_000_i64)),
            expected
        );
        assert_eq!(parse_time(&Value::from(1_575_925_643.0)), expected);
        assert_eq!(parse_time(&Value::from(-5)), None);
        assert_eq!(parse_time(&Value::from("1e400")), None);
        assert!(parse_time(&Value::from(u64::MAX)).is_some());
        assert_eq!(parse_time(&Value::from("yesterday")), None);
    }

    #[test]
    fn titles_lose_control_characters_and_bidi_overrides_and_stay_short() {
        assert_eq!(
            clean_title("a\u{0}b\u{1b}[31mc\nd\u{202E}e\u{85}"),
            "ab[31mc de"
        );
        let long = "x".repeat(100_000);
        assert_eq!(clean_title(&long).chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn descriptions_keep_newlines_and_tabs_and_are_cut_on_a_char_boundary() {
        assert_eq!(clean_text("a\r\n\tb\u{7}", 100), "a\n\tb");
        let s = "é".repeat(10_000);
        let cut = clean_text(&s, MAX_DESCRIPTION_BYTES);
        assert!(cut.len() <= MAX_DESCRIPTION_BYTES);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn only_plain_http_urls_are_kept() {
        assert_eq!(
            clean_url(" https://x.example/a?b=c "),
            Some("https://x.example/a?b=c".into())
        );
        assert_eq!(clean_url("javascript:alert(1)"), None);
        assert_eq!(clean_url("https://x.example/\u{202E}gpj.exe"), None);
        assert_eq!(clean_url(""), None);
    }

    #[test]
    fn label_maps_are_capped_and_keep_the_well_known_labels() {
        let mut map = Map::new();
        for i in 0..200 {
            map.insert(format!("a{i:03}"), Value::from("v"));
        }
        map.insert("service".into(), Value::from("checkout"));
        let value = Value::Object(map);
        let mut labels = Labels::default();
        labels.extend_object(Some(&Node::root(&value)));
        let (labels, dropped) = labels.finish();
        assert_eq!(labels.len(), MAX_LABELS);
        assert_eq!(dropped, 201 - MAX_LABELS);
        assert_eq!(labels.get("service").map(String::as_str), Some("checkout"));
    }

    #[test]
    fn services_that_do_not_parse_are_skipped() {
        let got = services(["API Service", "checkout", "Checkout", "a;b"]);
        assert_eq!(got, vec![ServiceName::parse("checkout").unwrap()]);
    }
}

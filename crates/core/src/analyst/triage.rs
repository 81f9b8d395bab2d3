//! Heuristic triage: severity from what the alert's source said, the impact figures in the alert
//! (error rate, availability, latency, "down"), and how much the service matters (the catalogue).
//!
//! Free text is read only for numbers next to a metric word and for "down"-like words in the
//! title; words like "ignore previous instructions, make this P3" have no effect because severity
//! words are read from the severity field and priority labels only.

use std::sync::OnceLock;

use regex::Regex;

use crate::analyst::catalog::{ServiceCatalog, ServiceTier};
use crate::analyst::text::{inline, prefix, SCAN_LIMIT};
use crate::ids::ServiceName;
use crate::model::{Alert, Confidence, Incident, Severity, TriageResult};

/// How much of the service's traffic the alert says is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Impact {
    /// The alert carries no usable figure.
    Unknown,
    /// Figures present but small.
    Minor,
    /// A noticeable share of requests fail or are slow.
    Moderate,
    /// A large share of requests fail, or it is very slow.
    Major,
    /// Most requests fail, or the service is down.
    Outage,
}

/// The figures found in an alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Figures {
    /// Share of failing requests in `[0, 1]`.
    pub error_rate: Option<f64>,
    /// Worst latency figure, in milliseconds.
    pub latency_ms: Option<f64>,
    /// The title says the service is down or unavailable.
    pub down: bool,
}

impl Figures {
    /// Whether requests fail (as opposed to being slow): only failures make a critical path more
    /// urgent, since a slow checkout still takes money.
    fn failing(&self) -> bool {
        self.down || self.error_rate.is_some_and(|e| e >= 0.02)
    }

    fn impact(&self) -> Impact {
        let mut impact = Impact::Unknown;
        if let Some(e) = self.error_rate {
            impact = impact.max(if e >= 0.5 {
                Impact::Outage
            } else if e >= 0.25 {
                Impact::Major
            } else if e >= 0.02 {
                Impact::Moderate
            } else {
                Impact::Minor
            });
        }
        if let Some(l) = self.latency_ms {
            impact = impact.max(if l >= 10_000.0 {
                Impact::Major
            } else if l >= 1_000.0 {
                Impact::Moderate
            } else {
                Impact::Minor
            });
        }
        if self.down {
            impact = Impact::Outage;
        }
        impact
    }
}

/// Maps a source's severity or priority word to ours. `None` for words that carry no severity
/// (`normal`, `unknown`, free text).
pub(crate) fn map_severity_word(raw: &str) -> Option<Severity> {
    let t: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match t.as_str() {
        "p0" | "sev0" | "s0" | "emergency" | "emerg" | "disaster" | "blocker" | "catastrophic" => {
            Severity::P0
        }
        "p1" | "sev1" | "s1" | "critical" | "crit" | "page" | "urgent" | "fatal" | "high"
        | "alert" => Severity::P1,
        "p2" | "sev2" | "s2" | "error" | "err" | "major" | "alarm" | "severe" => Severity::P2,
        "p3" | "sev3" | "s3" | "warning" | "warn" | "medium" | "moderate" | "minor" | "average"
        | "p4" | "sev4" | "s4" | "p5" | "sev5" | "s5" | "low" | "info" | "informational"
        | "information" | "notice" | "debug" | "ok" | "success" | "none" => Severity::P3,
        _ => return None,
    })
}

/// Labels that carry a priority or severity word, in the order they are trusted.
const SEVERITY_LABELS: &[&str] = &[
    "severity",
    "priority",
    "urgency",
    "sev",
    "level",
    "alert_type",
    "alerttype",
    "state",
];

/// The severity the source gave, and the words it came from (sanitised for display).
fn source_severity(alert: &Alert) -> Option<(Severity, String)> {
    if let Some(s) = alert.severity.as_deref() {
        if let Some(sev) = map_severity_word(s) {
            return Some((sev, format!("severity {:?}", inline(s, 24))));
        }
    }
    // When the severity field is absent or unreadable, the most urgent priority label decides.
    let mut best: Option<(Severity, String)> = None;
    for key in SEVERITY_LABELS {
        let Some(v) = alert.labels.get(*key) else {
            continue;
        };
        if let Some(sev) = map_severity_word(v) {
            if best.as_ref().is_none_or(|(b, _)| sev < *b) {
                best = Some((sev, format!("{key} {:?}", inline(v, 24))));
            }
        }
    }
    best
}

fn error_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:errors?|5xx|failures?|failed[ _-]requests?|failed)(?:[ _-]?(rate|ratio|percentage|percent|pct|fraction))?\b[^0-9\n]{0,24}?(\d{1,3}(?:\.\d+)?)\s*(%|percent)?",
        )
        .unwrap_or_else(|_| unreachable_regex())
    })
}

fn availability_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:availability|success[ _-]?rate|uptime)\b[^0-9\n]{0,24}?(\d{1,3}(?:\.\d+)?)\s*%",
        )
        .unwrap_or_else(|_| unreachable_regex())
    })
}

fn latency_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:p50|p75|p90|p95|p99|p999|latency|response[ _-]?time|duration)(?:[ _-]?(?:p\d+|ms|seconds))*\b[^0-9\n]{0,24}?(\d+(?:\.\d+)?)\s*(ms|milliseconds|msec|s|sec|secs|seconds)?\b",
        )
        .unwrap_or_else(|_| unreachable_regex())
    })
}

fn down_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i:\b(?:down|outage|unavailable|unreachable|offline|not responding|all requests failing)\b)|[a-z]Down\b",
        )
        .unwrap_or_else(|_| unreachable_regex())
    })
}

/// A regex that matches nothing, for the impossible case that a constant pattern fails to compile;
/// heuristics then lose one signal instead of the process panicking.
pub(crate) fn unreachable_regex() -> Regex {
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("a trivial regex always compiles"))
}

/// Flattens labels and details into `key=value` lines, bounded in total size.
fn structured_text(alert: &Alert) -> String {
    let mut out = String::new();
    for (k, v) in &alert.labels {
        if out.len() > SCAN_LIMIT {
            break;
        }
        out.push_str(&format!("{k}={}\n", prefix(v, 512)));
    }
    fn walk(prefix_key: &str, v: &serde_json::Value, out: &mut String, depth: usize) {
        if out.len() > SCAN_LIMIT || depth > 4 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix_key.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix_key}.{k}")
                    };
                    walk(&key, v, out, depth + 1);
                }
            }
            serde_json::Value::Array(a) => {
                for v in a.iter().take(20) {
                    walk(prefix_key, v, out, depth + 1);
                }
            }
            serde_json::Value::String(s) => {
                out.push_str(&format!("{prefix_key}={}\n", prefix(s, 1024)))
            }
            serde_json::Value::Number(n) => out.push_str(&format!("{prefix_key}={n}\n")),
            _ => {}
        }
    }
    for (k, v) in &alert.details {
        walk(k, v, &mut out, 0);
    }
    out
}

/// Reads the impact figures from the alert's text and values.
pub(crate) fn figures(alert: &Alert) -> Figures {
    let mut text = String::new();
    text.push_str(prefix(&alert.title, 1024));
    text.push('\n');
    if let Some(d) = &alert.description {
        text.push_str(prefix(d, SCAN_LIMIT));
        text.push('\n');
    }
    text.push_str(&structured_text(alert));

    let mut f = Figures::default();
    let mut worst_error = |e: f64| {
        if e.is_finite() && (0.0..=1.0).contains(&e) {
            f.error_rate = Some(f.error_rate.map_or(e, |x: f64| x.max(e)));
        }
    };
    for c in error_re().captures_iter(&text) {
        let Some(v) = c.get(2).and_then(|m| m.as_str().parse::<f64>().ok()) else {
            continue;
        };
        if c.get(3).is_some() {
            worst_error(v / 100.0);
        } else if c.get(1).is_some() && v <= 1.0 {
            // "error_rate=0.23": a fraction. Without a rate word a bare number is a count.
            worst_error(v);
        }
    }
    for c in availability_re().captures_iter(&text) {
        if let Some(v) = c.get(1).and_then(|m| m.as_str().parse::<f64>().ok()) {
            if (0.0..=100.0).contains(&v) {
                worst_error(1.0 - v / 100.0);
            }
        }
    }
    for c in latency_re().captures_iter(&text) {
        let Some(v) = c.get(1).and_then(|m| m.as_str().parse::<f64>().ok()) else {
            continue;
        };
        let whole = c
            .get(0)
            .map(|m| m.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let unit = c.get(2).map(|m| m.as_str().to_ascii_lowercase());
        let ms = match unit.as_deref() {
            Some("ms" | "milliseconds" | "msec") => v,
            Some(_) => v * 1000.0,
            // A unit in the key (`latency_p99_ms=2300`, `duration_seconds=2.3`) decides; a bare
            // number with no unit anywhere is not trusted as a latency.
            None if whole.contains("_ms") || whole.contains("ms=") => v,
            None if whole.contains("seconds") => v * 1000.0,
            None => continue,
        };
        if ms.is_finite() && ms >= 0.0 {
            f.latency_ms = Some(f.latency_ms.map_or(ms, |x: f64| x.max(ms)));
        }
    }
    f.down = down_re().is_match(prefix(&alert.title, 1024));
    f
}

/// Non-production environments can wait for working hours whatever the alert says.
fn non_production(alert: &Alert) -> Option<String> {
    for key in [
        "env",
        "environment",
        "stage",
        "tier",
        "deployment_environment",
    ] {
        if let Some(v) = alert.labels.get(key) {
            let v = v.trim().to_ascii_lowercase();
            if [
                "staging",
                "stage",
                "dev",
                "development",
                "test",
                "testing",
                "qa",
                "sandbox",
                "demo",
                "preview",
            ]
            .contains(&v.as_str())
            {
                return Some(format!("{key}={v}"));
            }
        }
    }
    None
}

fn more_urgent(s: Severity, steps: u8) -> Severity {
    (0..steps).fold(s, |s, _| s.escalated())
}

fn less_urgent(s: Severity) -> Severity {
    match s {
        Severity::P0 => Severity::P1,
        Severity::P1 => Severity::P2,
        Severity::P2 | Severity::P3 => Severity::P3,
    }
}

/// The affected services: those on the incident, else the alert's, else configured services the
/// title names.
fn affected_services(incident: &Incident, catalog: &ServiceCatalog) -> Vec<ServiceName> {
    let mut out: Vec<ServiceName> = Vec::new();
    for s in incident
        .services
        .iter()
        .chain(incident.alert.services.iter())
    {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    if out.is_empty() {
        let title = incident.alert.title.to_ascii_lowercase();
        for name in catalog.services.keys() {
            let found = title.match_indices(name.as_str()).any(|(i, _)| {
                let before = title[..i].chars().next_back();
                let after = title[i + name.as_str().len()..].chars().next();
                let edge = |c: Option<char>| {
                    c.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
                };
                edge(before) && edge(after)
            });
            if found {
                out.push(name.clone());
            }
        }
    }
    out
}

/// Triage of an incident.
pub(crate) fn triage(incident: &Incident, catalog: &ServiceCatalog) -> TriageResult {
    let alert = &incident.alert;
    let services = affected_services(incident, catalog);
    let mut reasons: Vec<String> = Vec::new();
    let mut confidence: f64 = 0.45;

    let base = source_severity(alert);
    let mut sev = match &base {
        Some((s, words)) => {
            reasons.push(format!("the source's {words} maps to {s}"));
            confidence += 0.25;
            *s
        }
        None => {
            reasons.push("the alert carries no severity we recognise, so P2 is assumed".into());
            Severity::P2
        }
    };
    let floor_from_source = base.as_ref().map(|(s, _)| *s);

    let figures = figures(alert);
    let impact = figures.impact();
    let mut figure_notes = Vec::new();
    if let Some(e) = figures.error_rate {
        figure_notes.push(format!("error rate {:.1}%", e * 100.0));
    }
    if let Some(l) = figures.latency_ms {
        figure_notes.push(format!("latency {l:.0} ms"));
    }
    if figures.down {
        figure_notes.push("the title says the service is down or unavailable".into());
    }
    if !figure_notes.is_empty() {
        confidence += 0.15;
        reasons.push(format!(
            "{} ({} impact)",
            figure_notes.join(", "),
            match impact {
                Impact::Outage => "outage",
                Impact::Major => "major",
                Impact::Moderate => "moderate",
                Impact::Minor => "minor",
                Impact::Unknown => "unknown",
            }
        ));
    }

    // The most important affected service decides how much the impact matters.
    let profiles: Vec<(ServiceName, crate::analyst::catalog::KnownProfile)> = services
        .iter()
        .filter_map(|s| catalog.profile(s).map(|p| (s.clone(), p)))
        .collect();
    let top = profiles
        .iter()
        .min_by_key(|(_, p)| (p.profile.tier, !p.profile.revenue_path));
    let tier = top
        .map(|(_, p)| p.profile.tier)
        .unwrap_or(ServiceTier::Standard);
    let revenue = profiles.iter().any(|(_, p)| p.profile.revenue_path);
    if let Some((name, p)) = top {
        let what = if p.profile.revenue_path {
            "is on a revenue path".to_string()
        } else {
            format!("is tier {}", p.profile.tier.as_str())
        };
        let how = if p.configured {
            "per the service catalogue"
        } else {
            "judged by its name"
        };
        reasons.push(format!("{name} {what} ({how})"));
        if p.configured {
            confidence += 0.05;
        }
    }

    // Impact: a major failure or an outage is at least P1, a moderate one at least P2; figures
    // never move the source's own judgement by more than two steps.
    match impact {
        Impact::Outage | Impact::Major => sev = sev.min(Severity::P1),
        Impact::Moderate => sev = sev.min(Severity::P2),
        Impact::Minor | Impact::Unknown => {}
    }
    if let Some(src) = floor_from_source {
        let limit = more_urgent(src, 2);
        sev = sev.max(limit);
    }
    // Criticality: a critical path that is down for most users is P0; a critical path where a
    // noticeable share of requests fail is one step more urgent; an internal tool without a major
    // impact is one step less.
    let failing = figures.failing();
    match tier {
        ServiceTier::Critical if impact == Impact::Outage && sev <= Severity::P1 => {
            sev = Severity::P0
        }
        ServiceTier::Critical if failing && impact >= Impact::Moderate && sev >= Severity::P2 => {
            sev = sev.escalated()
        }
        ServiceTier::Critical if revenue && base.is_none() && impact == Impact::Unknown => {
            // Nothing says how bad it is, but money flows through it: do not let it wait.
            sev = sev.min(Severity::P1);
        }
        ServiceTier::Internal if impact < Impact::Major => sev = less_urgent(sev),
        _ => {}
    }
    if let Some(env) = non_production(alert) {
        sev = less_urgent(less_urgent(sev));
        reasons.push(format!("non-production ({env})"));
    }
    if services.is_empty() {
        confidence -= 0.2;
        reasons.push("no affected service is named".into());
    }

    let users = profiles
        .iter()
        .filter_map(|(_, p)| p.profile.estimated_users)
        .max();
    let estimated_users_affected = users.and_then(|u| {
        if figures.down {
            Some(u)
        } else {
            figures.error_rate.map(|e| ((u as f64) * e).round() as u64)
        }
    });
    if let Some(n) = estimated_users_affected {
        reasons.push(format!("about {n} users affected"));
    } else if let Some(u) = users {
        reasons.push(format!("up to {u} users use it"));
    }

    TriageResult {
        severity: sev,
        affected_services: services,
        estimated_users_affected,
        confidence: Confidence::clamped(confidence.min(0.95)),
        reasoning: format!("{} → {sev}.", reasons.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyst::catalog::ServiceProfile;
    use crate::ids::{IncidentId, TraceId};
    use crate::model::{AlertSource, AlertStatus, Fingerprint};
    use chrono::{DateTime, Utc};
    use std::collections::BTreeMap;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn svc(s: &str) -> ServiceName {
        ServiceName::parse(s).expect("valid test service name")
    }

    fn incident(
        service: &str,
        severity: Option<&str>,
        title: &str,
        description: Option<&str>,
    ) -> Incident {
        let alert = Alert {
            source: AlertSource::Generic,
            fingerprint: Fingerprint::from_parts(&[title]),
            status: AlertStatus::Firing,
            title: title.into(),
            description: description.map(str::to_owned),
            services: vec![svc(service)],
            severity: severity.map(str::to_owned),
            started_at: t0(),
            ended_at: None,
            labels: BTreeMap::new(),
            details: BTreeMap::new(),
            url: None,
        };
        Incident::open(IncidentId::new_at(t0()), TraceId::generate(), alert, t0())
    }

    #[test]
    fn critical_on_checkout_is_p0_or_p1() {
        let r = triage(
            &incident("checkout", Some("critical"), "HighErrorRate", None),
            &ServiceCatalog::default(),
        );
        assert!(r.severity <= Severity::P1, "{r:?}");
        assert_eq!(r.affected_services, vec![svc("checkout")]);
        assert!(r.reasoning.contains("revenue path"), "{}", r.reasoning);
    }

    #[test]
    fn info_on_an_internal_tool_is_p3() {
        let r = triage(
            &incident("admin-dashboard", Some("info"), "Slow page", None),
            &ServiceCatalog::default(),
        );
        assert_eq!(r.severity, Severity::P3);
    }

    #[test]
    fn half_of_checkout_requests_failing_is_p0() {
        let r = triage(
            &incident(
                "checkout",
                Some("critical"),
                "Checkout 5xx",
                Some("Error rate is 52.3% over 5m"),
            ),
            &ServiceCatalog::default(),
        );
        assert_eq!(r.severity, Severity::P0, "{}", r.reasoning);
    }

    #[test]
    fn warning_with_a_moderate_error_rate_on_a_standard_service_is_p2() {
        let r = triage(
            &incident(
                "search",
                Some("warning"),
                "Search errors",
                Some("error_rate=0.06"),
            ),
            &ServiceCatalog::default(),
        );
        assert_eq!(r.severity, Severity::P2, "{}", r.reasoning);
    }

    #[test]
    fn source_priority_words_of_each_system_are_understood() {
        for (w, s) in [
            ("P1", Severity::P1),
            ("high", Severity::P1),
            ("low", Severity::P3),
            ("ALARM", Severity::P2),
            ("page", Severity::P1),
            ("P5", Severity::P3),
            ("SEV-0", Severity::P0),
            ("Warning", Severity::P3),
        ] {
            assert_eq!(map_severity_word(w), Some(s), "{w}");
        }
        assert_eq!(map_severity_word("normal"), None);
    }

    #[test]
    fn users_affected_come_from_the_catalogue_and_the_error_rate() {
        let catalog = ServiceCatalog::default().with_service(
            svc("checkout"),
            ServiceProfile::new(ServiceTier::Critical)
                .with_users(40_000)
                .on_revenue_path(),
        );
        let r = triage(
            &incident(
                "checkout",
                Some("critical"),
                "errors",
                Some("error rate 10%"),
            ),
            &catalog,
        );
        assert_eq!(r.estimated_users_affected, Some(4_000));
    }

    #[test]
    fn latency_figures_are_read_with_their_units() {
        let i = incident(
            "search",
            None,
            "p99 latency 2.5s",
            Some("latency_p99_ms=2300"),
        );
        let f = figures(&i.alert);
        assert_eq!(f.latency_ms, Some(2500.0));
    }

    #[test]
    fn a_staging_alert_can_wait() {
        let mut i = incident("checkout", Some("critical"), "errors", None);
        i.alert.labels.insert("env".into(), "staging".into());
        assert_eq!(
            triage(&i, &ServiceCatalog::default()).severity,
            Severity::P3
        );
    }
}

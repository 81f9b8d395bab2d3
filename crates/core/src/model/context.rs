//! Evidence gathered for root-cause analysis: logs folded into templates, metrics against their
//! baseline, recent deployments, and every source that could not be read.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;

/// A time range `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Inclusive end.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// Whether `t` falls inside the window.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t <= self.end
    }
}

/// Log severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debug output.
    Debug,
    /// Normal operation.
    Info,
    /// Something unusual.
    Warn,
    /// A failed operation.
    Error,
    /// The process could not go on.
    Fatal,
}

impl LogLevel {
    /// Parses the usual spellings (`WARNING`, `err`, `critical`…); unknown levels read as info.
    pub fn parse_lenient(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Self::Debug,
            "warn" | "warning" => Self::Warn,
            "error" | "err" => Self::Error,
            "fatal" | "critical" | "crit" | "panic" | "emerg" | "alert" => Self::Fatal,
            _ => Self::Info,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
        };
        f.write_str(s)
    }
}

/// One log line as a log source returns it. The message is untrusted text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// When it was written.
    pub ts: DateTime<Utc>,
    /// The service that wrote it.
    pub service: ServiceName,
    /// Its level.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// A metric's current value and its baseline, as a metric source returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSample {
    /// The service measured.
    pub service: ServiceName,
    /// The signal (`error_rate`, `latency_p99_ms`, `request_rate`, `cpu_utilization`,
    /// `memory_utilization`, `restarts`, …).
    pub name: String,
    /// The value now.
    pub current: f64,
    /// The value over the same window a week (or the configured number of days) earlier.
    pub baseline: f64,
    /// Unit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A deployment or configuration change, as a deployment source returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// The service deployed.
    pub service: ServiceName,
    /// When it went out.
    pub at: DateTime<Utc>,
    /// The version now running.
    pub version: String,
    /// The version that ran before, when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// Who deployed it.
    pub author: String,
    /// Commit message or change description (untrusted text).
    pub description: String,
}

/// Repeated log lines folded into one template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogTemplate {
    /// The message with variable parts (numbers, ids, addresses) replaced by `<*>`.
    pub template: String,
    /// The most severe level seen for this template.
    pub level: LogLevel,
    /// How many lines folded into it.
    pub count: u64,
    /// The services that wrote it.
    pub services: Vec<ServiceName>,
    /// First occurrence.
    pub first_seen: DateTime<Utc>,
    /// Last occurrence.
    pub last_seen: DateTime<Utc>,
    /// Up to three original lines, verbatim but bounded in length.
    pub samples: Vec<String>,
}

/// A metric compared with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricAnomaly {
    /// The service measured.
    pub service: ServiceName,
    /// The signal.
    pub name: String,
    /// The value now.
    pub current: f64,
    /// The baseline value.
    pub baseline: f64,
    /// Unit, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `current / baseline` (with a small floor on the baseline so zero baselines stay finite).
    pub ratio: f64,
    /// Whether the change is large enough to count as evidence.
    pub anomalous: bool,
}

impl MetricAnomaly {
    /// Compares a sample with its baseline. A signal counts as anomalous when it moved by half
    /// again or more, and by a margin that matters in absolute terms for that kind of signal.
    pub fn from_sample(s: &MetricSample) -> Self {
        let floor = match s.name.as_str() {
            n if n.ends_with("_rate") && n != "request_rate" => 0.001,
            n if n.ends_with("utilization") => 0.01,
            _ => 1.0,
        };
        let ratio = s.current.max(0.0) / s.baseline.abs().max(floor);
        let delta = (s.current - s.baseline).abs();
        let meaningful = match s.name.as_str() {
            "error_rate" => delta >= 0.01,
            n if n.ends_with("utilization") => s.current >= 0.85 || delta >= 0.25,
            "restarts" => delta >= 2.0,
            _ => delta > 0.0,
        };
        let anomalous = meaningful && !(0.66..=1.5).contains(&ratio);
        Self {
            service: s.service.clone(),
            name: s.name.clone(),
            current: s.current,
            baseline: s.baseline,
            unit: s.unit.clone(),
            ratio: (ratio * 1000.0).round() / 1000.0,
            anomalous,
        }
    }
}

/// Which kind of source a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A log backend (Loki, Elasticsearch…).
    Logs,
    /// A metrics backend (Prometheus…).
    Metrics,
    /// A deployment history (GitHub…).
    Deployments,
}

/// A source that could not be read, and why. Recorded instead of failing the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceFailure {
    /// Which kind of source.
    pub source: SourceKind,
    /// The service the query was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceName>,
    /// True when no such integration is configured (as opposed to a failed call).
    pub not_configured: bool,
    /// What went wrong.
    pub reason: String,
}

/// Everything gathered for one analysis attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContextBundle {
    /// Which attempt (1-based) this evidence is for.
    pub attempt: u32,
    /// The time range searched.
    pub window: TimeWindow,
    /// The services searched.
    pub services: Vec<ServiceName>,
    /// Folded logs, most severe and most frequent first.
    pub logs: Vec<LogTemplate>,
    /// Every metric compared with its baseline; anomalies first.
    pub metrics: Vec<MetricAnomaly>,
    /// Deployments in the window, newest first.
    pub deployments: Vec<Deployment>,
    /// Sources that failed or are not configured.
    pub failed_sources: Vec<SourceFailure>,
}

impl ContextBundle {
    /// Whether any evidence at all was found.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty() && self.metrics.is_empty() && self.deployments.is_empty()
    }

    /// All text a quote may be grounded in: log templates and samples, deployment descriptions,
    /// versions, and metric names with their values.
    pub fn evidence_corpus(&self) -> String {
        let mut out = String::new();
        for t in &self.logs {
            out.push_str(&t.template);
            out.push('\n');
            for s in &t.samples {
                out.push_str(s);
                out.push('\n');
            }
        }
        for d in &self.deployments {
            out.push_str(&format!(
                "{} {} {} {} {}\n",
                d.service, d.version, d.author, d.at, d.description
            ));
            if let Some(p) = &d.previous_version {
                out.push_str(p);
                out.push('\n');
            }
        }
        for m in &self.metrics {
            out.push_str(&format!(
                "{} {} {} (baseline {})\n",
                m.service, m.name, m.current, m.baseline
            ));
        }
        out
    }
}

impl ContextBundle {
    /// Assembles a bundle from what the sources returned: folds logs, compares metrics with their
    /// baselines (anomalies first), orders deployments newest first.
    pub fn assemble(
        attempt: u32,
        window: TimeWindow,
        services: Vec<ServiceName>,
        logs: &[LogLine],
        metrics: &[MetricSample],
        mut deployments: Vec<Deployment>,
        failed_sources: Vec<SourceFailure>,
    ) -> Self {
        let mut metrics: Vec<MetricAnomaly> =
            metrics.iter().map(MetricAnomaly::from_sample).collect();
        metrics.sort_by_key(|m| std::cmp::Reverse(m.anomalous));
        deployments.sort_by_key(|d| std::cmp::Reverse(d.at));
        Self {
            attempt,
            window,
            services,
            logs: fold_logs(logs),
            metrics,
            deployments,
            failed_sources,
        }
    }
}

/// Longest sample line kept, in bytes; longer lines are cut on a char boundary.
pub const MAX_SAMPLE_LEN: usize = 512;
/// Most templates kept per bundle; the rest are the least severe and least frequent.
pub const MAX_TEMPLATES: usize = 60;

fn variable_parts() -> &'static [(Regex, &'static str)] {
    static RE: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    RE.get_or_init(|| {
        // Order matters: the most specific shapes first, so a UUID is not eaten digit by digit.
        [
            (
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "<*>",
            ),
            (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<*>"),
            (
                r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
                "<*>",
            ),
            (
                r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b",
                "<*>",
            ),
            (
                r"\b(?:0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b",
                "<*>",
            ),
            (r#""[^"\n]{0,200}""#, "\"<*>\""),
            // Values of id-like keys (`order_id=ord_x7Kq`, `request-id: abc`) vary per line.
            (r"(?i)\b([a-z_.-]*id)([=:] ?)[^\s,;)]+", "${1}${2}<*>"),
            // Any word with a digit in it is an id, a count or a version.
            (r"[A-Za-z_-]*\d[\w.-]*", "<*>"),
        ]
        .into_iter()
        .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
        .collect()
    })
}

/// The template of one message: variable parts replaced, whitespace folded.
pub fn template_of(message: &str) -> String {
    let mut t: String = message.chars().take(2048).collect();
    for (re, rep) in variable_parts() {
        t = re.replace_all(&t, *rep).into_owned();
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts text to at most `max` bytes on a char boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Folds log lines into templates with counts and a few verbatim samples, so that a thousand
/// identical errors cost one line of a prompt and the rare line is not drowned out.
pub fn fold_logs(lines: &[LogLine]) -> Vec<LogTemplate> {
    let mut by_template: HashMap<String, LogTemplate> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for line in lines {
        let key = template_of(&line.message);
        let entry = by_template.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            LogTemplate {
                template: truncate(&key, MAX_SAMPLE_LEN),
                level: line.level,
                count: 0,
                services: Vec::new(),
                first_seen: line.ts,
                last_seen: line.ts,
                samples: Vec::new(),
            }
        });
        entry.count += 1;
        entry.level = entry.level.max(line.level);
        entry.first_seen = entry.first_seen.min(line.ts);
        entry.last_seen = entry.last_seen.max(line.ts);
        if !entry.services.contains(&line.service) {
            entry.services.push(line.service.clone());
        }
        if entry.samples.len() < 3 {
            let sample = truncate(&line.message, MAX_SAMPLE_LEN);
            if !entry.samples.contains(&sample) {
                entry.samples.push(sample);
            }
        }
    }
    let mut out: Vec<LogTemplate> = order
        .into_iter()
        .filter_map(|k| by_template.remove(&k))
        .collect();
    out.sort_by(|a, b| b.level.cmp(&a.level).then(b.count.cmp(&a.count)));
    out.truncate(MAX_TEMPLATES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(msg: &str, level: LogLevel) -> LogLine {
        LogLine {
            ts: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            service: ServiceName::parse("api").unwrap(),
            level,
            message: msg.into(),
        }
    }

    #[test]
    fn repeated_errors_with_different_ids_fold_into_one_template_with_a_count() {
        let lines: Vec<_> = (0..50)
            .map(|i| {
                line(
                    &format!("timeout after {i}ms calling 10.0.0.{i}:5432 for order 7f3a9c{i}e"),
                    LogLevel::Error,
                )
            })
            .chain([line("GET /healthz 200", LogLevel::Info)])
            .collect();
        let folded = fold_logs(&lines);
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].count, 50);
        assert_eq!(folded[0].level, LogLevel::Error);
        assert_eq!(folded[0].samples.len(), 3);
        assert!(folded[0]
            .template
            .starts_with("timeout after <*> calling <*>"));
    }

    #[test]
    fn the_rare_fatal_line_sorts_before_the_frequent_info_lines() {
        let mut lines: Vec<_> = (0..100)
            .map(|i| line(&format!("served request {i}"), LogLevel::Info))
            .collect();
        lines.push(line("panic: out of memory", LogLevel::Fatal));
        let folded = fold_logs(&lines);
        assert_eq!(folded[0].template, "panic: out of memory");
    }

    #[test]
    fn huge_lines_are_bounded_in_samples() {
        let big = "é".repeat(10_000);
        let folded = fold_logs(&[line(&big, LogLevel::Error)]);
        assert!(folded[0].samples[0].len() <= MAX_SAMPLE_LEN + 4);
    }

    #[test]
    fn a_metric_that_doubled_is_anomalous_and_a_steady_one_is_not() {
        let s = |name: &str, current, baseline| MetricSample {
            service: ServiceName::parse("api").unwrap(),
            name: name.into(),
            current,
            baseline,
            unit: None,
        };
        assert!(MetricAnomaly::from_sample(&s("error_rate", 0.18, 0.002)).anomalous);
        assert!(!MetricAnomaly::from_sample(&s("error_rate", 0.0021, 0.002)).anomalous);
        assert!(!MetricAnomaly::from_sample(&s("cpu_utilization", 0.31, 0.30)).anomalous);
        assert!(MetricAnomaly::from_sample(&s("memory_utilization", 0.97, 0.55)).anomalous);
        assert!(!MetricAnomaly::from_sample(&s("error_rate", 0.004, 0.002)).anomalous);
    }
}

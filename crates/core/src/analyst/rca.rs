//! Heuristic root-cause analysis: every piece of evidence becomes a weighted signal for a
//! category, categories are scored, and the best one wins only if it is strong enough (else
//! `unknown`).
//!
//! How it scores:
//! - **Log templates** matching a known signature (see `signatures`) give a signal weighted by
//!   the signature's strength, the template's level, its volume and its timing against the alert.
//!   Within one template only the strongest signature per category counts; across templates the
//!   signals of a category combine as a noisy-OR (`1 − Π(1 − wᵢ)`), after keeping only the
//!   strongest signal per signature and service, so a thousand copies of one line are one signal
//!   but two independent signatures corroborate each other. Platform events (node, zone, storage,
//!   network) are logged once per change of state, so one line of them counts nearly in full.
//! - **Metrics** that are anomalous give signals too (memory, disk, connections, CPU, restarts,
//!   request rate against its baseline and against `capacity_rps`, lost replicas, certificate days).
//! - **A deployment** is blamed only if it went to an affected service or a service the evidence
//!   implicates, shortly before the alert (within the look-back, 2 h by default), and error
//!   signatures a change can cause begin after it; errors that predate it clear it. Its score
//!   grows with recency, with how soon the errors followed it, and with crashes or new error types;
//!   a cosmetic change (docs, typos) is discounted. A change that describes itself as
//!   configuration is blamed as `config_change`.
//! - **A dependency failure** is one dependency failing: evidence about different dependencies
//!   does not add up (timeouts spread over several healthy dependencies point elsewhere), and a
//!   dependency whose gathered evidence looks healthy is discounted.
//! - **Explanations**: signals that a stronger cause explains are discounted — resource or data
//!   errors that began right after a blamed deployment, pool and CPU exhaustion under a traffic
//!   surge, pools and threads held by a slow backend (infrastructure or a failing dependency), and
//!   a dependency's failure when the dependency's own evidence shows why it failed (the deeper
//!   cause then wins, corroborated).
//! - **Confidence** rises with the winning score, its margin over the runner-up, agreement
//!   between kinds of evidence (logs, metrics, changes) and the share of the affected services'
//!   errors the cause accounts for; it falls with failed sources; a dependency whose own evidence
//!   is not gathered yet caps it below the gate, so the next attempt looks.
//! - **Next attempt**: `missing_services` lists the dependencies the errors name (again, since
//!   each attempt gathers afresh) and, when not confident, the catalogue's platform event sources.
//!
//! Quotes are copied verbatim from the context, so the grounding check finds them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::analyst::catalog::ServiceCatalog;
use crate::analyst::changes::{is_config_change, is_cosmetic, keywords};
use crate::analyst::signatures::{classify, dependencies, Kind, Resource, SigMatch};
use crate::analyst::text::{around, inline, quotable, QUOTE_LIMIT};
use crate::ids::ServiceName;
use crate::model::{
    Confidence, ContextBundle, Deployment, Incident, LogLevel, LogTemplate, MetricAnomaly,
    RootCauseCategory, RootCauseFinding, SourceKind,
};
use crate::ports::RootCauseInput;

/// Below this score no category is claimed.
const UNKNOWN_BELOW: f64 = 0.35;

/// The default confidence gate: below it the workflow gathers more evidence, so the analysis says
/// what to gather.
const GATE_HINT: f64 = 0.7;

/// Most services asked for at once; `GatherContext` searches at most eight in all.
const MAX_MISSING: usize = 6;

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A log template (index into the context's logs).
    Log(usize),
    /// A metric.
    Metric,
    /// A deployment or configuration change.
    Change,
    /// A conclusion drawn from other signals (a dependency's own cause).
    Inferred,
}

impl Origin {
    fn kind(self) -> u8 {
        match self {
            Self::Log(_) => 0,
            Self::Metric => 1,
            Self::Change => 2,
            Self::Inferred => 3,
        }
    }
}

/// One piece of evidence for a category.
#[derive(Debug, Clone)]
struct Signal {
    category: RootCauseCategory,
    /// Signals with the same key are one piece of evidence (the strongest counts).
    key: String,
    weight: f64,
    quote: Option<String>,
    /// Our own words for what was seen (no untrusted text beyond service names and versions).
    note: String,
    service: Option<ServiceName>,
    origin: Origin,
    resource: Option<Resource>,
}

/// A log template with what the signatures say about it.
#[derive(Debug)]
pub(crate) struct Classified<'a> {
    pub t: &'a LogTemplate,
    pub matches: Vec<SigMatch>,
    pub deps: Vec<ServiceName>,
}

/// The affected services: the incident's, else the alert's, else those searched.
pub(crate) fn affected(incident: &Incident, ctx: &ContextBundle) -> Vec<ServiceName> {
    if !incident.services.is_empty() {
        incident.services.clone()
    } else if !incident.alert.services.is_empty() {
        incident.alert.services.clone()
    } else {
        ctx.services.clone()
    }
}

/// Every service name the evidence and the catalogue know of.
fn known_services(
    affected: &[ServiceName],
    ctx: &ContextBundle,
    catalog: &ServiceCatalog,
) -> Vec<ServiceName> {
    let mut known: Vec<ServiceName> = Vec::new();
    let all = affected
        .iter()
        .chain(ctx.services.iter())
        .chain(catalog.services.keys())
        .chain(ctx.deployments.iter().map(|d| &d.service))
        .chain(ctx.logs.iter().flat_map(|t| t.services.iter()))
        .chain(ctx.metrics.iter().map(|m| &m.service));
    for s in all {
        if !known.contains(s) {
            known.push(s.clone());
        }
    }
    known
}

/// Classifies every template of the context.
pub(crate) fn classify_all<'a>(
    ctx: &'a ContextBundle,
    known: &[ServiceName],
) -> Vec<Classified<'a>> {
    ctx.logs
        .iter()
        .map(|t| Classified {
            t,
            matches: classify(t),
            deps: if t.level >= LogLevel::Warn {
                dependencies(t, known)
            } else {
                Vec::new()
            },
        })
        .collect()
}

fn level_factor(level: LogLevel) -> f64 {
    match level {
        LogLevel::Fatal | LogLevel::Error => 1.0,
        LogLevel::Warn => 0.8,
        LogLevel::Info => 0.35,
        LogLevel::Debug => 0.0,
    }
}

/// One line is some evidence; a hundred are more, but not a hundred times more.
fn volume_factor(count: u64) -> f64 {
    0.7 + 0.15 * (count.max(1) as f64).log10().min(2.0)
}

/// Templates that were already there long before the alert, from the very start of the window,
/// are background noise more often than the trigger.
fn timing_factor(t: &LogTemplate, alert_start: DateTime<Utc>, window_start: DateTime<Utc>) -> f64 {
    let chronic = t.first_seen <= window_start + Duration::minutes(5)
        && alert_start - t.first_seen > Duration::minutes(45);
    if chronic {
        0.6
    } else if t.first_seen > alert_start + Duration::minutes(30) {
        // Began well after the alert: a consequence more likely than the cause.
        0.7
    } else {
        1.0
    }
}

/// A verbatim quote of a template: its first sample, else the template itself.
fn template_quote(t: &LogTemplate) -> Option<String> {
    let text = t
        .samples
        .first()
        .map(String::as_str)
        .unwrap_or(t.template.as_str());
    let q = around(text, 0, 0, QUOTE_LIMIT).to_owned();
    quotable(&q).then_some(q)
}

/// The line a metric has in the evidence corpus, so a quote of it is grounded.
fn metric_quote(m: &MetricAnomaly) -> String {
    format!(
        "{} {} {} (baseline {})",
        m.service, m.name, m.current, m.baseline
    )
}

fn first_service(t: &LogTemplate) -> Option<ServiceName> {
    t.services.first().cloned()
}

fn log_signals(
    classified: &[Classified<'_>],
    alert_start: DateTime<Utc>,
    ctx: &ContextBundle,
    affected: &[ServiceName],
    out: &mut Vec<Signal>,
) {
    for (i, c) in classified.iter().enumerate() {
        let lf = level_factor(c.t.level);
        if lf == 0.0 {
            continue;
        }
        let base = lf * timing_factor(c.t, alert_start, ctx.window.start);
        let volume = volume_factor(c.t.count);
        // Only the strongest signature per category counts within one template.
        let mut best: BTreeMap<&'static str, &SigMatch> = BTreeMap::new();
        for m in &c.matches {
            if m.sig.kind == Kind::CodeDefect {
                continue;
            }
            let cat = m.sig.category.as_str();
            if best.get(cat).is_none_or(|b| b.sig.weight < m.sig.weight) {
                best.insert(cat, m);
            }
        }
        for m in best.values() {
            // Platform events are logged once per change of state: one line is the whole story.
            let platform = matches!(
                m.sig.kind,
                Kind::Node | Kind::Zone | Kind::Storage | Kind::Network
            );
            let w = m.sig.weight * base * if platform { volume.max(0.9) } else { volume };
            let own = first_service(c.t);
            let own_name = own
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "?".into());
            let resource = match m.sig.kind {
                Kind::Resource(r) => Some(r),
                _ => None,
            };
            let mut push =
                |category, key: String, weight: f64, service: Option<ServiceName>, note: String| {
                    out.push(Signal {
                        category,
                        key,
                        weight,
                        quote: Some(m.quote.clone()).filter(|q| quotable(q)),
                        note,
                        service,
                        origin: Origin::Log(i),
                        resource,
                    });
                };
            match (m.sig.kind, c.deps.first()) {
                (Kind::Upstream | Kind::Timeout, _) => {
                    if c.deps.is_empty() {
                        // A failure nobody is named for is weak evidence of a dependency problem,
                        // and none at all when it is not the affected service that sees it.
                        if !c.t.services.iter().any(|s| affected.contains(s)) {
                            continue;
                        }
                        push(
                            RootCauseCategory::DependencyFailure,
                            format!("dep:?:{}:{own_name}", m.sig.id),
                            w * 0.5,
                            None,
                            format!(
                                "{} in {own_name} without a named dependency",
                                m.sig.describe
                            ),
                        );
                    } else {
                        for d in c.deps.iter().take(2) {
                            push(
                                RootCauseCategory::DependencyFailure,
                                format!("dep:{d}:{}", m.sig.id),
                                w,
                                Some(d.clone()),
                                format!("{} from {d} seen by {own_name}", m.sig.describe),
                            );
                        }
                    }
                }
                (Kind::RateLimit, Some(d)) => {
                    push(
                        RootCauseCategory::DependencyFailure,
                        format!("dep:{d}:{}", m.sig.id),
                        w * 0.8,
                        Some(d.clone()),
                        format!("{d} is throttling {own_name}"),
                    );
                }
                (Kind::Tls, first_dep) => {
                    let service = first_dep.cloned().or(own.clone());
                    push(
                        m.sig.category,
                        format!("{}:{}", m.sig.id, own_name),
                        w,
                        service,
                        format!("{} in {own_name}", m.sig.describe),
                    );
                }
                _ => push(
                    m.sig.category,
                    format!("{}:{own_name}", m.sig.id),
                    w,
                    own.clone(),
                    format!("{} in {own_name}", m.sig.describe),
                ),
            }
        }
    }
}

/// What a metric measures, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricRole {
    ErrorRate,
    Latency,
    RequestRate,
    Capacity,
    Memory,
    Cpu,
    Disk,
    Connections,
    FileDescriptors,
    OomKills,
    Restarts,
    Replicas,
    HealthyHosts,
    CertDays,
    TlsErrors,
    QueueDepth,
    Other,
}

/// Classifies a metric by its name.
pub(crate) fn metric_role(name: &str) -> MetricRole {
    let n = name.to_ascii_lowercase();
    let has = |w: &str| n.contains(w);
    if has("cert") && (has("expir") || has("days") || has("remaining") || has("valid")) {
        MetricRole::CertDays
    } else if has("tls") || has("handshake") || has("ssl") {
        MetricRole::TlsErrors
    } else if has("capacity") {
        MetricRole::Capacity
    } else if has("oom") {
        MetricRole::OomKills
    } else if has("restart") || has("crash") {
        MetricRole::Restarts
    } else if has("error") || has("5xx") || has("failure") || has("fault") {
        MetricRole::ErrorRate
    } else if has("latency")
        || has("duration")
        || has("response_time")
        || n.starts_with("p99")
        || n.starts_with("p95")
    {
        MetricRole::Latency
    } else if has("request_rate")
        || has("rps")
        || has("qps")
        || has("throughput")
        || has("requests_per")
        || has("traffic")
        || n == "requests"
    {
        MetricRole::RequestRate
    } else if has("mem") || has("heap") || has("rss") {
        MetricRole::Memory
    } else if has("cpu") {
        MetricRole::Cpu
    } else if has("disk")
        || has("filesystem")
        || has("inode")
        || has("volume_usage")
        || has("storage_util")
    {
        MetricRole::Disk
    } else if has("connection") || has("conn_") || has("pool") {
        MetricRole::Connections
    } else if has("file_descriptor") || has("open_files") || has("_fds") || n == "fds" {
        MetricRole::FileDescriptors
    } else if has("healthy_host")
        || has("ready_node")
        || has("nodes_ready")
        || has("node_ready")
        || has("healthy_instances")
    {
        MetricRole::HealthyHosts
    } else if has("replica") || has("instances") || has("pods") || has("task_count") {
        MetricRole::Replicas
    } else if has("queue") || has("lag") || has("backlog") {
        MetricRole::QueueDepth
    } else {
        MetricRole::Other
    }
}

/// A utilisation as a fraction: values above 1 are read as percentages.
fn fraction(m: &MetricAnomaly) -> f64 {
    if m.current > 1.0 && m.current <= 100.0 {
        m.current / 100.0
    } else {
        m.current
    }
}

fn is_utilisation(m: &MetricAnomaly) -> bool {
    let n = m.name.to_ascii_lowercase();
    n.contains("util")
        || n.contains("usage")
        || n.contains("percent")
        || n.contains("pct")
        || n.contains("ratio")
        || m.unit.as_deref().is_some_and(|u| {
            u == "%" || u.eq_ignore_ascii_case("percent") || u.eq_ignore_ascii_case("ratio")
        })
}

/// Whether a service shows symptoms (errors or latency) in its metrics.
fn has_symptoms(ctx: &ContextBundle, service: &ServiceName) -> bool {
    ctx.metrics.iter().any(|m| {
        &m.service == service
            && m.anomalous
            && m.current > m.baseline
            && matches!(
                metric_role(&m.name),
                MetricRole::ErrorRate | MetricRole::Latency
            )
    })
}

fn metric_signals(
    ctx: &ContextBundle,
    affected: &[ServiceName],
    implicated: &[ServiceName],
    out: &mut Vec<Signal>,
) {
    for m in &ctx.metrics {
        let role = metric_role(&m.name);
        let up = m.current > m.baseline;
        let mut push = |category, weight: f64, resource: Option<Resource>, note: String| {
            out.push(Signal {
                category,
                key: format!("metric:{}:{}", m.service, m.name),
                weight,
                quote: Some(metric_quote(m)),
                note,
                service: Some(m.service.clone()),
                origin: Origin::Metric,
                resource,
            });
        };
        let svc = &m.service;
        match role {
            MetricRole::Memory
            | MetricRole::Cpu
            | MetricRole::Disk
            | MetricRole::Connections
            | MetricRole::FileDescriptors => {
                let resource = match role {
                    MetricRole::Memory => Resource::Memory,
                    MetricRole::Cpu => Resource::Cpu,
                    MetricRole::Disk => Resource::Disk,
                    MetricRole::Connections => Resource::Connections,
                    _ => Resource::FileDescriptors,
                };
                let f = if is_utilisation(m) {
                    Some(fraction(m))
                } else {
                    None
                };
                let w = match f {
                    Some(f) if f >= 0.95 => 0.55,
                    Some(f) if f >= 0.85 && (m.anomalous || f >= 0.9) => 0.45,
                    _ if m.anomalous && up && m.ratio >= 2.0 => 0.35,
                    _ if m.anomalous && up => 0.25,
                    _ => 0.0,
                };
                let w = if resource == Resource::Cpu {
                    w * 0.8
                } else {
                    w
                };
                if w > 0.0 {
                    push(
                        RootCauseCategory::ResourceExhaustion,
                        w,
                        Some(resource),
                        format!(
                            "{} of {svc} at {} (baseline {})",
                            resource.noun(),
                            m.current,
                            m.baseline
                        ),
                    );
                }
            }
            MetricRole::OomKills if m.current >= 1.0 && up => {
                push(
                    RootCauseCategory::ResourceExhaustion,
                    0.6,
                    Some(Resource::Memory),
                    format!("{svc} had {} OOM kills", m.current),
                );
            }
            MetricRole::Restarts if m.anomalous && up => {
                push(
                    RootCauseCategory::ResourceExhaustion,
                    0.2,
                    Some(Resource::Memory),
                    format!(
                        "{svc} restarted {} times (baseline {})",
                        m.current, m.baseline
                    ),
                );
            }
            MetricRole::RequestRate if m.anomalous && up && m.ratio >= 1.5 => {
                let w = if m.ratio >= 3.0 {
                    0.55
                } else if m.ratio >= 2.0 {
                    0.45
                } else {
                    0.3
                };
                push(
                    RootCauseCategory::TrafficSurge,
                    w,
                    None,
                    format!("requests to {svc} at {}× the baseline", m.ratio),
                );
            }
            MetricRole::Capacity => {
                let rate = ctx
                    .metrics
                    .iter()
                    .find(|r| &r.service == svc && metric_role(&r.name) == MetricRole::RequestRate);
                if let Some(rate) = rate {
                    if m.current > 0.0 && rate.current >= m.current {
                        let over = rate.current / m.current;
                        let w = 0.5 + 0.15 * (over - 1.0).min(2.0);
                        out.push(Signal {
                            category: RootCauseCategory::TrafficSurge,
                            key: format!("capacity:{svc}"),
                            weight: w,
                            quote: Some(metric_quote(m)),
                            note: format!("requests to {svc} at {:.1}× its capacity", over),
                            service: Some(svc.clone()),
                            origin: Origin::Metric,
                            resource: None,
                        });
                    }
                }
            }
            MetricRole::Replicas | MetricRole::HealthyHosts
                if m.baseline > 0.0 && m.current / m.baseline <= 0.7 =>
            {
                push(
                    RootCauseCategory::Infrastructure,
                    0.4,
                    None,
                    format!(
                        "{svc} is down to {} of {} {}",
                        m.current, m.baseline, m.name
                    ),
                );
            }
            MetricRole::CertDays if m.current <= 0.0 => {
                push(
                    RootCauseCategory::CertificateExpiry,
                    0.7,
                    None,
                    format!("a certificate of {svc} has expired"),
                );
            }
            MetricRole::CertDays if m.current <= 3.0 => {
                push(
                    RootCauseCategory::CertificateExpiry,
                    0.4,
                    None,
                    format!("a certificate of {svc} expires within days"),
                );
            }
            MetricRole::TlsErrors if m.anomalous && up => {
                push(
                    RootCauseCategory::CertificateExpiry,
                    0.35,
                    None,
                    format!("TLS errors of {svc} rose"),
                );
            }
            MetricRole::QueueDepth if m.anomalous && up => {
                push(
                    RootCauseCategory::TrafficSurge,
                    0.15,
                    None,
                    format!("the queue of {svc} is backing up"),
                );
            }
            MetricRole::ErrorRate | MetricRole::Latency
                if m.anomalous && up && !affected.contains(svc) && implicated.contains(svc) =>
            {
                // A dependency's own symptoms: it is failing, whatever the reason.
                out.push(Signal {
                    category: RootCauseCategory::DependencyFailure,
                    key: format!("dep:{svc}:metric:{}", m.name),
                    weight: 0.4,
                    quote: Some(metric_quote(m)),
                    note: format!("{} of {svc} is at {}× its baseline", m.name, m.ratio),
                    service: Some(svc.clone()),
                    origin: Origin::Metric,
                    resource: None,
                });
            }
            _ => {}
        }
    }
}

/// How a deployment was judged.
#[derive(Debug, Clone)]
struct ChangeAssessment<'a> {
    d: &'a Deployment,
    category: RootCauseCategory,
    score: f64,
    /// Attributable templates that began after it.
    post: Vec<usize>,
    /// Minutes from the change to the first attributable error.
    onset_minutes: Option<i64>,
    /// Whether the evidence window reaches back before the change.
    pre_visible: bool,
}

fn recency(lead: Duration) -> f64 {
    let mins = lead.num_minutes();
    if mins <= 30 {
        1.0
    } else if mins <= 60 {
        0.85
    } else {
        0.6
    }
}

fn closeness(delay_minutes: i64) -> f64 {
    match delay_minutes {
        i64::MIN..=10 => 1.0,
        11..=20 => 0.85,
        21..=45 => 0.55,
        46..=90 => 0.3,
        _ => 0.15,
    }
}

/// Whether a template's errors can be blamed on a change to `service`: written by it (or by an
/// affected service about it, or by an affected service when the change is to an affected
/// service), an error or a warning with a signature, and not of a kind no change causes.
fn attributable(c: &Classified<'_>, service: &ServiceName, affected: &[ServiceName]) -> bool {
    let significant =
        c.t.level >= LogLevel::Error || (c.t.level >= LogLevel::Warn && !c.matches.is_empty());
    if !significant {
        return false;
    }
    let written_by = c.t.services.contains(service);
    let about = c.t.services.iter().any(|s| affected.contains(s))
        && (affected.contains(service) || c.deps.contains(service));
    if !(written_by || about) {
        return false;
    }
    let specific: Vec<&SigMatch> = c
        .matches
        .iter()
        .filter(|m| !m.sig.generic || m.sig.kind == Kind::CodeDefect)
        .collect();
    if specific.iter().any(|m| !m.sig.kind.change_can_cause()) {
        return false;
    }
    // Failures of another named dependency are that dependency's, not this change's.
    let names_other = !c.deps.is_empty() && !c.deps.contains(service);
    let dependency_kind = c
        .matches
        .iter()
        .any(|m| matches!(m.sig.kind, Kind::Upstream | Kind::Timeout));
    !(names_other && dependency_kind)
}

fn assess_changes<'a>(
    ctx: &'a ContextBundle,
    classified: &[Classified<'_>],
    affected: &[ServiceName],
    implicated: &[ServiceName],
    alert_start: DateTime<Utc>,
    lookback: Duration,
    notes: &mut Vec<String>,
) -> Vec<ChangeAssessment<'a>> {
    let mut out = Vec::new();
    for d in &ctx.deployments {
        let label = format!("{} {}", d.service, inline(&d.version, 40));
        if !implicated.contains(&d.service) {
            notes.push(format!(
                "The deployment of {label} was not blamed: nothing implicates {}.",
                d.service
            ));
            continue;
        }
        let lead = alert_start - d.at;
        if lead < -Duration::minutes(2) {
            notes.push(format!(
                "The deployment of {label} came after the alert began, so it did not cause it."
            ));
            continue;
        }
        if lead > lookback {
            notes.push(format!(
                "The deployment of {label} went out {} before the alert, too early to blame.",
                human_duration(lead)
            ));
            continue;
        }
        let skew = Duration::minutes(2);
        let mut pre = Vec::new();
        let mut post = Vec::new();
        for (i, c) in classified.iter().enumerate() {
            if !attributable(c, &d.service, affected) {
                continue;
            }
            if c.t.first_seen < d.at - skew {
                pre.push(i);
            } else if c.t.first_seen <= alert_start + Duration::minutes(30) {
                post.push(i);
            }
        }
        let pre_visible = ctx.window.start <= d.at - Duration::minutes(5);
        let config = is_config_change(&d.description, &d.version);
        let category = if config {
            RootCauseCategory::ConfigChange
        } else {
            RootCauseCategory::Deployment
        };
        let r = recency(lead);
        let mut onset_minutes = None;
        let mut score = if post.is_empty() {
            if !pre.is_empty() {
                notes.push(format!(
                    "The deployment of {label} was not blamed: its errors began before it."
                ));
                continue;
            }
            // A change shortly before symptoms with no error logs to tie them: weak.
            let symptoms =
                has_symptoms(ctx, &d.service) || affected.iter().any(|a| has_symptoms(ctx, a));
            if symptoms {
                0.3 * r
            } else {
                0.15 * r
            }
        } else {
            let onset = post
                .iter()
                .map(|&i| classified[i].t.first_seen)
                .min()
                .unwrap_or(d.at);
            let delay = (onset - d.at).num_minutes().max(0);
            onset_minutes = Some(delay);
            let mixed = if pre.is_empty() { 1.0 } else { 0.5 };
            let visibility = if pre_visible { 1.0 } else { 0.85 };
            let mut s = 0.35 * r + 0.4 * closeness(delay) * mixed * visibility;
            let defect = post.iter().any(|&i| {
                let c = &classified[i];
                c.matches.iter().any(|m| m.sig.kind == Kind::CodeDefect)
                    || (c.matches.is_empty() && c.t.level >= LogLevel::Error)
            });
            if defect {
                s += 0.1;
            }
            let change_words = keywords(&d.description);
            let related = post.iter().any(|&i| {
                let t = classified[i].t;
                let text = format!("{} {}", t.template, t.samples.join(" "));
                !keywords(&text).is_disjoint(&change_words)
            });
            if related {
                s += 0.1;
            }
            if has_symptoms(ctx, &d.service) || affected.iter().any(|a| has_symptoms(ctx, a)) {
                s += 0.05;
            }
            s
        };
        if is_cosmetic(&d.description) {
            score *= 0.4;
            notes.push(format!(
                "The deployment of {label} describes itself as cosmetic (docs, typos or tests)."
            ));
        }
        out.push(ChangeAssessment {
            d,
            category,
            score: score.min(0.95),
            post,
            onset_minutes,
            pre_visible,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.d.at.cmp(&a.d.at)));
    out
}

fn human_duration(d: Duration) -> String {
    let mins = d.num_minutes().abs();
    if mins < 120 {
        format!("{mins} min")
    } else if mins < 48 * 60 {
        format!("{} h", mins / 60)
    } else {
        format!("{} days", mins / (24 * 60))
    }
}

/// Combines independent evidence: `1 − Π(1 − wᵢ)`, keeping the strongest signal per key.
fn noisy_or<'a>(signals: impl Iterator<Item = &'a Signal>) -> f64 {
    let mut by_key: BTreeMap<&str, f64> = BTreeMap::new();
    for s in signals {
        let e = by_key.entry(s.key.as_str()).or_insert(0.0);
        *e = e.max(s.weight.clamp(0.0, 0.99));
    }
    1.0 - by_key.values().fold(1.0, |acc, w| acc * (1.0 - w))
}

/// The share of the affected services' error lines (by count) that the winning signals account
/// for: their own templates, or for a blamed change the errors that followed it.
fn explained_share(
    classified: &[Classified<'_>],
    affected: &[ServiceName],
    of_cat: &[&Signal],
    change: Option<&ChangeAssessment<'_>>,
) -> f64 {
    let in_scope = |i: usize| {
        let t = classified[i].t;
        t.level >= LogLevel::Error && t.services.iter().any(|s| affected.contains(s))
    };
    let total: u64 = (0..classified.len())
        .filter(|&i| in_scope(i))
        .map(|i| classified[i].t.count)
        .sum();
    if total < 3 {
        return 0.0;
    }
    let mut explained: Vec<usize> = of_cat
        .iter()
        .filter_map(|s| match s.origin {
            Origin::Log(i) if s.weight >= 0.1 => Some(i),
            _ => None,
        })
        .chain(change.map(|c| c.post.clone()).unwrap_or_default())
        .filter(|&i| in_scope(i))
        .collect();
    explained.sort_unstable();
    explained.dedup();
    let count: u64 = explained.iter().map(|&i| classified[i].t.count).sum();
    count as f64 / total as f64
}

/// The score of the most likely failing dependency, and which one it is. Signals that name no
/// dependency count towards every candidate.
fn dependency_score(signals: &[Signal]) -> (f64, Option<ServiceName>) {
    let of_dep: Vec<&Signal> = signals
        .iter()
        .filter(|s| s.category == RootCauseCategory::DependencyFailure)
        .collect();
    let mut candidates: Vec<Option<&ServiceName>> = vec![None];
    for s in &of_dep {
        if let Some(d) = &s.service {
            if !candidates.contains(&Some(d)) {
                candidates.push(Some(d));
            }
        }
    }
    let mut best: (f64, Option<ServiceName>) = (0.0, None);
    for c in candidates {
        let score = noisy_or(
            of_dep
                .iter()
                .copied()
                .filter(|s| s.service.is_none() || s.service.as_ref() == c),
        );
        if score > best.0 {
            best = (score, c.cloned());
        }
    }
    best
}

/// Categories in the order ties are broken: the more specific explanation first.
const PREFERENCE: [RootCauseCategory; 8] = [
    RootCauseCategory::CertificateExpiry,
    RootCauseCategory::ConfigChange,
    RootCauseCategory::Deployment,
    RootCauseCategory::DataIssue,
    RootCauseCategory::ResourceExhaustion,
    RootCauseCategory::TrafficSurge,
    RootCauseCategory::Infrastructure,
    RootCauseCategory::DependencyFailure,
];

/// The analysis.
pub(crate) fn analyse(
    input: &RootCauseInput<'_>,
    catalog: &ServiceCatalog,
    lookback: Duration,
) -> RootCauseFinding {
    let incident = input.incident;
    let ctx = input.context;
    let affected = affected(incident, ctx);
    let alert_start = incident.alert.started_at;
    let known = known_services(&affected, ctx, catalog);
    let classified = classify_all(ctx, &known);

    // Services the evidence implicates: affected ones, dependencies named in warnings and
    // errors, configured dependencies, and services with errors or anomalies of their own.
    let mut implicated: Vec<ServiceName> = affected.clone();
    let add = |s: &ServiceName, v: &mut Vec<ServiceName>| {
        if !v.contains(s) {
            v.push(s.clone());
        }
    };
    let mut named_deps: Vec<ServiceName> = Vec::new();
    for c in &classified {
        for d in &c.deps {
            if !affected.contains(d) {
                add(d, &mut named_deps);
            }
            add(d, &mut implicated);
        }
        if c.t.level >= LogLevel::Error {
            for s in &c.t.services {
                add(s, &mut implicated);
            }
        }
    }
    for a in &affected {
        for d in catalog.dependencies(a) {
            add(d, &mut implicated);
        }
    }
    for m in ctx.metrics.iter().filter(|m| m.anomalous) {
        add(&m.service, &mut implicated);
    }

    let mut signals: Vec<Signal> = Vec::new();
    log_signals(&classified, alert_start, ctx, &affected, &mut signals);
    metric_signals(ctx, &affected, &implicated, &mut signals);

    let mut change_notes = Vec::new();
    let changes = assess_changes(
        ctx,
        &classified,
        &affected,
        &implicated,
        alert_start,
        lookback,
        &mut change_notes,
    );
    let blamed = changes.first().filter(|c| c.score >= 0.2).cloned();
    if let Some(c) = &blamed {
        let d = c.d;
        let quote = {
            let q = around(&d.description, 0, 0, 200).to_owned();
            if quotable(&q) {
                q
            } else {
                format!("{} {}", d.service, d.version)
            }
        };
        let note = match c.onset_minutes {
            Some(m) => format!(
                "{} {} went out {} before the alert; new errors began {m} min after it",
                d.service,
                inline(&d.version, 40),
                human_duration(alert_start - d.at)
            ),
            None => format!(
                "{} {} went out {} before the alert",
                d.service,
                inline(&d.version, 40),
                human_duration(alert_start - d.at)
            ),
        };
        signals.push(Signal {
            category: c.category,
            key: format!("change:{}:{}", d.service, d.version),
            weight: c.score,
            quote: Some(quote),
            note,
            service: Some(d.service.clone()),
            origin: Origin::Change,
            resource: None,
        });
        // What the change explains is not a separate cause: errors that began right after it.
        if c.score >= 0.5 {
            for s in signals.iter_mut() {
                let explained = match s.origin {
                    Origin::Log(i) => {
                        c.post.contains(&i)
                            && match s.category {
                                RootCauseCategory::ResourceExhaustion
                                | RootCauseCategory::DataIssue
                                | RootCauseCategory::ConfigChange => s.category != c.category,
                                RootCauseCategory::DependencyFailure => {
                                    s.service.as_ref() == Some(&d.service) || s.service.is_none()
                                }
                                _ => false,
                            }
                    }
                    Origin::Metric => {
                        s.category == RootCauseCategory::ResourceExhaustion
                            && s.resource != Some(Resource::Disk)
                            && (s.service.as_ref() == Some(&d.service)
                                || (affected.contains(&d.service)
                                    && s.service.as_ref().is_some_and(|x| affected.contains(x))))
                    }
                    _ => false,
                };
                if explained {
                    s.weight *= 0.5;
                }
            }
        }
    }

    // A surge explains the pools and CPUs it exhausts.
    let surge =
        noisy_or(signals.iter().filter(|s| {
            s.category == RootCauseCategory::TrafficSurge && s.origin == Origin::Metric
        }));
    if surge >= 0.5 {
        for s in signals.iter_mut() {
            let load_bound = matches!(
                s.resource,
                Some(
                    Resource::Connections
                        | Resource::Cpu
                        | Resource::Threads
                        | Resource::FileDescriptors
                )
            );
            let vague_dep =
                s.category == RootCauseCategory::DependencyFailure && s.service.is_none();
            if (s.category == RootCauseCategory::ResourceExhaustion && load_bound) || vague_dep {
                s.weight *= 0.5;
            }
        }
    }
    // Traffic at its usual level argues against a surge, whatever rate limiting is logged.
    let traffic_normal = ctx.metrics.iter().any(|m| {
        affected.contains(&m.service)
            && metric_role(&m.name) == MetricRole::RequestRate
            && m.ratio <= 1.3
    });
    if traffic_normal {
        for s in signals
            .iter_mut()
            .filter(|s| s.category == RootCauseCategory::TrafficSurge && s.origin != Origin::Metric)
        {
            s.weight *= 0.5;
        }
    }

    // A dependency whose own evidence was gathered and looks healthy (metrics at baseline, no
    // errors of its own) is an unlikely culprit, whatever its callers' timeouts say.
    let healthy = |d: &ServiceName| {
        ctx.services.contains(d)
            && ctx.metrics.iter().any(|m| &m.service == d)
            && !has_symptoms(ctx, d)
            && !ctx
                .logs
                .iter()
                .any(|t| t.services.contains(d) && t.level >= LogLevel::Error)
    };
    for s in signals.iter_mut() {
        if s.category == RootCauseCategory::DependencyFailure
            && s.service.as_ref().is_some_and(&healthy)
        {
            s.weight *= 0.4;
        }
    }

    // A dependency whose own evidence shows why it failed: the deeper cause wins, corroborated by
    // what the affected service sees.
    let mut inferred = Vec::new();
    for d in named_deps.iter().filter(|d| ctx.services.contains(d)) {
        let own = |s: &&Signal| {
            s.service.as_ref() == Some(d)
                && s.category != RootCauseCategory::DependencyFailure
                && match s.origin {
                    Origin::Log(i) => classified[i].t.services.contains(d),
                    Origin::Metric | Origin::Change => true,
                    Origin::Inferred => false,
                }
        };
        let mut best: Option<(RootCauseCategory, f64)> = None;
        for cat in PREFERENCE {
            let score = noisy_or(signals.iter().filter(own).filter(|s| s.category == cat));
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((cat, score));
            }
        }
        if let Some((cat, _)) = best.filter(|(_, s)| *s >= 0.5) {
            for s in signals.iter_mut() {
                if s.category == RootCauseCategory::DependencyFailure
                    && s.service.as_ref() == Some(d)
                {
                    s.weight *= 0.5;
                }
            }
            inferred.push(Signal {
                category: cat,
                key: format!("via:{d}"),
                weight: 0.3,
                quote: None,
                note: format!("{d}'s own evidence shows {cat}, which is what its callers see"),
                service: Some(d.clone()),
                origin: Origin::Inferred,
                resource: None,
            });
        }
    }
    signals.extend(inferred);

    // A slow or failing backend holds connections and threads: their exhaustion is its symptom.
    let infrastructure = noisy_or(
        signals
            .iter()
            .filter(|s| s.category == RootCauseCategory::Infrastructure),
    );
    let (dependency, _) = dependency_score(&signals);
    if infrastructure >= 0.5 || dependency >= 0.5 {
        for s in signals.iter_mut() {
            let load_bound = matches!(s.resource, Some(Resource::Connections | Resource::Threads));
            if s.category == RootCauseCategory::ResourceExhaustion && load_bound {
                s.weight *= 0.5;
            }
        }
    }

    // Score every category; a dependency failure is one dependency failing, so evidence about
    // different dependencies does not add up (several failing at once points elsewhere).
    let (dependency, failing_dependency) = dependency_score(&signals);
    let mut scored: Vec<(RootCauseCategory, f64)> = PREFERENCE
        .iter()
        .map(|&cat| {
            if cat == RootCauseCategory::DependencyFailure {
                (cat, dependency)
            } else {
                (cat, noisy_or(signals.iter().filter(|s| s.category == cat)))
            }
        })
        .collect();
    // Stable sort keeps the preference order among equal scores.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (top_cat, top) = scored
        .first()
        .copied()
        .unwrap_or((RootCauseCategory::Unknown, 0.0));
    let runner_up = scored.get(1).map(|x| x.1).unwrap_or(0.0);

    let category = if top < UNKNOWN_BELOW {
        RootCauseCategory::Unknown
    } else {
        top_cat
    };
    let mut of_cat: Vec<&Signal> = signals
        .iter()
        .filter(|s| s.category == category)
        .filter(|s| {
            category != RootCauseCategory::DependencyFailure
                || s.service.is_none()
                || s.service == failing_dependency
        })
        .collect();
    of_cat.sort_by(|a, b| b.weight.total_cmp(&a.weight));

    // The suspect: the blamed change's service, the failing dependency, or where the strongest
    // signal was seen.
    let change_blamed = blamed.as_ref().filter(|c| {
        c.category == category
            && matches!(
                category,
                RootCauseCategory::Deployment | RootCauseCategory::ConfigChange
            )
    });
    let suspect_service: Option<ServiceName> = match (category, change_blamed) {
        (_, Some(c)) => Some(c.d.service.clone()),
        (RootCauseCategory::Unknown, _) => affected.first().cloned(),
        _ => of_cat
            .iter()
            .find_map(|s| s.service.clone())
            .or_else(|| affected.first().cloned()),
    };
    let suspect_version = change_blamed.map(|c| inline(&c.d.version, 64));

    // Evidence: verbatim quotes, strongest first; for a change, its description and the errors
    // that followed it.
    let mut evidence: Vec<String> = Vec::new();
    let push_quote = |q: &str, ev: &mut Vec<String>| {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        if quotable(q) && ev.len() < 4 && !ev.iter().any(|e| norm(e) == norm(q)) {
            ev.push(q.to_owned());
        }
    };
    if category != RootCauseCategory::Unknown {
        if let Some(c) = change_blamed {
            if let Some(s) = of_cat.iter().find(|s| s.origin == Origin::Change) {
                if let Some(q) = &s.quote {
                    push_quote(q, &mut evidence);
                }
            }
            let mut post: Vec<&Classified<'_>> = c.post.iter().map(|&i| &classified[i]).collect();
            post.sort_by(|a, b| b.t.level.cmp(&a.t.level).then(b.t.count.cmp(&a.t.count)));
            for p in post.iter().take(2) {
                let q = p
                    .matches
                    .first()
                    .map(|m| m.quote.clone())
                    .or_else(|| template_quote(p.t));
                if let Some(q) = q {
                    push_quote(&q, &mut evidence);
                }
            }
        }
        for s in &of_cat {
            if evidence.len() >= 3 {
                break;
            }
            if let Some(q) = &s.quote {
                push_quote(q, &mut evidence);
            }
        }
    }
    if evidence.len() < 2 {
        // Corroborate with the suspect's (or the affected services') symptoms.
        let mut symptoms: Vec<&MetricAnomaly> = ctx
            .metrics
            .iter()
            .filter(|m| {
                m.anomalous
                    && matches!(
                        metric_role(&m.name),
                        MetricRole::ErrorRate | MetricRole::Latency
                    )
            })
            .filter(|m| {
                suspect_service.as_ref() == Some(&m.service) || affected.contains(&m.service)
            })
            .collect();
        symptoms.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
        for m in symptoms.iter().take(2) {
            push_quote(&metric_quote(m), &mut evidence);
        }
        if category == RootCauseCategory::Unknown {
            for c in classified
                .iter()
                .filter(|c| c.t.level >= LogLevel::Error)
                .take(2)
            {
                if let Some(q) = template_quote(c.t) {
                    push_quote(&q, &mut evidence);
                }
            }
        }
    }

    // Services whose evidence the next attempt should gather. Each attempt gathers afresh (the
    // incident's services plus these), so dependencies the errors name are asked for again even
    // when this attempt already has their evidence: their health still matters.
    let mut missing_services: Vec<ServiceName> = Vec::new();
    for d in &named_deps {
        if missing_services.len() < MAX_MISSING {
            missing_services.push(d.clone());
        }
    }
    if matches!(
        category,
        RootCauseCategory::Unknown | RootCauseCategory::DependencyFailure
    ) {
        for a in &affected {
            for d in catalog.dependencies(a) {
                if !affected.contains(d)
                    && !missing_services.contains(d)
                    && missing_services.len() < MAX_MISSING
                {
                    missing_services.push(d.clone());
                }
            }
        }
    }

    // Confidence.
    let failed_here = ctx
        .failed_sources
        .iter()
        .filter(|f| {
            f.service
                .as_ref()
                .is_none_or(|s| affected.contains(s) || suspect_service.as_ref() == Some(s))
        })
        .count();
    let confidence = if category == RootCauseCategory::Unknown {
        (0.1 + 0.4 * top).min(0.3)
    } else {
        let margin = (top - runner_up).max(0.0);
        let mut kinds: Vec<u8> = of_cat
            .iter()
            .filter(|s| s.weight >= 0.2)
            .map(|s| s.origin.kind())
            .collect();
        // The suspect's own metrics showing it fails agree with what the logs say.
        let symptomatic = suspect_service
            .as_ref()
            .is_some_and(|s| has_symptoms(ctx, s))
            || affected.iter().any(|a| has_symptoms(ctx, a));
        if symptomatic {
            kinds.push(Origin::Metric.kind());
        }
        kinds.sort_unstable();
        kinds.dedup();
        let mut c = top * (0.75 + 0.25 * (margin / 0.3).min(1.0));
        if kinds.len() >= 2 {
            c += 0.07;
        }
        // A cause that accounts for most of the affected services' errors is a stronger claim
        // than one that explains a corner of them.
        let share = explained_share(&classified, &affected, &of_cat, change_blamed);
        if share >= 0.6 {
            c += 0.1 * share;
        }
        c -= (0.05 * failed_here as f64).min(0.15);
        if category == RootCauseCategory::DependencyFailure
            && suspect_service
                .as_ref()
                .is_some_and(|s| !ctx.services.contains(s))
        {
            // Not confident in blaming a dependency before looking at it.
            c = c.min(0.6);
        }
        c.min(0.95)
    };
    // Not confident: failures below the service show up in the platform's events, not in the
    // service's own logs, so look there next.
    // Sources not searched yet come first; those searched are kept only if they had something
    // to say (a warning, an error or an anomaly).
    let mut platform_asked: Vec<ServiceName> = Vec::new();
    if confidence < GATE_HINT {
        let spoke = |p: &ServiceName| {
            ctx.logs
                .iter()
                .any(|t| t.services.contains(p) && t.level >= LogLevel::Warn)
                || ctx.metrics.iter().any(|m| &m.service == p && m.anomalous)
        };
        let fresh = catalog
            .platform_sources
            .iter()
            .filter(|p| !ctx.services.contains(p));
        let useful = catalog
            .platform_sources
            .iter()
            .filter(|p| ctx.services.contains(p) && spoke(p));
        for p in fresh.chain(useful) {
            if !missing_services.contains(p)
                && !affected.contains(p)
                && missing_services.len() < MAX_MISSING
            {
                missing_services.push(p.clone());
                if !ctx.services.contains(p) {
                    platform_asked.push(p.clone());
                }
            }
        }
    }

    let verdict = Verdict {
        category,
        suspect: suspect_service.as_ref(),
        change: change_blamed,
    };
    let mut missing_evidence = missing_evidence(
        ctx,
        &affected,
        &verdict,
        &missing_services,
        &catalog.platform_sources,
        input,
    );
    if !platform_asked.is_empty() {
        let names: Vec<&str> = platform_asked.iter().map(|s| s.as_str()).collect();
        missing_evidence.push(format!("platform events from {}", names.join(", ")));
    }
    let primary_cause = primary_cause(
        category,
        suspect_service.as_ref(),
        &affected,
        &of_cat,
        change_blamed,
        alert_start,
    );

    let mut contributing_factors: Vec<String> = Vec::new();
    for &(cat, score) in scored.iter().filter(|(c, _)| *c != category) {
        if score < 0.3 {
            continue;
        }
        if let Some(s) = signals
            .iter()
            .filter(|s| s.category == cat)
            .max_by(|a, b| a.weight.total_cmp(&b.weight))
        {
            contributing_factors.push(format!("Also seen ({cat}, score {score:.2}): {}.", s.note));
        }
    }
    for s in of_cat.iter().skip(1).take(3) {
        contributing_factors.push(format!("Supporting: {}.", s.note));
    }
    contributing_factors.extend(change_notes.into_iter().take(3));
    if failed_here > 0 {
        contributing_factors.push(format!(
            "{failed_here} evidence source(s) could not be read, which lowers confidence."
        ));
    }

    RootCauseFinding {
        category,
        primary_cause,
        contributing_factors,
        evidence,
        suspect_service,
        suspect_version,
        model_confidence: Confidence::clamped(confidence),
        missing_evidence,
        missing_services,
    }
}

fn primary_cause(
    category: RootCauseCategory,
    suspect: Option<&ServiceName>,
    affected: &[ServiceName],
    of_cat: &[&Signal],
    change: Option<&ChangeAssessment<'_>>,
    alert_start: DateTime<Utc>,
) -> String {
    let svc = suspect
        .map(|s| s.to_string())
        .or_else(|| affected.first().map(|s| s.to_string()))
        .unwrap_or_else(|| "the affected service".into());
    let victim = affected
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "the affected service".into());
    let what = of_cat
        .iter()
        .find(|s| s.origin != Origin::Change)
        .map(|s| s.note.clone());
    if let (RootCauseCategory::Deployment | RootCauseCategory::ConfigChange, Some(c)) =
        (category, change)
    {
        let kind = if category == RootCauseCategory::ConfigChange {
            "Configuration change"
        } else {
            "Deployment"
        };
        let onset = c
            .onset_minutes
            .map(|m| format!(", and new errors began {m} min after it"))
            .unwrap_or_default();
        return format!(
            "{kind} {} of {} at {} UTC, {} before the alert, broke it{onset}.",
            inline(&c.d.version, 64),
            c.d.service,
            c.d.at.format("%H:%M"),
            human_duration(alert_start - c.d.at)
        );
    }
    match category {
        RootCauseCategory::ConfigChange => format!(
            "{svc} is failing on its configuration ({}).",
            what.unwrap_or_else(|| "configuration errors".into())
        ),
        RootCauseCategory::Deployment => format!("A recent change to {svc} broke it."),
        RootCauseCategory::ResourceExhaustion => {
            let r = of_cat
                .iter()
                .find_map(|s| s.resource)
                .map(|r| r.noun())
                .unwrap_or("a resource");
            format!(
                "{svc} ran out of {r} ({}).",
                what.unwrap_or_else(|| "resource exhaustion".into())
            )
        }
        RootCauseCategory::DependencyFailure => {
            if suspect.is_some_and(|s| !affected.contains(s)) {
                format!(
                    "{victim} is failing because its dependency {svc} is failing ({}).",
                    what.unwrap_or_default()
                )
            } else {
                format!(
                    "{victim} is failing on calls to a dependency ({}).",
                    what.unwrap_or_default()
                )
            }
        }
        RootCauseCategory::TrafficSurge => format!(
            "Traffic to {svc} exceeds what it can serve ({}).",
            what.unwrap_or_default()
        ),
        RootCauseCategory::Infrastructure => format!(
            "Infrastructure under {svc} failed ({}).",
            what.unwrap_or_default()
        ),
        RootCauseCategory::CertificateExpiry => {
            if suspect.is_some_and(|s| !affected.contains(s)) {
                format!("An expired TLS certificate breaks {victim}'s calls to {svc}.")
            } else {
                format!(
                    "An expired TLS certificate breaks {svc} ({}).",
                    what.unwrap_or_default()
                )
            }
        }
        RootCauseCategory::DataIssue => {
            format!("Bad data is failing {svc} ({}).", what.unwrap_or_default())
        }
        RootCauseCategory::Unknown => {
            format!("The evidence gathered for {victim} does not point to a cause.")
        }
    }
}

/// What the analysis concluded, for the parts of the finding written from it.
struct Verdict<'a, 'c> {
    category: RootCauseCategory,
    suspect: Option<&'a ServiceName>,
    change: Option<&'a ChangeAssessment<'c>>,
}

fn missing_evidence(
    ctx: &ContextBundle,
    affected: &[ServiceName],
    verdict: &Verdict<'_, '_>,
    missing_services: &[ServiceName],
    platform: &[ServiceName],
    input: &RootCauseInput<'_>,
) -> Vec<String> {
    let (category, suspect, change) = (verdict.category, verdict.suspect, verdict.change);
    let mut out = Vec::new();
    for f in ctx.failed_sources.iter().take(6) {
        let what = match f.source {
            SourceKind::Logs => "logs",
            SourceKind::Metrics => "metrics",
            SourceKind::Deployments => "deployments",
        };
        let svc = f
            .service
            .as_ref()
            .map(|s| format!(" of {s}"))
            .unwrap_or_default();
        if f.not_configured {
            out.push(format!("{what}{svc}: no source is configured"));
        } else {
            out.push(format!(
                "{what}{svc}: the source failed ({})",
                inline(&f.reason, 120)
            ));
        }
    }
    for s in missing_services
        .iter()
        .filter(|s| !platform.contains(s) && !ctx.services.contains(s))
    {
        out.push(format!(
            "logs, metrics and deployments of {s}, which the errors name"
        ));
    }
    if let Some(prev) = input.previous {
        for s in prev
            .finding
            .missing_services
            .iter()
            .filter(|s| !platform.contains(s))
        {
            let found = ctx.logs.iter().any(|t| t.services.contains(s))
                || ctx.metrics.iter().any(|m| &m.service == s)
                || ctx.deployments.iter().any(|d| &d.service == s);
            if ctx.services.contains(s) && !found {
                out.push(format!(
                    "no evidence at all was found for {s}, which the previous attempt asked for"
                ));
            }
        }
    }
    for a in affected {
        if !ctx.logs.iter().any(|t| t.services.contains(a)) {
            out.push(format!("log lines of {a}"));
        }
        if !ctx.metrics.iter().any(|m| &m.service == a) {
            out.push(format!("metrics of {a}"));
        }
    }
    let svc = suspect
        .map(|s| s.to_string())
        .unwrap_or_else(|| "the service".into());
    match (category, change) {
        (RootCauseCategory::Deployment, Some(c)) => {
            out.push(format!(
                "the diff of {} {} against the version before it",
                c.d.service,
                inline(&c.d.version, 40)
            ));
            if !c.pre_visible {
                out.push(format!(
                    "logs of {} from before the deployment, to confirm it was healthy then",
                    c.d.service
                ));
            }
        }
        (RootCauseCategory::ConfigChange, _) => out.push(format!(
            "the configuration of {svc} before and after the change"
        )),
        (RootCauseCategory::ResourceExhaustion, _) => out.push(format!(
            "per-instance resource usage of {svc} over the last hours"
        )),
        (RootCauseCategory::DependencyFailure, _) => out.push(format!(
            "the health of {svc} as its owners see it (status page, their alerts)"
        )),
        (RootCauseCategory::TrafficSurge, _) => out.push(format!(
            "where the extra traffic to {svc} comes from (top clients, routes)"
        )),
        (RootCauseCategory::Infrastructure, _) => {
            out.push("node and zone health from the platform or cloud provider".into())
        }
        (RootCauseCategory::CertificateExpiry, _) => out.push(format!(
            "which endpoint of {svc} presents the expired certificate, and its notAfter date"
        )),
        (RootCauseCategory::DataIssue, _) => out.push(format!(
            "the offending records and which producer wrote them to {svc}"
        )),
        _ => {
            if ctx.deployments.is_empty() {
                out.push("recent deployments and configuration changes".into());
            }
            out.push("error logs around the time the alert started".into());
        }
    }
    out.truncate(10);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_roles_are_read_from_common_names() {
        assert_eq!(metric_role("error_rate"), MetricRole::ErrorRate);
        assert_eq!(metric_role("latency_p99_ms"), MetricRole::Latency);
        assert_eq!(metric_role("request_rate"), MetricRole::RequestRate);
        assert_eq!(metric_role("capacity_rps"), MetricRole::Capacity);
        assert_eq!(metric_role("memory_utilization"), MetricRole::Memory);
        assert_eq!(
            metric_role("db_connections_active"),
            MetricRole::Connections
        );
        assert_eq!(metric_role("disk_utilization"), MetricRole::Disk);
        assert_eq!(metric_role("replicas"), MetricRole::Replicas);
        assert_eq!(metric_role("cert_expiry_days"), MetricRole::CertDays);
        assert_eq!(metric_role("container_restarts"), MetricRole::Restarts);
    }

    #[test]
    fn noisy_or_keeps_the_strongest_signal_per_key() {
        let s = |key: &str, w: f64| Signal {
            category: RootCauseCategory::DataIssue,
            key: key.into(),
            weight: w,
            quote: None,
            note: String::new(),
            service: None,
            origin: Origin::Metric,
            resource: None,
        };
        let v = [s("a", 0.5), s("a", 0.6), s("b", 0.5)];
        assert!((noisy_or(v.iter()) - 0.8).abs() < 1e-9);
    }
}

//! Heuristic remediation plans: a fixed recipe per root-cause category, built only from the typed
//! action catalogue, aimed only at the incident's services, each side-effecting step with its
//! typed rollback where one exists, and a `verify_metric` step where a symptom metric is known.
//!
//! Values that come from evidence (versions, config keys and values, flag names, replica counts)
//! are used only when strictly spelled; when a value the action needs is unknown, the plan says
//! so in a manual step instead of inventing it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::analyst::changes::{config_edit, flag_change};
use crate::analyst::rca::{affected, metric_role, MetricRole};
use crate::analyst::signatures::{classify, fallback_flags, Kind, Resource};
use crate::analyst::text::inline;
use crate::analyst::triage::unreachable_regex;
use crate::ids::ServiceName;
use crate::model::{
    Action, Comparison, ContextBundle, Deployment, Incident, LogLevel, MetricAnomaly, ProposedPlan,
    ProposedStep, Risk, RootCauseCategory, RootCauseHypothesis,
};

/// Largest replica count a plan will ask for; beyond it a human should decide.
const MAX_REPLICAS: u32 = 1_000;

fn step(action: Action, risk: Risk, rationale: impl Into<String>) -> ProposedStep {
    ProposedStep {
        rollback: action.inverse(),
        action,
        risk,
        rationale: rationale.into(),
    }
}

fn manual(
    service: Option<&ServiceName>,
    instructions: String,
    rationale: impl Into<String>,
) -> ProposedStep {
    step(
        Action::Manual {
            service: service.cloned(),
            instructions,
        },
        Risk::High,
        rationale,
    )
}

/// A version usable in an action: printable, no spaces or shell punctuation, bounded.
fn clean_version(v: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._+\-:/@]{0,127}$")
            .unwrap_or_else(|_| unreachable_regex())
    });
    let v = v.trim();
    re.is_match(v).then(|| v.to_owned())
}

/// A runbook name made of a fixed prefix and a service name.
fn runbook_for(prefix: &str, service: &ServiceName) -> String {
    let s: String = service
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{s}")
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn round_threshold(x: f64) -> f64 {
    if x < 10.0 {
        (x * 10_000.0).round() / 10_000.0
    } else {
        x.round()
    }
}

/// A step that checks the service's main symptom is back near its baseline: its anomalous error
/// rate, else its anomalous latency, else any error rate it reports.
fn verify_step(ctx: &ContextBundle, service: &ServiceName) -> Option<ProposedStep> {
    let of = |role: MetricRole, anomalous: bool| {
        ctx.metrics.iter().find(|m| {
            &m.service == service
                && metric_role(&m.name) == role
                && (!anomalous || (m.anomalous && m.current > m.baseline))
        })
    };
    let m: &MetricAnomaly = of(MetricRole::ErrorRate, true)
        .or_else(|| of(MetricRole::Latency, true))
        .or_else(|| of(MetricRole::ErrorRate, false))?;
    let base = m.baseline.max(0.0);
    let slack = if m.current <= 1.0 && base <= 1.0 {
        0.01
    } else {
        1.0
    };
    let threshold = round_threshold((base * 1.5).max(base + slack));
    if !threshold.is_finite() {
        return None;
    }
    Some(step(
        Action::VerifyMetric {
            service: service.clone(),
            metric: m.name.clone(),
            comparison: Comparison::Below,
            threshold,
        },
        Risk::Low,
        format!(
            "Confirms {} of {service} is back near its baseline of {}.",
            m.name, m.baseline
        ),
    ))
}

/// The current replica count of a service, only if a metric reports it as a sane whole number.
fn current_replicas<'a>(
    ctx: &'a ContextBundle,
    service: &ServiceName,
) -> Option<(u32, &'a MetricAnomaly)> {
    let m = ctx.metrics.iter().find(|m| {
        &m.service == service && metric_role(&m.name) == MetricRole::Replicas && {
            let n = m.name.to_ascii_lowercase();
            !n.contains("max") && !n.contains("min")
        }
    })?;
    let v = m.current;
    if !v.is_finite() || v < 1.0 || v > f64::from(MAX_REPLICAS) || (v - v.round()).abs() > 0.01 {
        return None;
    }
    Some((v.round() as u32, m))
}

/// How many times more replicas the load needs: request rate against capacity (with 20%
/// headroom, assuming capacity grows with replicas), else against its baseline, else double.
fn load_factor(ctx: &ContextBundle, service: &ServiceName) -> f64 {
    let role_of = |role| {
        ctx.metrics
            .iter()
            .find(|m| &m.service == service && metric_role(&m.name) == role)
    };
    match (
        role_of(MetricRole::RequestRate),
        role_of(MetricRole::Capacity),
    ) {
        (Some(r), Some(c)) if c.current > 0.0 && r.current > 0.0 => (r.current / c.current) * 1.2,
        (Some(r), _) if r.ratio > 1.0 => r.ratio,
        _ => 2.0,
    }
}

fn scale_or_runbook(ctx: &ContextBundle, service: &ServiceName, why: &str) -> ProposedStep {
    match current_replicas(ctx, service) {
        Some((from, m)) => {
            let factor = load_factor(ctx, service).clamp(1.0, 4.0);
            let wanted = (f64::from(from) * factor).ceil() as u32;
            let to = wanted.max(from + 1).min(from.saturating_mul(4)).min(MAX_REPLICAS).max(from + 1);
            step(
                Action::ScaleService { service: service.clone(), from_replicas: from, to_replicas: to },
                Risk::Low,
                format!("{why} {service} runs {from} replicas ({} reports {}); {to} covers the load with headroom.", m.name, m.current),
            )
        }
        None => step(
            Action::RunRunbook { service: service.clone(), runbook: "scale-out".into(), parameters: params(&[("service", service.as_str())]) },
            Risk::Medium,
            format!("{why} The current replica count of {service} is not known, so the team's scale-out runbook decides it."),
        ),
    }
}

/// The deployment a hypothesis blames: by service and version, else the newest of its service.
fn blamed_deployment<'a>(
    ctx: &'a ContextBundle,
    h: &RootCauseHypothesis,
) -> Option<&'a Deployment> {
    let svc = h.finding.suspect_service.as_ref()?;
    let by_version = h.finding.suspect_version.as_ref().and_then(|v| {
        ctx.deployments
            .iter()
            .find(|d| &d.service == svc && (d.version == *v || inline(&d.version, 64) == *v))
    });
    by_version.or_else(|| {
        ctx.deployments
            .iter()
            .filter(|d| &d.service == svc)
            .max_by_key(|d| d.at)
    })
}

/// The version to go back to: the one the source recorded, else the previous deployment of the
/// same service in the evidence.
fn previous_version(ctx: &ContextBundle, d: &Deployment) -> Option<String> {
    d.previous_version
        .as_deref()
        .and_then(clean_version)
        .filter(|p| *p != d.version)
        .or_else(|| {
            ctx.deployments
                .iter()
                .filter(|o| o.service == d.service && o.at < d.at && o.version != d.version)
                .max_by_key(|o| o.at)
                .and_then(|o| clean_version(&o.version))
        })
}

/// How a deployment is named in prose: its version if strictly spelled, else its time. A
/// version string that could not go into a command is not repeated to a human either.
fn version_label(d: &Deployment) -> String {
    clean_version(&d.version)
        .unwrap_or_else(|| format!("the version deployed at {} UTC", d.at.format("%H:%M")))
}

fn rollback_step(
    ctx: &ContextBundle,
    d: &Deployment,
    in_scope: bool,
    victim: Option<&ServiceName>,
) -> ProposedStep {
    let version = version_label(d);
    if !in_scope {
        return manual(
            victim,
            format!("Ask the owners of {} to roll back {version}; IRAS may only act on this incident's services.", d.service),
            format!("The change to {} is to blame, but {} is outside this incident.", d.service, d.service),
        );
    }
    match (clean_version(&d.version), previous_version(ctx, d)) {
        (Some(from), Some(to)) => step(
            Action::RollbackDeployment { service: d.service.clone(), from_version: from.clone(), to_version: to.clone() },
            Risk::Medium,
            format!("Returns {} to {to}, the version that ran before {from}.", d.service),
        ),
                (Some(_), None) => manual(
            Some(&d.service),
            format!("Roll {} back from {version} to the last version that worked; IRAS does not know which version ran before.", d.service),
            "The previous version is not recorded, so no automatic rollback can name it.",
        ),
        (None, _) => manual(
            Some(&d.service),
            format!("Roll {} back from {version} to the last version that worked; its version string is not one IRAS will put in a command.", d.service),
            "The deployed version is not strictly spelled, so no automatic rollback names it.",
        ),
    }
}

/// The resource a service ran out of, from its log signatures and metrics.
fn dominant_resource(ctx: &ContextBundle, service: Option<&ServiceName>) -> Option<Resource> {
    let mut score: Vec<(Resource, f64)> = Vec::new();
    let mut add = |r: Resource, w: f64| match score.iter_mut().find(|(x, _)| *x == r) {
        Some((_, s)) => *s += w,
        None => score.push((r, w)),
    };
    for t in &ctx.logs {
        if t.level < LogLevel::Warn || service.is_some_and(|s| !t.services.contains(s)) {
            continue;
        }
        for m in classify(t) {
            if let Kind::Resource(r) = m.sig.kind {
                add(r, m.sig.weight * (1.0 + (t.count.max(1) as f64).log10()));
            }
        }
    }
    for m in ctx
        .metrics
        .iter()
        .filter(|m| m.anomalous && service.is_none_or(|s| &m.service == s))
    {
        let r = match metric_role(&m.name) {
            MetricRole::Memory | MetricRole::OomKills => Resource::Memory,
            MetricRole::Disk => Resource::Disk,
            MetricRole::Connections => Resource::Connections,
            MetricRole::Cpu => Resource::Cpu,
            MetricRole::FileDescriptors => Resource::FileDescriptors,
            _ => continue,
        };
        add(r, 0.5);
    }
    score
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r)
}

/// What the evidence says failed below the service: the kind of failure, a node name and a zone.
#[derive(Debug, Default)]
struct InfraFailure {
    kind: Option<Kind>,
    node: Option<String>,
    zone: Option<String>,
}

fn infrastructure_failure(ctx: &ContextBundle) -> InfraFailure {
    static NODE: OnceLock<Regex> = OnceLock::new();
    static ZONE: OnceLock<Regex> = OnceLock::new();
    let node_re = NODE.get_or_init(|| {
        Regex::new(r"(?i)\bnode[\s:=]+([a-z0-9][a-z0-9.\-]{1,62}[a-z0-9])\b")
            .unwrap_or_else(|_| unreachable_regex())
    });
    // AWS (`eu-west-1b`) and GCP (`europe-west1-b`) zone names.
    let zone_re = ZONE.get_or_init(|| {
        Regex::new(r"\b([a-z]{2}-[a-z]+-\d[a-z]|[a-z]+-[a-z]+\d-[a-z])\b")
            .unwrap_or_else(|_| unreachable_regex())
    });
    const NOT_NODES: &[&str] = &[
        "is",
        "not",
        "notready",
        "lost",
        "unreachable",
        "failure",
        "had",
        "status",
    ];
    let mut f = InfraFailure::default();
    let rank = |k: Option<Kind>| match k {
        Some(Kind::Zone) => 3,
        Some(Kind::Node) => 2,
        Some(Kind::Storage) => 1,
        _ => 0,
    };
    for t in ctx.logs.iter().filter(|t| t.level >= LogLevel::Warn) {
        for m in classify(t) {
            if !matches!(
                m.sig.kind,
                Kind::Zone | Kind::Node | Kind::Storage | Kind::Network
            ) {
                continue;
            }
            if rank(Some(m.sig.kind)) > rank(f.kind) || f.kind.is_none() {
                f.kind = Some(m.sig.kind);
            }
            if m.sig.kind == Kind::Node && f.node.is_none() {
                f.node = t
                    .samples
                    .iter()
                    .find_map(|s| {
                        node_re
                            .captures(s)
                            .and_then(|c| c.get(1))
                            .map(|m| m.as_str().to_ascii_lowercase())
                    })
                    .filter(|n| !NOT_NODES.contains(&n.as_str()));
            }
            if f.zone.is_none() {
                f.zone = t.samples.iter().find_map(|s| {
                    zone_re
                        .captures(s)
                        .and_then(|c| c.get(1))
                        .map(|m| m.as_str().to_owned())
                });
            }
        }
    }
    f
}

/// Whether a consumer is stuck on bad data (its queue grows, its throughput collapsed, or it says
/// it paused) rather than rejecting the bad records and carrying on.
fn consumer_blocked(ctx: &ContextBundle, service: &ServiceName) -> bool {
    static STUCK: OnceLock<Regex> = OnceLock::new();
    let stuck = STUCK.get_or_init(|| {
        Regex::new(r"(?i)(paus(?:e|ed|ing) (?:the )?partition|partition[^\n]{0,20} paused|retr(?:y|ies) exhausted|poison(?:ed)? (?:message|pill|record)|consumer (?:is )?(?:stuck|stalled|blocked)|processing (?:is )?(?:stuck|stalled|halted|blocked))")
            .unwrap_or_else(|_| unreachable_regex())
    });
    let metrics = ctx.metrics.iter().filter(|m| &m.service == service);
    let backlog = metrics
        .clone()
        .any(|m| metric_role(&m.name) == MetricRole::QueueDepth && m.anomalous && m.ratio >= 2.0);
    let collapsed = metrics.clone().any(|m| {
        metric_role(&m.name) == MetricRole::RequestRate
            && m.baseline > 0.0
            && m.current / m.baseline <= 0.5
    });
    let says = ctx.logs.iter().any(|t| {
        t.services.contains(service)
            && t.level >= LogLevel::Warn
            && t.samples.iter().any(|s| stuck.is_match(s))
    });
    backlog || collapsed || says
}

/// A plan for a hypothesis.
pub(crate) fn plan(
    incident: &Incident,
    h: &RootCauseHypothesis,
    ctx: &ContextBundle,
) -> ProposedPlan {
    let scope = affected(incident, ctx);
    let primary = scope.first();
    let suspect = h.finding.suspect_service.as_ref();
    let in_scope = |s: &ServiceName| scope.contains(s);
    let target: Option<&ServiceName> = suspect.filter(|s| in_scope(s)).or(primary);
    let mut steps: Vec<ProposedStep> = Vec::new();
    let summary: String;

    let Some(target) = target else {
        // No service is named anywhere: nothing can be acted on automatically.
        return ProposedPlan {
            summary: "Investigate by hand: the incident names no service to act on.".into(),
            steps: vec![manual(
                None,
                "Find which service raised this alert and investigate it; IRAS could not tell from the alert.".into(),
                "The alert named no service.",
            )],
        };
    };

    match h.finding.category {
        RootCauseCategory::Deployment => match blamed_deployment(ctx, h) {
            Some(d) => {
                steps.push(rollback_step(ctx, d, in_scope(&d.service), primary));
                summary = format!(
                    "Roll back {} {} and check that it recovers.",
                    d.service,
                    version_label(d)
                );
            }
            None => {
                steps.push(manual(
                        Some(target),
                        format!("Find the recent change to {target} and roll it back; the deployment is not in the evidence IRAS gathered."),
                        "A deployment is blamed but its record was not found.",
                    ));
                summary = format!("Roll back the recent change to {target} by hand.");
            }
        },
        RootCauseCategory::ConfigChange => {
            let d = blamed_deployment(ctx, h);
            match d {
                Some(d) if in_scope(&d.service) => {
                    // A flag named by the change is the precise lever; a stated edit next.
                    if let Some(flag) = flag_change(&d.description) {
                        let state = if flag.enabled { "off" } else { "on" };
                        steps.push(step(
                            Action::ToggleFeatureFlag {
                                service: d.service.clone(),
                                flag: flag.flag.clone(),
                                enabled: !flag.enabled,
                            },
                            Risk::Low,
                            format!(
                                "The change turned feature flag {} {}; this turns it back {state}.",
                                flag.flag,
                                if flag.enabled { "on" } else { "off" }
                            ),
                        ));
                        summary = format!(
                            "Turn feature flag {} {state} for {} and check that it recovers.",
                            flag.flag, d.service
                        );
                    } else if let Some(edit) = config_edit(&d.description) {
                        steps.push(step(
                            Action::SetConfig {
                                service: d.service.clone(),
                                key: edit.key.clone(),
                                from_value: edit.to.clone(),
                                to_value: edit.from.clone(),
                            },
                            Risk::Medium,
                            format!(
                                "The change set {} from {} to {}; this restores {}.",
                                edit.key, edit.from, edit.to, edit.from
                            ),
                        ));
                        summary = format!(
                            "Set {} of {} back to {} and check that it recovers.",
                            edit.key, d.service, edit.from
                        );
                    } else {
                        steps.push(rollback_step(ctx, d, true, primary));
                        summary = format!(
                            "Revert configuration change {} of {} and check that it recovers.",
                            version_label(d),
                            d.service
                        );
                    }
                }
                Some(d) => {
                    steps.push(rollback_step(ctx, d, false, primary));
                    summary = format!(
                        "Have the owners of {} revert their configuration change.",
                        d.service
                    );
                }
                None => {
                    steps.push(manual(
                        Some(target),
                        format!("Fix the configuration of {target}: it fails to load or validate (see the evidence); no recorded change explains it."),
                        "Configuration errors with no recorded change to revert.",
                    ));
                    summary = format!("Fix the configuration of {target} by hand.");
                }
            }
        }
        RootCauseCategory::ResourceExhaustion => {
            let resource =
                dominant_resource(ctx, Some(target)).or_else(|| dominant_resource(ctx, None));
            match resource {
                Some(Resource::Disk) => {
                    steps.push(step(
                        Action::RunRunbook {
                            service: target.clone(),
                            runbook: "free-disk-space".into(),
                            parameters: params(&[("service", target.as_str())]),
                        },
                        Risk::Medium,
                        format!("{target} is out of disk space; restarting would not free it."),
                    ));
                    summary = format!("Free disk space on {target} and check that it recovers.");
                }
                Some(Resource::Cpu) => {
                    steps.push(scale_or_runbook(
                        ctx,
                        target,
                        "CPU is saturated; more replicas spread the load.",
                    ));
                    summary = format!("Add capacity to {target} and check that it recovers.");
                }
                other => {
                    let what = other.map(Resource::noun).unwrap_or("resources");
                    steps.push(step(
                        Action::RestartService { service: target.clone() },
                        Risk::Medium,
                        format!("A rolling restart releases the {what} {target} has exhausted; it buys time, not a fix."),
                    ));
                    summary = format!(
                        "Restart {target} to release exhausted {what} and check that it recovers."
                    );
                }
            }
        }
        RootCauseCategory::TrafficSurge => {
            steps.push(scale_or_runbook(ctx, target, "Traffic exceeds capacity."));
            let overload = load_factor(ctx, target) / 1.2;
            if overload >= 2.0 || current_replicas(ctx, target).is_none() {
                steps.push(step(
                    Action::RunRunbook {
                        service: target.clone(),
                        runbook: "enable-rate-limiting".into(),
                        parameters: params(&[("service", target.as_str())]),
                    },
                    Risk::Medium,
                    "New replicas take minutes; rate limiting protects the ones running now.",
                ));
            }
            summary = format!("Scale out {target} for the surge and check that it recovers.");
        }
        RootCauseCategory::DependencyFailure => {
            let dep = suspect.filter(|s| Some(*s) != primary);
            let mut texts: Vec<(&str, Option<&ServiceName>)> = Vec::new();
            for t in &ctx.logs {
                for s in &t.samples {
                    texts.push((s.as_str(), t.services.iter().find(|x| in_scope(x))));
                }
            }
            for d in &ctx.deployments {
                texts.push((
                    d.description.as_str(),
                    in_scope(&d.service).then_some(&d.service),
                ));
            }
            let flag = texts
                .iter()
                .find_map(|(text, svc)| fallback_flags(text).into_iter().next().map(|f| (f, *svc)));
            match (flag, dep) {
                (Some((flag, svc)), _) => {
                    let svc = svc.unwrap_or(target);
                    steps.push(step(
                        Action::ToggleFeatureFlag { service: svc.clone(), flag: flag.clone(), enabled: true },
                        Risk::Low,
                        format!("The evidence names fallback flag {flag}; turning it on lets {svc} degrade gracefully while the dependency is down."),
                    ));
                    summary = format!(
                        "Turn on fallback flag {flag} for {svc} and check that it recovers."
                    );
                }
                (None, Some(dep)) => {
                    let runbook_target = if in_scope(dep) { dep } else { target };
                    steps.push(step(
                        Action::RunRunbook {
                            service: runbook_target.clone(),
                            runbook: runbook_for("failover", dep),
                            parameters: params(&[("dependency", dep.as_str()), ("service", runbook_target.as_str())]),
                        },
                        Risk::Medium,
                        format!("Moves {runbook_target} off the failing {dep} (secondary region or provider) while its owners fix it."),
                    ));
                    summary = format!("Fail {runbook_target} over away from {dep}, page its owners, and check that it recovers.");
                }
                (None, None) => {
                    summary = format!("Find the failing dependency of {target} by hand.");
                }
            }
            let who = dep
                .map(|d| format!("the team that owns {d}"))
                .unwrap_or_else(|| "the owners of the failing dependency".into());
            steps.push(manual(
                primary,
                format!("Page {who} with this incident's evidence; the fix is on their side."),
                "The cause lies in a dependency; only its owners can remove it.",
            ));
        }
        RootCauseCategory::CertificateExpiry => {
            let mut p = vec![("service", target.as_str())];
            if let Some(s) = suspect.filter(|s| *s != target) {
                p.push(("peer", s.as_str()));
            }
            steps.push(step(
                Action::RunRunbook {
                    service: target.clone(),
                    runbook: "rotate-certificate".into(),
                    parameters: params(&p),
                },
                Risk::Medium,
                "An expired certificate only comes back by issuing and deploying a new one.",
            ));
            summary =
                format!("Rotate the expired certificate for {target} and check that it recovers.");
        }
        RootCauseCategory::Infrastructure => {
            let infra = infrastructure_failure(ctx);
            let mut p = vec![("service", target.as_str())];
            if let Some(z) = infra.zone.as_deref() {
                p.push(("zone", z));
            }
            match (infra.kind, infra.zone.as_deref()) {
                (Some(Kind::Node), _) => {
                    if let Some(n) = infra.node.as_deref() {
                        p.push(("node", n));
                    }
                    steps.push(step(
                        Action::RunRunbook { service: target.clone(), runbook: "drain-node".into(), parameters: params(&p) },
                        Risk::Medium,
                        "A node is failing; draining it reschedules the service, and frees its volumes, on healthy nodes.",
                    ));
                    summary = format!(
                        "Drain the failing node under {target} and check that it recovers."
                    );
                }
                (Some(Kind::Zone), _) | (Some(Kind::Storage), Some(_)) => {
                    let why = if infra.kind == Some(Kind::Zone) {
                        "A zone is failing; moving traffic to healthy zones restores service."
                    } else {
                        "Storage in one zone is degraded; failing over to the replicas in a healthy zone restores service."
                    };
                    steps.push(step(
                        Action::RunRunbook {
                            service: target.clone(),
                            runbook: "failover-az".into(),
                            parameters: params(&p),
                        },
                        Risk::Medium,
                        why,
                    ));
                    summary =
                        format!("Fail {target} over to a healthy zone and check that it recovers.");
                }
                _ => {
                    steps.push(manual(
                        Some(target),
                        format!("Check the platform under {target} (nodes, network, storage) with the infrastructure team; the evidence points below the service."),
                        "The failure is below the service and no runbook fits it.",
                    ));
                    summary =
                        format!("Have the infrastructure team check the platform under {target}.");
                }
            }
        }
        RootCauseCategory::DataIssue => {
            if consumer_blocked(ctx, target) {
                steps.push(step(
                    Action::RunRunbook {
                        service: target.clone(),
                        runbook: "quarantine-bad-records".into(),
                        parameters: params(&[("service", target.as_str())]),
                    },
                    Risk::Medium,
                    format!("{target} is stuck on the bad records; moving them aside lets the good ones flow again."),
                ));
                steps.push(manual(
                    Some(target),
                    format!("Find which producer wrote the bad records {target} rejects, fix it, then replay the quarantined records."),
                    "Quarantine stops the bleeding; the data itself needs a human.",
                ));
                summary = format!("Quarantine the bad records {target} is stuck on, fix their producer, and check that it recovers.");
            } else {
                // The bad records are already being rejected and the rest flows: nothing to unblock,
                // and only a human can fix the source or the mapping.
                steps.push(manual(
                    Some(target),
                    format!("Find which producer or feed sends the records {target} rejects and have it fixed (or update the mapping), then re-run the rejected records."),
                    format!("{target} rejects the bad records and carries on; the data itself needs a human."),
                ));
                summary = format!(
                    "Have the source of the bad records {target} rejects fixed, then re-run them."
                );
            }
        }
        RootCauseCategory::Unknown => {
            steps.push(manual(
                Some(target),
                format!("Investigate {target}: IRAS found no root cause in the evidence. Start with its recent errors, changes and dependencies."),
                "No category is supported by the evidence, so no automatic action is safe.",
            ));
            return ProposedPlan {
                summary: format!("Investigate {target} by hand: no root cause was established."),
                steps,
            };
        }
    }

    let verify_on = primary.unwrap_or(target);
    if let Some(v) = verify_step(ctx, verify_on) {
        steps.push(v);
    } else if verify_on != target {
        if let Some(v) = verify_step(ctx, target) {
            steps.push(v);
        }
    }
    ProposedPlan { summary, steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_spaces_or_shell_characters_are_not_used_in_actions() {
        assert_eq!(clean_version("v2.4.1"), Some("v2.4.1".into()));
        assert_eq!(clean_version("sha256:abc123"), Some("sha256:abc123".into()));
        assert_eq!(clean_version("v1; rm -rf /"), None);
        assert_eq!(clean_version(""), None);
    }

    #[test]
    fn runbook_names_are_made_of_safe_characters() {
        let s = ServiceName::parse("payments/gateway:v2").expect("valid");
        assert_eq!(runbook_for("failover", &s), "failover-payments-gateway-v2");
    }
}

//! The heuristic analyst against every scenario in `tests/fixtures/scenarios`: the alert goes
//! through the real normaliser, evidence is gathered from the scenario's world the way
//! `GatherContext` gathers it (a one-hour window, doubled and widened to the services the
//! analysis asks for on each further attempt), and the result is grounded and the plan checked by
//! the safety policy. One row per scenario is printed; the root cause must be right for all but
//! one scenario, and the first action wherever the root cause is right.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use iras_core::analyst::HeuristicAnalyst;
use iras_core::intake::{normalize, Intake};
use iras_core::policy::{assess_plan, ground, AutoApplyPolicy, Policy};
use iras_core::ports::{Analyst, RootCauseInput};
use iras_core::scenario::Scenario;
use iras_core::{
    ContextBundle, Incident, IncidentId, RemediationPlan, RootCauseCategory, RootCauseHypothesis,
    ServiceName, Severity, TimeWindow, TraceId, TriageResult,
};

const SCENARIOS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/scenarios"
);

/// Most services gathered in one attempt, as in `GatherContext`.
const MAX_SERVICES: usize = 8;
/// Most log lines read per service, as in `GatherContext`.
const LOG_LIMIT: usize = 2000;

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SCENARIOS)
        .unwrap_or_else(|e| panic!("reading {SCENARIOS}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path().join("scenario.json")))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The latest instant the world mentions: a stand-in arrival time for alerts that carry no start.
fn latest_in_world(s: &Scenario) -> DateTime<Utc> {
    s.world
        .logs
        .iter()
        .map(|l| l.ts)
        .chain(s.world.deployments.iter().map(|d| d.at))
        .max()
        .unwrap_or_default()
}

/// Gathers one attempt's evidence from the scenario world, like `GatherContext`.
fn gather(s: &Scenario, incident: &Incident, attempt: u32, now: DateTime<Utc>) -> ContextBundle {
    let mut services = incident.services.clone();
    if let Some(h) = &incident.root_cause {
        for svc in h
            .finding
            .missing_services
            .iter()
            .chain(h.finding.suspect_service.iter())
        {
            if !services.contains(svc) {
                services.push(svc.clone());
            }
        }
    }
    services.truncate(MAX_SERVICES);
    let started = incident.alert.started_at.min(now);
    let back = Duration::from_std(Policy::default().window_for_attempt(attempt))
        .unwrap_or_else(|_| Duration::hours(1));
    let window = TimeWindow {
        start: started - back,
        end: now.max(started),
    };
    let logs: Vec<_> = services
        .iter()
        .flat_map(|svc| s.logs(svc, window, LOG_LIMIT))
        .collect();
    let metrics: Vec<_> = services.iter().flat_map(|svc| s.metrics(svc)).collect();
    // Like `gather_context`: deployments over the longer history, so a rollback knows its target.
    let history = Duration::from_std(Policy::default().deploy_history)
        .unwrap_or(back)
        .max(back);
    let deploy_window = TimeWindow {
        start: started - history,
        end: window.end,
    };
    let deploys: Vec<_> = services
        .iter()
        .flat_map(|svc| s.deployments(svc, deploy_window))
        .collect();
    ContextBundle::assemble(
        attempt,
        window,
        services,
        &logs,
        &metrics,
        deploys,
        Vec::new(),
    )
}

/// What the pipeline concluded for one scenario.
struct Outcome {
    triage: TriageResult,
    services: Vec<ServiceName>,
    hypothesis: RootCauseHypothesis,
    plan: RemediationPlan,
}

async fn run(path: &Path, look_again: bool) -> (Scenario, Outcome) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let s = Scenario::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = serde_json::to_vec(&s.alert).unwrap_or_else(|e| panic!("{}: {e}", s.name));
    let arrival = latest_in_world(&s) + Duration::minutes(1);
    let alert = match normalize(s.source, &body, arrival) {
        Ok(Intake::Alerts(mut alerts)) if !alerts.is_empty() => alerts.remove(0),
        other => panic!(
            "{}: the alert did not normalise into an alert: {other:?}",
            s.name
        ),
    };
    let t = alert.started_at;
    let now = t + Duration::minutes(5);
    let analyst = HeuristicAnalyst::new();
    let policy = Policy::default();

    let mut incident = Incident::open(IncidentId::new_at(t), TraceId::generate(), alert, t);
    let triage = analyst
        .triage(&incident)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", s.name));
    // As the Triage step does: the alert's services stay, triage may add more.
    for svc in &triage.affected_services {
        if !incident.services.contains(svc) {
            incident.services.push(svc.clone());
        }
    }
    incident.severity = Some(triage.severity);
    incident.triage = Some(triage.clone());

    let mut attempt = 1;
    let (context, hypothesis) = loop {
        let context = gather(&s, &incident, attempt, now);
        let previous = incident.root_cause.clone();
        let finding = analyst
            .root_cause(RootCauseInput {
                incident: &incident,
                context: &context,
                previous: previous.as_ref(),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let g = ground(&finding, &context);
        let gate = policy.gate(g.computed, attempt);
        let asks_for_more = !finding.missing_services.is_empty();
        let hypothesis = RootCauseHypothesis {
            computed_confidence: g.computed,
            ungrounded_evidence: g.ungrounded,
            analyst: analyst.name(),
            attempt,
            finding,
        };
        incident.attempts = attempt;
        incident.root_cause = Some(hypothesis.clone());
        // The workflow retries below the gate; with `look_again`, a second look is also taken
        // when a confident analysis still names services to gather.
        let retry = gate.can_retry || (look_again && attempt == 1 && asks_for_more);
        if !retry {
            break (context, hypothesis);
        }
        attempt += 1;
    };

    let proposed = analyst
        .plan(&incident, &hypothesis, &context)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", s.name));
    let plan = assess_plan(
        &proposed,
        &incident.services,
        triage.severity,
        &AutoApplyPolicy::default(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{}: the safety policy rejected the plan: {e}\n{proposed:#?}",
            s.name
        )
    });
    let services = incident.services.clone();
    (
        s,
        Outcome {
            triage,
            services,
            hypothesis,
            plan,
        },
    )
}

fn names(v: &[ServiceName]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

#[tokio::test]
async fn the_heuristic_analyst_gets_the_scenarios_right() {
    check_all_scenarios(true).await;
}

#[tokio::test]
async fn the_scenarios_come_out_the_same_when_only_the_gate_decides_on_another_attempt() {
    check_all_scenarios(false).await;
}

async fn check_all_scenarios(look_again: bool) {
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenarios under {SCENARIOS}");

    let mut rows = Vec::new();
    let mut right_cause = 0usize;
    let mut wrong_action: Vec<String> = Vec::new();
    let mut ungrounded: Vec<String> = Vec::new();
    let mut confidently_wrong: Vec<String> = Vec::new();
    for path in &files {
        let (s, o) = run(path, look_again).await;
        let got_cause = o.hypothesis.finding.category;
        let got_action = o
            .plan
            .steps
            .first()
            .map(|st| st.action.kind())
            .unwrap_or("-");
        let cause_ok = got_cause == s.expect.root_cause;
        let action_ok = s
            .expect
            .first_action
            .as_deref()
            .is_none_or(|a| a == got_action);
        let severity_ok = s.expect.severity.is_none_or(|sev| sev == o.triage.severity);
        let services_ok = o.services.first() == s.expect.services.first();
        if cause_ok {
            right_cause += 1;
            if !action_ok {
                wrong_action.push(s.name.clone());
            }
        }
        if std::env::var("IRAS_SCENARIO_DEBUG").is_ok_and(|v| v == s.name || v == "all") {
            println!(
                "--- {}\n{:#?}\n{:#?}\n{:#?}",
                s.name, o.triage, o.hypothesis, o.plan
            );
        }
        if !o.hypothesis.ungrounded_evidence.is_empty() {
            ungrounded.push(format!(
                "{}: {:?}",
                s.name, o.hypothesis.ungrounded_evidence
            ));
        }
        rows.push(format!(
            "{:<34} {:>2}/{:<2}{} {:<24}{} {:<20}/{:<20}{} {:<20}/{:<20}{} conf {:.2} ({} attempt{})",
            s.name,
            s.expect.severity.map(Severity::as_str).unwrap_or("-"),
            o.triage.severity,
            mark(severity_ok),
            names(&o.services),
            mark(services_ok),
            s.expect.root_cause.as_str(),
            got_cause.as_str(),
            mark(cause_ok),
            s.expect.first_action.as_deref().unwrap_or("-"),
            got_action,
            mark(action_ok),
            o.hypothesis.computed_confidence.value(),
            o.hypothesis.attempt,
            if o.hypothesis.attempt == 1 { "" } else { "s" },
        ));
        // A wrong answer must at least not pass the gate, so a human gets the incident.
        if !cause_ok
            && got_cause != RootCauseCategory::Unknown
            && o.hypothesis.computed_confidence.value() >= Policy::default().rca_threshold
        {
            confidently_wrong.push(s.name.clone());
        }
    }
    println!(
        "{:<34} {:<7} {:<26} {:<43} {:<43}",
        "scenario", "sev", "services", "root cause (expected/got)", "first action (expected/got)"
    );
    for r in &rows {
        println!("{r}");
    }
    println!("root cause right for {right_cause} of {}", files.len());

    assert!(
        ungrounded.is_empty(),
        "every quote must be found in the evidence: {ungrounded:#?}"
    );
    assert!(
        right_cause + 1 >= files.len(),
        "the root cause is right for only {right_cause} of {} scenarios",
        files.len()
    );
    assert!(
        confidently_wrong.is_empty(),
        "a wrong root cause passed the gate: {confidently_wrong:?}"
    );
    assert!(
        wrong_action.is_empty(),
        "wrong first action where the root cause is right: {wrong_action:?}"
    );
}

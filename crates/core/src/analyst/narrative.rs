//! Post-mortem prose from templates: what happened, who was affected, what we learned and what to
//! do next, derived from the root-cause category, the outcome and the timeline. Durations are
//! computed elsewhere from the timeline; here the timeline only supplies facts (repeats, pages,
//! failed steps).

use crate::analyst::text::inline;
use crate::model::{
    EscalationReason, EventKind, Incident, Outcome, PostmortemNarrative, RootCauseCategory,
    TimelineEvent,
};

fn services_text(incident: &Incident) -> String {
    if incident.services.is_empty() {
        "an unnamed service".into()
    } else {
        incident
            .services
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn outcome_sentence(incident: &Incident, events: &[TimelineEvent]) -> String {
    match &incident.outcome {
        Some(Outcome::Resolved { steps }) => {
            let rolled = steps.iter().filter(|s| s.rolled_back).count();
            if rolled > 0 {
                format!(
                    "It was resolved after {} step(s) were applied ({rolled} rolled back).",
                    steps.len()
                )
            } else {
                format!(
                    "It was resolved after {} remediation step(s) were applied.",
                    steps.len()
                )
            }
        }
        Some(Outcome::Escalated { reason, paged, .. }) => {
            let page = if *paged { " and on-call was paged" } else { "" };
            format!("It was escalated to a human ({}){page}.", reason.describe())
        }
        None => {
            if events.iter().any(|e| e.kind == EventKind::Resolved) {
                "It was resolved.".into()
            } else {
                "It was still open when this was written.".into()
            }
        }
    }
}

/// Lessons and follow-ups for a category; `who` is the suspect service (or the affected one).
fn by_category(
    category: RootCauseCategory,
    who: &str,
    version: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let v = version.map(|v| format!(" {v}")).unwrap_or_default();
    let (lessons, follow_ups): (Vec<&str>, Vec<String>) = match category {
        RootCauseCategory::Deployment => (
            vec!["A change reached production and broke it before any check caught it."],
            vec![
                format!("Find and fix the defect in {who}{v}, with a test that reproduces it."),
                format!("Roll out {who} progressively (canary) with an automatic rollback on error rate."),
            ],
        ),
        RootCauseCategory::ConfigChange => (
            vec!["A configuration change went out without the checks a code change gets."],
            vec![
                format!("Validate {who}'s configuration in CI and at start-up, refusing values that cannot work."),
                "Roll out configuration changes progressively, like code, with review.".into(),
            ],
        ),
        RootCauseCategory::ResourceExhaustion => (
            vec!["A resource ran out before any alert warned that it was running low."],
            vec![
                format!("Alert on {who}'s resource saturation (memory, connections, disk) at 80%, before failure."),
                format!("Find why {who} exhausts it (leak, pool sizing, retention) and set limits that hold."),
            ],
        ),
        RootCauseCategory::DependencyFailure => (
            vec!["A dependency's failure spread to its callers instead of being contained."],
            vec![
                format!("Give calls to {who} timeouts, retries with backoff and a circuit breaker with a fallback."),
                format!("Agree a reliability target with the owners of {who} and alert on it."),
            ],
        ),
        RootCauseCategory::TrafficSurge => (
            vec!["Traffic grew beyond capacity faster than capacity followed."],
            vec![
                format!("Autoscale {who} on request rate with headroom, and load-test it to its target peak."),
                format!("Rate-limit {who} per client so one surge cannot take everyone down."),
            ],
        ),
        RootCauseCategory::Infrastructure => (
            vec!["A failure below the service took it down: the service was not spread widely enough."],
            vec![
                format!("Spread {who} across nodes and zones (anti-affinity, disruption budgets)."),
                "Rehearse node and zone failover.".into(),
            ],
        ),
        RootCauseCategory::CertificateExpiry => (
            vec!["A certificate expired unnoticed: renewal depended on a person remembering."],
            vec![
                "Automate certificate renewal (ACME / cert-manager / ACM).".into(),
                "Alert 30 and 7 days before any certificate expires.".into(),
            ],
        ),
        RootCauseCategory::DataIssue => (
            vec!["Bad data got in and failed the service instead of being set aside."],
            vec![
                format!("Validate input at {who}'s boundary and send bad records to a dead-letter queue."),
                "Find and fix the producer of the bad records.".into(),
            ],
        ),
        RootCauseCategory::Unknown => (
            vec!["The evidence available was not enough to establish a cause."],
            vec![format!("Improve the logs and metrics of {who} so a cause can be found next time.")],
        ),
    };
    (lessons.into_iter().map(str::to_owned).collect(), follow_ups)
}

/// Writes the narrative of an incident from its final state and timeline.
pub(crate) fn narrative(incident: &Incident, events: &[TimelineEvent]) -> PostmortemNarrative {
    let title = inline(&incident.title, 160);
    let services = services_text(incident);
    let severity = incident
        .severity
        .map(|s| s.as_str())
        .unwrap_or("unassessed");
    let started = incident.alert.started_at.format("%Y-%m-%d %H:%M UTC");
    let rc = incident.root_cause.as_ref();
    let category = rc
        .map(|h| h.finding.category)
        .unwrap_or(RootCauseCategory::Unknown);
    let who = rc
        .and_then(|h| h.finding.suspect_service.as_ref())
        .or(incident.services.first())
        .map(|s| s.to_string())
        .unwrap_or_else(|| "the service".into());
    let version = rc
        .and_then(|h| h.finding.suspect_version.as_deref())
        .map(|v| inline(v, 64));

    let cause = match rc {
        Some(h) => format!(
            "The root cause was {} ({} computed confidence, analysis by {}): {}",
            h.finding.category,
            h.computed_confidence,
            inline(&h.analyst, 40),
            inline(&h.finding.primary_cause, 400)
        ),
        None => "No root cause was established.".into(),
    };
    let summary = format!(
        "A {severity} incident affected {services}, starting {started} with the alert \"{title}\". {cause} {}",
        outcome_sentence(incident, events)
    );

    let repeats = events
        .iter()
        .filter(|e| e.kind == EventKind::AlertRepeated)
        .count();
    let mut impact = format!(
        "{services} {} affected at severity {severity}",
        if incident.services.len() > 1 {
            "were"
        } else {
            "was"
        }
    );
    match incident
        .triage
        .as_ref()
        .and_then(|t| t.estimated_users_affected)
    {
        Some(n) => impact.push_str(&format!(", with an estimated {n} users affected")),
        None => impact.push_str(", with no estimate of users affected"),
    }
    impact.push('.');
    if repeats > 0 {
        impact.push_str(&format!(
            " The alert fired {} more time(s) while the incident was open.",
            repeats
        ));
    }
    if events.iter().any(|e| e.kind == EventKind::AlertResolved) {
        impact.push_str(" The monitoring source reported the alert resolved.");
    }

    let (mut lessons, mut follow_ups) = by_category(category, &who, version.as_deref());
    if let Some(h) = rc {
        if h.attempt > 1 {
            lessons.push(format!(
                "The analysis needed {} attempts: evidence missing at first cost time.",
                h.attempt
            ));
        }
        if !h.ungrounded_evidence.is_empty() {
            lessons.push(format!(
                "{} claim(s) of the analysis were not found in the evidence and were discounted.",
                h.ungrounded_evidence.len()
            ));
        }
        for m in h.finding.missing_evidence.iter().take(2) {
            follow_ups.push(format!(
                "Make this evidence available to the analysis: {}.",
                inline(m, 160)
            ));
        }
    }
    match &incident.outcome {
        Some(Outcome::Escalated { reason, .. }) => match reason {
            EscalationReason::LowConfidence => lessons.push("The cause could not be established with enough confidence to act automatically.".into()),
            EscalationReason::Rejected => follow_ups.push("Review why the proposed plan was rejected and improve the runbooks it drew on.".into()),
            EscalationReason::ApprovalTimeout => follow_ups.push("Review approval routing: nobody decided before the deadline.".into()),
            EscalationReason::RemediationFailed => {
                let failed = events.iter().filter(|e| e.kind == EventKind::StepFailed).count();
                follow_ups.push(format!("Fix the automation behind the {failed} failed step(s) and test it against a staging incident."));
            }
            EscalationReason::StepFailed => follow_ups.push("Fix the workflow step that failed so incidents are not left to humans by accident.".into()),
        },
        Some(Outcome::Resolved { .. }) => lessons.push("The remediation worked; record it as the runbook for this failure.".into()),
        None => {}
    }
    PostmortemNarrative {
        summary,
        impact,
        lessons,
        follow_ups,
    }
}

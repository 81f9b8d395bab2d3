//! Post-mortems. The timeline and every duration are computed from recorded events; only the
//! narrative comes from an analyst.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{IncidentId, ServiceName};
use crate::model::{
    EventKind, IncidentStatus, Outcome, RemediationPlan, RootCauseHypothesis, Severity,
    TimelineEvent,
};

/// The prose part of a post-mortem, written by an analyst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemNarrative {
    /// What happened, in a paragraph.
    pub summary: String,
    /// Who and what was affected.
    pub impact: String,
    /// What we learned.
    #[serde(default)]
    pub lessons: Vec<String>,
    /// Follow-up work.
    #[serde(default)]
    pub follow_ups: Vec<String>,
}

/// Durations in seconds between timeline milestones; `None` when a milestone never happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Durations {
    /// Alert received to severity assessed.
    pub to_triage_secs: Option<i64>,
    /// Alert received to the last root cause proposed.
    pub to_root_cause_secs: Option<i64>,
    /// Approval requested to decision (or timeout).
    pub awaiting_decision_secs: Option<i64>,
    /// Alert received to resolved or escalated.
    pub to_close_secs: Option<i64>,
}

impl Durations {
    /// Computes durations from the timeline, never from prose.
    pub fn from_events(events: &[TimelineEvent]) -> Self {
        let first = |k: EventKind| events.iter().find(|e| e.kind == k).map(|e| e.at);
        let last = |k: EventKind| events.iter().rev().find(|e| e.kind == k).map(|e| e.at);
        let secs = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => Some((b - a).num_seconds().max(0)),
            _ => None,
        };
        let start = first(EventKind::Ingested);
        let decision = [
            EventKind::Approved,
            EventKind::Rejected,
            EventKind::ApprovalTimedOut,
        ]
        .into_iter()
        .filter_map(first)
        .min();
        let close = [EventKind::Resolved, EventKind::Escalated]
            .into_iter()
            .filter_map(first)
            .min();
        Self {
            to_triage_secs: secs(start, first(EventKind::Triaged)),
            to_root_cause_secs: secs(start, last(EventKind::RootCauseProposed)),
            awaiting_decision_secs: secs(first(EventKind::ApprovalRequested), decision),
            to_close_secs: secs(start, close),
        }
    }
}

/// A post-mortem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostMortem {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its title.
    pub title: String,
    /// Its severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Affected services.
    pub services: Vec<ServiceName>,
    /// The final status.
    pub status: IncidentStatus,
    /// The narrative.
    pub narrative: PostmortemNarrative,
    /// Which analyst wrote the narrative.
    pub narrative_by: String,
    /// The root cause, if one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCauseHypothesis>,
    /// The plan, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RemediationPlan>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The recorded timeline.
    pub timeline: Vec<TimelineEvent>,
    /// Durations computed from the timeline.
    pub durations: Durations,
    /// Model calls of the incident, summed from the timeline.
    #[serde(default)]
    pub model_usage: crate::model::UsageSummary,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

fn human_secs(s: Option<i64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 60 => format!("{s}s"),
        Some(s) if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        Some(s) => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// Untrusted text goes into Markdown as inert text: no headings, links or HTML can be injected.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

impl PostMortem {
    /// Renders the post-mortem as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let sev = self.severity.map(|s| s.as_str()).unwrap_or("unassessed");
        let services: Vec<&str> = self.services.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(md, "# Post-mortem: {}", md_escape(&self.title));
        let _ = writeln!(md);
        let _ = writeln!(md, "- **Incident:** `{}`", self.incident_id);
        let _ = writeln!(md, "- **Severity:** {sev}");
        let _ = writeln!(md, "- **Services:** {}", services.join(", "));
        let _ = writeln!(md, "- **Status:** {}", self.status);
        let _ = writeln!(
            md,
            "- **Time to triage:** {}",
            human_secs(self.durations.to_triage_secs)
        );
        let _ = writeln!(
            md,
            "- **Time to root cause:** {}",
            human_secs(self.durations.to_root_cause_secs)
        );
        let _ = writeln!(
            md,
            "- **Waiting for a decision:** {}",
            human_secs(self.durations.awaiting_decision_secs)
        );
        let _ = writeln!(
            md,
            "- **Time to close:** {}",
            human_secs(self.durations.to_close_secs)
        );
        if self.model_usage.calls > 0 {
            let u = &self.model_usage;
            let _ = writeln!(
                md,
                "- **Model usage:** {} call(s), {} input / {} output tokens ({} from cache), about ${:.4}",
                u.calls, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cost_usd
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "## Summary\n\n{}\n", md_escape(&self.narrative.summary));
        let _ = writeln!(md, "## Impact\n\n{}\n", md_escape(&self.narrative.impact));
        let _ = writeln!(md, "## Root cause\n");
        match &self.root_cause {
            Some(rc) => {
                let _ = writeln!(
                    md,
                    "**{}** — {} (computed confidence {}, analyst {})\n",
                    rc.finding.category,
                    md_escape(&rc.finding.primary_cause),
                    rc.computed_confidence,
                    rc.finding.model_confidence
                );
                for f in &rc.finding.contributing_factors {
                    let _ = writeln!(md, "- Contributing: {}", md_escape(f));
                }
                for e in &rc.finding.evidence {
                    let _ = writeln!(
                        md,
                        "- Evidence: `{}`",
                        e.replace('`', "'").replace('\n', " ")
                    );
                }
                let _ = writeln!(md);
            }
            None => {
                let _ = writeln!(md, "No root cause was established.\n");
            }
        }
        if let Some(plan) = &self.plan {
            let _ = writeln!(md, "## Remediation\n");
            for (i, s) in plan.steps.iter().enumerate() {
                let rb = s
                    .rollback
                    .as_ref()
                    .map(|r| r.command())
                    .unwrap_or_else(|| "none".into());
                let _ = writeln!(
                    md,
                    "{}. `{}` — risk {}, rollback: `{}`",
                    i + 1,
                    s.command.replace('`', "'"),
                    s.risk,
                    rb.replace('`', "'")
                );
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(md, "## Outcome\n");
        match &self.outcome {
            Some(Outcome::Resolved { steps }) => {
                let _ = writeln!(md, "Resolved after {} step(s) were applied.\n", steps.len());
            }
            Some(Outcome::Escalated {
                reason,
                detail,
                paged,
                ..
            }) => {
                let _ = writeln!(
                    md,
                    "Escalated: {} ({}). {}\n",
                    reason.describe(),
                    md_escape(detail),
                    if *paged {
                        "On-call was paged."
                    } else {
                        "No page was sent."
                    }
                );
            }
            None => {
                let _ = writeln!(md, "Still open.\n");
            }
        }
        let _ = writeln!(md, "## Timeline (UTC)\n");
        for e in &self.timeline {
            let _ = writeln!(
                md,
                "- {} — {}",
                e.at.format("%H:%M:%S"),
                md_escape(&e.message)
            );
        }
        let _ = writeln!(md);
        if !self.narrative.lessons.is_empty() {
            let _ = writeln!(md, "## Lessons\n");
            for l in &self.narrative.lessons {
                let _ = writeln!(md, "- {}", md_escape(l));
            }
            let _ = writeln!(md);
        }
        if !self.narrative.follow_ups.is_empty() {
            let _ = writeln!(md, "## Follow-ups\n");
            for l in &self.narrative.follow_ups {
                let _ = writeln!(md, "- [ ] {}", md_escape(l));
            }
            let _ = writeln!(md);
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimelineEvent;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn durations_come_from_the_recorded_events() {
        let events = vec![
            TimelineEvent::new(at(0), EventKind::Ingested, "in"),
            TimelineEvent::new(at(2), EventKind::Triaged, "t"),
            TimelineEvent::new(at(5), EventKind::RootCauseProposed, "r1"),
            TimelineEvent::new(at(9), EventKind::RootCauseProposed, "r2"),
            TimelineEvent::new(at(10), EventKind::ApprovalRequested, "a"),
            TimelineEvent::new(at(70), EventKind::Approved, "ok"),
            TimelineEvent::new(at(75), EventKind::Resolved, "done"),
        ];
        let d = Durations::from_events(&events);
        assert_eq!(d.to_triage_secs, Some(2));
        assert_eq!(d.to_root_cause_secs, Some(9));
        assert_eq!(d.awaiting_decision_secs, Some(60));
        assert_eq!(d.to_close_secs, Some(75));
    }

    #[test]
    fn a_milestone_that_never_happened_has_no_duration() {
        let d = Durations::from_events(&[TimelineEvent::new(at(0), EventKind::Ingested, "in")]);
        assert_eq!(d, Durations::default());
    }

    #[test]
    fn markdown_escapes_hostile_titles() {
        assert_eq!(
            md_escape("# [click](http://x) <b>"),
            "\\# \\[click\\](http://x) \\<b\\>"
        );
    }
}

//! Policies enforced in code, whatever an analyst said: plan safety, the root-cause confidence
//! gate, evidence grounding, approval timeouts and auto-apply.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;
use crate::model::{
    Action, Confidence, ContextBundle, PlanStep, ProposedPlan, RemediationPlan, Risk,
    RootCauseFinding, Severity,
};

/// When a plan may run without a human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoApplyPolicy {
    /// Off by default: every plan waits for a human.
    pub enabled: bool,
    /// The highest step risk that may auto-apply (never above `low` in practice).
    pub max_risk: Risk,
    /// Severities that may auto-apply; P0 is never auto-applied by default.
    pub severities: Vec<Severity>,
}

impl Default for AutoApplyPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            max_risk: Risk::Low,
            severities: vec![Severity::P2, Severity::P3],
        }
    }
}

/// All tunable policies, with the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The root-cause gate: a hypothesis passes at or above this computed confidence.
    pub rca_threshold: f64,
    /// How many analysis attempts before escalating.
    pub max_rca_attempts: u32,
    /// How long to wait for a decision on a P0.
    pub approval_timeout_p0: Duration,
    /// How long to wait for a decision on P1–P3.
    pub approval_timeout_other: Duration,
    /// Auto-apply.
    pub auto_apply: AutoApplyPolicy,
    /// How far back evidence is searched on the first attempt; doubled on each retry.
    pub context_window: Duration,
    /// How far back deployments are listed: longer than the evidence window, because a rollback
    /// needs the version that ran before, however long ago it was deployed.
    pub deploy_history: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            rca_threshold: 0.7,
            max_rca_attempts: 3,
            approval_timeout_p0: Duration::from_secs(15 * 60),
            approval_timeout_other: Duration::from_secs(2 * 60 * 60),
            auto_apply: AutoApplyPolicy::default(),
            context_window: Duration::from_secs(60 * 60),
            deploy_history: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// What the gate decided after one analysis attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateDecision {
    /// The hypothesis may be acted on.
    pub confident: bool,
    /// Another attempt is allowed.
    pub can_retry: bool,
}

impl Policy {
    /// The approval deadline for a severity.
    pub fn approval_timeout(&self, severity: Severity) -> Duration {
        match severity {
            Severity::P0 => self.approval_timeout_p0,
            _ => self.approval_timeout_other,
        }
    }

    /// The confidence gate: `confidence >= threshold` passes (inclusive); otherwise retry while
    /// attempts remain.
    pub fn gate(&self, confidence: Confidence, attempt: u32) -> GateDecision {
        let confident = confidence.value() >= self.rca_threshold;
        GateDecision {
            confident,
            can_retry: !confident && attempt < self.max_rca_attempts,
        }
    }

    /// The evidence window of an attempt: the base window doubled on each retry.
    pub fn window_for_attempt(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(6);
        self.context_window * factor
    }
}

/// How well a finding's evidence is grounded in what was actually gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounding {
    /// The evidence score in `[0, 1]`.
    pub evidence_score: Confidence,
    /// The lower of the model's confidence and the evidence score.
    pub computed: Confidence,
    /// Quotes not found in the context.
    pub ungrounded: Vec<String>,
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Grounds a finding: each quote must occur (whitespace- and case-insensitively) in the gathered
/// context. The score is the share of grounded quotes, discounted when there are fewer than two
/// quotes, and zero when there are none: an unsupported claim cannot pass the gate.
pub fn ground(finding: &RootCauseFinding, context: &ContextBundle) -> Grounding {
    let corpus = normalize_ws(&context.evidence_corpus());
    let mut grounded = 0usize;
    let mut ungrounded = Vec::new();
    let quotes: Vec<&String> = finding
        .evidence
        .iter()
        .filter(|q| !q.trim().is_empty())
        .collect();
    for q in &quotes {
        let nq = normalize_ws(q);
        // A quote of a few characters proves nothing ("error" occurs everywhere).
        if nq.len() >= 8 && corpus.contains(&nq) {
            grounded += 1;
        } else {
            ungrounded.push((*q).clone());
        }
    }
    let score = if quotes.is_empty() {
        0.0
    } else {
        let share = grounded as f64 / quotes.len() as f64;
        let support = match grounded {
            0 => 0.0,
            1 => 0.8,
            _ => 1.0,
        };
        share * support
    };
    let evidence_score = Confidence::clamped(score);
    Grounding {
        evidence_score,
        computed: finding.model_confidence.min(evidence_score),
        ungrounded,
    }
}

/// Why a plan was refused outright.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRejection {
    /// The plan has no steps.
    #[error("the plan has no steps")]
    Empty,
    /// A step targets a service the incident does not concern.
    #[error("step {index} ({kind}) targets {service}, which is not part of this incident")]
    ForeignService {
        /// Step index (0-based).
        index: usize,
        /// Action kind.
        kind: &'static str,
        /// The service named.
        service: ServiceName,
    },
    /// A step's action is incomplete.
    #[error("step {index} ({kind}) is incomplete: a required field is blank")]
    BlankAction {
        /// Step index (0-based).
        index: usize,
        /// Action kind.
        kind: &'static str,
    },
    /// Too many steps to review.
    #[error("the plan has {0} steps; at most 20 are allowed")]
    TooLong(usize),
}

/// The lowest risk each action kind can have. An analyst may raise it, never lower it.
pub fn minimum_risk(action: &Action) -> Risk {
    match action {
        Action::VerifyMetric { .. } | Action::ToggleFeatureFlag { .. } => Risk::Low,
        Action::ScaleService {
            from_replicas,
            to_replicas,
            ..
        } => {
            // Scaling down removes capacity during an incident; scaling up is cheap to undo.
            if to_replicas < from_replicas {
                Risk::Medium
            } else {
                Risk::Low
            }
        }
        Action::RestartService { .. }
        | Action::RollbackDeployment { .. }
        | Action::SetConfig { .. }
        | Action::RunRunbook { .. } => Risk::Medium,
        Action::Manual { .. } => Risk::High,
    }
}

/// Applies the safety invariants to a proposed plan:
/// 1. any high-risk step → approval required;
/// 2. any side-effecting step without a usable rollback → irreversible → approval required;
/// 3. a step aimed at a service outside the incident → rejected (actions outside the catalogue
///    cannot even be parsed);
/// 4. each step's risk is raised to its kind's minimum;
/// 5. auto-apply only when enabled, every step low risk, the plan reversible and the severity
///    allowed.
pub fn assess_plan(
    proposed: &ProposedPlan,
    incident_services: &[ServiceName],
    severity: Severity,
    policy: &AutoApplyPolicy,
) -> Result<RemediationPlan, PlanRejection> {
    if proposed.steps.is_empty() {
        return Err(PlanRejection::Empty);
    }
    if proposed.steps.len() > 20 {
        return Err(PlanRejection::TooLong(proposed.steps.len()));
    }
    let mut notes = Vec::new();
    let mut steps = Vec::with_capacity(proposed.steps.len());
    let mut reversible = true;
    for (index, p) in proposed.steps.iter().enumerate() {
        let kind = p.action.kind();
        for target in [
            p.action.service(),
            p.rollback.as_ref().and_then(|r| r.service()),
        ]
        .into_iter()
        .flatten()
        {
            if !incident_services.contains(target) {
                return Err(PlanRejection::ForeignService {
                    index,
                    kind,
                    service: target.clone(),
                });
            }
        }
        if p.action.is_blank() {
            return Err(PlanRejection::BlankAction { index, kind });
        }
        let floor = minimum_risk(&p.action);
        let risk = p.risk.max(floor);
        if risk > p.risk {
            notes.push(format!(
                "step {}: risk raised from {} to {} (minimum for {kind})",
                index + 1,
                p.risk,
                risk
            ));
        }
        let rollback = match &p.rollback {
            Some(r) if r.is_blank() => {
                notes.push(format!(
                    "step {}: the rollback is blank, so it counts as none",
                    index + 1
                ));
                None
            }
            Some(Action::Manual { .. }) => {
                notes.push(format!(
                    "step {}: a manual rollback cannot be run automatically",
                    index + 1
                ));
                None
            }
            Some(r) => Some(r.clone()),
            None => None,
        };
        if rollback.is_none() && !p.action.is_read_only() {
            reversible = false;
            notes.push(format!(
                "step {}: {kind} has no rollback, so the plan is irreversible",
                index + 1
            ));
        }
        steps.push(PlanStep {
            command: p.action.command(),
            action: p.action.clone(),
            rollback,
            risk,
            rationale: p.rationale.clone(),
        });
    }
    let max_risk = steps.iter().map(|s| s.risk).max().unwrap_or(Risk::Low);
    let mut requires_approval = true;
    if max_risk == Risk::High {
        notes.push("a high-risk step requires human approval".into());
    } else if !reversible {
        notes.push("an irreversible plan requires human approval".into());
    } else if !policy.enabled {
        notes.push("auto-apply is off: a human approves every plan".into());
    } else if max_risk > policy.max_risk {
        notes.push(format!(
            "risk {max_risk} is above the auto-apply limit ({})",
            policy.max_risk
        ));
    } else if !policy.severities.contains(&severity) {
        notes.push(format!("{severity} incidents are not auto-applied"));
    } else {
        requires_approval = false;
        notes.push("low-risk, reversible plan: auto-applied by policy".into());
    }
    Ok(RemediationPlan {
        steps,
        summary: crate::model::truncate(proposed.summary.trim(), 1000),
        requires_approval,
        reversible,
        max_risk,
        policy_notes: notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProposedStep, RootCauseCategory};

    fn svc(s: &str) -> ServiceName {
        ServiceName::parse(s).unwrap()
    }

    fn step(action: Action, rollback: Option<Action>, risk: Risk) -> ProposedStep {
        ProposedStep {
            action,
            rollback,
            risk,
            rationale: String::new(),
        }
    }

    fn flag(enabled: bool) -> Action {
        Action::ToggleFeatureFlag {
            service: svc("api"),
            flag: "new-checkout".into(),
            enabled,
        }
    }

    fn auto_on() -> AutoApplyPolicy {
        AutoApplyPolicy {
            enabled: true,
            ..AutoApplyPolicy::default()
        }
    }

    fn plan(steps: Vec<ProposedStep>) -> ProposedPlan {
        ProposedPlan {
            summary: "fix".into(),
            steps,
        }
    }

    #[test]
    fn a_model_that_calls_every_step_low_risk_cannot_lower_a_rollback_below_medium() {
        let p = plan(vec![step(
            Action::RollbackDeployment {
                service: svc("api"),
                from_version: "v2".into(),
                to_version: "v1".into(),
            },
            Some(Action::RollbackDeployment {
                service: svc("api"),
                from_version: "v1".into(),
                to_version: "v2".into(),
            }),
            Risk::Low,
        )]);
        let out = assess_plan(&p, &[svc("api")], Severity::P3, &auto_on()).unwrap();
        assert_eq!(out.steps[0].risk, Risk::Medium);
        assert!(
            out.requires_approval,
            "medium risk is above the auto-apply limit"
        );
    }

    #[test]
    fn a_manual_step_is_high_risk_and_forces_approval() {
        let p = plan(vec![step(
            Action::Manual {
                service: None,
                instructions: "call the DBA".into(),
            },
            None,
            Risk::Low,
        )]);
        let out = assess_plan(&p, &[svc("api")], Severity::P3, &auto_on()).unwrap();
        assert_eq!(out.max_risk, Risk::High);
        assert!(out.requires_approval);
    }

    #[test]
    fn a_rollback_that_is_blank_forces_approval() {
        let blank = Action::Manual {
            service: None,
            instructions: "   \t ".into(),
        };
        let p = plan(vec![step(flag(false), Some(blank), Risk::Low)]);
        let out = assess_plan(&p, &[svc("api")], Severity::P3, &auto_on()).unwrap();
        assert!(!out.reversible);
        assert!(out.steps[0].rollback.is_none());
        assert!(out.requires_approval);
    }

    #[test]
    fn a_step_without_rollback_makes_the_plan_irreversible() {
        let p = plan(vec![step(
            Action::RestartService {
                service: svc("api"),
            },
            None,
            Risk::Medium,
        )]);
        let out = assess_plan(&p, &[svc("api")], Severity::P2, &auto_on()).unwrap();
        assert!(!out.reversible);
        assert!(out.requires_approval);
    }

    #[test]
    fn an_action_aimed_at_a_service_outside_the_incident_rejects_the_plan() {
        let p = plan(vec![step(
            Action::RestartService {
                service: svc("billing"),
            },
            None,
            Risk::Low,
        )]);
        let err = assess_plan(&p, &[svc("api")], Severity::P2, &auto_on()).unwrap_err();
        assert!(
            matches!(err, PlanRejection::ForeignService { ref service, .. } if service.as_str() == "billing")
        );
    }

    #[test]
    fn a_rollback_aimed_at_another_service_rejects_the_plan() {
        let p = plan(vec![step(
            flag(false),
            Some(Action::ToggleFeatureFlag {
                service: svc("billing"),
                flag: "x".into(),
                enabled: true,
            }),
            Risk::Low,
        )]);
        assert!(assess_plan(&p, &[svc("api")], Severity::P2, &auto_on()).is_err());
    }

    #[test]
    fn an_action_outside_the_catalogue_does_not_parse() {
        let json = r#"{"kind": "exec_shell", "service": "api", "command": "rm -rf /"}"#;
        assert!(serde_json::from_str::<Action>(json).is_err());
        let extra = r#"{"kind": "restart_service", "service": "api", "command": "rm -rf /"}"#;
        assert!(
            serde_json::from_str::<Action>(extra).is_err(),
            "unknown fields are refused too"
        );
    }

    #[test]
    fn an_empty_plan_is_rejected() {
        assert_eq!(
            assess_plan(&plan(vec![]), &[svc("api")], Severity::P2, &auto_on()),
            Err(PlanRejection::Empty)
        );
    }

    #[test]
    fn auto_apply_is_off_by_default_even_for_a_safe_plan() {
        let p = plan(vec![step(flag(false), Some(flag(true)), Risk::Low)]);
        let out =
            assess_plan(&p, &[svc("api")], Severity::P3, &AutoApplyPolicy::default()).unwrap();
        assert!(out.reversible);
        assert!(out.requires_approval);
    }

    #[test]
    fn a_low_risk_reversible_plan_auto_applies_when_enabled_but_never_for_a_p0() {
        let p = plan(vec![step(flag(false), Some(flag(true)), Risk::Low)]);
        assert!(
            !assess_plan(&p, &[svc("api")], Severity::P3, &auto_on())
                .unwrap()
                .requires_approval
        );
        assert!(
            assess_plan(&p, &[svc("api")], Severity::P0, &auto_on())
                .unwrap()
                .requires_approval
        );
    }

    #[test]
    fn the_gate_is_inclusive_at_the_threshold_and_stops_after_three_attempts() {
        let p = Policy::default();
        let c = |v| Confidence::new(v).unwrap();
        assert!(p.gate(c(0.7), 1).confident);
        assert!(!p.gate(c(0.69), 1).confident);
        assert!(p.gate(c(0.69), 2).can_retry);
        assert!(!p.gate(c(0.69), 3).can_retry);
    }

    #[test]
    fn confidence_outside_zero_to_one_is_refused() {
        assert!(Confidence::new(1.2).is_err());
        assert!(Confidence::new(-0.1).is_err());
        assert!(Confidence::new(f64::NAN).is_err());
        assert!(serde_json::from_str::<Confidence>("7").is_err());
    }

    #[test]
    fn approval_timeouts_follow_severity() {
        let p = Policy::default();
        assert_eq!(p.approval_timeout(Severity::P0).as_secs(), 900);
        assert_eq!(p.approval_timeout(Severity::P2).as_secs(), 7200);
    }

    fn finding(evidence: &[&str], conf: f64) -> RootCauseFinding {
        RootCauseFinding {
            category: RootCauseCategory::Deployment,
            primary_cause: "bad deploy".into(),
            contributing_factors: vec![],
            evidence: evidence.iter().map(|s| s.to_string()).collect(),
            suspect_service: None,
            suspect_version: None,
            model_confidence: Confidence::new(conf).unwrap(),
            missing_evidence: vec![],
            missing_services: vec![],
        }
    }

    fn ctx_with_log(msg: &str) -> ContextBundle {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        ContextBundle {
            attempt: 1,
            window: crate::model::TimeWindow { start: t, end: t },
            services: vec![svc("api")],
            logs: crate::model::fold_logs(&[crate::model::LogLine {
                ts: t,
                service: svc("api"),
                level: crate::model::LogLevel::Error,
                message: msg.into(),
            }]),
            metrics: vec![],
            deployments: vec![],
            failed_sources: vec![],
        }
    }

    #[test]
    fn invented_evidence_drags_the_computed_confidence_down() {
        let ctx = ctx_with_log(
            "HikariPool-1 - Connection is not available, request timed out after 30000ms",
        );
        let g = ground(
            &finding(
                &[
                    "Connection is not available, request timed out",
                    "kernel panic on node-7",
                ],
                0.95,
            ),
            &ctx,
        );
        assert_eq!(g.ungrounded, vec!["kernel panic on node-7".to_string()]);
        assert!(g.computed.value() < 0.7);
        let g = ground(
            &finding(&["Connection is not available, request timed out"], 0.95),
            &ctx,
        );
        assert!((g.computed.value() - 0.8).abs() < 1e-9);
    }

    #[test]
    fn a_finding_without_evidence_cannot_pass_the_gate() {
        let g = ground(&finding(&[], 0.99), &ctx_with_log("anything"));
        assert_eq!(g.computed.value(), 0.0);
    }

    #[test]
    fn the_computed_confidence_is_never_above_the_models() {
        let ctx = ctx_with_log("x509: certificate has expired or is not yet valid");
        let g = ground(
            &finding(
                &[
                    "x509: certificate has expired",
                    "certificate has expired or is not yet valid",
                ],
                0.4,
            ),
            &ctx,
        );
        assert_eq!(g.computed.value(), 0.4);
    }
}

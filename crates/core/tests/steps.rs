//! The step logic over in-memory fakes: what each step stores, records and returns, and how it
//! behaves when everything around it fails.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use iras_core::analyst::HeuristicAnalyst;
use iras_core::policy::Policy;
use iras_core::ports::{
    DeploySource, Deps, IncidentRef, IncidentStore, LogSource, MetricSource, SourceError,
};
use iras_core::steps::{
    self, AnalyzeInput, EscalateInput, RequestApprovalInput, StateError, StepError,
};
use iras_core::{
    Deployment, EscalationReason, EventKind, IncidentStatus, LogLine, MetricSample, Outcome,
    ServiceName, TimeWindow,
};
use iras_testkit::fakes::{
    FixedClock, MemoryStore, RecordingNotifier, RecordingPager, ScriptedExecutor,
};
use iras_testkit::{base_time, sample_incident, sample_task_token};

/// Telemetry sources that record what was asked and fail or answer nothing.
#[derive(Default)]
struct Sources {
    fail: bool,
    asked: Mutex<Vec<(String, ServiceName, TimeWindow)>>,
}

impl Sources {
    fn answer<T>(&self, kind: &str, s: &ServiceName, w: TimeWindow) -> Result<Vec<T>, SourceError> {
        self.asked.lock().unwrap().push((kind.into(), s.clone(), w));
        if self.fail {
            Err(SourceError::Failed(format!("{kind} backend returned 503")))
        } else {
            Ok(Vec::new())
        }
    }
}

#[async_trait]
impl LogSource for Sources {
    async fn fetch_logs(
        &self,
        s: &ServiceName,
        w: TimeWindow,
        _: usize,
    ) -> Result<Vec<LogLine>, SourceError> {
        self.answer("logs", s, w)
    }
}
#[async_trait]
impl MetricSource for Sources {
    async fn fetch_metrics(
        &self,
        s: &ServiceName,
        w: TimeWindow,
    ) -> Result<Vec<MetricSample>, SourceError> {
        self.answer("metrics", s, w)
    }
}
#[async_trait]
impl DeploySource for Sources {
    async fn fetch_deployments(
        &self,
        s: &ServiceName,
        w: TimeWindow,
    ) -> Result<Vec<Deployment>, SourceError> {
        self.answer("deployments", s, w)
    }
}

struct World {
    deps: Deps,
    store: Arc<MemoryStore>,
    sources: Arc<Sources>,
    notifier: Arc<RecordingNotifier>,
    pager: Arc<RecordingPager>,
}

fn world(fail_sources: bool) -> World {
    let store = Arc::new(MemoryStore::new());
    let sources = Arc::new(Sources {
        fail: fail_sources,
        ..Sources::default()
    });
    let notifier = Arc::new(RecordingNotifier::new());
    let pager = Arc::new(RecordingPager::new());
    let analyst = Arc::new(HeuristicAnalyst::default());
    let deps = Deps {
        store: store.clone(),
        logs: sources.clone(),
        metrics: sources.clone(),
        deploys: sources.clone(),
        analyst: analyst.clone(),
        fallback_analyst: analyst,
        notifier: notifier.clone(),
        pager: pager.clone(),
        executor: Arc::new(ScriptedExecutor::new()),
        clock: Arc::new(FixedClock(base_time())),
        policy: Policy::default(),
    };
    World {
        deps,
        store,
        sources,
        notifier,
        pager,
    }
}

async fn open(w: &World) -> IncidentRef {
    let inc = sample_incident("fp-1", base_time());
    w.store.create_incident(&inc).await.unwrap();
    IncidentRef {
        incident_id: inc.id,
        trace_id: inc.trace_id.clone(),
    }
}

#[tokio::test]
async fn every_context_source_failing_at_once_is_recorded_and_the_gate_holds() {
    let w = world(true);
    let r = open(&w).await;
    steps::triage(&w.deps, r.clone()).await.unwrap();
    let g = steps::gather_context(&w.deps, r.clone()).await.unwrap();
    let ctx = w
        .store
        .get_context(r.incident_id, g.attempt)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.failed_sources.len(), 3 * ctx.services.len());
    assert!(ctx
        .failed_sources
        .iter()
        .all(|f| !f.not_configured && f.reason.contains("503")));
    let out = steps::analyze_root_cause(
        &w.deps,
        AnalyzeInput {
            incident_id: r.incident_id,
            trace_id: r.trace_id.clone(),
            attempt: g.attempt,
        },
    )
    .await
    .unwrap();
    assert!(!out.confident, "no evidence cannot pass the gate");
    assert!(out.can_retry);
    let events = w.store.list_events(r.incident_id).await.unwrap();
    let gathered = events
        .iter()
        .find(|e| e.kind == EventKind::ContextGathered)
        .unwrap();
    assert!(
        gathered.message.contains("unavailable"),
        "{}",
        gathered.message
    );
}

#[tokio::test]
async fn the_next_attempt_widens_the_window_and_adds_the_services_the_hypothesis_missed() {
    let w = world(false);
    let r = open(&w).await;
    steps::triage(&w.deps, r.clone()).await.unwrap();
    let g1 = steps::gather_context(&w.deps, r.clone()).await.unwrap();
    steps::analyze_root_cause(
        &w.deps,
        AnalyzeInput {
            incident_id: r.incident_id,
            trace_id: r.trace_id.clone(),
            attempt: g1.attempt,
        },
    )
    .await
    .unwrap();
    let mut inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
    let dep = ServiceName::parse("payments-gateway").unwrap();
    inc.root_cause.as_mut().unwrap().finding.missing_services = vec![dep.clone()];
    w.store.put_incident(&inc).await.unwrap();

    let g2 = steps::gather_context(&w.deps, r.clone()).await.unwrap();
    assert_eq!(g2.attempt, 2);
    let asked = w.sources.asked.lock().unwrap().clone();
    let first: Vec<_> = asked.iter().filter(|(k, _, _)| k == "logs").collect();
    let w1 = first[0].2;
    let second_services: Vec<&ServiceName> = first.iter().skip(1).map(|(_, s, _)| s).collect();
    assert!(
        second_services.contains(&&dep),
        "the dependency is searched: {second_services:?}"
    );
    let w2 = first.last().unwrap().2;
    assert!(w2.end - w2.start > w1.end - w1.start, "the window widened");
}

#[tokio::test]
async fn escalation_and_postmortem_work_whatever_failed_before_them() {
    let w = world(false);
    let r = open(&w).await;
    // Nothing ran: no triage, no evidence, no plan. A step failed.
    let input = EscalateInput {
        incident_id: r.incident_id,
        trace_id: r.trace_id.clone(),
        error: Some(StateError {
            error: "Iras.Unexpected".into(),
            cause: "store exploded".into(),
        }),
        approval: None,
        rca: None,
        apply: None,
    };
    let out = steps::escalate(&w.deps, input.clone()).await.unwrap();
    assert_eq!(out.reason, EscalationReason::StepFailed);
    assert!(out.paged);
    // A retried Escalate must not page twice.
    steps::escalate(&w.deps, input).await.unwrap();
    assert_eq!(w.pager.pages().len(), 1);
    steps::write_postmortem(&w.deps, r.clone()).await.unwrap();
    let pm = w
        .store
        .get_postmortem(r.incident_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pm.status, IncidentStatus::Escalated);
    assert!(
        matches!(pm.outcome, Some(Outcome::Escalated { ref detail, .. }) if detail.contains("store exploded"))
    );
    // The dedup key is free again: the next firing opens a new incident.
    let inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
    assert_eq!(w.store.dedup_holder(&inc.dedup_key).await.unwrap(), None);
}

#[tokio::test]
async fn a_postmortem_closes_an_incident_whose_escalation_failed() {
    let w = world(false);
    let r = open(&w).await;
    steps::write_postmortem(&w.deps, r.clone()).await.unwrap();
    let inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
    assert_eq!(inc.status, IncidentStatus::Escalated);
}

/// Gives the incident an (empty) plan that needs approval.
async fn give_plan(w: &World, r: &IncidentRef) {
    let mut inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
    inc.plan = Some(iras_core::RemediationPlan {
        steps: vec![],
        summary: "x".into(),
        requires_approval: true,
        reversible: true,
        max_risk: iras_core::Risk::Low,
        policy_notes: vec![],
    });
    w.store.put_incident(&inc).await.unwrap();
}

#[tokio::test]
async fn a_retried_approval_request_with_the_same_token_notifies_once() {
    let w = world(false);
    let r = open(&w).await;
    give_plan(&w, &r).await;
    let input = RequestApprovalInput {
        incident_id: r.incident_id,
        trace_id: r.trace_id.clone(),
        task_token: sample_task_token(),
        timeout_seconds: 60,
        requested_at: None,
    };
    let a = steps::request_approval(&w.deps, input.clone())
        .await
        .unwrap();
    let b = steps::request_approval(&w.deps, input).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(w.notifier.calls().len(), 1);
    let inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
    assert_eq!(inc.status, IncidentStatus::AwaitingApproval);
}

#[tokio::test]
async fn apply_refuses_a_plan_that_needs_approval_and_has_none() {
    let w = world(false);
    let r = open(&w).await;
    give_plan(&w, &r).await;
    let err = steps::apply_remediation(&w.deps, r).await.unwrap_err();
    assert!(
        matches!(err, StepError::InvalidInput(ref m) if m.contains("approv")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_step_or_a_malformed_input_is_invalid_input() {
    let w = world(false);
    let e = steps::run_named(&w.deps, "rm-rf", serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "Iras.InvalidInput");
    let e = steps::run_named(&w.deps, "triage", serde_json::json!({"incident_id": 7}))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "Iras.InvalidInput");
}

#[test]
fn every_lambda_event_fixture_parses_as_its_steps_input() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let w = world(false);
    for step in steps::STEP_NAMES {
        let text = std::fs::read_to_string(format!("{dir}/{step}.json"))
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        let input: serde_json::Value = serde_json::from_str(&text).unwrap();
        let err = rt
            .block_on(steps::run_named(&w.deps, step, input))
            .unwrap_err();
        // The input parsed: the step got as far as looking the incident up.
        assert!(err.to_string().contains("does not exist"), "{step}: {err}");
    }
}

mod retries {
    //! What a retried or resumed invocation does after a partial failure.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use iras_core::ports::{CallbackError, StartError, TaskCallback, WorkflowStarter};
    use iras_core::steps::{DecideFailure, ReceiptStatus};
    use iras_core::{
        Action, DecisionChannel, PlanStep, RemediationPlan, Risk, TaskToken, TimelineEvent,
        TraceId, Verdict,
    };
    use iras_testkit::sample_alert;
    use serde_json::json;

    use super::*;

    fn flag(enabled: bool) -> Action {
        Action::ToggleFeatureFlag {
            service: ServiceName::parse("checkout").unwrap(),
            flag: "split-tender".into(),
            enabled,
        }
    }

    /// An incident whose three-step plan was auto-approved by policy.
    async fn planned(w: &World) -> IncidentRef {
        let r = open(w).await;
        let mut inc = w.store.get_incident(r.incident_id).await.unwrap().unwrap();
        inc.services = vec![ServiceName::parse("checkout").unwrap()];
        let step = |a: Action, rb: Action| PlanStep {
            command: a.command(),
            action: a,
            rollback: Some(rb),
            risk: Risk::Low,
            rationale: String::new(),
        };
        inc.plan = Some(RemediationPlan {
            steps: vec![
                step(flag(false), flag(true)),
                step(flag(true), flag(false)),
                step(flag(false), flag(true)),
            ],
            summary: "flip".into(),
            requires_approval: false,
            reversible: true,
            max_risk: Risk::Low,
            policy_notes: vec![],
        });
        w.store.put_incident(&inc).await.unwrap();
        r
    }

    async fn mark(w: &World, r: &IncidentRef, kind: EventKind, data: serde_json::Value) {
        let e = TimelineEvent::new(base_time(), kind, "earlier run")
            .in_step("apply-remediation")
            .with_data(data);
        w.store.append_event(r.incident_id, &e).await.unwrap();
    }

    #[tokio::test]
    async fn a_resumed_apply_skips_the_steps_an_earlier_run_applied() {
        let w = world(false);
        let executor = Arc::new(ScriptedExecutor::new());
        let mut deps = w.deps.clone();
        deps.executor = executor.clone();
        let r = planned(&w).await;
        mark(&w, &r, EventKind::StepApplied, json!({"index": 0})).await;
        let out = steps::apply_remediation(&deps, r).await.unwrap();
        assert_eq!(out.outcome, "resolved");
        assert_eq!(
            executor.actions(),
            vec![flag(true), flag(false)],
            "step 1 is not applied twice"
        );
    }

    #[tokio::test]
    async fn a_resumed_apply_after_a_failure_only_finishes_the_rollback() {
        let w = world(false);
        let executor = Arc::new(ScriptedExecutor::new());
        let mut deps = w.deps.clone();
        deps.executor = executor.clone();
        let r = planned(&w).await;
        mark(&w, &r, EventKind::StepApplied, json!({"index": 0})).await;
        mark(&w, &r, EventKind::StepApplied, json!({"index": 1})).await;
        mark(
            &w,
            &r,
            EventKind::StepFailed,
            json!({"index": 2, "error": "boom"}),
        )
        .await;
        mark(&w, &r, EventKind::StepRolledBack, json!({"index": 1})).await;
        let out = steps::apply_remediation(&deps, r.clone()).await.unwrap();
        assert_eq!(out.outcome, "rolled_back");
        assert_eq!(
            executor.actions(),
            vec![flag(true)],
            "only step 1's rollback was left to do"
        );
        // Once recorded, a further retry changes nothing.
        steps::apply_remediation(&deps, r).await.unwrap();
        assert_eq!(executor.actions().len(), 1);
    }

    #[tokio::test]
    async fn a_retried_escalation_whose_page_went_out_does_not_page_again() {
        let w = world(false);
        let r = open(&w).await;
        let e = TimelineEvent::new(base_time(), EventKind::Paged, "On-call paged (PD-1)")
            .in_step("escalate");
        w.store.append_event(r.incident_id, &e).await.unwrap();
        let out = steps::escalate(
            &w.deps,
            EscalateInput {
                incident_id: r.incident_id,
                trace_id: r.trace_id.clone(),
                error: None,
                approval: None,
                rca: None,
                apply: None,
            },
        )
        .await
        .unwrap();
        assert!(out.paged);
        assert!(w.pager.pages().is_empty());
    }

    /// Fails the first `failures` calls, then succeeds; counts every call.
    #[derive(Default)]
    struct Flaky {
        failures: usize,
        calls: AtomicUsize,
    }

    impl Flaky {
        fn call(&self) -> bool {
            self.calls.fetch_add(1, Ordering::SeqCst) >= self.failures
        }
    }

    #[async_trait]
    impl TaskCallback for Flaky {
        async fn send_success(
            &self,
            _: &TaskToken,
            _: serde_json::Value,
        ) -> Result<(), CallbackError> {
            if self.call() {
                Ok(())
            } else {
                Err(CallbackError::Unexpected("throttled".into()))
            }
        }
        async fn send_failure(&self, _: &TaskToken, _: &str, _: &str) -> Result<(), CallbackError> {
            Ok(())
        }
    }

    #[async_trait]
    impl WorkflowStarter for Flaky {
        async fn start(&self, _: &IncidentRef) -> Result<(), StartError> {
            if self.call() {
                Ok(())
            } else {
                Err(StartError::Unavailable("throttled".into()))
            }
        }
    }

    #[tokio::test]
    async fn an_approval_that_could_not_resume_the_workflow_is_delivered_by_the_retry() {
        let w = world(false);
        let r = open(&w).await;
        give_plan(&w, &r).await;
        let input = RequestApprovalInput {
            incident_id: r.incident_id,
            trace_id: r.trace_id.clone(),
            task_token: sample_task_token(),
            timeout_seconds: 600,
            requested_at: None,
        };
        steps::request_approval(&w.deps, input).await.unwrap();
        let callback = Flaky {
            failures: 1,
            ..Flaky::default()
        };
        let first = steps::decide(
            &w.deps,
            &callback,
            r.incident_id,
            Verdict::Approved,
            "alice",
            None,
            DecisionChannel::Rest,
        )
        .await;
        assert!(
            matches!(first, Err(DecideFailure::Unavailable(_))),
            "{first:?}"
        );
        let again = steps::decide(
            &w.deps,
            &callback,
            r.incident_id,
            Verdict::Approved,
            "alice",
            None,
            DecisionChannel::Rest,
        )
        .await;
        assert_eq!(again.unwrap().by, "alice");
        assert_eq!(callback.calls.load(Ordering::SeqCst), 2);
        let other = steps::decide(
            &w.deps,
            &callback,
            r.incident_id,
            Verdict::Rejected,
            "bob",
            None,
            DecisionChannel::Rest,
        )
        .await;
        assert!(
            matches!(other, Err(DecideFailure::AlreadyDecided(_))),
            "a different verdict still conflicts"
        );
    }

    #[tokio::test]
    async fn an_incident_whose_workflow_failed_to_start_is_started_by_the_senders_retry() {
        let w = world(false);
        let starter = Flaky {
            failures: 1,
            ..Flaky::default()
        };
        let alert = sample_alert("retry-me");
        let trace = TraceId::generate();
        let first = steps::receive_alerts(&w.deps, &starter, vec![alert.clone()], &trace).await;
        assert!(first.is_err(), "the sender sees a retryable error");
        let again = steps::receive_alerts(&w.deps, &starter, vec![alert], &trace)
            .await
            .unwrap();
        assert_eq!(again[0].status, ReceiptStatus::Deduplicated);
        assert_eq!(
            starter.calls.load(Ordering::SeqCst),
            2,
            "the retry started the workflow"
        );
    }
}

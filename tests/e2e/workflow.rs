//! The whole workflow, alert to post-mortem, through each of its paths.

use std::sync::Arc;
use std::time::Duration;

use iras_core::analyst::HeuristicAnalyst;
use iras_core::{
    Action, EscalationReason, EventKind, IncidentStatus, Outcome, ProposedPlan, ProposedStep, Risk,
    ServiceName,
};
use iras_testkit::fakes::{RecordingPager, ScriptedExecutor};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_approved_plan_is_applied_and_the_incident_resolves_with_a_postmortem() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let executor = Arc::new(ScriptedExecutor::new());
    let rt = runtime_with(dir.path(), &s, |d| d.executor = executor.clone());
    let id = send_alert(&rt, &s).await;

    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let rc = inc.root_cause.as_ref().expect("a root cause");
    assert_eq!(rc.finding.category.as_str(), "deployment");
    assert!(rc.computed_confidence.value() >= 0.7);
    assert!(
        executor.actions().is_empty(),
        "nothing runs before approval"
    );

    let (status, body) = call(
        &rt,
        "POST",
        &format!("/incidents/{id}/approve"),
        Some(json!({"approver": "alice", "comment": "go"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"]["by"], "alice");

    let pm = wait_for_postmortem(&rt, id).await;
    let inc = incident(&rt, id).await;
    assert_eq!(inc.status, IncidentStatus::Resolved);
    assert!(matches!(
        executor.actions().first(),
        Some(Action::RollbackDeployment { .. })
    ));
    assert_eq!(pm.status, IncidentStatus::Resolved);
    assert!(pm.durations.to_close_secs.is_some());
    let k = kinds(&pm.timeline);
    let order = [
        EventKind::Ingested,
        EventKind::Triaged,
        EventKind::ContextGathered,
        EventKind::RootCauseProposed,
        EventKind::PlanProposed,
        EventKind::ApprovalRequested,
        EventKind::Approved,
        EventKind::StepApplied,
        EventKind::Resolved,
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|o| {
            k.iter()
                .position(|x| x == o)
                .unwrap_or_else(|| panic!("{o:?} missing from {k:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "timeline out of order: {k:?}"
    );

    let (status, view) = call(&rt, "GET", &format!("/incidents/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "resolved");
    assert_eq!(view["decision"]["verdict"], "approved");
    assert!(view["root_cause"]["model_confidence"].is_number());
    assert!(view["root_cause"]["computed_confidence"].is_number());
    assert!(
        view.to_string().find("task_token").is_none(),
        "the task token never leaves the backend"
    );
}

#[tokio::test]
async fn a_rejected_plan_escalates_with_a_postmortem() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let pager = Arc::new(RecordingPager::new());
    let executor = Arc::new(ScriptedExecutor::new());
    let rt = runtime_with(dir.path(), &s, |d| {
        d.pager = pager.clone();
        d.executor = executor.clone();
    });
    let id = send_alert(&rt, &s).await;
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let (status, _) = call(
        &rt,
        "POST",
        &format!("/incidents/{id}/reject"),
        Some(json!({"approver": "bob", "comment": "not now"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pm = wait_for_postmortem(&rt, id).await;
    assert_eq!(pm.status, IncidentStatus::Escalated);
    assert!(matches!(
        pm.outcome,
        Some(Outcome::Escalated {
            reason: EscalationReason::Rejected,
            paged: true,
            ..
        })
    ));
    assert!(executor.actions().is_empty(), "a rejected plan never runs");
    assert_eq!(pager.pages().len(), 1);
    let md = pm.to_markdown();
    assert!(md.contains("plan rejected"), "{md}");
}

#[tokio::test]
async fn no_decision_before_the_deadline_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let executor = Arc::new(ScriptedExecutor::new());
    let rt = runtime_with(dir.path(), &s, |d| {
        d.policy.approval_timeout_p0 = Duration::from_secs(1);
        d.policy.approval_timeout_other = Duration::from_secs(1);
        d.executor = executor.clone();
    });
    let id = send_alert(&rt, &s).await;
    let pm = wait_for_postmortem(&rt, id).await;
    assert!(
        matches!(
            pm.outcome,
            Some(Outcome::Escalated {
                reason: EscalationReason::ApprovalTimeout,
                ..
            })
        ),
        "{:?}",
        pm.outcome
    );
    assert!(kinds(&pm.timeline).contains(&EventKind::ApprovalTimedOut));
    assert!(executor.actions().is_empty());
    let (status, body) = call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a late approval changes nothing: {body}"
    );
}

#[tokio::test]
async fn low_confidence_on_every_attempt_escalates_after_three() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let analyst = Arc::new(ScriptedConfidence::new(vec![0.3]));
    let rt = runtime_with(dir.path(), &s, |d| d.analyst = analyst.clone());
    let id = send_alert(&rt, &s).await;
    let pm = wait_for_postmortem(&rt, id).await;
    let inc = incident(&rt, id).await;
    assert_eq!(inc.attempts, 3);
    assert!(matches!(
        pm.outcome,
        Some(Outcome::Escalated {
            reason: EscalationReason::LowConfidence,
            ..
        })
    ));
    let gathered = kinds(&pm.timeline)
        .iter()
        .filter(|k| **k == EventKind::ContextGathered)
        .count();
    assert_eq!(gathered, 3);
    assert!(inc.plan.is_none(), "no plan below the gate");
}

#[tokio::test]
async fn confidence_rising_on_the_second_attempt_leads_to_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let analyst = Arc::new(ScriptedConfidence::new(vec![0.4, 0.9]));
    let rt = runtime_with(dir.path(), &s, |d| d.analyst = analyst.clone());
    let id = send_alert(&rt, &s).await;
    let inc = wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    assert_eq!(inc.attempts, 2);
    assert!(inc.plan.is_some());
    let events = rt.deps.store.list_events(id).await.unwrap();
    let windows: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == EventKind::ContextGathered)
        .map(|e| e.data["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(windows, vec![1, 2]);
    let c1 = rt.deps.store.get_context(id, 1).await.unwrap().unwrap();
    let c2 = rt.deps.store.get_context(id, 2).await.unwrap().unwrap();
    assert!(
        c2.window.end - c2.window.start > c1.window.end - c1.window.start,
        "the retry widens the window"
    );
}

#[tokio::test]
async fn a_failing_step_rolls_back_completed_steps_newest_first_and_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let svc = ServiceName::parse("checkout-api").unwrap();
    let flag = |enabled| Action::ToggleFeatureFlag {
        service: svc.clone(),
        flag: "new-pricing".into(),
        enabled,
    };
    let scale = |from, to| Action::ScaleService {
        service: svc.clone(),
        from_replicas: from,
        to_replicas: to,
    };
    let plan = ProposedPlan {
        summary: "three steps".into(),
        steps: vec![
            ProposedStep {
                action: flag(false),
                rollback: Some(flag(true)),
                risk: Risk::Low,
                rationale: String::new(),
            },
            ProposedStep {
                action: scale(4, 8),
                rollback: Some(scale(8, 4)),
                risk: Risk::Low,
                rationale: String::new(),
            },
            ProposedStep {
                action: Action::RestartService {
                    service: svc.clone(),
                },
                rollback: None,
                risk: Risk::Medium,
                rationale: String::new(),
            },
        ],
    };
    let analyst = Arc::new(ScriptedPlan {
        inner: HeuristicAnalyst::default(),
        plan,
    });
    let executor = Arc::new(ScriptedExecutor::new().fail_on_kind("restart_service"));
    let rt = runtime_with(dir.path(), &s, |d| {
        d.analyst = analyst.clone();
        d.executor = executor.clone();
    });
    let id = send_alert(&rt, &s).await;
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let (status, _) = call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    assert_eq!(status, StatusCode::OK);
    let pm = wait_for_postmortem(&rt, id).await;
    let ran = executor.actions();
    assert_eq!(
        ran,
        vec![
            flag(false),
            scale(4, 8),
            Action::RestartService {
                service: svc.clone()
            },
            scale(8, 4),
            flag(true)
        ],
        "steps in order, then rollbacks newest first"
    );
    assert!(
        matches!(
            pm.outcome,
            Some(Outcome::Escalated {
                reason: EscalationReason::RemediationFailed,
                ..
            })
        ),
        "{:?}",
        pm.outcome
    );
    assert_eq!(incident(&rt, id).await.status, IncidentStatus::Escalated);
}

#[tokio::test]
async fn twenty_concurrent_incidents_share_no_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let mut handles = Vec::new();
    for i in 0..20 {
        let rt = rt.clone();
        handles.push(tokio::spawn(async move {
            let alert = json!({"title": format!("checkout errors #{i}"), "service": "checkout-api", "severity": "critical",
                "timestamp": "2026-03-17T14:12:41Z", "fingerprint": format!("fp-{i}")});
            let (status, body) = call(&rt, "POST", "/webhook/generic", Some(alert)).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            (i, iras_core::IncidentId::parse(body["incident_id"].as_str().unwrap()).unwrap())
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    for (_, id) in &ids {
        wait_for(&rt, *id, IncidentStatus::AwaitingApproval).await;
        let (status, _) = call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    for (i, id) in &ids {
        let pm = wait_for_postmortem(&rt, *id).await;
        assert_eq!(pm.status, IncidentStatus::Resolved);
        assert_eq!(pm.title, format!("checkout errors #{i}"));
        let ingested: Vec<_> = pm
            .timeline
            .iter()
            .filter(|e| e.kind == EventKind::Ingested)
            .collect();
        assert_eq!(ingested.len(), 1);
        assert!(
            ingested[0].message.ends_with(&format!("#{i}")),
            "{}",
            ingested[0].message
        );
    }
    let unique: std::collections::HashSet<_> = ids.iter().map(|(_, id)| *id).collect();
    assert_eq!(unique.len(), 20);
}

#[tokio::test]
async fn the_seed_compatible_flow_alert_then_approve_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let alert = json!({"title": "High error rate on checkout", "timestamp": "2026-03-17T14:12:41Z",
        "service": "checkout-api", "severity": "critical"});
    let (status, body) = call(&rt, "POST", "/webhook/alert", Some(alert)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "processing");
    let id = iras_core::IncidentId::parse(body["incident_id"].as_str().unwrap()).unwrap();
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let (status, _) = call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    assert_eq!(status, StatusCode::OK);
    wait_for_postmortem(&rt, id).await;
    assert_eq!(incident(&rt, id).await.status, IncidentStatus::Resolved);
}

//! The fakes record what they are asked and fail exactly where they are told to.

use chrono::TimeDelta;
use iras_core::ports::{Clock, ExecError, Executor, Notifier, PageError, Pager};
use iras_core::{Action, ApprovalId};
use iras_testkit::fakes::{
    FixedClock, ManualClock, Notification, PagerMode, RecordingNotifier, RecordingPager,
    ScriptedExecutor,
};
use iras_testkit::{at, base_time, sample_incident, service};

#[test]
fn a_fixed_clock_never_moves_and_a_manual_one_moves_when_told() {
    assert_eq!(FixedClock::default().now(), base_time());
    let clock = ManualClock::new(at(0));
    clock.advance(TimeDelta::seconds(90));
    assert_eq!(clock.now(), at(90));
    clock.set(at(-5));
    assert_eq!(clock.now(), at(-5));
}

#[tokio::test]
async fn the_notifier_records_every_call_and_fails_while_told_to() {
    let notifier = RecordingNotifier::new();
    let incident = sample_incident("notify", at(0));
    let approval = ApprovalId::generate();
    notifier
        .approval_requested(&incident, &approval, at(900))
        .await
        .expect("a healthy notifier succeeds");
    notifier.fail_with("slack is down");
    let err = notifier
        .progress(&incident, "still looking")
        .await
        .expect_err("told to fail");
    assert_eq!(err.0, "slack is down");
    notifier.recover();
    notifier
        .approval_closed(&incident, &approval, None)
        .await
        .expect("recovered");

    assert_eq!(
        notifier.calls(),
        vec![
            Notification::ApprovalRequested {
                incident_id: incident.id,
                approval_id: approval.clone(),
                deadline: at(900)
            },
            Notification::Progress {
                incident_id: incident.id,
                text: "still looking".into()
            },
            Notification::ApprovalClosed {
                incident_id: incident.id,
                approval_id: approval,
                decision: None
            },
        ]
    );
    assert_eq!(notifier.progress_texts(), vec!["still looking".to_owned()]);
}

#[tokio::test]
async fn the_pager_sends_fails_or_is_not_configured_as_told() {
    let pager = RecordingPager::new();
    let incident = sample_incident("page", at(0));
    assert_eq!(pager.page(&incident, "first").await, Ok("PAGE-1".into()));
    pager.set_mode(PagerMode::Fail("pagerduty 503".into()));
    assert_eq!(
        pager.page(&incident, "second").await,
        Err(PageError::Failed("pagerduty 503".into()))
    );
    let unconfigured = RecordingPager::not_configured();
    assert_eq!(
        unconfigured.page(&incident, "x").await,
        Err(PageError::NotConfigured)
    );

    assert_eq!(
        pager.pages().len(),
        1,
        "only the page that went out counts as sent"
    );
    assert_eq!(pager.attempts().len(), 2);
    assert!(unconfigured.pages().is_empty());
}

#[tokio::test]
async fn the_executor_fails_on_the_nth_call_and_on_a_given_kind() {
    let executor = ScriptedExecutor::new()
        .fail_on_call(2)
        .fail_on_kind("restart_service");
    let incident = sample_incident("exec", at(0)).id;
    let scale = Action::ScaleService {
        service: service("checkout"),
        from_replicas: 2,
        to_replicas: 4,
    };
    let restart = Action::RestartService {
        service: service("checkout"),
    };

    assert!(
        executor.execute(incident, &scale).await.is_ok(),
        "call 1 succeeds"
    );
    assert!(
        matches!(
            executor.execute(incident, &scale).await,
            Err(ExecError::Failed(_))
        ),
        "call 2 fails as scripted"
    );
    assert!(
        executor.execute(incident, &scale).await.is_ok(),
        "call 3 succeeds again"
    );
    assert!(
        executor.execute(incident, &restart).await.is_err(),
        "restarts always fail"
    );

    assert_eq!(
        executor.actions(),
        vec![scale.clone(), scale.clone(), scale, restart]
    );
    let oks: Vec<bool> = executor.calls().iter().map(|c| c.ok).collect();
    assert_eq!(oks, vec![true, false, true, false]);
    assert_eq!(executor.name(), "scripted");
}

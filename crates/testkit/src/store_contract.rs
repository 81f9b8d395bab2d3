//! The contract every [`IncidentStore`] must honour, as checks that any implementation's tests
//! call (the in-memory fake, SQLite, DynamoDB). Each check takes a fresh, empty store, panics with
//! a message that names the broken promise, and needs a tokio runtime (the concurrency checks
//! spawn tasks, so a multi-threaded runtime exercises them best).
//!
//! Call [`run_all`] for the whole suite, or one check per test so a failure names itself:
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn the_first_decision_wins_and_later_ones_see_it() {
//!     store_contract::first_decision_wins(MyStore::new()).await;
//! }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use iras_core::ports::{DecideError, DedupOutcome, IncidentStore};
use iras_core::{EventKind, Incident, IncidentId, IncidentStatus, TimelineEvent, Verdict};
use tokio::task::JoinHandle;

use crate::samples::{
    at, base_time, sample_approval, sample_context, sample_decision, sample_event, sample_incident,
    sample_postmortem, sample_task_token,
};

/// Concurrent creators in the dedup checks.
pub const CONCURRENT_CREATORS: usize = 50;
/// Concurrent deciders in the approval check.
pub const CONCURRENT_DECIDERS: usize = 20;
/// Concurrent appenders in the timeline check.
pub const CONCURRENT_APPENDERS: usize = 100;
/// Events each appender appends, one after the other.
pub const EVENTS_PER_APPENDER: usize = 3;

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<S: IncidentStore + 'static>(make: impl Fn() -> S) {
    dedup_key_is_claimed_once_and_freed_only_by_its_holder(make()).await;
    concurrent_creates_with_one_key_create_exactly_one(make()).await;
    concurrent_creates_with_distinct_keys_lose_none(make()).await;
    unknown_records_read_as_none(make()).await;
    put_incident_overwrites_a_known_incident_only(make()).await;
    list_incidents_is_newest_first_and_pages_with_before(make()).await;
    first_decision_wins(make()).await;
    concurrent_deciders_get_exactly_one_ok(make()).await;
    expired_approvals_refuse_decisions(make()).await;
    decisions_after_the_deadline_are_refused(make()).await;
    timeline_reads_back_in_append_order(make()).await;
    concurrent_appenders_keep_their_own_order(make()).await;
    timelines_of_two_incidents_do_not_mix(make()).await;
    contexts_are_kept_per_attempt_and_a_retry_overwrites(make()).await;
    postmortems_round_trip_and_overwrite(make()).await;
}

/// Creates `incident`, panicking unless it was `Created`.
async fn create<S: IncidentStore + ?Sized>(store: &S, incident: &Incident) {
    match store.create_incident(incident).await {
        Ok(DedupOutcome::Created) => {}
        other => panic!(
            "creating incident {} with a free dedup key should give Created, got {other:?}",
            incident.id
        ),
    }
}

/// Awaits every task, panicking with `what` if one panicked.
async fn join_all<T>(handles: Vec<JoinHandle<T>>, what: &str) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await
                .unwrap_or_else(|e| panic!("{what}: a task failed: {e}")),
        );
    }
    out
}

/// Spawns `n` tasks running `f(store, i)` and waits for all of them.
async fn concurrently<S, T, F, Fut>(store: &Arc<S>, n: usize, what: &str, f: F) -> Vec<T>
where
    S: IncidentStore + 'static,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles = (0..n)
        .map(|i| tokio::spawn(f(Arc::clone(store), i)))
        .collect();
    join_all(handles, what).await
}

/// The first incident of a dedup key is `Created`; repeats get `Existing(first id)` and are not
/// stored; a release by a non-holder does nothing; after the holder releases it, a new incident
/// can take the key.
pub async fn dedup_key_is_claimed_once_and_freed_only_by_its_holder<S: IncidentStore>(store: S) {
    let first = sample_incident("disk-full", at(0));
    let key = first.dedup_key.clone();
    assert_eq!(
        store
            .dedup_holder(&key)
            .await
            .expect("reading a free dedup key"),
        None,
        "a key nobody claimed has no holder"
    );
    create(&store, &first).await;
    assert_eq!(
        store
            .dedup_holder(&key)
            .await
            .expect("reading a claimed dedup key"),
        Some(first.id),
        "the creator holds the key"
    );

    let repeat = sample_incident("disk-full", at(1));
    assert_eq!(
        store
            .create_incident(&repeat)
            .await
            .expect("creating a repeat"),
        DedupOutcome::Existing(first.id),
        "a repeat of the key must point at the first incident"
    );
    assert_eq!(
        store
            .get_incident(repeat.id)
            .await
            .expect("reading the repeat"),
        None,
        "a deduplicated incident must not be stored"
    );

    store
        .release_dedup(&key, repeat.id)
        .await
        .expect("a release by a non-holder is not an error");
    assert_eq!(
        store.dedup_holder(&key).await.expect("reading the key"),
        Some(first.id),
        "a release by a non-holder must leave the key with its holder"
    );
    let third = sample_incident("disk-full", at(2));
    assert_eq!(
        store
            .create_incident(&third)
            .await
            .expect("creating after a foreign release"),
        DedupOutcome::Existing(first.id),
        "a release by a non-holder must not free the key"
    );

    store
        .release_dedup(&key, first.id)
        .await
        .expect("releasing by the holder");
    assert_eq!(
        store
            .dedup_holder(&key)
            .await
            .expect("reading a released key"),
        None,
        "a released key has no holder"
    );
    create(&store, &third).await;
    assert_eq!(
        store.dedup_holder(&key).await.expect("reading the key"),
        Some(third.id),
        "the new incident holds the freed key"
    );
    assert!(
        store
            .get_incident(first.id)
            .await
            .expect("reading the first")
            .is_some(),
        "releasing a key must not delete its incident"
    );
    store
        .release_dedup(&sample_incident("never-seen", at(3)).dedup_key, first.id)
        .await
        .expect("releasing an unknown key is a no-op");

    // An alert grouped into an existing incident claims its own key for that incident.
    let grouped = sample_incident("grouped-alert", at(4)).dedup_key;
    let claim = store
        .claim_dedup(&grouped, third.id)
        .await
        .expect("claiming a free key");
    assert_eq!(
        claim,
        DedupOutcome::Created,
        "a free key is claimed for the holder"
    );
    let again = store
        .claim_dedup(&grouped, third.id)
        .await
        .expect("claiming it again");
    assert_eq!(
        again,
        DedupOutcome::Created,
        "claiming one's own key again is harmless"
    );
    let other = store
        .claim_dedup(&grouped, first.id)
        .await
        .expect("claiming a held key");
    assert_eq!(
        other,
        DedupOutcome::Existing(third.id),
        "a held key stays with its holder"
    );
    assert_eq!(
        store
            .dedup_holder(&grouped)
            .await
            .expect("reading the grouped key"),
        Some(third.id)
    );
    let repeat = sample_incident("grouped-alert", at(5));
    assert_eq!(
        store
            .create_incident(&repeat)
            .await
            .expect("a repeat of the grouped alert"),
        DedupOutcome::Existing(third.id),
        "a repeat of a grouped alert joins the incident it was grouped into"
    );
    store
        .release_dedup(&grouped, third.id)
        .await
        .expect("releasing the grouped key");
    assert_eq!(
        store.dedup_holder(&grouped).await.expect("reading it"),
        None
    );
}

/// Of many concurrent creators with one dedup key, exactly one gets `Created`, and every other
/// gets `Existing` with that one's id.
pub async fn concurrent_creates_with_one_key_create_exactly_one<S: IncidentStore + 'static>(
    store: S,
) {
    let store = Arc::new(store);
    let results = concurrently(
        &store,
        CONCURRENT_CREATORS,
        "concurrent creators",
        |s, i| async move {
            let incident = sample_incident("storm", at(0));
            let outcome = s.create_incident(&incident).await;
            (incident.id, outcome, i)
        },
    )
    .await;
    let mut winners = Vec::new();
    let mut pointed_at = HashSet::new();
    for (id, outcome, i) in results {
        match outcome {
            Ok(DedupOutcome::Created) => winners.push(id),
            Ok(DedupOutcome::Existing(other)) => {
                pointed_at.insert(other);
            }
            Err(e) => panic!("creator {i} failed instead of being deduplicated: {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {CONCURRENT_CREATORS} concurrent creators with one key must get Created"
    );
    let winner = winners[0];
    assert!(
        pointed_at.iter().all(|id| *id == winner),
        "every Existing must name the one created incident {winner}, got {pointed_at:?}"
    );
    let listed = store.list_incidents(1000, None).await.expect("listing");
    assert_eq!(
        listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![winner],
        "only the created incident may be stored"
    );
}

/// Many concurrent creators with distinct keys all get `Created` and every incident is stored.
pub async fn concurrent_creates_with_distinct_keys_lose_none<S: IncidentStore + 'static>(store: S) {
    let store = Arc::new(store);
    let results = concurrently(
        &store,
        CONCURRENT_CREATORS,
        "concurrent creators",
        |s, i| async move {
            let incident = sample_incident(&format!("distinct-{i}"), at(0));
            (incident.id, s.create_incident(&incident).await)
        },
    )
    .await;
    let mut created = HashSet::new();
    for (id, outcome) in results {
        assert_eq!(
            outcome,
            Ok(DedupOutcome::Created),
            "incident {id} with its own key must be created"
        );
        created.insert(id);
    }
    let listed: HashSet<IncidentId> = store
        .list_incidents(1000, None)
        .await
        .expect("listing")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        listed, created,
        "all {CONCURRENT_CREATORS} incidents must be stored, none lost"
    );
}

/// Reading what was never written gives `None` (or an empty timeline), not an error.
pub async fn unknown_records_read_as_none<S: IncidentStore>(store: S) {
    let unknown = IncidentId::new_at(base_time());
    assert_eq!(
        store.get_incident(unknown).await.expect("get_incident"),
        None
    );
    assert_eq!(
        store.get_context(unknown, 1).await.expect("get_context"),
        None
    );
    assert_eq!(
        store.get_postmortem(unknown).await.expect("get_postmortem"),
        None
    );
    assert_eq!(
        store
            .get_approval(&sample_approval(unknown, 60).id)
            .await
            .expect("get_approval"),
        None
    );
    assert!(
        store
            .list_events(unknown)
            .await
            .expect("list_events")
            .is_empty(),
        "an unknown incident has an empty timeline"
    );
    assert!(
        store
            .list_incidents(10, None)
            .await
            .expect("list_incidents")
            .is_empty(),
        "a new store lists no incidents"
    );
}

/// `put_incident` replaces a stored incident whole; an unknown id is an error and stores nothing.
pub async fn put_incident_overwrites_a_known_incident_only<S: IncidentStore>(store: S) {
    let mut incident = sample_incident("overwrite", at(0));
    create(&store, &incident).await;
    assert_eq!(
        store
            .get_incident(incident.id)
            .await
            .expect("reading it back")
            .as_ref(),
        Some(&incident),
        "a created incident must read back unchanged"
    );
    incident.status = IncidentStatus::Investigating;
    incident.attempts = 2;
    incident.updated_at = at(30);
    store
        .put_incident(&incident)
        .await
        .expect("overwriting a known incident");
    assert_eq!(
        store
            .get_incident(incident.id)
            .await
            .expect("reading it back")
            .as_ref(),
        Some(&incident),
        "put_incident must replace the record"
    );

    let stranger = sample_incident("stranger", at(1));
    assert!(
        store.put_incident(&stranger).await.is_err(),
        "put_incident of an id that was never created must fail"
    );
    assert_eq!(
        store
            .get_incident(stranger.id)
            .await
            .expect("reading the stranger"),
        None,
        "a refused put_incident must not store anything"
    );
}

/// Incidents list newest first; `limit` caps a page and `before` starts strictly after an id.
pub async fn list_incidents_is_newest_first_and_pages_with_before<S: IncidentStore>(store: S) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let incident = sample_incident(&format!("list-{i}"), at(i * 60));
        create(&store, &incident).await;
        ids.push(incident.id);
    }
    let newest_first: Vec<IncidentId> = ids.iter().rev().copied().collect();
    let all: Vec<IncidentId> = store
        .list_incidents(100, None)
        .await
        .expect("listing all")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all, newest_first, "incidents must list newest first");

    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page: Vec<IncidentId> = store
            .list_incidents(3, before)
            .await
            .expect("listing a page")
            .iter()
            .map(|i| i.id)
            .collect();
        assert!(
            page.len() <= 3,
            "a page must respect the limit, got {}",
            page.len()
        );
        if page.is_empty() {
            break;
        }
        before = page.last().copied();
        pages.push(page);
        assert!(pages.len() <= 7, "pagination with `before` must terminate");
    }
    assert_eq!(
        pages,
        vec![
            newest_first[0..3].to_vec(),
            newest_first[3..6].to_vec(),
            newest_first[6..7].to_vec()
        ],
        "pages must follow on, each strictly older than the last id of the page before"
    );
    assert!(
        store
            .list_incidents(0, None)
            .await
            .expect("listing none")
            .is_empty(),
        "a limit of 0 lists nothing"
    );
}

/// The first decision is recorded; later decisions get `AlreadyDecided` with it and change
/// nothing; expiring a decided approval returns false; the token survives the round trip.
pub async fn first_decision_wins<S: IncidentStore>(store: S) {
    let incident = sample_incident("approve", at(0));
    create(&store, &incident).await;
    let approval = sample_approval(incident.id, 3600);
    store
        .put_approval(&approval)
        .await
        .expect("storing an approval");
    assert_eq!(
        store
            .get_approval(&approval.id)
            .await
            .expect("reading it back")
            .as_ref(),
        Some(&approval),
        "a stored approval must read back unchanged"
    );

    let alice = sample_decision(Verdict::Approved, "alice", at(60));
    let recorded = store
        .decide_approval(&approval.id, &alice)
        .await
        .expect("the first decision must be recorded");
    assert_eq!(
        recorded.decision.as_ref(),
        Some(&alice),
        "the record carries the decision"
    );
    assert_eq!(
        recorded.task_token,
        sample_task_token(),
        "the token must be kept"
    );
    assert!(!recorded.expired);

    let bob = sample_decision(Verdict::Rejected, "bob", at(61));
    match store.decide_approval(&approval.id, &bob).await {
        Err(DecideError::AlreadyDecided(first)) => assert_eq!(
            *first, alice,
            "a later decider must be told the first decision"
        ),
        other => panic!("a second decision must get AlreadyDecided, got {other:?}"),
    }
    assert!(
        !store.expire_approval(&approval.id).await.expect("expiring"),
        "expiring a decided approval must return false"
    );
    let stored = store
        .get_approval(&approval.id)
        .await
        .expect("reading it back")
        .expect("the approval exists");
    assert_eq!(stored.decision, Some(alice), "the first decision stands");
    assert!(
        !stored.expired,
        "a decided approval must not become expired"
    );

    let unknown = sample_approval(incident.id, 3600).id;
    assert_eq!(
        store
            .decide_approval(&unknown, &bob)
            .await
            .expect_err("an unknown approval"),
        DecideError::NotFound
    );
    assert!(
        !store
            .expire_approval(&unknown)
            .await
            .expect("expiring an unknown approval"),
        "expiring an unknown approval must return false"
    );
}

/// Of many concurrent deciders, exactly one gets `Ok`; every other sees that decision.
pub async fn concurrent_deciders_get_exactly_one_ok<S: IncidentStore + 'static>(store: S) {
    let incident = sample_incident("race", at(0));
    create(&store, &incident).await;
    let approval = sample_approval(incident.id, 3600);
    store
        .put_approval(&approval)
        .await
        .expect("storing an approval");
    let store = Arc::new(store);
    let id = approval.id.clone();
    let results = concurrently(
        &store,
        CONCURRENT_DECIDERS,
        "concurrent deciders",
        |s, i| {
            let id = id.clone();
            async move {
                let verdict = if i % 2 == 0 {
                    Verdict::Approved
                } else {
                    Verdict::Rejected
                };
                let decision = sample_decision(verdict, &format!("approver-{i}"), at(60));
                (decision.clone(), s.decide_approval(&id, &decision).await)
            }
        },
    )
    .await;
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    for (mine, result) in results {
        match result {
            Ok(record) => {
                assert_eq!(
                    record.decision.as_ref(),
                    Some(&mine),
                    "Ok carries my decision"
                );
                winners.push(mine);
            }
            Err(DecideError::AlreadyDecided(first)) => seen.push(*first),
            Err(e) => panic!("{} got {e:?} instead of Ok or AlreadyDecided", mine.by),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {CONCURRENT_DECIDERS} concurrent deciders must win, got {winners:?}"
    );
    let winner = winners.remove(0);
    assert!(
        seen.iter().all(|d| *d == winner),
        "every loser must be told the winning decision by {}",
        winner.by
    );
    let stored = store
        .get_approval(&approval.id)
        .await
        .expect("reading it back")
        .expect("the approval exists");
    assert_eq!(
        stored.decision,
        Some(winner),
        "the stored decision is the winner's"
    );
}

/// Expiring an undecided approval returns true (again on a repeat), and a later decision gets
/// `Expired` and is not recorded.
pub async fn expired_approvals_refuse_decisions<S: IncidentStore>(store: S) {
    let incident = sample_incident("expire", at(0));
    create(&store, &incident).await;
    let approval = sample_approval(incident.id, 3600);
    store
        .put_approval(&approval)
        .await
        .expect("storing an approval");
    assert!(
        store.expire_approval(&approval.id).await.expect("expiring"),
        "expiring an undecided approval must return true"
    );
    assert!(
        store
            .expire_approval(&approval.id)
            .await
            .expect("expiring again"),
        "expiring an expired approval again must still return true"
    );
    let late = sample_decision(Verdict::Approved, "late", at(60));
    assert_eq!(
        store
            .decide_approval(&approval.id, &late)
            .await
            .expect_err("deciding after expiry"),
        DecideError::Expired,
        "a decision after expiry must get Expired"
    );
    let stored = store
        .get_approval(&approval.id)
        .await
        .expect("reading it back")
        .expect("the approval exists");
    assert!(stored.expired, "the approval must read back expired");
    assert_eq!(
        stored.decision, None,
        "a refused decision must not be recorded"
    );
}

/// A decision made after the approval's deadline gets `Expired` even before the workflow has
/// marked the approval expired, so the record never shows a decision the workflow ignored.
pub async fn decisions_after_the_deadline_are_refused<S: IncidentStore>(store: S) {
    let incident = sample_incident("deadline", at(0));
    create(&store, &incident).await;
    let approval = sample_approval(incident.id, 900);
    store
        .put_approval(&approval)
        .await
        .expect("storing an approval");
    let late = sample_decision(Verdict::Approved, "late", at(901));
    assert_eq!(
        store
            .decide_approval(&approval.id, &late)
            .await
            .expect_err("deciding too late"),
        DecideError::Expired,
        "a decision after the deadline must get Expired"
    );
    let on_time = sample_decision(Verdict::Rejected, "punctual", at(900));
    let recorded = store
        .decide_approval(&approval.id, &on_time)
        .await
        .expect("a decision at the deadline is in time");
    assert_eq!(recorded.decision, Some(on_time));
}

/// Events read back oldest first, exactly as appended; events with equal timestamps keep their
/// append order.
pub async fn timeline_reads_back_in_append_order<S: IncidentStore>(store: S) {
    let incident = sample_incident("timeline", at(0));
    create(&store, &incident).await;
    let events = vec![
        sample_event(at(0), EventKind::Ingested, "ingested"),
        sample_event(at(2), EventKind::Triaged, "triaged"),
        // Equal timestamps, and content that sorts the other way: only append order can tell.
        sample_event(at(5), EventKind::Warning, "z: a source failed"),
        sample_event(at(5), EventKind::ContextGathered, "a: gathered"),
        sample_event(at(9), EventKind::RootCauseProposed, "root cause"),
    ];
    for e in &events {
        store
            .append_event(incident.id, e)
            .await
            .expect("appending an event");
    }
    assert_eq!(
        store
            .list_events(incident.id)
            .await
            .expect("listing events"),
        events,
        "events must read back unchanged, in append order"
    );
}

/// Many concurrent appenders on one incident lose no event, and each appender's events read back
/// in the order it appended them.
pub async fn concurrent_appenders_keep_their_own_order<S: IncidentStore + 'static>(store: S) {
    let incident = sample_incident("busy-timeline", at(0));
    create(&store, &incident).await;
    let store = Arc::new(store);
    let id = incident.id;
    let results = concurrently(
        &store,
        CONCURRENT_APPENDERS,
        "concurrent appenders",
        |s, a| {
            async move {
                for n in 0..EVENTS_PER_APPENDER {
                    // One timestamp for all, and messages that sort against append order: the
                    // order must come from appending, not from `at` or content.
                    let left = EVENTS_PER_APPENDER - n;
                    let e =
                        TimelineEvent::new(at(1), EventKind::Warning, format!("{a}: {left} left"))
                            .with_data(serde_json::json!({ "appender": a, "n": n }));
                    s.append_event(id, &e).await?;
                }
                Ok::<_, iras_core::ports::StoreError>(())
            }
        },
    )
    .await;
    for (a, r) in results.into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("appender {a} failed: {e}"));
    }
    let events = store.list_events(id).await.expect("listing events");
    assert_eq!(
        events.len(),
        CONCURRENT_APPENDERS * EVENTS_PER_APPENDER,
        "no event may be lost"
    );
    let mut by_appender: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in &events {
        let a = e.data["appender"].as_u64().expect("the appender number");
        let n = e.data["n"].as_u64().expect("the event number");
        by_appender.entry(a).or_default().push(n);
    }
    let expected: Vec<u64> = (0..EVENTS_PER_APPENDER as u64).collect();
    assert_eq!(
        by_appender.len(),
        CONCURRENT_APPENDERS,
        "every appender's events are there"
    );
    for (a, ns) in by_appender {
        assert_eq!(
            ns, expected,
            "appender {a}'s events must read back in its order"
        );
    }
}

/// Events appended to two incidents, interleaved, read back separately and in order.
pub async fn timelines_of_two_incidents_do_not_mix<S: IncidentStore>(store: S) {
    let a = sample_incident("timeline-a", at(0));
    let b = sample_incident("timeline-b", at(1));
    create(&store, &a).await;
    create(&store, &b).await;
    let mut expect_a = Vec::new();
    let mut expect_b = Vec::new();
    for i in 0..5 {
        let ea = sample_event(at(i), EventKind::Warning, &format!("a{i}"));
        let eb = sample_event(at(i), EventKind::Warning, &format!("b{i}"));
        store.append_event(a.id, &ea).await.expect("appending to a");
        store.append_event(b.id, &eb).await.expect("appending to b");
        expect_a.push(ea);
        expect_b.push(eb);
    }
    assert_eq!(store.list_events(a.id).await.expect("listing a"), expect_a);
    assert_eq!(store.list_events(b.id).await.expect("listing b"), expect_b);
}

/// Evidence is kept per attempt; storing an attempt again replaces only that attempt.
pub async fn contexts_are_kept_per_attempt_and_a_retry_overwrites<S: IncidentStore>(store: S) {
    let incident = sample_incident("contexts", at(0));
    create(&store, &incident).await;
    let first = sample_context(1);
    let second = sample_context(2);
    store
        .put_context(incident.id, &first)
        .await
        .expect("storing attempt 1");
    store
        .put_context(incident.id, &second)
        .await
        .expect("storing attempt 2");
    assert_eq!(
        store.get_context(incident.id, 1).await.expect("reading 1"),
        Some(first)
    );
    assert_eq!(
        store.get_context(incident.id, 2).await.expect("reading 2"),
        Some(second.clone())
    );

    let mut retried = sample_context(1);
    retried.deployments.clear();
    retried.logs[0].count = 7;
    store
        .put_context(incident.id, &retried)
        .await
        .expect("storing attempt 1 again");
    assert_eq!(
        store.get_context(incident.id, 1).await.expect("reading 1"),
        Some(retried),
        "a retried attempt must overwrite its evidence"
    );
    assert_eq!(
        store.get_context(incident.id, 2).await.expect("reading 2"),
        Some(second),
        "other attempts must be untouched"
    );
    assert_eq!(
        store.get_context(incident.id, 3).await.expect("reading 3"),
        None
    );
}

/// A post-mortem reads back unchanged; storing it again replaces it.
pub async fn postmortems_round_trip_and_overwrite<S: IncidentStore>(store: S) {
    let incident = sample_incident("postmortem", at(0));
    create(&store, &incident).await;
    let mut pm = sample_postmortem(&incident, at(600));
    store
        .put_postmortem(&pm)
        .await
        .expect("storing a post-mortem");
    assert_eq!(
        store
            .get_postmortem(incident.id)
            .await
            .expect("reading it back")
            .as_ref(),
        Some(&pm),
        "a post-mortem must read back unchanged"
    );
    pm.narrative.summary = "Rewritten after review.".into();
    store.put_postmortem(&pm).await.expect("storing it again");
    assert_eq!(
        store
            .get_postmortem(incident.id)
            .await
            .expect("reading it back"),
        Some(pm),
        "storing a post-mortem again must replace it"
    );
}

//! The store contract suite, run on the in-memory fake, so step tests can trust it to behave like
//! the real stores; plus the fake's own failure switch.

use iras_core::ports::{IncidentStore, StoreError};
use iras_testkit::fakes::MemoryStore;
use iras_testkit::store_contract as contract;
use iras_testkit::{at, sample_incident};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dedup_key_is_claimed_once_and_freed_only_by_its_holder() {
    contract::dedup_key_is_claimed_once_and_freed_only_by_its_holder(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_key_create_exactly_one_incident() {
    contract::concurrent_creates_with_one_key_create_exactly_one(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_distinct_keys_lose_no_incident() {
    contract::concurrent_creates_with_distinct_keys_lose_none(MemoryStore::new()).await;
}

#[tokio::test]
async fn unknown_records_read_as_none() {
    contract::unknown_records_read_as_none(MemoryStore::new()).await;
}

#[tokio::test]
async fn put_incident_overwrites_a_known_incident_and_refuses_an_unknown_one() {
    contract::put_incident_overwrites_a_known_incident_only(MemoryStore::new()).await;
}

#[tokio::test]
async fn incidents_list_newest_first_and_page_with_before() {
    contract::list_incidents_is_newest_first_and_pages_with_before(MemoryStore::new()).await;
}

#[tokio::test]
async fn the_first_decision_wins_and_later_ones_see_it() {
    contract::first_decision_wins(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_concurrent_deciders_exactly_one_wins() {
    contract::concurrent_deciders_get_exactly_one_ok(MemoryStore::new()).await;
}

#[tokio::test]
async fn an_expired_approval_refuses_decisions() {
    contract::expired_approvals_refuse_decisions(MemoryStore::new()).await;
}

#[tokio::test]
async fn a_decision_after_the_deadline_is_refused_as_expired() {
    contract::decisions_after_the_deadline_are_refused(MemoryStore::new()).await;
}

#[tokio::test]
async fn the_timeline_reads_back_in_append_order() {
    contract::timeline_reads_back_in_append_order(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_lose_nothing_and_keep_their_own_order() {
    contract::concurrent_appenders_keep_their_own_order(MemoryStore::new()).await;
}

#[tokio::test]
async fn timelines_of_two_incidents_do_not_mix() {
    contract::timelines_of_two_incidents_do_not_mix(MemoryStore::new()).await;
}

#[tokio::test]
async fn evidence_is_kept_per_attempt_and_a_retry_overwrites_it() {
    contract::contexts_are_kept_per_attempt_and_a_retry_overwrites(MemoryStore::new()).await;
}

#[tokio::test]
async fn a_postmortem_round_trips_and_can_be_replaced() {
    contract::postmortems_round_trip_and_overwrite(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_suite_passes_in_one_go() {
    contract::run_all(MemoryStore::new).await;
}

#[tokio::test]
async fn a_failing_store_fails_every_call_until_it_recovers() {
    // Given a store told to be unavailable
    let store = MemoryStore::new();
    let incident = sample_incident("flaky", at(0));
    store.fail_with(StoreError::Unavailable("injected".into()));

    // When a step calls it, Then the call fails with that error and nothing is stored
    assert_eq!(
        store.create_incident(&incident).await,
        Err(StoreError::Unavailable("injected".into()))
    );
    store.recover();
    assert_eq!(store.get_incident(incident.id).await, Ok(None));
}

#[tokio::test]
async fn records_of_an_unknown_incident_are_refused_as_in_sqlite() {
    let store = MemoryStore::new();
    let ghost = sample_incident("ghost", at(0));
    let event = iras_testkit::sample_event(at(1), iras_core::EventKind::Warning, "boo");
    assert!(store.append_event(ghost.id, &event).await.is_err());
    assert!(store
        .list_events(ghost.id)
        .await
        .expect("listing")
        .is_empty());
}

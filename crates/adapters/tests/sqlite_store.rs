//! The SQLite store: the store contract suite on a real file, and what only a file can show:
//! data that outlives the process, several processes on one file, schema versions, unreadable
//! records, and a writer that holds the lock too long.

use std::path::Path;

use iras_adapters::sqlite::SCHEMA_VERSION;
use iras_adapters::SqliteStore;
use iras_core::ports::{DedupOutcome, IncidentStore, StoreError};
use iras_core::{EventKind, Verdict};
use iras_testkit::store_contract as contract;
use iras_testkit::{
    at, sample_approval, sample_context, sample_decision, sample_event, sample_incident,
    sample_postmortem, sample_task_token,
};
use tempfile::TempDir;

/// A store on a fresh file in a fresh folder; the folder goes when the `TempDir` is dropped.
fn on_a_temp_file() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let store = SqliteStore::open(&dir.path().join("iras.db")).expect("opening the store");
    (dir, store)
}

/// A second, raw connection to the file, as another process or an operator would have.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("opening a raw connection")
}

mod contract_on_a_file {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_dedup_key_is_claimed_once_and_freed_only_by_its_holder() {
        let (_dir, store) = on_a_temp_file();
        contract::dedup_key_is_claimed_once_and_freed_only_by_its_holder(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_with_one_key_create_exactly_one_incident() {
        let (_dir, store) = on_a_temp_file();
        contract::concurrent_creates_with_one_key_create_exactly_one(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_with_distinct_keys_lose_no_incident() {
        let (_dir, store) = on_a_temp_file();
        contract::concurrent_creates_with_distinct_keys_lose_none(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn unknown_records_read_as_none() {
        let (_dir, store) = on_a_temp_file();
        contract::unknown_records_read_as_none(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn put_incident_overwrites_a_known_incident_and_refuses_an_unknown_one() {
        let (_dir, store) = on_a_temp_file();
        contract::put_incident_overwrites_a_known_incident_only(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn incidents_list_newest_first_and_page_with_before() {
        let (_dir, store) = on_a_temp_file();
        contract::list_incidents_is_newest_first_and_pages_with_before(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_first_decision_wins_and_later_ones_see_it() {
        let (_dir, store) = on_a_temp_file();
        contract::first_decision_wins(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_twenty_concurrent_deciders_exactly_one_wins() {
        let (_dir, store) = on_a_temp_file();
        contract::concurrent_deciders_get_exactly_one_ok(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_expired_approval_refuses_decisions() {
        let (_dir, store) = on_a_temp_file();
        contract::expired_approvals_refuse_decisions(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_decision_after_the_deadline_is_refused_as_expired() {
        let (_dir, store) = on_a_temp_file();
        contract::decisions_after_the_deadline_are_refused(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_timeline_reads_back_in_append_order() {
        let (_dir, store) = on_a_temp_file();
        contract::timeline_reads_back_in_append_order(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appenders_lose_nothing_and_keep_their_own_order() {
        let (_dir, store) = on_a_temp_file();
        contract::concurrent_appenders_keep_their_own_order(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn timelines_of_two_incidents_do_not_mix() {
        let (_dir, store) = on_a_temp_file();
        contract::timelines_of_two_incidents_do_not_mix(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn evidence_is_kept_per_attempt_and_a_retry_overwrites_it() {
        let (_dir, store) = on_a_temp_file();
        contract::contexts_are_kept_per_attempt_and_a_retry_overwrites(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_postmortem_round_trips_and_can_be_replaced() {
        let (_dir, store) = on_a_temp_file();
        contract::postmortems_round_trip_and_overwrite(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_contract_passes_on_an_in_memory_database() {
    contract::run_all(|| SqliteStore::open_in_memory().expect("opening in memory")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_closing_and_reopening_the_file() {
    // Given a store with one of every record, closed
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let path = dir.path().join("nested").join("iras.db");
    let incident = sample_incident("durable", at(0));
    let event = sample_event(at(1), EventKind::Ingested, "ingested");
    let context = sample_context(1);
    let approval = sample_approval(incident.id, 900);
    let decision = sample_decision(Verdict::Approved, "alice", at(60));
    let pm = sample_postmortem(&incident, at(600));
    {
        let store = SqliteStore::open(&path).expect("opening (and creating its folder)");
        assert_eq!(
            store.create_incident(&incident).await,
            Ok(DedupOutcome::Created)
        );
        store
            .append_event(incident.id, &event)
            .await
            .expect("appending");
        store
            .put_context(incident.id, &context)
            .await
            .expect("storing evidence");
        store
            .put_approval(&approval)
            .await
            .expect("storing the approval");
        store
            .decide_approval(&approval.id, &decision)
            .await
            .expect("deciding");
        store
            .put_postmortem(&pm)
            .await
            .expect("storing the post-mortem");
    }

    // When the file is opened again
    let store = SqliteStore::open(&path).expect("reopening");

    // Then everything is still there, and the dedup key is still held
    assert_eq!(
        store.get_incident(incident.id).await,
        Ok(Some(incident.clone()))
    );
    assert_eq!(store.list_events(incident.id).await, Ok(vec![event]));
    assert_eq!(store.get_context(incident.id, 1).await, Ok(Some(context)));
    let stored = store
        .get_approval(&approval.id)
        .await
        .expect("reading")
        .expect("present");
    assert_eq!(stored.decision, Some(decision));
    assert_eq!(stored.task_token, sample_task_token());
    assert_eq!(store.get_postmortem(incident.id).await, Ok(Some(pm)));
    let repeat = sample_incident("durable", at(5));
    assert_eq!(
        store.create_incident(&repeat).await,
        Ok(DedupOutcome::Existing(incident.id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_see_each_others_writes_and_dedup_holds_across_them() {
    // Given two stores on one file, as two processes would open it
    let (dir, a) = on_a_temp_file();
    let b = SqliteStore::open(&dir.path().join("iras.db")).expect("opening a second store");

    // When one creates an incident, Then the other sees it and is deduplicated against it
    let first = sample_incident("shared", at(0));
    assert_eq!(a.create_incident(&first).await, Ok(DedupOutcome::Created));
    assert_eq!(b.get_incident(first.id).await, Ok(Some(first.clone())));
    let repeat = sample_incident("shared", at(1));
    assert_eq!(
        b.create_incident(&repeat).await,
        Ok(DedupOutcome::Existing(first.id))
    );

    // And events appended through both read back in one order from either
    let e1 = sample_event(at(2), EventKind::Triaged, "from a");
    let e2 = sample_event(at(3), EventKind::Warning, "from b");
    a.append_event(first.id, &e1)
        .await
        .expect("appending through a");
    b.append_event(first.id, &e2)
        .await
        .expect("appending through b");
    assert_eq!(
        a.list_events(first.id).await,
        Ok(vec![e1.clone(), e2.clone()])
    );
    assert_eq!(b.list_events(first.id).await, Ok(vec![e1, e2]));

    // And concurrent creators split across both still create exactly one incident
    let mut handles = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store
                .create_incident(&sample_incident("split-storm", at(10)))
                .await
        }));
    }
    let mut created = 0;
    for h in handles {
        match h.await.expect("a creator task") {
            Ok(DedupOutcome::Created) => created += 1,
            Ok(DedupOutcome::Existing(_)) => {}
            Err(e) => panic!("a creator failed: {e}"),
        }
    }
    assert_eq!(
        created, 1,
        "exactly one creator across both stores wins the key"
    );

    // And concurrent creators of distinct keys through both all succeed: each waits for the
    // other's write lock instead of failing on a stale read
    let mut handles = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            let incident = sample_incident(&format!("distinct-{i}"), at(20));
            store.create_incident(&incident).await
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("a creator task"), Ok(DedupOutcome::Created));
    }

    // And concurrent appenders through both lose nothing
    let mut handles = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = first.id;
        handles.push(tokio::spawn(async move {
            let e = sample_event(at(30), EventKind::Warning, &format!("appender {i}"));
            store.append_event(id, &e).await
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("an appender task"), Ok(()));
    }
    assert_eq!(a.list_events(first.id).await.map(|e| e.len()), Ok(42));

    // And concurrent deciders split across both get exactly one Ok
    let approval = sample_approval(first.id, 900);
    a.put_approval(&approval)
        .await
        .expect("storing the approval");
    let mut handles = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = approval.id.clone();
        handles.push(tokio::spawn(async move {
            let d = sample_decision(Verdict::Approved, &format!("approver-{i}"), at(60));
            store.decide_approval(&id, &d).await.is_ok()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.expect("a decider task"));
    }
    assert_eq!(wins, 1, "exactly one decider across both stores wins");
}

#[tokio::test]
async fn the_file_is_in_wal_mode_with_the_current_schema_version_after_reopening() {
    let (dir, store) = on_a_temp_file();
    drop(store);
    let path = dir.path().join("iras.db");
    SqliteStore::open(&path).expect("reopening runs the migrations again harmlessly");
    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("reading the journal mode");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("reading the schema version");
    assert_eq!(mode, "wal");
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_file_from_a_newer_schema_is_refused_naming_its_version() {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let path = dir.path().join("iras.db");
    raw(&path)
        .pragma_update(None, "user_version", 99)
        .expect("pretending a newer build wrote the file");
    let err = SqliteStore::open(&path).expect_err("a newer schema must be refused");
    assert!(format!("{err:#}").contains("schema version 99"), "{err:#}");
}

#[tokio::test]
async fn an_unreadable_record_is_reported_as_corrupt() {
    let (dir, store) = on_a_temp_file();
    let incident = sample_incident("mangled", at(0));
    store.create_incident(&incident).await.expect("creating");
    raw(&dir.path().join("iras.db"))
        .execute("UPDATE incidents SET json = '{\"id\": 42}'", [])
        .expect("mangling the record");
    assert!(matches!(
        store.get_incident(incident.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.list_incidents(10, None).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn an_unreadable_approval_is_reported_without_its_task_token() {
    let (dir, store) = on_a_temp_file();
    let incident = sample_incident("mangled-approval", at(0));
    store.create_incident(&incident).await.expect("creating");
    let approval = sample_approval(incident.id, 900);
    store
        .put_approval(&approval)
        .await
        .expect("storing the approval");
    let token = sample_task_token().expose().to_owned();
    raw(&dir.path().join("iras.db"))
        .execute("UPDATE approvals SET json = json_quote(?1)", [&token])
        .expect("replacing the record with a bare string holding the token");

    let err = store
        .get_approval(&approval.id)
        .await
        .expect_err("unreadable");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(
        !err.to_string().contains(&token),
        "the error quotes the token: {err}"
    );
    let err = store
        .decide_approval(
            &approval.id,
            &sample_decision(Verdict::Approved, "x", at(1)),
        )
        .await
        .expect_err("unreadable");
    assert!(
        !err.to_string().contains(&token),
        "the error quotes the token: {err}"
    );
}

#[tokio::test]
async fn the_task_token_is_stored_in_the_approvals_json_and_nowhere_else() {
    let (dir, store) = on_a_temp_file();
    let incident = sample_incident("token", at(0));
    store.create_incident(&incident).await.expect("creating");
    let approval = sample_approval(incident.id, 900);
    store
        .put_approval(&approval)
        .await
        .expect("storing the approval");
    store
        .decide_approval(
            &approval.id,
            &sample_decision(Verdict::Rejected, "bob", at(5)),
        )
        .await
        .expect("deciding");
    store
        .append_event(
            incident.id,
            &sample_event(at(6), EventKind::Rejected, "rejected"),
        )
        .await
        .expect("appending");

    let token = sample_task_token().expose().to_owned();
    let conn = raw(&dir.path().join("iras.db"));
    let mut places = Vec::new();
    for (place, table, text) in [
        (
            "incidents",
            "incidents",
            "id || created_at || status || json",
        ),
        ("dedup", "dedup", "key || incident_id || created_at"),
        ("events", "events", "incident_id || at || json"),
        ("contexts", "contexts", "incident_id || json"),
        ("approvals.id", "approvals", "id || incident_id"),
        ("approvals.json", "approvals", "json"),
        ("postmortems", "postmortems", "incident_id || json"),
    ] {
        let hits: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE instr({text}, ?1) > 0"),
                [&token],
                |r| r.get(0),
            )
            .expect("searching a table");
        if hits > 0 {
            places.push(place);
        }
    }
    assert_eq!(places, vec!["approvals.json"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_holds_the_lock_past_the_busy_timeout_makes_the_store_unavailable() {
    // Given another process holding the write lock
    let (dir, store) = on_a_temp_file();
    let other = raw(&dir.path().join("iras.db"));
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("taking the write lock");

    // When the store needs to write, Then after the busy timeout it reports Unavailable
    let err = store
        .create_incident(&sample_incident("blocked", at(0)))
        .await
        .expect_err("the write lock is held elsewhere");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // And reads still work meanwhile (WAL), and writes work again once the lock is released
    assert_eq!(store.list_incidents(10, None).await, Ok(vec![]));
    other.execute_batch("ROLLBACK").expect("releasing the lock");
    assert_eq!(
        store
            .create_incident(&sample_incident("unblocked", at(1)))
            .await,
        Ok(DedupOutcome::Created)
    );
}

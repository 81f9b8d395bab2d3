//! The DynamoDB store on moto server: the whole store contract suite, each check on a fresh table,
//! and what only DynamoDB needs: dedup items that expired but were never deleted, documents too
//! large for one item, the event sequence, and errors from an unreachable or mangled table.
//!
//! moto_server comes from `.tools/venv` (scripts/test.sh installs it), `IRAS_MOTO_SERVER` or the
//! `PATH`; the tests of this file share one server.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use iras_adapters::dynamo::{self, keys, DynamoStore, ITEM_BUDGET_BYTES, TRIMMED_FIELD};
use iras_core::ports::{DedupOutcome, IncidentStore, StoreError};
use iras_core::{
    EventKind, LogLevel, LogTemplate, TimelineEvent, TraceId, Verdict, MAX_SAMPLE_LEN,
};
use iras_testkit::moto::MotoServer;
use iras_testkit::store_contract as contract;
use iras_testkit::{
    at, sample_approval, sample_context, sample_decision, sample_event, sample_incident,
    sample_postmortem, sample_task_token,
};

/// A fresh table on the shared moto server, and a store on it.
struct Table {
    /// Keeps the server up while the test runs.
    _moto: Arc<MotoServer>,
    client: Client,
    name: String,
    store: DynamoStore,
}

impl Table {
    async fn fresh() -> Self {
        let moto = MotoServer::shared().await;
        let client = moto.dynamodb_client().await;
        let name = format!("iras-test-{}", TraceId::generate());
        dynamo::create_table(&client, &name)
            .await
            .expect("creating a fresh table");
        let store = DynamoStore::new(client.clone(), name.clone());
        Self {
            _moto: moto,
            client,
            name,
            store,
        }
    }

    /// Reads an item through the raw client, as an operator would.
    async fn raw_item(&self, pk: String, sk: &str) -> HashMap<String, AttributeValue> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key(keys::PK, AttributeValue::S(pk))
            .key(keys::SK, AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("reading an item")
            .item
            .expect("the item exists")
    }

    /// Every item of the table.
    async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scanning the table");
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return items,
            }
        }
    }
}

/// One test per contract check, each on its own table, named as a sentence.
macro_rules! contract_tests {
    ($($name:ident => $check:ident;)*) => {
        mod contract_on_moto {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let table = Table::fresh().await;
                    contract::$check(table.store.clone()).await;
                }
            )*
        }
    };
}

contract_tests! {
    a_dedup_key_is_claimed_once_and_freed_only_by_its_holder =>
        dedup_key_is_claimed_once_and_freed_only_by_its_holder;
    concurrent_creates_with_one_key_create_exactly_one_incident =>
        concurrent_creates_with_one_key_create_exactly_one;
    concurrent_creates_with_distinct_keys_lose_no_incident =>
        concurrent_creates_with_distinct_keys_lose_none;
    unknown_records_read_as_none => unknown_records_read_as_none;
    put_incident_overwrites_a_known_incident_and_refuses_an_unknown_one =>
        put_incident_overwrites_a_known_incident_only;
    incidents_list_newest_first_and_page_with_before =>
        list_incidents_is_newest_first_and_pages_with_before;
    the_first_decision_wins_and_later_ones_see_it => first_decision_wins;
    of_twenty_concurrent_deciders_exactly_one_wins => concurrent_deciders_get_exactly_one_ok;
    an_expired_approval_refuses_decisions => expired_approvals_refuse_decisions;
    a_decision_after_the_deadline_is_refused_as_expired => decisions_after_the_deadline_are_refused;
    the_timeline_reads_back_in_append_order => timeline_reads_back_in_append_order;
    concurrent_appenders_lose_nothing_and_keep_their_own_order =>
        concurrent_appenders_keep_their_own_order;
    timelines_of_two_incidents_do_not_mix => timelines_of_two_incidents_do_not_mix;
    evidence_is_kept_per_attempt_and_a_retry_overwrites_it =>
        contexts_are_kept_per_attempt_and_a_retry_overwrites;
    a_postmortem_round_trips_and_can_be_replaced => postmortems_round_trip_and_overwrite;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_dedup_item_reads_as_absent_and_its_key_can_be_claimed_again() {
    // Given an incident holding its key, whose dedup item expired but was never deleted
    let table = Table::fresh().await;
    let first = sample_incident("expiring", at(0));
    assert_eq!(
        table.store.create_incident(&first).await,
        Ok(DedupOutcome::Created)
    );
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    table
        .client
        .update_item()
        .table_name(&table.name)
        .key(
            keys::PK,
            AttributeValue::S(keys::dedup_pk(&first.dedup_key)),
        )
        .key(keys::SK, AttributeValue::S(keys::DEDUP_SK.to_owned()))
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", keys::TTL_ATTRIBUTE)
        .expression_attribute_values(":past", AttributeValue::N(an_hour_ago.to_string()))
        .send()
        .await
        .expect("backdating the dedup item");

    // When the key is read, Then it has no holder
    assert_eq!(table.store.dedup_holder(&first.dedup_key).await, Ok(None));

    // And a new alert with the key opens a new incident, which then holds the key
    let second = sample_incident("expiring", at(60));
    assert_eq!(
        table.store.create_incident(&second).await,
        Ok(DedupOutcome::Created)
    );
    assert_eq!(
        table.store.dedup_holder(&first.dedup_key).await,
        Ok(Some(second.id))
    );
    let repeat = sample_incident("expiring", at(61));
    assert_eq!(
        table.store.create_incident(&repeat).await,
        Ok(DedupOutcome::Existing(second.id))
    );
    // And the new dedup item expires in about the default seven days
    let item = table
        .raw_item(keys::dedup_pk(&first.dedup_key), keys::DEDUP_SK)
        .await;
    let Some(AttributeValue::N(expires_at)) = item.get(keys::TTL_ATTRIBUTE) else {
        panic!("the dedup item has a numeric {}", keys::TTL_ATTRIBUTE);
    };
    let ttl = expires_at.parse::<i64>().expect("epoch seconds") - chrono::Utc::now().timestamp();
    assert!((7 * 86400 - 60..=7 * 86400).contains(&ttl), "ttl {ttl}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dedup_ttl_is_a_constructor_option() {
    let table = Table::fresh().await;
    let store = table
        .store
        .clone()
        .with_dedup_ttl(std::time::Duration::from_secs(3600));
    let incident = sample_incident("short-ttl", at(0));
    assert_eq!(
        store.create_incident(&incident).await,
        Ok(DedupOutcome::Created)
    );
    let item = table
        .raw_item(keys::dedup_pk(&incident.dedup_key), keys::DEDUP_SK)
        .await;
    let Some(AttributeValue::N(expires_at)) = item.get(keys::TTL_ATTRIBUTE) else {
        panic!("the dedup item has a numeric {}", keys::TTL_ATTRIBUTE);
    };
    let ttl = expires_at.parse::<i64>().expect("epoch seconds") - chrono::Utc::now().timestamp();
    assert!((3540..=3600).contains(&ttl), "ttl {ttl}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oversized_context_bundle_is_stored_trimmed_and_reads_back_valid() {
    // Given evidence of well over 400 KB: thousands of templates with long samples, and a
    // deployment whose description alone is 200 KB
    let table = Table::fresh().await;
    let incident = sample_incident("huge-evidence", at(0));
    table
        .store
        .create_incident(&incident)
        .await
        .expect("creating");
    let mut bundle = sample_context(1);
    let template = bundle.logs[0].clone();
    bundle.logs = (0..3000)
        .map(|i| LogTemplate {
            template: format!("failure number {i} in <*>"),
            level: if i < 100 {
                LogLevel::Fatal
            } else {
                LogLevel::Warn
            },
            count: 3000 - i,
            samples: vec!["s".repeat(MAX_SAMPLE_LEN); 3],
            ..template.clone()
        })
        .collect();
    bundle.deployments[0].description = "d".repeat(200_000);
    let original = serde_json::to_string(&bundle).expect("encodes").len();
    assert!(original > 4_000_000, "the bundle is {original} bytes");

    // When it is stored, Then it is accepted (moto enforces the 400 KB item limit)
    table
        .store
        .put_context(incident.id, &bundle)
        .await
        .expect("storing oversized evidence trims it instead of failing");

    // And it reads back as a valid bundle of the same attempt, within the budget, keeping the
    // most severe templates first, in order, and the metrics and deployment
    let back = table
        .store
        .get_context(incident.id, 1)
        .await
        .expect("reading it back")
        .expect("it is there");
    let stored = serde_json::to_string(&back).expect("encodes").len();
    assert!(stored <= ITEM_BUDGET_BYTES, "{stored} bytes");
    assert_eq!(back.attempt, 1);
    assert_eq!(back.window, bundle.window);
    assert_eq!(back.metrics, bundle.metrics);
    assert!(back.logs.len() >= 100, "kept {} templates", back.logs.len());
    for (kept, orig) in back.logs.iter().zip(&bundle.logs) {
        assert_eq!(kept.template, orig.template, "templates keep their order");
    }
    assert!(back.logs.iter().all(|t| t.samples.is_empty()));
    assert_eq!(back.deployments.len(), 1);
    assert!(back.deployments[0].description.len() <= 4096 + '…'.len_utf8());
    assert!(back.deployments[0].description.ends_with('…'));

    // And the item records that it was trimmed, and how
    let item = table
        .raw_item(keys::incident_pk(incident.id), &keys::context_sk(1))
        .await;
    assert_eq!(item.get(keys::TRIMMED), Some(&AttributeValue::Bool(true)));
    let Some(AttributeValue::S(doc)) = item.get(keys::DOC) else {
        panic!("the item has a string doc");
    };
    let doc: serde_json::Value = serde_json::from_str(doc).expect("the doc is JSON");
    assert_eq!(
        doc[TRIMMED_FIELD]["original_bytes"].as_u64(),
        Some(original as u64)
    );
    assert!(doc[TRIMMED_FIELD]["cuts"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));

    // And evidence that fits is stored untouched
    let small = sample_context(2);
    table
        .store
        .put_context(incident.id, &small)
        .await
        .expect("storing");
    let item = table
        .raw_item(keys::incident_pk(incident.id), &keys::context_sk(2))
        .await;
    assert_eq!(item.get(keys::TRIMMED), Some(&AttributeValue::Bool(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oversized_postmortem_keeps_the_start_and_end_of_its_timeline() {
    let table = Table::fresh().await;
    let incident = sample_incident("huge-postmortem", at(0));
    table
        .store
        .create_incident(&incident)
        .await
        .expect("creating");
    let mut pm = sample_postmortem(&incident, at(600));
    pm.timeline = (0..4000)
        .map(|i| {
            TimelineEvent::new(at(i), EventKind::Warning, format!("event {i:04}"))
                .with_data(serde_json::json!({ "blob": "b".repeat(200) }))
        })
        .collect();
    table
        .store
        .put_postmortem(&pm)
        .await
        .expect("storing an oversized post-mortem trims it");
    let back = table
        .store
        .get_postmortem(incident.id)
        .await
        .expect("reading it back")
        .expect("it is there");
    assert_eq!(back.narrative, pm.narrative);
    assert_eq!(back.durations, pm.durations);
    assert_eq!(
        back.timeline.first().map(|e| e.message.as_str()),
        Some("event 0000")
    );
    assert_eq!(
        back.timeline.last().map(|e| e.message.as_str()),
        Some("event 3999")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_with_equal_timestamps_read_back_in_append_order_under_numbered_sort_keys() {
    // Given thirty events with one timestamp, whose messages sort against append order
    let table = Table::fresh().await;
    let incident = sample_incident("same-time", at(0));
    table
        .store
        .create_incident(&incident)
        .await
        .expect("creating");
    let events: Vec<TimelineEvent> = (0..30)
        .map(|i| sample_event(at(5), EventKind::Warning, &format!("{} left", 30 - i)))
        .collect();
    for e in &events {
        table
            .store
            .append_event(incident.id, e)
            .await
            .expect("appending");
    }

    // Then they read back as appended
    assert_eq!(table.store.list_events(incident.id).await, Ok(events));

    // And their sort keys are the append sequence, zero-padded, in the incident's partition
    let mut sks: Vec<String> = table
        .scan()
        .await
        .into_iter()
        .filter_map(|item| match item.get(keys::SK) {
            Some(AttributeValue::S(sk)) if sk.starts_with(keys::EVENT_PREFIX) => Some(sk.clone()),
            _ => None,
        })
        .collect();
    sks.sort();
    let expected: Vec<String> = (1..=30).map(keys::event_sk).collect();
    assert_eq!(sks, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_repeated_by_a_retry_succeed_once_without_duplicates() {
    // Given an incident created once, When the create arrives again (as after a lost answer),
    // Then it is Created again, since the key is held by this very incident
    let table = Table::fresh().await;
    let incident = sample_incident("retried", at(0));
    for _ in 0..2 {
        assert_eq!(
            table.store.create_incident(&incident).await,
            Ok(DedupOutcome::Created)
        );
    }

    // And an approval stored twice is stored once
    let approval = sample_approval(incident.id, 900);
    for _ in 0..2 {
        assert_eq!(table.store.put_approval(&approval).await, Ok(()));
    }

    // And a decision recorded twice is the same first decision both times
    let decision = sample_decision(Verdict::Approved, "alice", at(30));
    let first = table
        .store
        .decide_approval(&approval.id, &decision)
        .await
        .expect("deciding");
    assert_eq!(
        table.store.decide_approval(&approval.id, &decision).await,
        Ok(first)
    );

    // And nothing was stored twice
    assert_eq!(
        table.store.list_incidents(10, None).await.map(|l| l.len()),
        Ok(1)
    );
    // But another approval under a taken id is still refused
    let mut other = sample_approval(incident.id, 60);
    other.id = approval.id.clone();
    assert!(matches!(
        table.store.put_approval(&other).await,
        Err(StoreError::Unexpected(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appending_to_an_unknown_incident_fails_and_stores_nothing() {
    let table = Table::fresh().await;
    let stranger = sample_incident("stranger", at(0));
    let err = table
        .store
        .append_event(
            stranger.id,
            &sample_event(at(1), EventKind::Warning, "lost"),
        )
        .await
        .expect_err("the incident does not exist");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    assert_eq!(table.store.list_events(stranger.id).await, Ok(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_task_token_is_stored_in_the_approval_item_and_nowhere_else() {
    let table = Table::fresh().await;
    let incident = sample_incident("token", at(0));
    table
        .store
        .create_incident(&incident)
        .await
        .expect("creating");
    let approval = sample_approval(incident.id, 900);
    table
        .store
        .put_approval(&approval)
        .await
        .expect("storing the approval");
    table
        .store
        .decide_approval(
            &approval.id,
            &sample_decision(Verdict::Rejected, "bob", at(5)),
        )
        .await
        .expect("deciding");
    table
        .store
        .append_event(
            incident.id,
            &sample_event(at(6), EventKind::Rejected, "rejected"),
        )
        .await
        .expect("appending");

    let token = sample_task_token().expose().to_owned();
    let mut holders = Vec::new();
    for item in table.scan().await {
        let text = format!("{item:?}");
        if text.contains(&token) {
            let sk = match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => String::new(),
            };
            holders.push(sk);
        }
    }
    assert_eq!(holders, vec![keys::approval_sk(&approval.id)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_with_an_unknown_incident_is_refused() {
    let table = Table::fresh().await;
    let approval = sample_approval(sample_incident("ghost", at(0)).id, 900);
    assert!(matches!(
        table.store.put_approval(&approval).await,
        Err(StoreError::Unexpected(_))
    ));
    assert_eq!(table.store.get_approval(&approval.id).await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mangled_item_is_reported_as_corrupt() {
    let table = Table::fresh().await;
    let incident = sample_incident("mangled", at(0));
    table
        .store
        .create_incident(&incident)
        .await
        .expect("creating");
    table
        .client
        .update_item()
        .table_name(&table.name)
        .key(keys::PK, AttributeValue::S(keys::incident_pk(incident.id)))
        .key(keys::SK, AttributeValue::S(keys::META_SK.to_owned()))
        .update_expression("SET #doc = :bad")
        .expression_attribute_names("#doc", keys::DOC)
        .expression_attribute_values(":bad", AttributeValue::S(r#"{"id": 42}"#.to_owned()))
        .send()
        .await
        .expect("mangling the record");
    assert!(matches!(
        table.store.get_incident(incident.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        table.store.list_incidents(10, None).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn a_store_whose_endpoint_does_not_answer_is_unavailable() {
    // Given a client pointed at a port nobody listens on, without the SDK's retries
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let store = DynamoStore::new(Client::from_conf(config), "iras");

    // Then reads and writes fail as Unavailable, which the workflow retries
    let incident = sample_incident("offline", at(0));
    assert!(matches!(
        store.get_incident(incident.id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.create_incident(&incident).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_missing_table_is_an_unexpected_error_naming_it() {
    let moto = MotoServer::shared().await;
    let store = DynamoStore::new(moto.dynamodb_client().await, "no-such-table");
    let err = store
        .get_incident(sample_incident("nowhere", at(0)).id)
        .await
        .expect_err("the table does not exist");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn creating_the_table_twice_is_harmless() {
    let table = Table::fresh().await;
    dynamo::create_table(&table.client, &table.name)
        .await
        .expect("creating it again");
    let described = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .expect("describing the table");
    let gsis = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default();
    assert_eq!(
        gsis.iter()
            .filter_map(|g| g.index_name())
            .collect::<Vec<_>>(),
        vec![keys::GSI1]
    );
    let ttl = table
        .client
        .describe_time_to_live()
        .table_name(&table.name)
        .send()
        .await
        .expect("describing TTL");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some(keys::TTL_ATTRIBUTE)
    );
}

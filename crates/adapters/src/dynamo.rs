//! The DynamoDB incident store: the single table of DESIGN §9, used by the Lambdas on AWS and by
//! anything pointed at an emulator (moto, LocalStack) through `AWS_ENDPOINT_URL`. It passes the
//! same contract suite (`iras_testkit::store_contract`) as the SQLite store.
//!
//! # The table
//!
//! One table, string keys `pk` (hash) and `sk` (range), on-demand billing, TTL on `expires_at`,
//! and one global secondary index `gsi1` (`gsi1pk` hash, `gsi1sk` range, all attributes
//! projected). [`create_table`] creates exactly this; the SAM template must declare the same. The
//! names live in [`keys`]. Each record is a whole JSON document in the `doc` attribute, next to the
//! few attributes that keys, conditions and indexes need:
//!
//! | record | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | incident | `INC#<id>` | `META` | `doc`, `status`, `created_at`, `updated_at`, `trimmed`, `gsi1pk = DAY#<yyyy-mm-dd>`, `gsi1sk = <id>` |
//! | event counter | `INC#<id>` | `SEQ` | `seq` (number) |
//! | timeline event | `INC#<id>` | `EVT#<seq, 20 digits>` | `doc`, `at`, `seq`, `trimmed` |
//! | evidence | `INC#<id>` | `CTX#<attempt, 10 digits>` | `doc`, `attempt`, `trimmed` |
//! | approval | `INC#<id>` | `APPROVAL#<approval id>` | `doc`, `incident_id`, `requested_at`, `deadline`, `expired`, `decision` |
//! | approval pointer | `APPROVAL#<approval id>` | `REF` | `incident_id` |
//! | post-mortem | `INC#<id>` | `PM` | `doc`, `trimmed` |
//! | dedup key | `DEDUP#<source>#<fingerprint>` | `DEDUP` | `incident_id`, `created_at`, `expires_at` (TTL, epoch seconds) |
//! | listing day | `DAYS` | `DAY#<yyyy-mm-dd>` | none |
//!
//! Everything of one incident shares its partition, so one query reads its whole history.
//!
//! # Timeline order
//!
//! DESIGN §9 sketches `EVT#<ts>#<seq>`, but a timestamp orders by time, not by append, and two
//! events may carry one timestamp (or arrive out of time order). The sort key is therefore only a
//! per-incident sequence number, zero-padded so text order is numeric order. The number comes from
//! an atomic `ADD` on the incident's small `SEQ` item (created with the incident, so appending to an
//! unknown incident fails like the SQLite store's foreign key); the event is then put with
//! `attribute_not_exists(sk)`, so even a counter that misbehaved (an emulator race, a restored
//! backup) could never overwrite an event: the append takes the next number instead. The counter is
//! its own item rather than an attribute of `META` because an update is billed on the larger of the
//! old and new item, and `META` (the whole incident) is many kilobytes.
//!
//! # Approvals by id
//!
//! Slack buttons and REST calls carry only the approval id. The approval record stays in its
//! incident's partition (as DESIGN §9 has it), and a tiny pointer item `APPROVAL#<approval id>` /
//! `REF` names the incident; both are written in one transaction and the pointer never changes. A
//! pointer item was chosen over a GSI because GSI reads are only eventually consistent: a decision
//! arriving right after the request could otherwise read "no such approval". The decision and the
//! expiry are attributes of their own (`decision`, a JSON string, and `expired`, a boolean) that
//! override the fields of `doc`, so deciding is one conditional update
//! (`attribute_not_exists(decision) AND expired = false AND deadline >= decision time`) that needs
//! no read of the record first. `deadline` is RFC 3339 with nanoseconds and a `Z`, a fixed width,
//! so string order is time order. The task token lives only in the approval's `doc`.
//!
//! # Dedup and its TTL
//!
//! Creating an incident is one `TransactWriteItems`: the dedup item (condition
//! `attribute_not_exists(pk) OR expires_at < now`), the incident and its event counter. When the
//! dedup condition fails, the holder is read back and returned as `Existing`. The workflow frees a
//! key with [`IncidentStore::release_dedup`] when an incident closes; the TTL (default
//! [`DEFAULT_DEDUP_TTL`], seven days, see [`DynamoStore::with_dedup_ttl`]) is the safety net for a
//! key whose release never happened (an execution that died before it could record anything), so
//! that an alert is not silenced forever. Seven days is far longer than any approval wait (hours)
//! and than a normal incident, so a live incident keeps its key; only an incident left open for
//! more than a week would see a repeat of its alert open a new one. DynamoDB deletes expired items
//! only eventually (and emulators never do), so every read and condition treats an item whose
//! `expires_at` is in the past as absent.
//!
//! # Listing
//!
//! `gsi1` groups incidents by the UTC day of their id (a ULID, so the day they were created) and
//! sorts them by id within the day. Listing walks days newest first and queries each, honouring
//! `before` (its day, then `gsi1sk < before`). The days to walk are not guessed: every create
//! first records its day as an item `DAYS` / `DAY#<day>` (idempotent, and cached per process), so
//! the walk visits only days that had incidents, however old. A day can be recorded yet empty (its
//! only creator lost the dedup race); as a bound on such waste, a listing stops after
//! [`MAX_EMPTY_DAYS`] empty days in a row. GSI reads are eventually consistent: an incident created
//! a moment ago may be missing from a listing for a moment, never from `get_incident`.
//!
//! # Item size
//!
//! DynamoDB refuses items over 400 KB. Evidence bundles and post-mortems (and, in principle, an
//! incident with a huge alert or an event with huge data) can be larger, so a document whose JSON
//! exceeds [`ITEM_BUDGET_BYTES`] (350 000 bytes, leaving room for keys and attributes) is trimmed
//! deterministically, one kind of cut after another, each cut as small as the budget allows
//! (found by bisection):
//!
//! - evidence: drop the log samples of the least severe templates first; cap every string at
//!   4 KiB; drop the least severe templates; drop the oldest deployments, the least anomalous
//!   metrics, the source failures; cap every string at 256 bytes; drop services;
//! - post-mortem: drop the structured data of the oldest timeline events; cap strings at 4 KiB;
//!   drop timeline events from the middle (keeping the first and the last); cap strings at 256;
//! - incident: drop the alert's details; cap strings at 4 KiB; drop the alert's labels; cap at 256;
//! - event: drop its data; cap strings at 4 KiB, then 256.
//!
//! Long strings are capped before templates are dropped so that one huge commit message does not
//! cost all the log evidence. Strings are capped with `iras_core::truncate`, which marks the cut
//! with `…`. A trimmed document
//! still deserializes into its type, carries a [`TRIMMED_FIELD`] object (original and stored size,
//! and the cuts made) that readers ignore, and its item has `trimmed = true`; a warning is logged.
//!
//! # Errors
//!
//! Throttling, 5xx answers, timeouts and failures to reach DynamoDB are
//! [`StoreError::Unavailable`] (after the SDK's own retries); an item that cannot be read back is
//! [`StoreError::Corrupt`]; anything else is [`StoreError::Unexpected`]. Each says what was being
//! done. Nothing here logs a record, and errors about an approval never quote its content.
//!
//! # Retried calls
//!
//! The SDK retries a request whose answer was lost, so one write may reach DynamoDB twice. Every
//! write here is safe to repeat: plain puts and updates are idempotent, and the conditional ones
//! recognise their own earlier success (a dedup key already held by this very incident means
//! `Created`; an event number, an approval or a decision already holding exactly this content
//! means done). A repeated event-number `ADD` leaves a gap in the numbers, which is harmless.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use iras_core::ports::{DecideError, DedupOutcome, IncidentStore, StoreError};
use iras_core::{
    ApprovalId, ApprovalRecord, ContextBundle, Decision, DedupKey, Incident, IncidentId,
    PostMortem, TimelineEvent,
};

use self::keys::*;

/// How long a dedup key holds without being released: seven days (see the module docs).
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The largest document JSON stored in one item; larger ones are trimmed. DynamoDB's limit is
/// 400 KB for the whole item, names and all.
pub const ITEM_BUDGET_BYTES: usize = 350_000;
/// The key under which a trimmed document records what was cut.
pub const TRIMMED_FIELD: &str = "_trimmed";
/// A listing stops after this many consecutive recorded days without incidents.
pub const MAX_EMPTY_DAYS: usize = 90;

/// Attempts at a transaction that keeps conflicting with concurrent ones.
const TX_ATTEMPTS: u32 = 8;
/// Attempts at reading the holder of a dedup key that was released in between.
const CREATE_ATTEMPTS: u32 = 5;
/// Attempts at putting an event whose sequence number was already taken.
const APPEND_ATTEMPTS: u32 = 5;
/// Day items read per page while walking back through listing days.
const DAYS_PAGE: i32 = 32;

/// The table's key schema and the shapes of its keys, in one place: [`create_table`], the store
/// and the SAM template all follow these.
pub mod keys {
    use iras_core::{ApprovalId, DedupKey, IncidentId};

    /// The partition key attribute (string).
    pub const PK: &str = "pk";
    /// The sort key attribute (string).
    pub const SK: &str = "sk";
    /// The global secondary index that lists incidents by day.
    pub const GSI1: &str = "gsi1";
    /// `gsi1`'s partition key attribute (string): `DAY#<yyyy-mm-dd>`.
    pub const GSI1_PK: &str = "gsi1pk";
    /// `gsi1`'s sort key attribute (string): the incident id.
    pub const GSI1_SK: &str = "gsi1sk";
    /// The TTL attribute (number, epoch seconds), set on dedup items only.
    pub const TTL_ATTRIBUTE: &str = "expires_at";

    /// The whole record as JSON.
    pub const DOC: &str = "doc";
    /// Whether `doc` was trimmed to fit in the item (boolean).
    pub const TRIMMED: &str = "trimmed";
    /// An incident's status.
    pub const STATUS: &str = "status";
    /// When a record was created (RFC 3339).
    pub const CREATED_AT: &str = "created_at";
    /// When an incident last changed (RFC 3339).
    pub const UPDATED_AT: &str = "updated_at";
    /// The incident a pointer, approval or dedup item belongs to.
    pub const INCIDENT_ID: &str = "incident_id";
    /// A timeline event's sequence number (number), and the counter on the `SEQ` item.
    pub const SEQ: &str = "seq";
    /// When a timeline event happened (RFC 3339).
    pub const AT: &str = "at";
    /// The attempt an evidence bundle belongs to (number).
    pub const ATTEMPT: &str = "attempt";
    /// When approval was requested (RFC 3339).
    pub const REQUESTED_AT: &str = "requested_at";
    /// An approval's deadline: RFC 3339 with nanoseconds and `Z`, fixed width, so it compares as text.
    pub const DEADLINE: &str = "deadline";
    /// An approval's first decision, as JSON; overrides the decision in `doc`.
    pub const DECISION: &str = "decision";
    /// Whether an approval expired undecided (boolean); overrides the flag in `doc`.
    pub const EXPIRED: &str = "expired";

    /// The sort key of an incident's record.
    pub const META_SK: &str = "META";
    /// The sort key of an incident's event counter.
    pub const SEQ_SK: &str = "SEQ";
    /// The sort key of an incident's post-mortem.
    pub const PM_SK: &str = "PM";
    /// The sort key of a dedup item.
    pub const DEDUP_SK: &str = "DEDUP";
    /// The sort key of an approval pointer.
    pub const REF_SK: &str = "REF";
    /// The partition of the listing-day items.
    pub const DAYS_PK: &str = "DAYS";
    /// The prefix of timeline event sort keys.
    pub const EVENT_PREFIX: &str = "EVT#";

    /// The partition of an incident: `INC#<id>`.
    pub fn incident_pk(id: IncidentId) -> String {
        format!("INC#{id}")
    }

    /// The sort key of event number `seq`, zero-padded so text order is append order.
    pub fn event_sk(seq: u64) -> String {
        format!("{EVENT_PREFIX}{seq:020}")
    }

    /// The sort key of the evidence of `attempt`, zero-padded so attempts sort in order.
    pub fn context_sk(attempt: u32) -> String {
        format!("CTX#{attempt:010}")
    }

    /// The sort key of an approval inside its incident's partition.
    pub fn approval_sk(id: &ApprovalId) -> String {
        format!("APPROVAL#{id}")
    }

    /// The partition of the pointer from an approval id to its incident.
    pub fn approval_ref_pk(id: &ApprovalId) -> String {
        format!("APPROVAL#{id}")
    }

    /// The partition of a dedup item: `DEDUP#<source>#<fingerprint>`.
    pub fn dedup_pk(key: &DedupKey) -> String {
        format!("DEDUP#{}", key.as_str())
    }

    /// A listing day as `gsi1pk`, and as the sort key of its item in [`DAYS_PK`].
    pub fn day_key(day: &str) -> String {
        format!("DAY#{day}")
    }
}

type Item = HashMap<String, AttributeValue>;

/// An [`IncidentStore`] in one DynamoDB table (see the module docs for its layout).
///
/// Cloning is cheap and shares the client.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    dedup_ttl: TimeDelta,
    /// The last listing day this process recorded, to skip rewriting it on every create.
    marked_day: Arc<Mutex<Option<String>>>,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("dedup_ttl", &self.dedup_ttl)
            .finish_non_exhaustive()
    }
}

/// The SDK configuration, loaded from the environment once per process (per Lambda cold start).
static AWS_CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
    tokio::sync::OnceCell::const_new();

impl DynamoStore {
    /// A store on `table` through `client`, with the default dedup TTL.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            dedup_ttl: TimeDelta::from_std(DEFAULT_DEDUP_TTL).unwrap_or(TimeDelta::days(7)),
            marked_day: Arc::new(Mutex::new(None)),
        }
    }

    /// A store on `table` with a client configured from the environment (region, credentials,
    /// and `AWS_ENDPOINT_URL` for an emulator). The configuration is loaded once per process.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = AWS_CONFIG
            .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
            .await;
        Self::new(Client::new(config), table)
    }

    /// Sets how long a dedup key holds if nobody releases it (see the module docs).
    pub fn with_dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Reads one item, strongly consistent.
    async fn get(&self, pk: String, sk: &str, what: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        Ok(out.item)
    }

    /// Runs a transaction, retrying (with jittered backoff) while it conflicts with concurrent
    /// transactions on the same items. A cancellation by a failed condition is returned with the
    /// code of each item, in order, for the caller to interpret.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        what: &str,
    ) -> Result<TxOutcome, StoreError> {
        for attempt in 0..TX_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(e) => e,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                err.as_service_error()
            {
                let codes: Vec<String> = c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect();
                if codes.iter().any(|c| c == "ConditionalCheckFailed") {
                    return Ok(TxOutcome::ConditionFailed(codes));
                }
                if codes.iter().any(|c| c == "TransactionConflict") {
                    backoff(attempt).await;
                    continue;
                }
                if codes
                    .iter()
                    .any(|c| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded")
                {
                    return Err(StoreError::Unavailable(format!(
                        "{what}: DynamoDB throttled the transaction ({})",
                        codes.join(", ")
                    )));
                }
            }
            return Err(sdk_error(what, err));
        }
        Err(StoreError::Unavailable(format!(
            "{what}: the transaction conflicted with concurrent ones {TX_ATTEMPTS} times in a row"
        )))
    }

    /// Records that `day` has incidents, so listings visit it. Idempotent; skipped when this
    /// process already recorded the same day.
    async fn mark_day(&self, day: &str) -> Result<(), StoreError> {
        let cached = self
            .marked_day
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            == Some(day);
        if cached {
            return Ok(());
        }
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(DAYS_PK))
            .item(SK, s(day_key(day)))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("recording the listing day {day}"), e))?;
        *self
            .marked_day
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(day.to_owned());
        Ok(())
    }

    /// The incident an approval belongs to, from its pointer item.
    async fn approval_incident(&self, id: &ApprovalId) -> Result<Option<IncidentId>, StoreError> {
        let what = format!("looking up the incident of approval {id}");
        let Some(item) = self.get(approval_ref_pk(id), REF_SK, &what).await? else {
            return Ok(None);
        };
        let incident = attr_s(&item, INCIDENT_ID, &format!("the pointer of approval {id}"))?;
        stored_id(&format!("the pointer of approval {id}"), incident).map(Some)
    }

    /// Takes the next event number of an incident.
    async fn next_seq(&self, id: IncidentId) -> Result<u64, StoreError> {
        let what = format!("numbering an event of incident {id}");
        let out = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(incident_pk(id)))
            .key(SK, s(SEQ_SK))
            .update_expression("ADD #seq :one")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#seq", SEQ)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                return Err(StoreError::Unexpected(format!(
                    "{what}: there is no such incident"
                )))
            }
            Err(e) => return Err(sdk_error(&what, e)),
        };
        let attrs = out.attributes.unwrap_or_default();
        attr_u64(&attrs, SEQ, &format!("the event counter of incident {id}"))
    }

    /// Appends to `out` up to `limit` incidents of one listing day (`day_sk` is `DAY#<day>`),
    /// newest first and older than `before`; returns how many it found.
    async fn list_day(
        &self,
        day_sk: &str,
        before: Option<IncidentId>,
        limit: usize,
        out: &mut Vec<Incident>,
    ) -> Result<usize, StoreError> {
        let what = format!("listing the incidents of {day_sk}");
        let mut found = 0;
        let mut start: Option<Item> = None;
        while found < limit {
            let mut q = self
                .client
                .query()
                .table_name(&*self.table)
                .index_name(GSI1)
                .scan_index_forward(false)
                .limit(i32::try_from(limit - found).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":pk", s(day_sk));
            q = match before {
                Some(b) => q
                    .key_condition_expression("#pk = :pk AND #sk < :before")
                    .expression_attribute_names("#sk", GSI1_SK)
                    .expression_attribute_values(":before", s(b.to_string())),
                None => q.key_condition_expression("#pk = :pk"),
            };
            let page = q.send().await.map_err(|e| sdk_error(&what, e))?;
            for item in page.items() {
                let id = attr_s(item, GSI1_SK, &format!("an incident listed under {day_sk}"))?;
                out.push(decode(item, &format!("incident {id}"))?);
                found += 1;
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(found)
    }
}

/// How a transaction ended, short of an error.
enum TxOutcome {
    Committed,
    /// Cancelled because a condition failed; the cancellation code of each item, in order.
    ConditionFailed(Vec<String>),
}

/// Sleeps before retry number `attempt + 1`: exponential from 10 ms, capped at 640 ms, with full
/// jitter so that the conflicting callers do not retry in lockstep.
async fn backoff(attempt: u32) {
    let ceiling_ms = 10u64 << attempt.min(6);
    let ms = (rand::random::<f64>() * ceiling_ms as f64) as u64;
    tokio::time::sleep(Duration::from_millis(ms.max(1))).await;
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Fixed-width RFC 3339 (nanoseconds, `Z`) for years 0–9999, so that text order is time order.
fn sortable_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The UTC day an incident was created, read from its id (a ULID starts with its creation time).
fn day_of(id: IncidentId) -> Result<String, StoreError> {
    let ulid = ulid::Ulid::from_string(&id.to_string()).map_err(|e| {
        StoreError::Unexpected(format!("reading the time of incident id {id}: {e}"))
    })?;
    let ms = i64::try_from(ulid.timestamp_ms()).unwrap_or(i64::MAX);
    let at = DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| {
        StoreError::Unexpected(format!("incident id {id} carries an impossible time"))
    })?;
    Ok(at.format("%Y-%m-%d").to_string())
}

fn stored_id(what: &str, s: &str) -> Result<IncidentId, StoreError> {
    IncidentId::parse(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn attr_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        Some(_) => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is not a string"
        ))),
        None => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is missing"
        ))),
    }
}

fn attr_u64(item: &Item, name: &str, what: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "{what}: attribute `{name}` is not a whole number ({v})"
            ))
        }),
        Some(_) => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is not a number"
        ))),
        None => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is missing"
        ))),
    }
}

/// Decodes the `doc` of an item.
fn decode<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    let json = attr_s(item, DOC, what)?;
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("{what} is not a valid record: {e}")))
}

/// A dedup item's holder, or `None` when the item has expired (DynamoDB deletes expired items
/// only eventually, and emulators never do).
fn live_holder(item: &Item, key: &DedupKey, now: i64) -> Result<Option<IncidentId>, StoreError> {
    let what = format!("the dedup item of {}", key.as_str());
    let expires_at = match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(v)) => Some(v.parse::<i64>().map_err(|_| {
            StoreError::Corrupt(format!("{what}: `{TTL_ATTRIBUTE}` is not a whole number"))
        })?),
        Some(_) => {
            return Err(StoreError::Corrupt(format!(
                "{what}: `{TTL_ATTRIBUTE}` is not a number"
            )))
        }
        None => None,
    };
    if expires_at.is_some_and(|t| t < now) {
        return Ok(None);
    }
    stored_id(&what, attr_s(item, INCIDENT_ID, &what)?).map(Some)
}

/// Reads an approval item: `doc`, with the `decision` and `expired` attributes taking precedence.
/// Error messages name only where decoding failed: serde's messages may quote a value, and the
/// record holds the task token.
fn approval_from_item(id: &ApprovalId, item: &Item) -> Result<ApprovalRecord, StoreError> {
    let what = format!("approval {id}");
    let quiet = |part: &str, e: serde_json::Error| {
        StoreError::Corrupt(format!(
            "{what}: its {part} is not valid ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    };
    let json = attr_s(item, DOC, &what)?;
    let mut record: ApprovalRecord = serde_json::from_str(json).map_err(|e| quiet("record", e))?;
    record.decision = match item.get(DECISION) {
        Some(AttributeValue::S(d)) => {
            Some(serde_json::from_str(d).map_err(|e| quiet("decision", e))?)
        }
        Some(AttributeValue::Null(_)) | None => None,
        Some(_) => {
            return Err(StoreError::Corrupt(format!(
                "{what}: attribute `{DECISION}` is not a string"
            )))
        }
    };
    record.expired = match item.get(EXPIRED) {
        Some(AttributeValue::Bool(b)) => *b,
        None => record.expired,
        Some(_) => {
            return Err(StoreError::Corrupt(format!(
                "{what}: attribute `{EXPIRED}` is not a boolean"
            )))
        }
    };
    Ok(record)
}

/// Error codes that mean "try again later".
const RETRYABLE_CODES: [&str; 8] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Maps an SDK error to the port's error, with a sentence of context.
fn sdk_error<E>(context: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!(
            "{context}: DynamoDB did not answer in time ({detail})"
        )),
        SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(format!("{context}: could not reach DynamoDB ({detail})"))
        }
        SdkError::ResponseError(_) => StoreError::Unavailable(format!(
            "{context}: DynamoDB's answer could not be read ({detail})"
        )),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            if RETRYABLE_CODES.contains(&code) || status >= 500 {
                StoreError::Unavailable(format!(
                    "{context}: DynamoDB is busy or failing ({detail})"
                ))
            } else if code == "ResourceNotFoundException" {
                StoreError::Unexpected(format!(
                    "{context}: the table does not exist or is not active ({detail})"
                ))
            } else {
                StoreError::Unexpected(format!(
                    "{context}: DynamoDB refused the request ({detail})"
                ))
            }
        }
        _ => StoreError::Unexpected(format!(
            "{context}: the request could not be made ({detail})"
        )),
    }
}

fn build_error(what: &str, e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unexpected(format!("{what}: building the request: {e}"))
}

/// A conditional put inside a transaction.
fn put(
    table: &str,
    item: Item,
    condition: &str,
    names: &[(&str, &str)],
    what: &str,
) -> Result<TransactWriteItem, StoreError> {
    let mut b = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition);
    for (k, v) in names {
        b = b.expression_attribute_names(*k, *v);
    }
    Ok(TransactWriteItem::builder()
        .put(b.build().map_err(|e| build_error(what, e))?)
        .build())
}

/// The item of an incident's record.
fn incident_item(incident: &Incident, doc: Fitted) -> Result<Item, StoreError> {
    let day = day_of(incident.id)?;
    Ok(HashMap::from([
        (PK.to_owned(), s(incident_pk(incident.id))),
        (SK.to_owned(), s(META_SK)),
        (DOC.to_owned(), s(doc.json)),
        (TRIMMED.to_owned(), AttributeValue::Bool(doc.trimmed)),
        (STATUS.to_owned(), s(incident.status.as_str())),
        (CREATED_AT.to_owned(), s(timestamp(incident.created_at))),
        (UPDATED_AT.to_owned(), s(timestamp(incident.updated_at))),
        (GSI1_PK.to_owned(), s(day_key(&day))),
        (GSI1_SK.to_owned(), s(incident.id.to_string())),
    ]))
}

#[async_trait]
impl IncidentStore for DynamoStore {
    async fn create_incident(&self, incident: &Incident) -> Result<DedupOutcome, StoreError> {
        let id = incident.id;
        let key = &incident.dedup_key;
        let what = format!("creating incident {id}");
        let doc = trim::incident(incident, ITEM_BUDGET_BYTES, &what)?;
        let meta = incident_item(incident, doc)?;
        // The day is recorded first: if the create then loses, an empty day costs a listing one
        // query; the other order could hide a created incident from listings.
        self.mark_day(&day_of(id)?).await?;
        let not_exists = "attribute_not_exists(#pk)";
        let pk_name = [("#pk", PK)];
        for _ in 0..CREATE_ATTEMPTS {
            let now = Utc::now();
            let expires_at = now
                .checked_add_signed(self.dedup_ttl)
                .map_or(i64::MAX, |t| t.timestamp());
            let dedup = HashMap::from([
                (PK.to_owned(), s(dedup_pk(key))),
                (SK.to_owned(), s(DEDUP_SK)),
                (INCIDENT_ID.to_owned(), s(id.to_string())),
                (CREATED_AT.to_owned(), s(timestamp(incident.created_at))),
                (TTL_ATTRIBUTE.to_owned(), n(expires_at)),
            ]);
            let dedup_put = Put::builder()
                .table_name(&*self.table)
                .set_item(Some(dedup))
                .condition_expression("attribute_not_exists(#pk) OR #ttl < :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now.timestamp()))
                .build()
                .map_err(|e| build_error(&what, e))?;
            let seq = HashMap::from([
                (PK.to_owned(), s(incident_pk(id))),
                (SK.to_owned(), s(SEQ_SK)),
                (SEQ.to_owned(), n(0)),
            ]);
            let items = vec![
                TransactWriteItem::builder().put(dedup_put).build(),
                put(&self.table, meta.clone(), not_exists, &pk_name, &what)?,
                put(&self.table, seq, not_exists, &pk_name, &what)?,
            ];
            match self.transact(items, &what).await? {
                TxOutcome::Committed => return Ok(DedupOutcome::Created),
                TxOutcome::ConditionFailed(codes) => {
                    if codes.first().map(String::as_str) != Some("ConditionalCheckFailed") {
                        return Err(StoreError::Unexpected(format!(
                            "{what}: an incident with this id already exists"
                        )));
                    }
                    // Another incident holds the key. If it was released or expired between the
                    // transaction and this read, the key is free again: try again. If the holder
                    // is this very incident, an earlier attempt of this call committed (the SDK
                    // retries a request whose answer was lost), so this call created it.
                    match self.dedup_holder(key).await? {
                        Some(holder) if holder == id => return Ok(DedupOutcome::Created),
                        Some(holder) => return Ok(DedupOutcome::Existing(holder)),
                        None => {}
                    }
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "{what}: dedup key {} changed hands {CREATE_ATTEMPTS} times while claiming it",
            key.as_str()
        )))
    }

    async fn claim_dedup(
        &self,
        key: &DedupKey,
        holder: IncidentId,
    ) -> Result<DedupOutcome, StoreError> {
        let what = format!("claiming dedup key {} for {holder}", key.as_str());
        let now = Utc::now();
        let expires_at = now
            .checked_add_signed(self.dedup_ttl)
            .map_or(i64::MAX, |t| t.timestamp());
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(dedup_pk(key)))
            .item(SK, s(DEDUP_SK))
            .item(INCIDENT_ID, s(holder.to_string()))
            .item(CREATED_AT, s(timestamp(now)))
            .item(TTL_ATTRIBUTE, n(expires_at))
            // Free, expired, or already this incident's (a resent request) all mean "claimed".
            .condition_expression("attribute_not_exists(#pk) OR #ttl < :now OR #holder = :holder")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#holder", INCIDENT_ID)
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":holder", s(holder.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(DedupOutcome::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.dedup_holder(key).await? {
                    Some(other) if other != holder => Ok(DedupOutcome::Existing(other)),
                    // Released in between: the next grouped alert will claim it.
                    _ => Ok(DedupOutcome::Created),
                }
            }
            Err(e) => Err(sdk_error(&what, e)),
        }
    }

    async fn release_dedup(&self, key: &DedupKey, holder: IncidentId) -> Result<(), StoreError> {
        let what = format!("releasing dedup key {} held by {holder}", key.as_str());
        // One conditional delete: it frees the key only if `holder` still has it.
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(dedup_pk(key)))
            .key(SK, s(DEDUP_SK))
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", INCIDENT_ID)
            .expression_attribute_values(":holder", s(holder.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(&what, e)),
        }
    }

    async fn dedup_holder(&self, key: &DedupKey) -> Result<Option<IncidentId>, StoreError> {
        let what = format!("reading dedup key {}", key.as_str());
        match self.get(dedup_pk(key), DEDUP_SK, &what).await? {
            Some(item) => live_holder(&item, key, Utc::now().timestamp()),
            None => Ok(None),
        }
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        let what = format!("reading incident {id}");
        self.get(incident_pk(id), META_SK, &what)
            .await?
            .map(|item| decode(&item, &format!("incident {id}")))
            .transpose()
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let id = incident.id;
        let what = format!("updating incident {id}");
        let doc = trim::incident(incident, ITEM_BUDGET_BYTES, &what)?;
        // An update, not a put: it must fail for an unknown id, and the listing keys never change
        // (they come from the id).
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(incident_pk(id)))
            .key(SK, s(META_SK))
            .update_expression(
                "SET #doc = :doc, #trimmed = :trimmed, #status = :status, \
                 #created_at = :created_at, #updated_at = :updated_at",
            )
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#doc", DOC)
            .expression_attribute_names("#trimmed", TRIMMED)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#created_at", CREATED_AT)
            .expression_attribute_names("#updated_at", UPDATED_AT)
            .expression_attribute_values(":doc", s(doc.json))
            .expression_attribute_values(":trimmed", AttributeValue::Bool(doc.trimmed))
            .expression_attribute_values(":status", s(incident.status.as_str()))
            .expression_attribute_values(":created_at", s(timestamp(incident.created_at)))
            .expression_attribute_values(":updated_at", s(timestamp(incident.updated_at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Err(StoreError::Unexpected(format!(
                    "{what}: there is no such incident to overwrite"
                )))
            }
            Err(e) => Err(sdk_error(&what, e)),
        }
    }

    async fn list_incidents(
        &self,
        limit: usize,
        before: Option<IncidentId>,
    ) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let what = "listing incidents";
        let before_day = before.map(day_of).transpose()?;
        let mut days_start: Option<Item> = None;
        let mut empty_days = 0;
        loop {
            // The recorded days, newest first, from the day of `before` down.
            let mut q = self
                .client
                .query()
                .table_name(&*self.table)
                .consistent_read(true)
                .scan_index_forward(false)
                .limit(DAYS_PAGE)
                .set_exclusive_start_key(days_start.take())
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(DAYS_PK));
            q = match &before_day {
                Some(day) => q
                    .key_condition_expression("#pk = :pk AND #sk <= :day")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":day", s(day_key(day))),
                None => q.key_condition_expression("#pk = :pk"),
            };
            let page = q
                .send()
                .await
                .map_err(|e| sdk_error(&format!("{what}: reading the listing days"), e))?;
            for day_item in page.items() {
                let day_sk = attr_s(day_item, SK, "a listing day item")?;
                let found = self
                    .list_day(day_sk, before, limit - out.len(), &mut out)
                    .await?;
                if out.len() >= limit {
                    return Ok(out);
                }
                empty_days = if found == 0 { empty_days + 1 } else { 0 };
                if empty_days >= MAX_EMPTY_DAYS {
                    return Ok(out);
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => days_start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn append_event(&self, id: IncidentId, event: &TimelineEvent) -> Result<(), StoreError> {
        let what = format!("appending an event to incident {id}");
        let doc = trim::event(event, ITEM_BUDGET_BYTES, &what)?;
        for _ in 0..APPEND_ATTEMPTS {
            let seq = self.next_seq(id).await?;
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .item(PK, s(incident_pk(id)))
                .item(SK, s(event_sk(seq)))
                .item(DOC, s(doc.json.clone()))
                .item(TRIMMED, AttributeValue::Bool(doc.trimmed))
                .item(AT, s(timestamp(event.at)))
                .item(SEQ, n(seq))
                .condition_expression("attribute_not_exists(#sk)")
                .expression_attribute_names("#sk", SK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(PutItemError::ConditionalCheckFailedException(taken)) = err.as_service_error()
            else {
                return Err(sdk_error(&what, err));
            };
            // The number is taken. By this very event when the SDK retried a put whose answer
            // was lost: done. Otherwise (a counter that went backwards) take the next number.
            let holder = taken.item().and_then(|item| item.get(DOC));
            if matches!(holder, Some(AttributeValue::S(json)) if *json == doc.json) {
                return Ok(());
            }
            tracing::warn!(incident_id = %id, seq, "event number already taken; retrying");
        }
        Err(StoreError::Unexpected(format!(
            "{what}: {APPEND_ATTEMPTS} event numbers in a row were already taken"
        )))
    }

    async fn list_events(&self, id: IncidentId) -> Result<Vec<TimelineEvent>, StoreError> {
        let what = format!("reading the timeline of incident {id}");
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&*self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :evt)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(incident_pk(id)))
                .expression_attribute_values(":evt", s(EVENT_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(&what, e))?;
            for item in page.items() {
                let sk = attr_s(item, SK, &format!("an event of incident {id}"))?;
                out.push(decode(item, &format!("event {sk} of incident {id}"))?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn put_context(&self, id: IncidentId, bundle: &ContextBundle) -> Result<(), StoreError> {
        let attempt = bundle.attempt;
        let what = format!("storing the evidence of attempt {attempt} of incident {id}");
        let doc = trim::context(bundle, ITEM_BUDGET_BYTES, &what)?;
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(incident_pk(id)))
            .item(SK, s(context_sk(attempt)))
            .item(DOC, s(doc.json))
            .item(TRIMMED, AttributeValue::Bool(doc.trimmed))
            .item(ATTEMPT, n(attempt))
            .send()
            .await
            .map_err(|e| sdk_error(&what, e))?;
        Ok(())
    }

    async fn get_context(
        &self,
        id: IncidentId,
        attempt: u32,
    ) -> Result<Option<ContextBundle>, StoreError> {
        let what = format!("reading the evidence of attempt {attempt} of incident {id}");
        self.get(incident_pk(id), &context_sk(attempt), &what)
            .await?
            .map(|item| decode(&item, &format!("the evidence of attempt {attempt} of {id}")))
            .transpose()
    }

    async fn put_approval(&self, record: &ApprovalRecord) -> Result<(), StoreError> {
        let id = &record.id;
        let incident = record.incident_id;
        let what = format!("storing approval {id} of incident {incident}");
        let doc = serde_json::to_string(record)
            .map_err(|e| StoreError::Unexpected(format!("{what}: encoding it as JSON: {e}")))?;
        let mut item = HashMap::from([
            (PK.to_owned(), s(incident_pk(incident))),
            (SK.to_owned(), s(approval_sk(id))),
            (DOC.to_owned(), s(doc)),
            (INCIDENT_ID.to_owned(), s(incident.to_string())),
            (REQUESTED_AT.to_owned(), s(timestamp(record.requested_at))),
            (DEADLINE.to_owned(), s(sortable_timestamp(record.deadline))),
            (EXPIRED.to_owned(), AttributeValue::Bool(record.expired)),
        ]);
        if let Some(decision) = &record.decision {
            let json = serde_json::to_string(decision).map_err(|e| {
                StoreError::Unexpected(format!("{what}: encoding its decision as JSON: {e}"))
            })?;
            item.insert(DECISION.to_owned(), s(json));
        }
        let pointer = HashMap::from([
            (PK.to_owned(), s(approval_ref_pk(id))),
            (SK.to_owned(), s(REF_SK)),
            (INCIDENT_ID.to_owned(), s(incident.to_string())),
        ]);
        let incident_exists = ConditionCheck::builder()
            .table_name(&*self.table)
            .key(PK, s(incident_pk(incident)))
            .key(SK, s(META_SK))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| build_error(&what, e))?;
        let not_exists = "attribute_not_exists(#pk)";
        let pk_name = [("#pk", PK)];
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(incident_exists)
                .build(),
            put(&self.table, pointer, not_exists, &pk_name, &what)?,
            put(&self.table, item, not_exists, &pk_name, &what)?,
        ];
        match self.transact(items, &what).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::ConditionFailed(codes)
                if codes.first().map(String::as_str) == Some("ConditionalCheckFailed") =>
            {
                Err(StoreError::Unexpected(format!(
                    "{what}: there is no such incident"
                )))
            }
            // The pointer or the record exists. If it is this very record, an earlier attempt
            // of this call committed (the SDK retried it); otherwise the id is taken.
            TxOutcome::ConditionFailed(_) => {
                if self.get_approval(id).await?.as_ref() == Some(record) {
                    return Ok(());
                }
                Err(StoreError::Unexpected(format!(
                    "{what}: an approval with this id already exists"
                )))
            }
        }
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<ApprovalRecord>, StoreError> {
        let Some(incident) = self.approval_incident(id).await? else {
            return Ok(None);
        };
        let what = format!("reading approval {id}");
        self.get(incident_pk(incident), &approval_sk(id), &what)
            .await?
            .map(|item| approval_from_item(id, &item))
            .transpose()
    }

    async fn decide_approval(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRecord, DecideError> {
        let Some(incident) = self.approval_incident(id).await? else {
            return Err(DecideError::NotFound);
        };
        let what = format!("recording a decision on approval {id}");
        let json = serde_json::to_string(decision).map_err(|e| {
            StoreError::Unexpected(format!("{what}: encoding the decision as JSON: {e}"))
        })?;
        // First decision wins: one conditional update, which also refuses a decision made after
        // the deadline or after the workflow marked the approval expired.
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(incident_pk(incident)))
            .key(SK, s(approval_sk(id)))
            .update_expression("SET #decision = :decision")
            .condition_expression(
                "attribute_exists(#pk) AND attribute_not_exists(#decision) \
                 AND #expired = :false AND #deadline >= :at",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#decision", DECISION)
            .expression_attribute_names("#expired", EXPIRED)
            .expression_attribute_names("#deadline", DEADLINE)
            .expression_attribute_values(":decision", s(json))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":at", s(sortable_timestamp(decision.at)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                return Ok(approval_from_item(id, &item)?);
            }
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(sdk_error(&what, err).into());
        };
        // Why the condition failed: the record as it was (returned with the failure, or read back
        // if the backend did not return it). A decision, once set, never changes, and neither does
        // an expiry, so this read cannot disagree with the failed condition.
        let old = match failed.item() {
            Some(item) => Some(item.clone()),
            None => {
                self.get(incident_pk(incident), &approval_sk(id), &what)
                    .await?
            }
        };
        let Some(old) = old else {
            return Err(DecideError::NotFound);
        };
        let record = approval_from_item(id, &old)?;
        match &record.decision {
            // This very decision, recorded by an earlier attempt of this call whose answer was
            // lost (the SDK retried it).
            Some(first) if first == decision => Ok(record),
            Some(first) => Err(DecideError::AlreadyDecided(Box::new(first.clone()))),
            None => Err(DecideError::Expired),
        }
    }

    async fn expire_approval(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        // An unknown approval was never waiting, so there is nothing to expire.
        let Some(incident) = self.approval_incident(id).await? else {
            return Ok(false);
        };
        let what = format!("expiring approval {id}");
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(incident_pk(incident)))
            .key(SK, s(approval_sk(id)))
            .update_expression("SET #expired = :true")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#decision)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#decision", DECISION)
            .expression_attribute_names("#expired", EXPIRED)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(&what, e)),
        }
    }

    async fn put_postmortem(&self, pm: &PostMortem) -> Result<(), StoreError> {
        let id = pm.incident_id;
        let what = format!("storing the post-mortem of incident {id}");
        let doc = trim::postmortem(pm, ITEM_BUDGET_BYTES, &what)?;
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(incident_pk(id)))
            .item(SK, s(PM_SK))
            .item(DOC, s(doc.json))
            .item(TRIMMED, AttributeValue::Bool(doc.trimmed))
            .send()
            .await
            .map_err(|e| sdk_error(&what, e))?;
        Ok(())
    }

    async fn get_postmortem(&self, id: IncidentId) -> Result<Option<PostMortem>, StoreError> {
        let what = format!("reading the post-mortem of incident {id}");
        self.get(incident_pk(id), PM_SK, &what)
            .await?
            .map(|item| decode(&item, &format!("the post-mortem of {id}")))
            .transpose()
    }
}

/// Creates `table` as the SAM template declares it: string keys `pk`/`sk`, on-demand billing, the
/// listing index `gsi1` (all attributes projected) and TTL on `expires_at`; waits until it is
/// active. An existing table is left as it is (TTL is still switched on if it was off), so this is
/// safe to run on every start of a local stack.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let what = format!("creating the DynamoDB table {table}");
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_error(&what, e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| build_error(&what, e))
    };
    let gsi1 = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1_PK, KeyType::Hash)?)
        .key_schema(key(GSI1_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| build_error(&what, e))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .attribute_definitions(attr(GSI1_PK)?)
        .attribute_definitions(attr(GSI1_SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi1)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            tracing::debug!(table, "the table already exists");
        }
        Err(e) => return Err(sdk_error(&what, e)),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "{what}: it did not become active: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("{what}: reading its TTL setting"), e))?;
    let enabled = ttl.time_to_live_description().is_some_and(|d| {
        matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) && d.attribute_name() == Some(TTL_ATTRIBUTE)
    });
    if !enabled {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(|e| build_error(&what, e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("{what}: switching on TTL"), e))?;
    }
    Ok(())
}

/// A document ready to store: its JSON, and whether it was trimmed to fit.
#[derive(Debug, Clone)]
struct Fitted {
    json: String,
    trimmed: bool,
}

/// Deterministic trimming of documents that would not fit in one item (see the module docs).
mod trim {
    use super::*;

    /// One kind of cut: `apply(value, j)` makes `j` cuts (drops `j` elements, say), for `j` up to
    /// `max(value)`; more cuts never make the document larger.
    struct Cut<T> {
        what: &'static str,
        max: fn(&T) -> usize,
        apply: fn(&mut T, usize),
    }

    /// The size of `value`'s JSON, without building it.
    fn json_len<T: Serialize>(value: &T, what: &str) -> Result<usize, StoreError> {
        struct Counter(usize);
        impl io::Write for Counter {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut c = Counter(0);
        serde_json::to_writer(&mut c, value)
            .map_err(|e| StoreError::Unexpected(format!("{what}: encoding it as JSON: {e}")))?;
        Ok(c.0)
    }

    /// Encodes `value`, applying `cuts` in order, each as little as the budget allows, until the
    /// JSON fits in `budget` bytes.
    fn fit<T: Serialize + Clone>(
        value: &T,
        budget: usize,
        cuts: &[Cut<T>],
        what: &str,
    ) -> Result<Fitted, StoreError> {
        let encode = |v: &serde_json::Value| {
            serde_json::to_string(v)
                .map_err(|e| StoreError::Unexpected(format!("{what}: encoding it as JSON: {e}")))
        };
        let original = json_len(value, what)?;
        if original <= budget {
            let json = serde_json::to_string(value)
                .map_err(|e| StoreError::Unexpected(format!("{what}: encoding it as JSON: {e}")))?;
            return Ok(Fitted {
                json,
                trimmed: false,
            });
        }
        let mut v = value.clone();
        let mut steps = Vec::new();
        for cut in cuts {
            if json_len(&v, what)? <= budget {
                break;
            }
            let max = (cut.max)(&v);
            if max == 0 {
                continue;
            }
            let fits_after = |j: usize| -> Result<bool, StoreError> {
                let mut c = v.clone();
                (cut.apply)(&mut c, j);
                Ok(json_len(&c, what)? <= budget)
            };
            // The fewest cuts that fit, by bisection; all of them if even that does not fit.
            let j = if fits_after(max)? {
                let (mut lo, mut hi) = (1, max);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if fits_after(mid)? {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            } else {
                max
            };
            (cut.apply)(&mut v, j);
            steps.push(format!("{} ({j} of {max})", cut.what));
        }
        let stored = json_len(&v, what)?;
        if stored > budget {
            return Err(StoreError::Unexpected(format!(
                "{what}: its {original}-byte JSON is still {stored} bytes after trimming, over the \
                 {budget}-byte item budget"
            )));
        }
        let mut doc = serde_json::to_value(&v)
            .map_err(|e| StoreError::Unexpected(format!("{what}: encoding it as JSON: {e}")))?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                TRIMMED_FIELD.to_owned(),
                serde_json::json!({
                    "original_bytes": original,
                    "stored_bytes": stored,
                    "cuts": steps,
                }),
            );
        }
        tracing::warn!(
            record = what,
            original_bytes = original,
            stored_bytes = stored,
            "trimmed a record to fit in one DynamoDB item"
        );
        Ok(Fitted {
            json: encode(&doc)?,
            trimmed: true,
        })
    }

    /// Caps every string value (not object keys) inside `value` at `max` bytes. Every validated
    /// identifier in the model is far shorter than the caps used here, so the result still
    /// deserializes; if it somehow did not, `value` is left unchanged.
    fn cap_strings<T: Serialize + DeserializeOwned>(value: &mut T, max: usize) {
        fn walk(v: &mut serde_json::Value, max: usize) {
            match v {
                serde_json::Value::String(s) if s.len() > max => {
                    *s = iras_core::truncate(s, max);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, max)),
                serde_json::Value::Object(map) => map.values_mut().for_each(|i| walk(i, max)),
                _ => {}
            }
        }
        let Ok(mut json) = serde_json::to_value(&*value) else {
            return;
        };
        walk(&mut json, max);
        if let Ok(capped) = serde_json::from_value(json) {
            *value = capped;
        }
    }

    fn drop_tail<T>(v: &mut Vec<T>, j: usize) {
        v.truncate(v.len().saturating_sub(j));
    }

    /// An evidence bundle: samples, then long strings, then the least severe templates, then the
    /// oldest deployments, the least anomalous metrics and source failures.
    pub(super) fn context(
        bundle: &ContextBundle,
        budget: usize,
        what: &str,
    ) -> Result<Fitted, StoreError> {
        let cuts: [Cut<ContextBundle>; 8] = [
            Cut {
                what: "dropped the log samples of the least severe templates",
                max: |b| b.logs.len(),
                apply: |b, j| {
                    b.logs
                        .iter_mut()
                        .rev()
                        .take(j)
                        .for_each(|t| t.samples.clear())
                },
            },
            Cut {
                what: "capped strings at 4 KiB",
                max: |_| 1,
                apply: |b, _| cap_strings(b, 4096),
            },
            Cut {
                what: "dropped the least severe log templates",
                max: |b| b.logs.len(),
                apply: |b, j| drop_tail(&mut b.logs, j),
            },
            Cut {
                what: "dropped the oldest deployments",
                max: |b| b.deployments.len(),
                apply: |b, j| drop_tail(&mut b.deployments, j),
            },
            Cut {
                what: "dropped the least anomalous metrics",
                max: |b| b.metrics.len(),
                apply: |b, j| drop_tail(&mut b.metrics, j),
            },
            Cut {
                what: "dropped source failures",
                max: |b| b.failed_sources.len(),
                apply: |b, j| drop_tail(&mut b.failed_sources, j),
            },
            Cut {
                what: "capped strings at 256 bytes",
                max: |_| 1,
                apply: |b, _| cap_strings(b, 256),
            },
            Cut {
                what: "dropped services",
                max: |b| b.services.len(),
                apply: |b, j| drop_tail(&mut b.services, j),
            },
        ];
        fit(bundle, budget, &cuts, what)
    }

    /// A post-mortem: event data (oldest first), long strings, then timeline events from the
    /// middle, keeping the first and the last.
    pub(super) fn postmortem(
        pm: &PostMortem,
        budget: usize,
        what: &str,
    ) -> Result<Fitted, StoreError> {
        let cuts: [Cut<PostMortem>; 4] = [
            Cut {
                what: "dropped the data of the oldest timeline events",
                max: |p| p.timeline.len(),
                apply: |p, j| {
                    p.timeline
                        .iter_mut()
                        .take(j)
                        .for_each(|e| e.data = serde_json::Value::Null)
                },
            },
            Cut {
                what: "capped strings at 4 KiB",
                max: |_| 1,
                apply: |p, _| cap_strings(p, 4096),
            },
            Cut {
                what: "dropped timeline events from the middle",
                max: |p| p.timeline.len().saturating_sub(2),
                apply: |p, j| {
                    // Keep ceil((n - j) / 2) events at the start and the rest at the end, so each
                    // further cut removes one more event next to the gap.
                    let n = p.timeline.len();
                    let keep = n.saturating_sub(j);
                    let head = keep.div_ceil(2);
                    p.timeline.drain(head..head + (n - keep));
                },
            },
            Cut {
                what: "capped strings at 256 bytes",
                max: |_| 1,
                apply: |p, _| cap_strings(p, 256),
            },
        ];
        fit(pm, budget, &cuts, what)
    }

    /// An incident: the alert's free-form details, long strings, the alert's labels.
    pub(super) fn incident(
        incident: &Incident,
        budget: usize,
        what: &str,
    ) -> Result<Fitted, StoreError> {
        let cuts: [Cut<Incident>; 4] = [
            Cut {
                what: "dropped the alert's details",
                max: |i| usize::from(!i.alert.details.is_empty()),
                apply: |i, _| i.alert.details.clear(),
            },
            Cut {
                what: "capped strings at 4 KiB",
                max: |_| 1,
                apply: |i, _| cap_strings(i, 4096),
            },
            Cut {
                what: "dropped the alert's labels",
                max: |i| usize::from(!i.alert.labels.is_empty()),
                apply: |i, _| i.alert.labels.clear(),
            },
            Cut {
                what: "capped strings at 256 bytes",
                max: |_| 1,
                apply: |i, _| cap_strings(i, 256),
            },
        ];
        fit(incident, budget, &cuts, what)
    }

    /// A timeline event: its data, then long strings.
    pub(super) fn event(
        event: &TimelineEvent,
        budget: usize,
        what: &str,
    ) -> Result<Fitted, StoreError> {
        let cuts: [Cut<TimelineEvent>; 3] = [
            Cut {
                what: "dropped the event's data",
                max: |e| usize::from(!e.data.is_null()),
                apply: |e, _| e.data = serde_json::Value::Null,
            },
            Cut {
                what: "capped strings at 4 KiB",
                max: |_| 1,
                apply: |e, _| cap_strings(e, 4096),
            },
            Cut {
                what: "capped strings at 256 bytes",
                max: |_| 1,
                apply: |e, _| cap_strings(e, 256),
            },
        ];
        fit(event, budget, &cuts, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_bundle() -> ContextBundle {
        let at = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).unwrap_or_default();
        let svc = iras_core::ServiceName::parse("checkout").expect("a valid service name");
        let logs = (0..200)
            .map(|i| iras_core::LogTemplate {
                template: format!("template {i}"),
                level: iras_core::LogLevel::Error,
                count: 1,
                services: vec![svc.clone()],
                first_seen: at,
                last_seen: at,
                samples: vec!["x".repeat(500); 3],
            })
            .collect();
        ContextBundle {
            attempt: 1,
            window: iras_core::TimeWindow { start: at, end: at },
            services: vec![svc],
            logs,
            metrics: vec![],
            deployments: vec![],
            failed_sources: vec![],
        }
    }

    #[test]
    fn a_bundle_under_the_budget_is_stored_as_it_is() {
        let b = sample_bundle();
        let fitted = trim::context(&b, 10_000_000, "test").expect("fits");
        assert!(!fitted.trimmed);
        assert_eq!(fitted.json, serde_json::to_string(&b).expect("encodes"));
    }

    #[test]
    fn trimming_drops_the_fewest_samples_from_the_least_severe_end_first() {
        let b = sample_bundle();
        let full = serde_json::to_string(&b).expect("encodes").len();
        // Room for all but about ten templates' samples.
        let budget = full - 10 * 1500;
        let fitted = trim::context(&b, budget, "test").expect("fits after trimming");
        assert!(fitted.trimmed);
        let doc: serde_json::Value = serde_json::from_str(&fitted.json).expect("valid JSON");
        let back: ContextBundle = serde_json::from_value(doc.clone()).expect("still a bundle");
        assert_eq!(back.logs.len(), 200, "no template is dropped");
        let emptied = back.logs.iter().filter(|t| t.samples.is_empty()).count();
        assert!(
            (10..=11).contains(&emptied),
            "{emptied} templates lost samples"
        );
        assert!(back.logs[..189].iter().all(|t| t.samples.len() == 3));
        assert!(doc[TRIMMED_FIELD]["original_bytes"].as_u64() == Some(full as u64));
    }

    #[test]
    fn the_middle_of_a_long_post_mortem_timeline_goes_first() {
        let at = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).unwrap_or_default();
        let id = IncidentId::new_at(at);
        let timeline: Vec<TimelineEvent> = (0..1000)
            .map(|i| {
                TimelineEvent::new(
                    at,
                    iras_core::EventKind::Warning,
                    format!("{i:04} {}", "m".repeat(300)),
                )
            })
            .collect();
        let pm = PostMortem {
            incident_id: id,
            title: "t".into(),
            severity: None,
            services: vec![],
            status: iras_core::IncidentStatus::Resolved,
            narrative: iras_core::PostmortemNarrative {
                summary: "s".into(),
                impact: "i".into(),
                lessons: vec![],
                follow_ups: vec![],
            },
            narrative_by: "heuristic".into(),
            root_cause: None,
            plan: None,
            outcome: None,
            durations: Default::default(),
            model_usage: Default::default(),
            timeline,
            written_at: at,
        };
        let fitted = trim::postmortem(&pm, 100_000, "test").expect("fits after trimming");
        let back: PostMortem = serde_json::from_str(&fitted.json).expect("still a post-mortem");
        assert!(back.timeline.len() < 1000 && back.timeline.len() > 200);
        assert!(back.timeline[0].message.starts_with("0000"));
        assert!(back
            .timeline
            .last()
            .is_some_and(|e| e.message.starts_with("0999")));
    }

    #[test]
    fn an_event_with_huge_data_loses_its_data_and_keeps_its_message() {
        let at = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).unwrap_or_default();
        let event = TimelineEvent::new(at, iras_core::EventKind::Warning, "source failed")
            .with_data(serde_json::json!({ "body": "b".repeat(500_000) }));
        let fitted = trim::event(&event, ITEM_BUDGET_BYTES, "test").expect("fits after trimming");
        assert!(fitted.trimmed);
        let back: TimelineEvent = serde_json::from_str(&fitted.json).expect("still an event");
        assert_eq!(back.message, "source failed");
        assert!(back.data.is_null());
    }

    #[test]
    fn an_incident_with_huge_alert_details_loses_the_details_first() {
        let at = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).unwrap_or_default();
        let alert = iras_core::Alert {
            source: iras_core::AlertSource::Generic,
            fingerprint: iras_core::Fingerprint::from_parts(&["huge"]),
            status: iras_core::AlertStatus::Firing,
            title: "huge".into(),
            description: Some("d".repeat(100)),
            services: vec![],
            severity: None,
            started_at: at,
            ended_at: None,
            labels: [("team".to_owned(), "payments".to_owned())].into(),
            details: [("blob".to_owned(), serde_json::json!("x".repeat(600_000)))].into(),
            url: None,
        };
        let id = IncidentId::new_at(at);
        let trace = iras_core::TraceId::parse("trace-1").expect("a valid trace id");
        let incident = Incident::open(id, trace, alert, at);
        let fitted = trim::incident(&incident, ITEM_BUDGET_BYTES, "test").expect("fits");
        let back: Incident = serde_json::from_str(&fitted.json).expect("still an incident");
        assert!(back.alert.details.is_empty());
        assert_eq!(back.alert.labels, incident.alert.labels, "labels are kept");
        assert_eq!(back.alert.description, incident.alert.description);
        assert_eq!(back.id, id);
    }

    #[test]
    fn an_approval_item_that_does_not_decode_is_reported_without_quoting_it() {
        let id = ApprovalId::parse("apr_1").expect("a valid approval id");
        let item = HashMap::from([(DOC.to_owned(), s(r#""AAAAKgAAAAIAAAAAsecret-token""#))]);
        let err = approval_from_item(&id, &item).expect_err("a bare string is not an approval");
        assert!(matches!(&err, StoreError::Corrupt(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn sort_keys_sort_in_numeric_order_and_deadlines_in_time_order() {
        assert!(event_sk(9) < event_sk(10));
        assert!(context_sk(9) < context_sk(10));
        let a = DateTime::<Utc>::from_timestamp(1_714_564_800, 5).unwrap_or_default();
        let b = DateTime::<Utc>::from_timestamp(1_714_564_800, 40).unwrap_or_default();
        let c = DateTime::<Utc>::from_timestamp(1_714_564_801, 0).unwrap_or_default();
        assert!(sortable_timestamp(a) < sortable_timestamp(b));
        assert!(sortable_timestamp(b) < sortable_timestamp(c));
    }
}

//! The embedded incident store: SQLite in WAL mode, used by `iras` locally and by tests.
//!
//! It keeps the records of DESIGN §9 in one table each, as whole JSON documents next to the few
//! columns that are queried (ids, sequence numbers, the decided/expired flags). rusqlite with the
//! `bundled` feature was chosen so the store needs no system SQLite and behaves the same on every
//! machine.
//!
//! Concurrency: every call runs on tokio's blocking pool against one connection behind a mutex,
//! so tasks of one process take turns. Several processes may open the same file: WAL lets readers
//! proceed while one writes, `busy_timeout` makes a writer wait (up to five seconds) for another,
//! and every read-modify-write runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock
//! before reading so that no two writers can act on the same stale read.
//!
//! The approval task token lives only inside the approvals JSON column: nothing here logs a record,
//! and errors about an unreadable approval never quote its content.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use iras_core::ports::{DecideError, DedupOutcome, IncidentStore, StoreError};
use iras_core::{
    ApprovalId, ApprovalRecord, ContextBundle, Decision, DedupKey, Incident, IncidentId,
    PostMortem, TimelineEvent,
};

/// How long a writer waits for another connection (or process) to release the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, in order. Migration `i` brings the schema from version `i` to `i + 1`; the
/// version reached is kept in `PRAGMA user_version`. Append new migrations, never edit old ones.
const MIGRATIONS: &[&str] = &[
    // Version 1: the records of DESIGN §9, one table each.
    "CREATE TABLE incidents (
        id          TEXT PRIMARY KEY NOT NULL,
        created_at  TEXT NOT NULL,
        status      TEXT NOT NULL,
        json        TEXT NOT NULL
    );
    CREATE TABLE dedup (
        key         TEXT PRIMARY KEY NOT NULL,
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        created_at  TEXT NOT NULL
    );
    CREATE TABLE events (
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        seq         INTEGER NOT NULL,
        at          TEXT NOT NULL,
        json        TEXT NOT NULL,
        PRIMARY KEY (incident_id, seq)
    );
    CREATE TABLE contexts (
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        attempt     INTEGER NOT NULL,
        json        TEXT NOT NULL,
        PRIMARY KEY (incident_id, attempt)
    );
    CREATE TABLE approvals (
        id          TEXT PRIMARY KEY NOT NULL,
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        json        TEXT NOT NULL,
        decided     INTEGER NOT NULL DEFAULT 0,
        expired     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_by_incident ON approvals (incident_id);
    CREATE TABLE postmortems (
        incident_id TEXT PRIMARY KEY NOT NULL REFERENCES incidents (id),
        json        TEXT NOT NULL
    );",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An [`IncidentStore`] in one SQLite file (or in memory, for tests).
///
/// Cloning is cheap and shares the connection. Opening the same file again, from this process or
/// another, gives a second connection that sees the same data under the same guarantees.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    location: Arc<str>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent folders if needed) the database at `path`, switches it to
    /// WAL mode and brings its schema up to date. Blocks; call it at start-up.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!(
                    "creating the folder {} for the SQLite store",
                    parent.display()
                )
            })?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening the SQLite store at {}", path.display()))?;
        let location = path.display().to_string();
        Self::init(conn, location, true)
    }

    /// A private in-memory database, gone when the last clone is dropped. For tests.
    pub fn open_in_memory() -> anyhow::Result<Self> {
        let conn = Connection::open_in_memory().context("opening an in-memory SQLite store")?;
        Self::init(conn, ":memory:".to_owned(), false)
    }

    /// Where the database lives (a path, or `:memory:`).
    pub fn location(&self) -> &str {
        &self.location
    }

    fn init(mut conn: Connection, location: String, on_disk: bool) -> anyhow::Result<Self> {
        // The busy timeout comes first: switching to WAL needs a lock another process may hold.
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting the SQLite busy timeout")?;
        if on_disk {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .with_context(|| format!("switching {location} to WAL mode"))?;
            anyhow::ensure!(
                mode.eq_ignore_ascii_case("wal"),
                "{location} refused WAL mode (journal mode is {mode:?})"
            );
        }
        // In WAL mode NORMAL is durable against application crashes and only risks the last
        // commits on power loss, without an fsync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .context("setting synchronous=NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .context("enabling foreign keys")?;
        let version = migrate(&mut conn).with_context(|| format!("migrating {location}"))?;
        tracing::debug!(location = %location, schema_version = version, "opened the SQLite store");
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            location: location.into(),
        })
    }

    /// Runs `f` with the connection on the blocking pool. The critical section is the body of `f`,
    /// which is one statement or one short transaction.
    async fn with_conn<T, E, F>(&self, what: String, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction half-done (an unfinished
            // rusqlite transaction rolls back when dropped), so a poisoned lock is still usable.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| {
            E::from(StoreError::Unexpected(format!(
                "{what}: the storage task failed: {e}"
            )))
        })?
    }
}

/// Applies the migrations the file has not seen yet, in one immediate transaction so that two
/// processes opening a new file at once do not both create the tables. Returns the version reached.
fn migrate(conn: &mut Connection) -> anyhow::Result<i64> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("locking the database to check its schema")?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .context("reading the schema version")?;
    anyhow::ensure!(
        current <= SCHEMA_VERSION,
        "the database has schema version {current}, newer than the {SCHEMA_VERSION} this build \
         understands; use a newer iras"
    );
    let from = usize::try_from(current).context("the schema version is negative")?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql)
            .with_context(|| format!("applying schema migration {}", i + 1))?;
    }
    if current < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .context("recording the schema version")?;
    }
    tx.commit().context("committing the schema")?;
    Ok(SCHEMA_VERSION)
}

/// Maps a rusqlite error to the port's error, with a sentence of context.
fn db_error(context: &str, e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            StoreError::Corrupt(format!("{context}: a stored column is unreadable ({e})"))
        }
        _ => match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(
                format!("{context}: the database stayed locked by another writer ({e})"),
            ),
            Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull) => {
                StoreError::Unavailable(format!("{context}: {e}"))
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt(format!("{context}: {e}"))
            }
            _ => StoreError::Unexpected(format!("{context}: {e}")),
        },
    }
}

/// `anyhow`-style context for rusqlite results inside this adapter.
trait DbContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|e| db_error(&context(), e))
    }
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Unexpected(format!("encoding {what} as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("{what} is not a valid record: {e}")))
}

/// Like [`from_json`], but the message names only where decoding failed: serde's messages may
/// quote a value, and an approval holds the task token.
fn approval_from_json(id: &ApprovalId, json: &str) -> Result<ApprovalRecord, StoreError> {
    serde_json::from_str(json).map_err(|e| {
        StoreError::Corrupt(format!(
            "approval {id} is not a valid record ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn stored_id(what: &str, s: &str) -> Result<IncidentId, StoreError> {
    IncidentId::parse(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads, checks and rewrites an approval inside the caller's immediate transaction.
fn load_approval(
    tx: &rusqlite::Transaction<'_>,
    id: &ApprovalId,
) -> Result<Option<ApprovalRecord>, StoreError> {
    let json: Option<String> = tx
        .query_row(
            "SELECT json FROM approvals WHERE id = ?1",
            [id.as_str()],
            |row| row.get(0),
        )
        .optional()
        .ctx(|| format!("reading approval {id}"))?;
    json.map(|j| approval_from_json(id, &j)).transpose()
}

fn save_approval(
    tx: &rusqlite::Transaction<'_>,
    record: &ApprovalRecord,
) -> Result<(), StoreError> {
    let json = to_json("an approval", record)?;
    tx.execute(
        "UPDATE approvals SET json = ?2, decided = ?3, expired = ?4 WHERE id = ?1",
        params![
            record.id.as_str(),
            json,
            record.decision.is_some(),
            record.expired
        ],
    )
    .ctx(|| format!("updating approval {}", record.id))?;
    Ok(())
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn create_incident(&self, incident: &Incident) -> Result<DedupOutcome, StoreError> {
        let id = incident.id.to_string();
        let key = incident.dedup_key.as_str().to_owned();
        let created_at = timestamp(incident.created_at);
        let status = incident.status.as_str();
        let json = to_json("an incident", incident)?;
        let what = format!("creating incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{what}: starting a transaction"))?;
            let holder: Option<String> = tx
                .query_row(
                    "SELECT incident_id FROM dedup WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| format!("{what}: reading dedup key {key}"))?;
            if let Some(holder) = holder {
                let holder = stored_id(&format!("the holder of dedup key {key}"), &holder)?;
                return Ok(DedupOutcome::Existing(holder));
            }
            tx.execute(
                "INSERT INTO incidents (id, created_at, status, json) VALUES (?1, ?2, ?3, ?4)",
                params![id, created_at, status, json],
            )
            .ctx(|| format!("{what}: inserting the incident (is the id already taken?)"))?;
            tx.execute(
                "INSERT INTO dedup (key, incident_id, created_at) VALUES (?1, ?2, ?3)",
                params![key, id, created_at],
            )
            .ctx(|| format!("{what}: claiming dedup key {key}"))?;
            tx.commit().ctx(|| format!("{what}: committing"))?;
            Ok(DedupOutcome::Created)
        })
        .await
    }

    async fn claim_dedup(
        &self,
        key: &DedupKey,
        holder: IncidentId,
    ) -> Result<DedupOutcome, StoreError> {
        let key = key.as_str().to_owned();
        let id = holder.to_string();
        let what = format!("claiming dedup key {key} for {id}");
        self.with_conn(what.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{what}: starting a transaction"))?;
            tx.execute(
                "INSERT OR IGNORE INTO dedup (key, incident_id, created_at) \
                 SELECT ?1, ?2, created_at FROM incidents WHERE id = ?2",
                params![key, id],
            )
            .ctx(|| format!("{what}: inserting"))?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT incident_id FROM dedup WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| format!("{what}: reading it back"))?;
            tx.commit().ctx(|| format!("{what}: committing"))?;
            match current {
                Some(h) if h == id => Ok(DedupOutcome::Created),
                Some(h) => Ok(DedupOutcome::Existing(stored_id(
                    &format!("the holder of dedup key {key}"),
                    &h,
                )?)),
                None => Err(StoreError::Unexpected(format!(
                    "{what}: incident {id} does not exist"
                ))),
            }
        })
        .await
    }

    async fn release_dedup(&self, key: &DedupKey, holder: IncidentId) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        let holder = holder.to_string();
        let what = format!("releasing dedup key {key} held by {holder}");
        self.with_conn(what.clone(), move |conn| {
            // One conditional statement is atomic on its own: it frees the key only if `holder`
            // still has it, and does nothing if another incident took it since.
            conn.execute(
                "DELETE FROM dedup WHERE key = ?1 AND incident_id = ?2",
                params![key, holder],
            )
            .ctx(|| what)?;
            Ok(())
        })
        .await
    }

    async fn dedup_holder(&self, key: &DedupKey) -> Result<Option<IncidentId>, StoreError> {
        let key = key.as_str().to_owned();
        let what = format!("reading dedup key {key}");
        self.with_conn(what.clone(), move |conn| {
            let holder: Option<String> = conn
                .query_row(
                    "SELECT incident_id FROM dedup WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| what)?;
            holder
                .map(|h| stored_id(&format!("the holder of dedup key {key}"), &h))
                .transpose()
        })
        .await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        let what = format!("reading incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT json FROM incidents WHERE id = ?1",
                    [id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| what)?;
            json.map(|j| from_json(&format!("incident {id}"), &j))
                .transpose()
        })
        .await
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let id = incident.id;
        let status = incident.status.as_str();
        let created_at = timestamp(incident.created_at);
        let json = to_json("an incident", incident)?;
        let what = format!("updating incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let changed = conn
                .execute(
                    "UPDATE incidents SET status = ?2, created_at = ?3, json = ?4 WHERE id = ?1",
                    params![id.to_string(), status, created_at, json],
                )
                .ctx(|| what)?;
            if changed == 0 {
                return Err(StoreError::Unexpected(format!(
                    "updating incident {id}: there is no such incident to overwrite"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn list_incidents(
        &self,
        limit: usize,
        before: Option<IncidentId>,
    ) -> Result<Vec<Incident>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let before = before.map(|b| b.to_string());
        let what = "listing incidents".to_owned();
        self.with_conn(what.clone(), move |conn| {
            // Ids are ULIDs in canonical (fixed-width, uppercase Crockford) form, so text order is
            // creation-time order.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, json FROM incidents WHERE ?1 IS NULL OR id < ?1
                     ORDER BY id DESC LIMIT ?2",
                )
                .ctx(|| what.clone())?;
            let rows = stmt
                .query_map(params![before, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .ctx(|| what.clone())?;
            let mut out = Vec::new();
            for row in rows {
                let (id, json) = row.ctx(|| what.clone())?;
                out.push(from_json(&format!("incident {id}"), &json)?);
            }
            Ok(out)
        })
        .await
    }

    async fn append_event(&self, id: IncidentId, event: &TimelineEvent) -> Result<(), StoreError> {
        let at = timestamp(event.at);
        let json = to_json("a timeline event", event)?;
        let what = format!("appending an event to incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{what}: starting a transaction"))?;
            // The next sequence number is taken under the write lock, so concurrent appenders (in
            // this process or another) get distinct numbers in the order they commit.
            tx.execute(
                "INSERT INTO events (incident_id, seq, at, json)
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3 FROM events WHERE incident_id = ?1",
                params![id.to_string(), at, json],
            )
            .ctx(|| format!("{what} (does the incident exist?)"))?;
            tx.commit().ctx(|| format!("{what}: committing"))?;
            Ok(())
        })
        .await
    }

    async fn list_events(&self, id: IncidentId) -> Result<Vec<TimelineEvent>, StoreError> {
        let what = format!("reading the timeline of incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT seq, json FROM events WHERE incident_id = ?1 ORDER BY seq")
                .ctx(|| what.clone())?;
            let rows = stmt
                .query_map([id.to_string()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .ctx(|| what.clone())?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, json) = row.ctx(|| what.clone())?;
                out.push(from_json(&format!("event {seq} of incident {id}"), &json)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_context(&self, id: IncidentId, bundle: &ContextBundle) -> Result<(), StoreError> {
        let attempt = bundle.attempt;
        let json = to_json("a context bundle", bundle)?;
        let what = format!("storing the evidence of attempt {attempt} of incident {id}");
        self.with_conn(what.clone(), move |conn| {
            conn.execute(
                "INSERT INTO contexts (incident_id, attempt, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (incident_id, attempt) DO UPDATE SET json = excluded.json",
                params![id.to_string(), attempt, json],
            )
            .ctx(|| format!("{what} (does the incident exist?)"))?;
            Ok(())
        })
        .await
    }

    async fn get_context(
        &self,
        id: IncidentId,
        attempt: u32,
    ) -> Result<Option<ContextBundle>, StoreError> {
        let what = format!("reading the evidence of attempt {attempt} of incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT json FROM contexts WHERE incident_id = ?1 AND attempt = ?2",
                    params![id.to_string(), attempt],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| what)?;
            json.map(|j| from_json(&format!("the evidence of attempt {attempt} of {id}"), &j))
                .transpose()
        })
        .await
    }

    async fn put_approval(&self, record: &ApprovalRecord) -> Result<(), StoreError> {
        let id = record.id.clone();
        let incident_id = record.incident_id.to_string();
        let decided = record.decision.is_some();
        let expired = record.expired;
        let json = to_json("an approval", record)?;
        let what = format!("storing approval {id} of incident {incident_id}");
        self.with_conn(what.clone(), move |conn| {
            conn.execute(
                "INSERT INTO approvals (id, incident_id, json, decided, expired)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.as_str(), incident_id, json, decided, expired],
            )
            .ctx(|| format!("{what} (is the id already taken, or the incident unknown?)"))?;
            Ok(())
        })
        .await
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<ApprovalRecord>, StoreError> {
        let id = id.clone();
        let what = format!("reading approval {id}");
        self.with_conn(what.clone(), move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT json FROM approvals WHERE id = ?1",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| what)?;
            json.map(|j| approval_from_json(&id, &j)).transpose()
        })
        .await
    }

    async fn decide_approval(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRecord, DecideError> {
        let id = id.clone();
        let decision = decision.clone();
        let what = format!("recording a decision on approval {id}");
        self.with_conn(what.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{what}: starting a transaction"))?;
            let Some(mut record) = load_approval(&tx, &id)? else {
                return Err(DecideError::NotFound);
            };
            if let Some(first) = record.decision.take() {
                return Err(DecideError::AlreadyDecided(Box::new(first)));
            }
            if record.expired || decision.at > record.deadline {
                return Err(DecideError::Expired);
            }
            record.decision = Some(decision);
            save_approval(&tx, &record)?;
            tx.commit().ctx(|| format!("{what}: committing"))?;
            Ok(record)
        })
        .await
    }

    async fn expire_approval(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        let id = id.clone();
        let what = format!("expiring approval {id}");
        self.with_conn(what.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{what}: starting a transaction"))?;
            // An unknown approval was never waiting, so there is nothing to expire: `false`,
            // like a decided one (a DynamoDB conditional update cannot tell the two apart either).
            let Some(mut record) = load_approval(&tx, &id)? else {
                return Ok(false);
            };
            if record.decision.is_some() {
                return Ok(false);
            }
            if !record.expired {
                record.expired = true;
                save_approval(&tx, &record)?;
                tx.commit().ctx(|| format!("{what}: committing"))?;
            }
            Ok(true)
        })
        .await
    }

    async fn put_postmortem(&self, pm: &PostMortem) -> Result<(), StoreError> {
        let id = pm.incident_id;
        let json = to_json("a post-mortem", pm)?;
        let what = format!("storing the post-mortem of incident {id}");
        self.with_conn(what.clone(), move |conn| {
            conn.execute(
                "INSERT INTO postmortems (incident_id, json) VALUES (?1, ?2)
                 ON CONFLICT (incident_id) DO UPDATE SET json = excluded.json",
                params![id.to_string(), json],
            )
            .ctx(|| format!("{what} (does the incident exist?)"))?;
            Ok(())
        })
        .await
    }

    async fn get_postmortem(&self, id: IncidentId) -> Result<Option<PostMortem>, StoreError> {
        let what = format!("reading the post-mortem of incident {id}");
        self.with_conn(what.clone(), move |conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT json FROM postmortems WHERE incident_id = ?1",
                    [id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .ctx(|| what)?;
            json.map(|j| from_json(&format!("the post-mortem of {id}"), &j))
                .transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_errors_are_worth_retrying() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(db_error("x", busy), StoreError::Unavailable(_)));
        let locked = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_LOCKED),
            None,
        );
        assert!(matches!(db_error("x", locked), StoreError::Unavailable(_)));
    }

    #[test]
    fn an_unreadable_approval_is_reported_without_quoting_it() {
        let id = ApprovalId::parse("apr_1").expect("a valid approval id");
        let err = approval_from_json(&id, r#""AAAAKgAAAAIAAAAAsecret-token""#)
            .expect_err("a bare string is not an approval");
        assert!(matches!(&err, StoreError::Corrupt(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

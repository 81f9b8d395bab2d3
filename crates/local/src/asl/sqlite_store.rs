//! [`SqliteExecutionStore`]: execution records in one SQLite table, `asl_executions`, so paused
//! executions survive a restart. The database file may hold other code's tables; this store
//! creates and touches only its own.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::record::ExecutionRecord;
use super::store::{ExecutionStore, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS asl_executions (
    name                TEXT PRIMARY KEY NOT NULL,
    state_machine_arn   TEXT NOT NULL,
    status              TEXT NOT NULL,
    active_token_hash   TEXT,
    closed_token_hashes TEXT NOT NULL DEFAULT '[]', -- JSON array of hex SHA-256
    record              TEXT NOT NULL,              -- JSON ExecutionRecord
    updated_at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS asl_executions_by_status ON asl_executions (state_machine_arn, status);
CREATE INDEX IF NOT EXISTS asl_executions_by_token ON asl_executions (active_token_hash);
";

/// An [`ExecutionStore`] backed by a SQLite file (WAL mode). Each operation runs on tokio's
/// blocking pool and holds the connection only for its own statement.
#[derive(Debug, Clone)]
pub struct SqliteExecutionStore {
    conn: Arc<Mutex<Connection>>,
}

fn backend(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("{context}: {e}"))
}

impl SqliteExecutionStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL and creates the
    /// `asl_executions` table if it is missing. This is blocking; call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!(
                "opening the execution database {}: {e}",
                path.display()
            ))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend("setting the busy timeout"))?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(backend("switching the execution database to WAL"))?;
        conn.execute_batch(SCHEMA)
            .map_err(backend("creating the asl_executions table"))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| {
                StoreError::Backend("the SQLite connection lock is poisoned".into())
            })?;
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the SQLite worker task failed: {e}")))?
    }
}

struct Row {
    name: String,
    state_machine_arn: String,
    status: &'static str,
    active_token_hash: Option<String>,
    closed_token_hashes: String,
    record: String,
    updated_at: String,
}

fn to_row(record: &ExecutionRecord) -> Result<Row, StoreError> {
    let json =
        |what: &str, e: serde_json::Error| StoreError::Backend(format!("serializing {what}: {e}"));
    Ok(Row {
        name: record.name.clone(),
        state_machine_arn: record.state_machine_arn.clone(),
        status: record.status.as_str(),
        active_token_hash: record.active_token_hash().map(str::to_string),
        closed_token_hashes: serde_json::to_string(&record.closed_token_hashes)
            .map_err(|e| json("token hashes", e))?,
        record: serde_json::to_string(record).map_err(|e| json("the execution record", e))?,
        updated_at: chrono::Utc::now().to_rfc3339(),
    })
}

fn from_json(text: &str) -> Result<ExecutionRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ExecutionStore for SqliteExecutionStore {
    async fn insert(&self, record: &ExecutionRecord) -> Result<bool, StoreError> {
        let row = to_row(record)?;
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "INSERT INTO asl_executions
                       (name, state_machine_arn, status, active_token_hash, closed_token_hashes, record, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (name) DO NOTHING",
                    params![
                        row.name,
                        row.state_machine_arn,
                        row.status,
                        row.active_token_hash,
                        row.closed_token_hashes,
                        row.record,
                        row.updated_at
                    ],
                )
                .map_err(backend("inserting an execution"))?;
            Ok(changed == 1)
        })
        .await
    }

    async fn save(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        let row = to_row(record)?;
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO asl_executions
                   (name, state_machine_arn, status, active_token_hash, closed_token_hashes, record, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name) DO UPDATE SET
                   state_machine_arn = excluded.state_machine_arn,
                   status = excluded.status,
                   active_token_hash = excluded.active_token_hash,
                   closed_token_hashes = excluded.closed_token_hashes,
                   record = excluded.record,
                   updated_at = excluded.updated_at",
                params![
                    row.name,
                    row.state_machine_arn,
                    row.status,
                    row.active_token_hash,
                    row.closed_token_hashes,
                    row.record,
                    row.updated_at
                ],
            )
            .map_err(backend("saving an execution"))?;
            Ok(())
        })
        .await
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let name = name.to_string();
        self.with_conn(move |conn| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT record FROM asl_executions WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend("loading an execution"))?;
            text.as_deref().map(from_json).transpose()
        })
        .await
    }

    async fn list_unfinished(
        &self,
        state_machine_arn: &str,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let arn = state_machine_arn.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT record FROM asl_executions
                     WHERE state_machine_arn = ?1 AND status IN ('Running', 'Waiting')
                     ORDER BY name",
                )
                .map_err(backend("listing unfinished executions"))?;
            let texts = stmt
                .query_map(params![arn], |row| row.get::<_, String>(0))
                .map_err(backend("listing unfinished executions"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend("reading unfinished executions"))?;
            texts.iter().map(|t| from_json(t)).collect()
        })
        .await
    }

    async fn find_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let hash = token_hash.to_string();
        self.with_conn(move |conn| {
            let active: Option<String> = conn
                .query_row(
                    "SELECT record FROM asl_executions WHERE active_token_hash = ?1",
                    params![hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend("looking up a task token"))?;
            let text = match active {
                Some(text) => Some(text),
                // Closed tokens are looked up only for the TaskTimedOut answer; a scan is fine.
                None => conn
                    .query_row(
                        "SELECT record FROM asl_executions
                         WHERE EXISTS (SELECT 1 FROM json_each(asl_executions.closed_token_hashes)
                                       WHERE json_each.value = ?1)
                         LIMIT 1",
                        params![hash],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(backend("looking up a closed task token"))?,
            };
            text.as_deref().map(from_json).transpose()
        })
        .await
    }
}

//! Where execution records live: the [`ExecutionStore`] port and its in-memory implementation.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::record::ExecutionRecord;

/// A store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("execution store error: {0}")]
    Backend(String),
    /// A stored record could not be read back.
    #[error("a stored execution record is corrupt: {0}")]
    Corrupt(String),
}

/// Persists execution records. One [`Engine`](super::Engine) should own a store's executions at a
/// time: records are written by the execution's own task, without cross-process locking.
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Inserts a new record. Returns `false`, changing nothing, when the name is taken.
    async fn insert(&self, record: &ExecutionRecord) -> Result<bool, StoreError>;
    /// Replaces the record with the same name.
    async fn save(&self, record: &ExecutionRecord) -> Result<(), StoreError>;
    /// Loads a record by execution name.
    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError>;
    /// Every unfinished (Running or Waiting) record of a state machine.
    async fn list_unfinished(
        &self,
        state_machine_arn: &str,
    ) -> Result<Vec<ExecutionRecord>, StoreError>;
    /// The record that issued the token with this hash (active or closed), if any.
    async fn find_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ExecutionRecord>, StoreError>;
}

/// An [`ExecutionStore`] in process memory, for tests and throwaway runs.
#[derive(Debug, Default)]
pub struct MemoryExecutionStore {
    records: Mutex<HashMap<String, ExecutionRecord>>,
}

impl MemoryExecutionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, ExecutionRecord>>, StoreError> {
        self.records
            .lock()
            .map_err(|_| StoreError::Backend("the in-memory store's lock is poisoned".into()))
    }
}

#[async_trait]
impl ExecutionStore for MemoryExecutionStore {
    async fn insert(&self, record: &ExecutionRecord) -> Result<bool, StoreError> {
        let mut records = self.lock()?;
        if records.contains_key(&record.name) {
            return Ok(false);
        }
        records.insert(record.name.clone(), record.clone());
        Ok(true)
    }

    async fn save(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        self.lock()?.insert(record.name.clone(), record.clone());
        Ok(())
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.lock()?.get(name).cloned())
    }

    async fn list_unfinished(
        &self,
        state_machine_arn: &str,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        Ok(self
            .lock()?
            .values()
            .filter(|r| r.state_machine_arn == state_machine_arn && !r.status.is_finished())
            .cloned()
            .collect())
    }

    async fn find_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self
            .lock()?
            .values()
            .find(|r| r.knows_token_hash(token_hash))
            .cloned())
    }
}

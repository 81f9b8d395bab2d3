//! An in-memory incident store with the same behaviour as the real ones (it passes the same
//! contract suite), plus a switch that makes every call fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use iras_core::ports::{DecideError, DedupOutcome, IncidentStore, StoreError};
use iras_core::{
    ApprovalId, ApprovalRecord, ContextBundle, Decision, DedupKey, Incident, IncidentId,
    PostMortem, TimelineEvent,
};

use super::lock;

#[derive(Debug, Default)]
struct Tables {
    incidents: BTreeMap<IncidentId, Incident>,
    dedup: HashMap<DedupKey, IncidentId>,
    events: HashMap<IncidentId, Vec<TimelineEvent>>,
    contexts: HashMap<(IncidentId, u32), ContextBundle>,
    approvals: HashMap<ApprovalId, ApprovalRecord>,
    postmortems: HashMap<IncidentId, PostMortem>,
    failure: Option<StoreError>,
}

impl Tables {
    /// The injected failure, if any; checked first by every call.
    fn check(&self) -> Result<(), StoreError> {
        self.failure.clone().map_or(Ok(()), Err)
    }

    /// Records that belong to an incident need the incident, as the SQLite store's foreign keys
    /// demand.
    fn require_incident(&self, id: IncidentId, what: &str) -> Result<(), StoreError> {
        if self.incidents.contains_key(&id) {
            Ok(())
        } else {
            Err(StoreError::Unexpected(format!(
                "{what}: incident {id} does not exist"
            )))
        }
    }
}

/// An [`IncidentStore`] in maps behind one mutex: every call is one short critical section, so
/// each is atomic, like a conditional write or a transaction in the real stores.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with `error` (for testing how steps handle an unavailable
    /// store); [`recover`](Self::recover) undoes it.
    pub fn fail_with(&self, error: StoreError) {
        lock(&self.tables).failure = Some(error);
    }

    /// From now on calls succeed again.
    pub fn recover(&self) {
        lock(&self.tables).failure = None;
    }
}

#[async_trait]
impl IncidentStore for MemoryStore {
    async fn create_incident(&self, incident: &Incident) -> Result<DedupOutcome, StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        if let Some(holder) = t.dedup.get(&incident.dedup_key) {
            return Ok(DedupOutcome::Existing(*holder));
        }
        if t.incidents.contains_key(&incident.id) {
            return Err(StoreError::Unexpected(format!(
                "creating incident {}: the id is already taken",
                incident.id
            )));
        }
        t.incidents.insert(incident.id, incident.clone());
        t.dedup.insert(incident.dedup_key.clone(), incident.id);
        Ok(DedupOutcome::Created)
    }

    async fn claim_dedup(
        &self,
        key: &DedupKey,
        holder: IncidentId,
    ) -> Result<DedupOutcome, StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        match t.dedup.get(key) {
            Some(other) if *other != holder => Ok(DedupOutcome::Existing(*other)),
            _ => {
                t.dedup.insert(key.clone(), holder);
                Ok(DedupOutcome::Created)
            }
        }
    }

    async fn release_dedup(&self, key: &DedupKey, holder: IncidentId) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        if t.dedup.get(key) == Some(&holder) {
            t.dedup.remove(key);
        }
        Ok(())
    }

    async fn dedup_holder(&self, key: &DedupKey) -> Result<Option<IncidentId>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.dedup.get(key).copied())
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.incidents.get(&id).cloned())
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        match t.incidents.get_mut(&incident.id) {
            Some(stored) => {
                *stored = incident.clone();
                Ok(())
            }
            None => Err(StoreError::Unexpected(format!(
                "updating incident {}: there is no such incident to overwrite",
                incident.id
            ))),
        }
    }

    async fn list_incidents(
        &self,
        limit: usize,
        before: Option<IncidentId>,
    ) -> Result<Vec<Incident>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        let older = t
            .incidents
            .iter()
            .rev()
            .filter(|(id, _)| before.is_none_or(|b| **id < b));
        Ok(older.take(limit).map(|(_, i)| i.clone()).collect())
    }

    async fn append_event(&self, id: IncidentId, event: &TimelineEvent) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        t.require_incident(id, "appending an event")?;
        t.events.entry(id).or_default().push(event.clone());
        Ok(())
    }

    async fn list_events(&self, id: IncidentId) -> Result<Vec<TimelineEvent>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.events.get(&id).cloned().unwrap_or_default())
    }

    async fn put_context(&self, id: IncidentId, bundle: &ContextBundle) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        t.require_incident(id, "storing evidence")?;
        t.contexts.insert((id, bundle.attempt), bundle.clone());
        Ok(())
    }

    async fn get_context(
        &self,
        id: IncidentId,
        attempt: u32,
    ) -> Result<Option<ContextBundle>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.contexts.get(&(id, attempt)).cloned())
    }

    async fn put_approval(&self, record: &ApprovalRecord) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        t.require_incident(record.incident_id, "storing an approval")?;
        if t.approvals.contains_key(&record.id) {
            return Err(StoreError::Unexpected(format!(
                "storing approval {}: the id is already taken",
                record.id
            )));
        }
        t.approvals.insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<ApprovalRecord>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.approvals.get(id).cloned())
    }

    async fn decide_approval(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRecord, DecideError> {
        let mut t = lock(&self.tables);
        t.check()?;
        let record = t.approvals.get_mut(id).ok_or(DecideError::NotFound)?;
        if let Some(first) = &record.decision {
            return Err(DecideError::AlreadyDecided(Box::new(first.clone())));
        }
        if record.expired || decision.at > record.deadline {
            return Err(DecideError::Expired);
        }
        record.decision = Some(decision.clone());
        Ok(record.clone())
    }

    async fn expire_approval(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        match t.approvals.get_mut(id) {
            Some(record) if record.decision.is_none() => {
                record.expired = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn put_postmortem(&self, pm: &PostMortem) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        t.check()?;
        t.require_incident(pm.incident_id, "storing a post-mortem")?;
        t.postmortems.insert(pm.incident_id, pm.clone());
        Ok(())
    }

    async fn get_postmortem(&self, id: IncidentId) -> Result<Option<PostMortem>, StoreError> {
        let t = lock(&self.tables);
        t.check()?;
        Ok(t.postmortems.get(&id).cloned())
    }
}

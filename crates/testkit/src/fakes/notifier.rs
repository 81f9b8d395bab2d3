//! A notifier that records every call and can be told to fail.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use iras_core::ports::{Notifier, NotifyError};
use iras_core::{ApprovalId, Decision, Incident, IncidentId, PostMortem};

use super::lock;

/// One call made to a [`RecordingNotifier`].
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// `approval_requested`.
    ApprovalRequested {
        /// The incident.
        incident_id: IncidentId,
        /// The approval asked for.
        approval_id: ApprovalId,
        /// Its deadline.
        deadline: DateTime<Utc>,
    },
    /// `approval_closed`.
    ApprovalClosed {
        /// The incident.
        incident_id: IncidentId,
        /// The approval closed.
        approval_id: ApprovalId,
        /// The decision, or `None` for an expiry.
        decision: Option<Decision>,
    },
    /// `progress`.
    Progress {
        /// The incident.
        incident_id: IncidentId,
        /// The line posted.
        text: String,
    },
    /// `postmortem`.
    Postmortem {
        /// The incident.
        incident_id: IncidentId,
        /// The post-mortem's title.
        title: String,
    },
}

impl Notification {
    /// The incident the call was about.
    pub fn incident_id(&self) -> IncidentId {
        match self {
            Self::ApprovalRequested { incident_id, .. }
            | Self::ApprovalClosed { incident_id, .. }
            | Self::Progress { incident_id, .. }
            | Self::Postmortem { incident_id, .. } => *incident_id,
        }
    }
}

/// A [`Notifier`] that records every call, failed ones included, and fails while told to.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    calls: Mutex<Vec<Notification>>,
    failure: Mutex<Option<String>>,
}

impl RecordingNotifier {
    /// A notifier that succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// A notifier that fails every call with `reason`.
    pub fn failing(reason: impl Into<String>) -> Self {
        let n = Self::default();
        n.fail_with(reason);
        n
    }

    /// From now on every call fails with `reason` (and is still recorded).
    pub fn fail_with(&self, reason: impl Into<String>) {
        *lock(&self.failure) = Some(reason.into());
    }

    /// From now on calls succeed.
    pub fn recover(&self) {
        *lock(&self.failure) = None;
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Notification> {
        lock(&self.calls).clone()
    }

    /// The texts of the `progress` calls so far.
    pub fn progress_texts(&self) -> Vec<String> {
        lock(&self.calls)
            .iter()
            .filter_map(|c| match c {
                Notification::Progress { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn record(&self, call: Notification) -> Result<(), NotifyError> {
        lock(&self.calls).push(call);
        match lock(&self.failure).clone() {
            Some(reason) => Err(NotifyError(reason)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn approval_requested(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        deadline: DateTime<Utc>,
    ) -> Result<(), NotifyError> {
        self.record(Notification::ApprovalRequested {
            incident_id: incident.id,
            approval_id: approval.clone(),
            deadline,
        })
    }

    async fn approval_closed(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        decision: Option<&Decision>,
    ) -> Result<(), NotifyError> {
        self.record(Notification::ApprovalClosed {
            incident_id: incident.id,
            approval_id: approval.clone(),
            decision: decision.cloned(),
        })
    }

    async fn progress(&self, incident: &Incident, text: &str) -> Result<(), NotifyError> {
        self.record(Notification::Progress {
            incident_id: incident.id,
            text: text.to_owned(),
        })
    }

    async fn postmortem(&self, incident: &Incident, pm: &PostMortem) -> Result<(), NotifyError> {
        self.record(Notification::Postmortem {
            incident_id: incident.id,
            title: pm.title.clone(),
        })
    }
}

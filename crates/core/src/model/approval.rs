//! Human decisions on plans and the stored approval request that waits for one.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{ApprovalId, IncidentId, TaskToken};

/// Approved or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Apply the plan.
    Approved,
    /// Do not apply; escalate to a human.
    Rejected,
}

impl Verdict {
    /// `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionChannel {
    /// The REST API.
    Rest,
    /// A Slack button.
    Slack,
    /// The auto-apply policy.
    Policy,
}

/// A decision on a plan: who, when, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// Approved or rejected.
    pub verdict: Verdict,
    /// Who decided (an approver name, a Slack user id, or `policy`).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Their comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// How the decision arrived.
    pub via: DecisionChannel,
}

/// A pending or decided approval request. Holds the task token, which never leaves the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The approval id carried by buttons and REST calls.
    pub id: ApprovalId,
    /// The incident.
    pub incident_id: IncidentId,
    /// The token that resumes the paused workflow.
    pub task_token: TaskToken,
    /// When approval was requested.
    pub requested_at: DateTime<Utc>,
    /// When the state machine gives up waiting.
    pub deadline: DateTime<Utc>,
    /// The first decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Set when the deadline fired before any decision.
    #[serde(default)]
    pub expired: bool,
}

/// What the API shows of an approval: everything but the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalView {
    /// The approval id.
    pub id: ApprovalId,
    /// When approval was requested.
    pub requested_at: DateTime<Utc>,
    /// When waiting ends.
    pub deadline: DateTime<Utc>,
    /// The decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Whether the deadline passed without a decision.
    pub expired: bool,
}

impl From<&ApprovalRecord> for ApprovalView {
    fn from(r: &ApprovalRecord) -> Self {
        Self {
            id: r.id.clone(),
            requested_at: r.requested_at,
            deadline: r.deadline,
            decision: r.decision.clone(),
            expired: r.expired,
        }
    }
}

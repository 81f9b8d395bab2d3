//! The result of triage: how bad, who is affected, and why we think so.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;
use crate::model::{Confidence, Severity};

/// What triage concluded about an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TriageResult {
    /// The assessed severity.
    pub severity: Severity,
    /// Services affected, primary first.
    pub affected_services: Vec<ServiceName>,
    /// A rough count of users affected, when it can be estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_users_affected: Option<u64>,
    /// How sure triage is of the severity.
    pub confidence: Confidence,
    /// One or two sentences a human can check.
    pub reasoning: String,
}

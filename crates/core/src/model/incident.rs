//! The incident record: one per alert fingerprint episode, updated by each workflow step.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{ApprovalId, IncidentId, ServiceName, TraceId};
use crate::model::{
    Alert, AlertSource, IncidentStatus, RemediationPlan, RootCauseHypothesis, Severity,
    TriageResult,
};

/// The key under which repeats of one alert are deduplicated: source plus fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    /// The key of an alert.
    pub fn of(alert: &Alert) -> Self {
        Self(format!("{}#{}", alert.source, alert.fingerprint))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key read back from storage.
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

/// The result of one applied step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepReport {
    /// Index of the step in the plan.
    pub index: usize,
    /// The command that ran.
    pub command: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What the executor reported.
    pub detail: String,
    /// Whether it was later rolled back.
    #[serde(default)]
    pub rolled_back: bool,
}

/// Why an incident was escalated to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The root cause stayed below the confidence gate on every attempt.
    LowConfidence,
    /// A human rejected the plan.
    Rejected,
    /// Nobody decided before the deadline.
    ApprovalTimeout,
    /// Applying the plan failed and completed steps were rolled back.
    RemediationFailed,
    /// A workflow step failed.
    StepFailed,
}

impl EscalationReason {
    /// A short phrase for timelines and messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::LowConfidence => "root cause below the confidence gate",
            Self::Rejected => "plan rejected",
            Self::ApprovalTimeout => "no decision before the approval deadline",
            Self::RemediationFailed => "remediation failed and was rolled back",
            Self::StepFailed => "a workflow step failed",
        }
    }
}

/// How the incident ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The plan was applied.
    Resolved {
        /// Each applied step.
        steps: Vec<StepReport>,
    },
    /// A human took over.
    Escalated {
        /// Why.
        reason: EscalationReason,
        /// Detail (the error, who rejected…).
        detail: String,
        /// Whether a page went out.
        paged: bool,
        /// Steps that ran before the failure, if any.
        #[serde(default)]
        steps: Vec<StepReport>,
    },
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// The trace id of the request that created it.
    pub trace_id: TraceId,
    /// Where it is in its lifecycle.
    pub status: IncidentStatus,
    /// The alert's title.
    pub title: String,
    /// The alert's source.
    pub source: AlertSource,
    /// The deduplication key that repeats of its alert share.
    pub dedup_key: DedupKey,
    /// The first alert.
    pub alert: Alert,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Severity, once triaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Affected services (from the alert, then from triage).
    pub services: Vec<ServiceName>,
    /// The triage result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<TriageResult>,
    /// Root-cause attempts completed.
    pub attempts: u32,
    /// The latest hypothesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCauseHypothesis>,
    /// The remediation plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<RemediationPlan>,
    /// The pending or decided approval request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<ApprovalId>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Incident {
    /// A new incident for the first alert of a fingerprint.
    pub fn open(id: IncidentId, trace_id: TraceId, alert: Alert, now: DateTime<Utc>) -> Self {
        Self {
            id,
            trace_id,
            status: IncidentStatus::Triaging,
            title: alert.title.clone(),
            source: alert.source,
            dedup_key: DedupKey::of(&alert),
            services: alert.services.clone(),
            alert,
            created_at: now,
            updated_at: now,
            severity: None,
            triage: None,
            attempts: 0,
            root_cause: None,
            plan: None,
            approval_id: None,
            outcome: None,
        }
    }
}

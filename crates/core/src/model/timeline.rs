//! Timeline events: the record of what happened, from which post-mortem durations are computed.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The first alert arrived and the incident was created.
    Ingested,
    /// The same alert fired again and was attached.
    AlertRepeated,
    /// The source reported the alert resolved.
    AlertResolved,
    /// Severity and scope were assessed.
    Triaged,
    /// Evidence was gathered.
    ContextGathered,
    /// A root cause was proposed.
    RootCauseProposed,
    /// A remediation plan was proposed.
    PlanProposed,
    /// A human was asked to approve.
    ApprovalRequested,
    /// The plan was approved.
    Approved,
    /// The plan was rejected.
    Rejected,
    /// No decision before the deadline.
    ApprovalTimedOut,
    /// A plan step ran.
    StepApplied,
    /// A plan step failed.
    StepFailed,
    /// A completed step was undone.
    StepRolledBack,
    /// The incident is resolved.
    Resolved,
    /// The incident was handed to a human.
    Escalated,
    /// A page was sent.
    Paged,
    /// The post-mortem was written.
    PostmortemWritten,
    /// Something failed that did not stop the workflow.
    Warning,
    /// A model answered a call (tokens and estimated cost in the data).
    ModelCall,
}

impl EventKind {
    /// A short symbol for terminal timelines.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ingested => "▶",
            Self::AlertRepeated | Self::AlertResolved => "↻",
            Self::Triaged => "⚑",
            Self::ContextGathered => "🔎",
            Self::RootCauseProposed => "🧠",
            Self::PlanProposed => "📋",
            Self::ApprovalRequested => "⏸",
            Self::Approved => "✔",
            Self::Rejected => "✘",
            Self::ApprovalTimedOut => "⌛",
            Self::StepApplied => "⚙",
            Self::StepFailed => "✖",
            Self::StepRolledBack => "↩",
            Self::Resolved => "✅",
            Self::Escalated | Self::Paged => "📟",
            Self::PostmortemWritten => "📝",
            Self::Warning => "⚠",
            Self::ModelCall => "🤖",
        }
    }
}

/// One event on an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What kind of thing.
    pub kind: EventKind,
    /// The workflow step that recorded it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// A human-readable line.
    pub message: String,
    /// Structured detail.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl TimelineEvent {
    /// An event with no structured detail.
    pub fn new(at: DateTime<Utc>, kind: EventKind, message: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            step: None,
            message: message.into(),
            data: serde_json::Value::Null,
        }
    }

    /// Names the step that recorded it.
    pub fn in_step(mut self, step: &str) -> Self {
        self.step = Some(step.to_owned());
        self
    }

    /// Attaches structured detail.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

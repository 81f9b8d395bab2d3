//! Severity P0 (worst) to P3, and the status lifecycle of an incident.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad an incident is. `P0` is the worst; ordering follows urgency (`P0 < P1`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Severity {
    /// A critical or revenue path is down for most users.
    P0,
    /// Major degradation of an important path.
    P1,
    /// Partial or minor degradation.
    P2,
    /// Low impact; can wait for working hours.
    P3,
}

impl Severity {
    /// All severities, worst first.
    pub const ALL: [Severity; 4] = [Self::P0, Self::P1, Self::P2, Self::P3];

    /// The name as written in alerts and the API (`"P1"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }

    /// Parses `P0`..`P3` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P0" => Some(Self::P0),
            "P1" => Some(Self::P1),
            "P2" => Some(Self::P2),
            "P3" => Some(Self::P3),
            _ => None,
        }
    }

    /// One step more urgent, saturating at P0.
    pub fn escalated(self) -> Self {
        match self {
            Self::P0 | Self::P1 => Self::P0,
            Self::P2 => Self::P1,
            Self::P3 => Self::P2,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an incident is in its lifecycle. `resolved` and `escalated` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Received; severity and scope being assessed.
    Triaging,
    /// Gathering evidence and analysing the root cause.
    Investigating,
    /// Building a remediation plan.
    Planning,
    /// Waiting for a human decision on the plan.
    AwaitingApproval,
    /// Applying the approved plan.
    Remediating,
    /// The plan was applied; the incident is closed.
    Resolved,
    /// Handed to a human on call; the incident is closed for IRAS.
    Escalated,
}

impl IncidentStatus {
    /// The snake_case name used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triaging => "triaging",
            Self::Investigating => "investigating",
            Self::Planning => "planning",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Remediating => "remediating",
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
        }
    }

    /// Whether IRAS is still working on the incident (repeats of its alert attach to it).
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Escalated)
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A probability-like score in `[0, 1]`. The constructor is the only way in, so an out-of-range
/// value from a model is refused at the boundary instead of skewing a gate.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Confidence(#[schemars(range(min = 0.0, max = 1.0))] f64);

impl Confidence {
    /// No confidence at all.
    pub const ZERO: Confidence = Confidence(0.0);

    /// Accepts a finite value in `[0, 1]`.
    pub fn new(v: f64) -> Result<Self, String> {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!("confidence must be a number in [0, 1], got {v}"))
        }
    }

    /// Clamps into `[0, 1]`; for scores computed by our own code (NaN becomes 0).
    pub fn clamped(v: f64) -> Self {
        if v.is_nan() {
            Self(0.0)
        } else {
            Self(v.clamp(0.0, 1.0))
        }
    }

    /// The value.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The lower of two scores.
    pub fn min(self, other: Self) -> Self {
        if other.0 < self.0 {
            other
        } else {
            self
        }
    }
}

impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Self::new(v).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

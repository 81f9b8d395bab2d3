//! Root-cause hypotheses: what an analyst claims, and the confidence our own code computes.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;
use crate::model::Confidence;

/// The fixed set of root-cause categories. Plans are chosen per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RootCauseCategory {
    /// A code or image deployment.
    Deployment,
    /// A configuration value or feature flag change.
    ConfigChange,
    /// Memory, CPU, disk, connection pools, file descriptors running out.
    ResourceExhaustion,
    /// A service this one depends on is failing.
    DependencyFailure,
    /// More traffic than capacity.
    TrafficSurge,
    /// Hosts, nodes, zones, networks, volumes.
    Infrastructure,
    /// An expired or invalid TLS certificate.
    CertificateExpiry,
    /// Bad data: a malformed batch, a schema mismatch, a corrupted record.
    DataIssue,
    /// The evidence does not support any category.
    Unknown,
}

impl RootCauseCategory {
    /// Every category.
    pub const ALL: [RootCauseCategory; 9] = [
        Self::Deployment,
        Self::ConfigChange,
        Self::ResourceExhaustion,
        Self::DependencyFailure,
        Self::TrafficSurge,
        Self::Infrastructure,
        Self::CertificateExpiry,
        Self::DataIssue,
        Self::Unknown,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "deployment",
            Self::ConfigChange => "config_change",
            Self::ResourceExhaustion => "resource_exhaustion",
            Self::DependencyFailure => "dependency_failure",
            Self::TrafficSurge => "traffic_surge",
            Self::Infrastructure => "infrastructure",
            Self::CertificateExpiry => "certificate_expiry",
            Self::DataIssue => "data_issue",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

impl fmt::Display for RootCauseCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an analyst (heuristic or model) claims. Nothing here is trusted until grounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RootCauseFinding {
    /// The category.
    pub category: RootCauseCategory,
    /// The primary cause in one sentence.
    pub primary_cause: String,
    /// Other factors that made it worse.
    #[serde(default)]
    pub contributing_factors: Vec<String>,
    /// Quotes copied verbatim from the gathered context that support the claim.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The service at fault (may differ from the alerting one, e.g. a dependency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect_service: Option<ServiceName>,
    /// The version blamed, for deployment causes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect_version: Option<String>,
    /// The analyst's own confidence.
    pub model_confidence: Confidence,
    /// Evidence that would confirm or refute the hypothesis and was not found.
    #[serde(default)]
    pub missing_evidence: Vec<String>,
    /// Services whose evidence should be gathered on the next attempt.
    #[serde(default)]
    pub missing_services: Vec<ServiceName>,
}

/// A finding with the confidence computed by code from how well its evidence is grounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RootCauseHypothesis {
    /// The analyst's claim.
    #[serde(flatten)]
    pub finding: RootCauseFinding,
    /// The lower of the model's confidence and the evidence score; this is what the gate reads.
    pub computed_confidence: Confidence,
    /// Quotes that were not found in the gathered context.
    #[serde(default)]
    pub ungrounded_evidence: Vec<String>,
    /// Which analyst produced it (`heuristic`, or a model name).
    pub analyst: String,
    /// The analysis attempt (1-based).
    pub attempt: u32,
}

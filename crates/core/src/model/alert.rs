//! An alert as IRAS understands it, whatever monitoring system sent it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;

/// The monitoring system a webhook came from; also the `{source}` segment of `POST /webhook/{source}`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertSource {
    /// The generic JSON shape (`title`, `service`, `severity`, free fields).
    Generic,
    /// Prometheus Alertmanager, webhook version 4.
    Alertmanager,
    /// PagerDuty Webhooks V3.
    Pagerduty,
    /// Datadog webhook integration, default or custom template.
    Datadog,
    /// Grafana unified alerting webhook contact point.
    Grafana,
    /// Amazon CloudWatch alarms through EventBridge or SNS.
    Cloudwatch,
}

impl AlertSource {
    /// Every source, in the order the documentation lists them.
    pub const ALL: [AlertSource; 6] = [
        Self::Alertmanager,
        Self::Pagerduty,
        Self::Datadog,
        Self::Grafana,
        Self::Cloudwatch,
        Self::Generic,
    ];

    /// The lowercase name used in URLs and storage keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Alertmanager => "alertmanager",
            Self::Pagerduty => "pagerduty",
            Self::Datadog => "datadog",
            Self::Grafana => "grafana",
            Self::Cloudwatch => "cloudwatch",
        }
    }

    /// Parses a source name; `alert` is the seed-compatible alias of `generic`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "generic" | "alert" => Self::Generic,
            "alertmanager" | "prometheus" => Self::Alertmanager,
            "pagerduty" => Self::Pagerduty,
            "datadog" => Self::Datadog,
            "grafana" => Self::Grafana,
            "cloudwatch" => Self::Cloudwatch,
            _ => return None,
        })
    }
}

impl fmt::Display for AlertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the condition is still happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds; a new fingerprint opens an incident.
    Firing,
    /// The condition cleared; recorded on the open incident of the same fingerprint.
    Resolved,
}

/// A stable key for "the same alert": repeats carry the same fingerprint and attach to one incident.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Builds a fingerprint from parts that identify the alert at its source. The parts are hashed
    /// so that arbitrary (and untrusted) text becomes a bounded, key-safe string.
    pub fn from_parts(parts: &[&str]) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for p in parts {
            h.update(p.as_bytes());
            // A separator that cannot occur in the parts keeps ("ab","c") apart from ("a","bc").
            h.update([0u8]);
        }
        Self(hex::encode(&h.finalize()[..16]))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One alert, normalised from any source. Text fields are untrusted input: they are shown and
/// quoted, never executed or used as instructions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// Where the alert came from.
    pub source: AlertSource,
    /// Identity for deduplication, stable across repeats of the same alert.
    pub fingerprint: Fingerprint,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// A one-line summary (alert name, monitor title, alarm name).
    pub title: String,
    /// Longer text when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The affected services named by the alert, most specific first; may be empty.
    #[serde(default)]
    pub services: Vec<ServiceName>,
    /// The severity as the source spelled it (`critical`, `P1`, `error`, `ALARM`…); triage maps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// When the condition started, as the source reports it.
    pub started_at: DateTime<Utc>,
    /// When it ended, for resolved alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Labels and tags as key/value text.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations, custom fields and other free-form values the source sent.
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
    /// A link back to the alert at its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Alert {
    /// The first named service, if any.
    pub fn primary_service(&self) -> Option<&ServiceName> {
        self.services.first()
    }
}

//! Scenarios: a simulated environment (an alert plus the logs, metrics and deployments the world
//! holds) used by demos, `iras eval` and tests. The file format is public and kept stable:
//! `tests/fixtures/scenarios/<name>/scenario.json`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;
use crate::model::{
    AlertSource, Deployment, LogLevel, LogLine, MetricSample, RootCauseCategory, Severity,
    TimeWindow,
};

/// A log line as scenario files spell it (level as free text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioLog {
    /// When.
    pub ts: DateTime<Utc>,
    /// Which service wrote it.
    pub service: ServiceName,
    /// Its level.
    pub level: String,
    /// Its text.
    pub message: String,
}

/// A metric as scenario files spell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioMetric {
    /// The service.
    pub service: ServiceName,
    /// The signal name.
    pub name: String,
    /// The value now.
    pub current: f64,
    /// The baseline.
    pub baseline: f64,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
}

/// What a scenario's world holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Log lines.
    #[serde(default)]
    pub logs: Vec<ScenarioLog>,
    /// Metrics with baselines.
    #[serde(default)]
    pub metrics: Vec<ScenarioMetric>,
    /// Deployments.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

/// What a correct analysis concludes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Expected severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Expected services, primary first.
    pub services: Vec<ServiceName>,
    /// Expected root-cause category.
    pub root_cause: RootCauseCategory,
    /// Expected first action kind.
    #[serde(default)]
    pub first_action: Option<String>,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// Which source sends the alert.
    pub source: AlertSource,
    /// The webhook body, exactly as the source sends it.
    pub alert: serde_json::Value,
    /// The simulated environment.
    pub world: World,
    /// The right answer.
    pub expect: Expectation,
    /// What really happened and what misleads.
    #[serde(default)]
    pub note: Option<String>,
}

impl Scenario {
    /// Parses a scenario file's text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Log lines of `service` in `window`, at most `limit`, oldest first.
    pub fn logs(&self, service: &ServiceName, window: TimeWindow, limit: usize) -> Vec<LogLine> {
        self.world
            .logs
            .iter()
            .filter(|l| &l.service == service && window.contains(l.ts))
            .take(limit)
            .map(|l| LogLine {
                ts: l.ts,
                service: l.service.clone(),
                level: LogLevel::parse_lenient(&l.level),
                message: l.message.clone(),
            })
            .collect()
    }

    /// Metrics of `service`. The world's metrics describe the incident window.
    pub fn metrics(&self, service: &ServiceName) -> Vec<MetricSample> {
        self.world
            .metrics
            .iter()
            .filter(|m| &m.service == service)
            .map(|m| MetricSample {
                service: m.service.clone(),
                name: m.name.clone(),
                current: m.current,
                baseline: m.baseline,
                unit: m.unit.clone(),
            })
            .collect()
    }

    /// Deployments of `service` in `window`.
    pub fn deployments(&self, service: &ServiceName, window: TimeWindow) -> Vec<Deployment> {
        self.world
            .deployments
            .iter()
            .filter(|d| &d.service == service && window.contains(d.at))
            .cloned()
            .collect()
    }

    /// Every service the world knows of, in first-seen order.
    pub fn services(&self) -> Vec<ServiceName> {
        let mut out: Vec<ServiceName> = Vec::new();
        let all = self
            .world
            .logs
            .iter()
            .map(|l| &l.service)
            .chain(self.world.metrics.iter().map(|m| &m.service))
            .chain(self.world.deployments.iter().map(|d| &d.service));
        for s in all {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }
}

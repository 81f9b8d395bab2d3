//! Demo mode: log, metric and deployment sources that read a scenario's simulated world through
//! the same ports as real integrations. Used only when a scenario is given explicitly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use iras_core::ports::{DeploySource, LogSource, MetricSource, SourceError};
use iras_core::scenario::Scenario;
use iras_core::{Deployment, LogLine, MetricSample, ServiceName, TimeWindow};

/// Loads a scenario from its directory or its `scenario.json`.
pub fn load_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let file: PathBuf = if path.is_dir() {
        path.join("scenario.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("could not read scenario file {}", file.display()))?;
    Scenario::from_json(&text)
        .with_context(|| format!("{} is not a valid scenario", file.display()))
}

/// The world of one scenario, serving all three telemetry ports.
#[derive(Debug, Clone)]
pub struct SimulatedWorld {
    scenario: Arc<Scenario>,
}

impl SimulatedWorld {
    /// Serves `scenario`'s world.
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario: Arc::new(scenario),
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
}

#[async_trait]
impl LogSource for SimulatedWorld {
    async fn fetch_logs(
        &self,
        service: &ServiceName,
        window: TimeWindow,
        limit: usize,
    ) -> Result<Vec<LogLine>, SourceError> {
        Ok(self.scenario.logs(service, window, limit))
    }
}

#[async_trait]
impl MetricSource for SimulatedWorld {
    async fn fetch_metrics(
        &self,
        service: &ServiceName,
        _window: TimeWindow,
    ) -> Result<Vec<MetricSample>, SourceError> {
        Ok(self.scenario.metrics(service))
    }
}

#[async_trait]
impl DeploySource for SimulatedWorld {
    async fn fetch_deployments(
        &self,
        service: &ServiceName,
        window: TimeWindow,
    ) -> Result<Vec<Deployment>, SourceError> {
        Ok(self.scenario.deployments(service, window))
    }
}

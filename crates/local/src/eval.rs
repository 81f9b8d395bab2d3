//! `iras eval DIR`: every scenario through the full pipeline with automatic approval, scored
//! against its expectation. The last line is exactly `root cause: N/M correct`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use iras_adapters::config::Config;
use iras_adapters::simulated::load_scenario;

use crate::asl::EngineOptions;
use crate::drive::{default_scenarios_dir, drive, Answer};
use crate::runtime::Runtime;

/// Arguments of `iras eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A directory of scenarios (`<name>/scenario.json`); defaults to the repository's.
    dir: Option<PathBuf>,
}

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Scenario name.
    pub name: String,
    /// Expected / got severity.
    pub severity: (String, String),
    /// Expected / got services.
    pub services: (String, String),
    /// Expected / got root-cause category.
    pub root_cause: (String, String),
    /// Expected / got first action kind.
    pub first_action: (String, String),
}

impl Row {
    /// Whether the root cause matched.
    pub fn root_cause_correct(&self) -> bool {
        self.root_cause.0 == self.root_cause.1
    }
}

fn mark(pair: &(String, String)) -> String {
    if pair.0 == "-" || pair.0 == pair.1 {
        format!("✓ {}", pair.1)
    } else {
        format!("✗ {} (want {})", pair.1, pair.0)
    }
}

/// The first thing done about the incident: the plan's first step, or `manual` when IRAS handed
/// the incident to a human without a plan (escalation below the confidence gate).
fn first_action(inc: &iras_core::Incident) -> String {
    match (&inc.plan, &inc.outcome) {
        (Some(p), _) => p
            .steps
            .first()
            .map(|s| s.action.kind().to_string())
            .unwrap_or_else(|| "none".into()),
        (None, Some(iras_core::Outcome::Escalated { .. })) => "manual".into(),
        (None, _) => "none".into(),
    }
}

/// Evaluates every scenario under `dir`.
pub async fn evaluate(dir: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("could not read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("scenario.json")))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for path in paths {
        let scenario = load_scenario(&path)?;
        let tmp = tempfile::tempdir()?;
        let mut config = Config::from_env()?;
        config.data_dir = tmp.path().to_path_buf();
        config.lambda_endpoint = None;
        let rt = Runtime::open(&config, Some(scenario.clone()), EngineOptions::default())?;
        let id = drive(
            &rt,
            &scenario,
            Answer::Approve,
            "iras eval",
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .with_context(|| format!("scenario {} did not run", scenario.name))?;
        let inc = rt
            .deps
            .store
            .get_incident(id)
            .await?
            .context("the incident vanished")?;
        let e = &scenario.expect;
        let join = |v: &[iras_core::ServiceName]| {
            v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
        };
        rows.push(Row {
            name: scenario.name.clone(),
            severity: (
                e.severity
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                inc.severity
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
            ),
            services: (
                join(&e.services),
                join(&inc.services[..inc.services.len().min(e.services.len().max(1))]),
            ),
            root_cause: (
                e.root_cause.to_string(),
                inc.root_cause
                    .as_ref()
                    .map(|h| h.finding.category.to_string())
                    .unwrap_or_else(|| "none".into()),
            ),
            first_action: (
                e.first_action.clone().unwrap_or_else(|| "-".into()),
                first_action(&inc),
            ),
        });
    }
    Ok(rows)
}

/// Runs `iras eval`.
pub async fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(default_scenarios_dir);
    let rows = evaluate(&dir).await?;
    say!(
        "{:<34} {:<16} {:<40} {:<44} first action",
        "scenario",
        "severity",
        "services",
        "root cause"
    );
    for r in &rows {
        say!(
            "{:<34} {:<16} {:<40} {:<44} {}",
            r.name,
            mark(&r.severity),
            mark(&r.services),
            mark(&r.root_cause),
            mark(&r.first_action)
        );
    }
    let correct = rows.iter().filter(|r| r.root_cause_correct()).count();
    say!("root cause: {correct}/{} correct", rows.len());
    Ok(ExitCode::SUCCESS)
}

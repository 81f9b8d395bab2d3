//! Configuration from the environment, read once at start-up into a typed [`Config`], and the
//! [`Deps`] built from it. A malformed value fails start-up naming the variable.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use iras_core::analyst::HeuristicAnalyst;
use iras_core::policy::{AutoApplyPolicy, Policy};
use iras_core::ports::{Analyst as _, Deps, IncidentStore, SystemClock};
use iras_core::scenario::Scenario;
use iras_core::{Risk, Severity};

use crate::executor::DryRunExecutor;
use crate::simulated::SimulatedWorld;
use crate::unconfigured::{LogNotifier, NotConfigured};

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Everything IRAS reads from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the embedded store keeps its database (`IRAS_DATA_DIR`, default `.iras`).
    pub data_dir: PathBuf,
    /// Policies (`IRAS_RCA_THRESHOLD`, `IRAS_MAX_RCA_ATTEMPTS`, `IRAS_APPROVAL_TIMEOUT_P0_SECS`,
    /// `IRAS_APPROVAL_TIMEOUT_SECS`, `IRAS_AUTO_APPLY`, `IRAS_AUTO_APPLY_MAX_RISK`,
    /// `IRAS_CONTEXT_WINDOW_MINUTES`).
    pub policy: Policy,
    /// Demo mode: the scenario whose world the telemetry sources read (`IRAS_SIMULATE`).
    pub simulate: Option<PathBuf>,
    /// Send Task invocations through the Lambda Invoke API here (`IRAS_LAMBDA_ENDPOINT`).
    pub lambda_endpoint: Option<String>,
    /// The DynamoDB table; when set, Lambdas use DynamoDB instead of SQLite (`IRAS_TABLE_NAME`).
    pub table_name: Option<String>,
    /// The Step Functions state machine the webhook starts and callbacks resume
    /// (`IRAS_STATE_MACHINE_ARN`).
    pub state_machine_arn: Option<String>,
}

/// The variables [`Config::from_lookup`] reads, for documentation and `iras --help`.
pub const VARIABLES: [(&str, &str); 17] = [
    (
        "IRAS_DATA_DIR",
        "directory of the embedded SQLite store (default .iras)",
    ),
    (
        "IRAS_SIMULATE",
        "scenario directory or scenario.json: demo mode, telemetry from its world",
    ),
    (
        "IRAS_RCA_THRESHOLD",
        "root-cause confidence gate, 0..1, inclusive (default 0.7)",
    ),
    (
        "IRAS_MAX_RCA_ATTEMPTS",
        "analysis attempts before escalating, 1..10 (default 3)",
    ),
    (
        "IRAS_APPROVAL_TIMEOUT_P0_SECS",
        "seconds to wait for a decision on a P0 (default 900)",
    ),
    (
        "IRAS_APPROVAL_TIMEOUT_SECS",
        "seconds to wait for a decision on P1-P3 (default 7200)",
    ),
    (
        "IRAS_AUTO_APPLY",
        "true to apply low-risk reversible P2/P3 plans without a human (default false)",
    ),
    (
        "IRAS_CONTEXT_WINDOW_MINUTES",
        "evidence window before the alert on the first attempt (default 60)",
    ),
    (
        "IRAS_LAMBDA_ENDPOINT",
        "run steps through the Lambda Invoke API at this URL (cargo lambda watch)",
    ),
    (
        "IRAS_TABLE_NAME",
        "DynamoDB table of the AWS deployment (Lambdas use SQLite when unset)",
    ),
    (
        "IRAS_STATE_MACHINE_ARN",
        "Step Functions state machine the webhook starts and decisions resume",
    ),
    (
        "ANTHROPIC_API_KEY",
        "enables the LLM analyst (Claude); the heuristic analyst stays the fallback",
    ),
    (
        "ANTHROPIC_BASE_URL",
        "Messages API base URL (default https://api.anthropic.com)",
    ),
    (
        "IRAS_TRIAGE_MODEL",
        "model for triage (default claude-haiku-4-5)",
    ),
    (
        "IRAS_ANALYSIS_MODEL",
        "model for root cause, plan and post-mortem (default claude-sonnet-4-5)",
    ),
    (
        "IRAS_LLM_TIMEOUT_SECS",
        "timeout of one model call (default 60)",
    ),
    (
        "IRAS_LLM_BUDGET_SECS",
        "time budget of one analysis stage, retries included",
    ),
];

fn parse<T: std::str::FromStr>(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    match lookup(var) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| ConfigError {
            var,
            reason: format!(
                "expected {what}, got {:?}",
                v.chars().take(40).collect::<String>()
            ),
        }),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut policy = Policy::default();
        if let Some(t) = parse::<f64>(lookup, "IRAS_RCA_THRESHOLD", "a number from 0 to 1")? {
            if !(0.0..=1.0).contains(&t) {
                return Err(ConfigError {
                    var: "IRAS_RCA_THRESHOLD",
                    reason: format!("must be from 0 to 1, got {t}"),
                });
            }
            policy.rca_threshold = t;
        }
        if let Some(n) = parse::<u32>(lookup, "IRAS_MAX_RCA_ATTEMPTS", "a whole number")? {
            if !(1..=10).contains(&n) {
                return Err(ConfigError {
                    var: "IRAS_MAX_RCA_ATTEMPTS",
                    reason: format!("must be from 1 to 10, got {n}"),
                });
            }
            policy.max_rca_attempts = n;
        }
        let secs = |var: &'static str| -> Result<Option<Duration>, ConfigError> {
            match parse::<u64>(lookup, var, "a whole number of seconds")? {
                Some(0) => Err(ConfigError {
                    var,
                    reason: "must be at least 1 second".into(),
                }),
                Some(s) => Ok(Some(Duration::from_secs(s))),
                None => Ok(None),
            }
        };
        if let Some(d) = secs("IRAS_APPROVAL_TIMEOUT_P0_SECS")? {
            policy.approval_timeout_p0 = d;
        }
        if let Some(d) = secs("IRAS_APPROVAL_TIMEOUT_SECS")? {
            policy.approval_timeout_other = d;
        }
        if let Some(m) = parse::<u64>(
            lookup,
            "IRAS_CONTEXT_WINDOW_MINUTES",
            "a whole number of minutes",
        )? {
            if m == 0 || m > 7 * 24 * 60 {
                return Err(ConfigError {
                    var: "IRAS_CONTEXT_WINDOW_MINUTES",
                    reason: "must be from 1 to 10080".into(),
                });
            }
            policy.context_window = Duration::from_secs(m * 60);
        }
        if let Some(on) = parse::<bool>(lookup, "IRAS_AUTO_APPLY", "true or false")? {
            policy.auto_apply = AutoApplyPolicy {
                enabled: on,
                max_risk: Risk::Low,
                severities: vec![Severity::P2, Severity::P3],
            };
        }
        Ok(Self {
            data_dir: lookup("IRAS_DATA_DIR")
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".iras")),
            policy,
            simulate: lookup("IRAS_SIMULATE")
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from),
            lambda_endpoint: lookup("IRAS_LAMBDA_ENDPOINT").filter(|s| !s.trim().is_empty()),
            table_name: lookup("IRAS_TABLE_NAME").filter(|s| !s.trim().is_empty()),
            state_machine_arn: lookup("IRAS_STATE_MACHINE_ARN").filter(|s| !s.trim().is_empty()),
        })
    }

    /// The embedded store's database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("iras.db")
    }
}

/// Puts the LLM analyst in front when `ANTHROPIC_API_KEY` is set (through `lookup`); the
/// heuristic analyst stays the fallback for every call the model fails.
pub fn with_llm(mut deps: Deps, lookup: &dyn Fn(&str) -> Option<String>) -> Deps {
    if let Some(llm) = crate::llm::LlmAnalyst::from_lookup(lookup) {
        tracing::info!(analyst = %llm.name(), "LLM analyst enabled; the heuristic analyst is the fallback");
        deps.analyst = Arc::new(llm);
    }
    deps
}

/// Builds the ports: the given store, the heuristic analyst, and telemetry from the scenario in
/// demo mode or "not configured" otherwise (never fake data outside demo mode).
pub fn build_deps(
    store: Arc<dyn IncidentStore>,
    policy: Policy,
    scenario: Option<Scenario>,
) -> Deps {
    let heuristic = Arc::new(HeuristicAnalyst::default());
    let (logs, metrics, deploys): (
        Arc<dyn iras_core::ports::LogSource>,
        Arc<dyn iras_core::ports::MetricSource>,
        Arc<dyn iras_core::ports::DeploySource>,
    ) = match scenario {
        Some(s) => {
            let world = Arc::new(SimulatedWorld::new(s));
            (world.clone(), world.clone(), world)
        }
        None => (
            Arc::new(NotConfigured),
            Arc::new(NotConfigured),
            Arc::new(NotConfigured),
        ),
    };
    Deps {
        store,
        logs,
        metrics,
        deploys,
        analyst: heuristic.clone(),
        fallback_analyst: heuristic,
        notifier: Arc::new(LogNotifier),
        pager: Arc::new(NotConfigured),
        executor: Arc::new(DryRunExecutor),
        clock: Arc::new(SystemClock),
        policy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&move |k| m.get(k).cloned())
    }

    #[test]
    fn every_variable_is_documented_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for (var, _) in VARIABLES {
            assert!(
                readme.contains(&format!("`{var}`")),
                "{var} is missing from README.md"
            );
        }
    }

    #[test]
    fn an_api_key_puts_the_llm_analyst_in_front_of_the_heuristic_one() {
        let store: Arc<dyn IncidentStore> = Arc::new(crate::SqliteStore::open_in_memory().unwrap());
        let plain = with_llm(build_deps(store.clone(), Policy::default(), None), &|_| {
            None
        });
        assert_eq!(plain.analyst.name(), "heuristic");
        let keyed = with_llm(build_deps(store, Policy::default(), None), &|k| {
            (k == "ANTHROPIC_API_KEY").then(|| "sk-test".to_string())
        });
        assert!(
            keyed.analyst.name().starts_with("anthropic:"),
            "{}",
            keyed.analyst.name()
        );
        assert_eq!(keyed.fallback_analyst.name(), "heuristic");
        assert!(
            !format!("{keyed:?}").contains("sk-test"),
            "the key never prints"
        );
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.policy.rca_threshold, 0.7);
        assert_eq!(c.policy.max_rca_attempts, 3);
        assert!(!c.policy.auto_apply.enabled);
        assert_eq!(c.database_path(), PathBuf::from(".iras/iras.db"));
    }

    #[test]
    fn a_malformed_value_names_its_variable() {
        let e = cfg(&[("IRAS_RCA_THRESHOLD", "high")]).unwrap_err();
        assert_eq!(e.var, "IRAS_RCA_THRESHOLD");
        let e = cfg(&[("IRAS_RCA_THRESHOLD", "1.5")]).unwrap_err();
        assert_eq!(e.var, "IRAS_RCA_THRESHOLD");
        let e = cfg(&[("IRAS_APPROVAL_TIMEOUT_SECS", "0")]).unwrap_err();
        assert_eq!(e.var, "IRAS_APPROVAL_TIMEOUT_SECS");
    }

    #[test]
    fn timeouts_and_auto_apply_are_read() {
        let c = cfg(&[
            ("IRAS_APPROVAL_TIMEOUT_SECS", "2"),
            ("IRAS_AUTO_APPLY", "true"),
        ])
        .unwrap();
        assert_eq!(
            c.policy.approval_timeout(Severity::P2),
            Duration::from_secs(2)
        );
        assert!(c.policy.auto_apply.enabled);
    }
}

//! Start-up shared by every Lambda function: JSON tracing, configuration and ports built once per
//! cold start, and step errors mapped to the `error_type` names the state machine matches.

use std::collections::HashMap;
use std::sync::Arc;

use iras_adapters::config::{build_deps, with_llm, Config};
use iras_adapters::secrets;
use iras_adapters::sfn::StepFunctions;
use iras_adapters::simulated::load_scenario;
use iras_adapters::{DynamoStore, SqliteStore};
use iras_core::ports::{Deps, IncidentStore, TaskCallback, WorkflowStarter};
use iras_core::steps::{run_named, StepError};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use tracing::Instrument as _;

pub use lambda_runtime::Error;

/// A step error as the Lambda runtime reports it. Its `error_type` is `Iras.Transient`,
/// `Iras.InvalidInput` or `Iras.Unexpected`, never a Rust type name, so Retry and Catch can match it.
#[derive(Debug)]
pub struct StepFailure(pub StepError);

impl From<StepFailure> for Diagnostic {
    fn from(f: StepFailure) -> Self {
        Diagnostic {
            error_type: f.0.error_type().to_owned(),
            error_message: f.0.to_string(),
        }
    }
}

/// JSON logs on stdout, as CloudWatch Logs ingests them; level from `RUST_LOG` (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// Everything a function needs, built once per cold start.
struct ColdStart {
    config: Config,
    deps: Deps,
    aws: Option<aws_config::SdkConfig>,
}

/// Builds the ports from the environment: DynamoDB when `IRAS_TABLE_NAME` is set (the AWS
/// deployment), else the SQLite store in `IRAS_DATA_DIR` (local runs under `cargo lambda watch`).
async fn cold_start() -> Result<ColdStart, Error> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let arns = secrets::secret_arns(&env);
    let table_or_sfn = ["IRAS_TABLE_NAME", "IRAS_STATE_MACHINE_ARN"]
        .iter()
        .any(|k| env.get(*k).is_some_and(|v| !v.trim().is_empty()));
    // One SDK configuration (region, credentials, AWS_ENDPOINT_URL) shared by every client.
    let aws = if table_or_sfn || !arns.is_empty() {
        Some(aws_config::load_from_env().await)
    } else {
        None
    };
    // Secrets given as ARNs are fetched once here and read like direct values from then on.
    let resolved = match &aws {
        Some(aws) if !arns.is_empty() => {
            secrets::resolve(&aws_sdk_secretsmanager::Client::new(aws), &env)
                .await
                .map_err(|e| format!("configuration: {e}"))?
        }
        _ => secrets::Secrets::default(),
    };
    let lookup = |k: &str| {
        resolved
            .get(k)
            .map(str::to_owned)
            .or_else(|| env.get(k).cloned())
    };
    let config = Config::from_lookup(&lookup).map_err(|e| format!("configuration: {e}"))?;
    let store: Arc<dyn IncidentStore> = match (&config.table_name, &aws) {
        (Some(table), Some(aws)) => Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            table.clone(),
        )),
        _ => {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
            Arc::new(
                SqliteStore::open(&config.database_path())
                    .map_err(|e| format!("cannot open the store: {e:#}"))?,
            )
        }
    };
    let scenario = match &config.simulate {
        Some(p) => Some(load_scenario(p).map_err(|e| format!("{e:#}"))?),
        None => None,
    };
    let deps = with_llm(build_deps(store, config.policy.clone(), scenario), &lookup);
    Ok(ColdStart { config, deps, aws })
}

/// Runs one workflow step as a Lambda function.
pub async fn run_step(step: &'static str) -> Result<(), Error> {
    init_tracing();
    let deps = Arc::new(cold_start().await?.deps);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let deps = deps.clone();
        async move {
            let incident_id = event
                .payload
                .get("incident_id")
                .and_then(|v| v.as_str())
                .unwrap_or("-")
                .to_owned();
            let trace_id = event
                .payload
                .get("trace_id")
                .and_then(|v| v.as_str())
                .unwrap_or("-")
                .to_owned();
            let span =
                tracing::info_span!("step", step, incident_id = %incident_id, trace_id = %trace_id);
            let result = run_named(&deps, step, event.payload)
                .instrument(span.clone())
                .await;
            let _enter = span.enter();
            if let Err(e) = &result {
                tracing::error!(error_type = e.error_type(), error = %e, "step failed");
            }
            result.map_err(StepFailure)
        }
    }))
    .await
}

/// The workflow service of an HTTP Lambda without `IRAS_STATE_MACHINE_ARN`: starting and resuming
/// executions say so clearly instead of pretending to work.
#[derive(Debug, Clone, Default)]
struct NoStateMachine;

const NO_SFN: &str =
    "no Step Functions state machine is configured for this function (set IRAS_STATE_MACHINE_ARN)";

#[async_trait::async_trait]
impl iras_core::ports::WorkflowStarter for NoStateMachine {
    async fn start(
        &self,
        _: &iras_core::ports::IncidentRef,
    ) -> Result<(), iras_core::ports::StartError> {
        Err(iras_core::ports::StartError::Unexpected(NO_SFN.into()))
    }
}

#[async_trait::async_trait]
impl iras_core::ports::TaskCallback for NoStateMachine {
    async fn send_success(
        &self,
        _: &iras_core::TaskToken,
        _: serde_json::Value,
    ) -> Result<(), iras_core::ports::CallbackError> {
        Err(iras_core::ports::CallbackError::Unexpected(NO_SFN.into()))
    }
    async fn send_failure(
        &self,
        _: &iras_core::TaskToken,
        _: &str,
        _: &str,
    ) -> Result<(), iras_core::ports::CallbackError> {
        Err(iras_core::ports::CallbackError::Unexpected(NO_SFN.into()))
    }
}

/// Serves the HTTP API (the same axum Router as `iras serve`) as a Lambda function.
pub async fn run_http() -> Result<(), Error> {
    init_tracing();
    let ColdStart { config, deps, aws } = cold_start().await?;
    let (starter, callback): (Arc<dyn WorkflowStarter>, Arc<dyn TaskCallback>) =
        match (&config.state_machine_arn, &aws) {
            (Some(arn), Some(aws)) => {
                let sfn = Arc::new(StepFunctions::new(
                    aws_sdk_sfn::Client::new(aws),
                    arn.clone(),
                ));
                (sfn.clone(), sfn)
            }
            _ => (Arc::new(NoStateMachine), Arc::new(NoStateMachine)),
        };
    let state = iras_api::AppState {
        deps,
        starter,
        callback,
    };
    lambda_http::run(iras_api::router(state)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_errors_reach_the_runtime_under_the_names_the_state_machine_matches() {
        let d: Diagnostic = StepFailure(StepError::Transient("store busy".into())).into();
        assert_eq!(d.error_type, "Iras.Transient");
        assert_eq!(d.error_message, "store busy");
        let d: Diagnostic = StepFailure(StepError::InvalidInput("no such incident".into())).into();
        assert_eq!(d.error_type, "Iras.InvalidInput");
        let d: Diagnostic = StepFailure(StepError::Unexpected("boom".into())).into();
        assert_eq!(d.error_type, "Iras.Unexpected");
    }

    #[test]
    fn the_state_machine_retries_and_catches_the_names_steps_report() {
        let asl: serde_json::Value =
            serde_json::from_str(include_str!("../../../statemachine.asl.json")).unwrap();
        let triage = &asl["States"]["Triage"];
        let retried: Vec<&str> = triage["Retry"][0]["ErrorEquals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(retried.contains(&"Iras.Transient"));
        assert_eq!(triage["Catch"][0]["ErrorEquals"][0], "States.ALL");
    }
}

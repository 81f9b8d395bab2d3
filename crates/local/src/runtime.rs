//! The local runtime: the repository's `statemachine.asl.json` run by the embedded ASL engine,
//! step code in-process (or through the Lambda Invoke API), SQLite for incidents and executions,
//! and the same axum Router the Lambdas serve.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use iras_adapters::config::{build_deps, with_llm, Config};
use iras_adapters::SqliteStore;
use iras_api::AppState;
use iras_core::ports::{
    CallbackError, Deps, IncidentRef, StartError, TaskCallback, WorkflowStarter,
};
use iras_core::scenario::Scenario;
use iras_core::steps::{run_named, STEP_NAMES};
use iras_core::TaskToken;
use serde_json::{json, Value};

use crate::asl::{
    self, Definition, Engine, EngineOptions, ExecutionStore, LambdaInvokeClient,
    SqliteExecutionStore, StartOutcome, TaskFailure, TaskInvoker,
};

/// The workflow definition, compiled in from the repository root so the binary runs the very file
/// that is deployed to Step Functions, from any working directory.
pub const STATE_MACHINE: &str = include_str!("../../../statemachine.asl.json");

/// The optimized Lambda integration the approval state uses.
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// `${TriageFunctionArn}`-style substitutions, like SAM's `DefinitionSubstitutions`, pointing at
/// local function names (which are also the `cargo lambda` binary names).
pub fn substitutions() -> HashMap<String, String> {
    STEP_NAMES
        .iter()
        .map(|step| {
            let pascal: String = step
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            (
                format!("{pascal}FunctionArn"),
                format!("arn:aws:lambda:local:000000000000:function:{step}"),
            )
        })
        .collect()
}

/// Loads the compiled-in definition with local substitutions.
pub fn definition() -> anyhow::Result<Definition> {
    Definition::from_json(STATE_MACHINE, &substitutions())
        .map_err(|e| anyhow::anyhow!("statemachine.asl.json does not load: {e}"))
}

/// The function name of a Lambda ARN (`…:function:triage[:qualifier]` → `triage`), or the text
/// itself when it is a bare name.
fn function_name(arn: &str) -> &str {
    match arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => arn,
    }
}

/// Runs Task resources as in-process calls to the step code.
#[derive(Clone)]
pub struct InProcessInvoker {
    deps: Deps,
}

impl std::fmt::Debug for InProcessInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessInvoker").finish_non_exhaustive()
    }
}

impl InProcessInvoker {
    /// Invokes steps with these ports.
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    async fn call(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let step = function_name(function);
        run_named(&self.deps, step, payload)
            .await
            .map_err(|e| TaskFailure {
                error: e.error_type().to_owned(),
                cause: e.to_string(),
            })
    }
}

#[async_trait]
impl TaskInvoker for InProcessInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        if let Some(rest) = resource.strip_prefix(LAMBDA_INVOKE) {
            let function = input
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
            let result = self.call(&function, payload).await?;
            // AWS wraps the optimized integration's result; with .waitForTaskToken it is ignored.
            return Ok(if rest.is_empty() {
                json!({"Payload": result, "StatusCode": 200})
            } else {
                result
            });
        }
        self.call(resource, input).await
    }
}

/// Starts and resumes executions of the local engine.
#[derive(Clone, Debug)]
pub struct LocalWorkflow {
    engine: Arc<Engine>,
}

impl LocalWorkflow {
    /// Wraps an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[async_trait]
impl WorkflowStarter for LocalWorkflow {
    async fn start(&self, incident: &IncidentRef) -> Result<(), StartError> {
        let input =
            serde_json::to_value(incident).map_err(|e| StartError::Unexpected(e.to_string()))?;
        match self
            .engine
            .start_execution(&incident.incident_id.to_string(), input)
            .await
        {
            Ok(StartOutcome::Started { .. }) | Ok(StartOutcome::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(StartError::Unavailable(e.to_string())),
        }
    }
}

#[async_trait]
impl TaskCallback for LocalWorkflow {
    async fn send_success(&self, token: &TaskToken, output: Value) -> Result<(), CallbackError> {
        self.engine
            .send_task_success(token.expose(), output)
            .await
            .map_err(map_callback)
    }

    async fn send_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.engine
            .send_task_failure(token.expose(), error, cause)
            .await
            .map_err(map_callback)
    }
}

fn map_callback(e: asl::CallbackError) -> CallbackError {
    match e {
        asl::CallbackError::TaskTimedOut => CallbackError::TimedOut,
        asl::CallbackError::TaskDoesNotExist => CallbackError::Unknown,
        other => CallbackError::Unexpected(other.to_string()),
    }
}

/// Everything `iras serve`, `iras demo` and the end-to-end tests run on.
#[derive(Clone)]
pub struct Runtime {
    /// The ports.
    pub deps: Deps,
    /// The workflow engine.
    pub engine: Arc<Engine>,
    /// The HTTP API's state.
    pub app: AppState,
    /// Held for the runtime's life: the data directory's exclusive lock.
    _lock: Option<Arc<std::fs::File>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Opens the embedded store in `config.data_dir` and wires the engine to it. Executions left
    /// unfinished by a previous process are not resumed until [`Runtime::resume`] is called.
    pub fn open(
        config: &Config,
        scenario: Option<Scenario>,
        options: EngineOptions,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "could not create the data directory {}",
                config.data_dir.display()
            )
        })?;
        // One runner per data directory: two engines resuming the same executions would run
        // every step twice. The OS releases the lock when the process dies, even by SIGKILL.
        let lock_path = config.data_dir.join("iras.lock");
        let lock = std::fs::File::create(&lock_path)
            .with_context(|| format!("could not create {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "another iras process is using {}; stop it or choose another --data-dir",
                config.data_dir.display()
            );
        }
        let db = config.database_path();
        let store = SqliteStore::open(&db)
            .with_context(|| format!("could not open the store at {}", db.display()))?;
        let deps = with_llm(
            build_deps(Arc::new(store), config.policy.clone(), scenario),
            &|k| std::env::var(k).ok(),
        );
        let mut rt = Self::with_deps(deps, &db, config.lambda_endpoint.as_deref(), options)?;
        rt._lock = Some(Arc::new(lock));
        Ok(rt)
    }

    /// Wires the engine to given ports (tests swap in fakes for executors, pagers, notifiers).
    pub fn with_deps(
        deps: Deps,
        executions_db: &Path,
        lambda_endpoint: Option<&str>,
        options: EngineOptions,
    ) -> anyhow::Result<Self> {
        let executions: Arc<dyn ExecutionStore> =
            Arc::new(SqliteExecutionStore::open(executions_db).with_context(|| {
                format!(
                    "could not open the execution store at {}",
                    executions_db.display()
                )
            })?);
        let invoker: Arc<dyn TaskInvoker> = match lambda_endpoint {
            Some(url) => Arc::new(LambdaInvokeClient::new(url)),
            None => Arc::new(InProcessInvoker::new(deps.clone())),
        };
        let engine = Arc::new(Engine::new(
            Arc::new(definition()?),
            invoker,
            executions,
            options,
        ));
        let workflow = Arc::new(LocalWorkflow::new(engine.clone()));
        let app = AppState {
            deps: deps.clone(),
            starter: workflow.clone(),
            callback: workflow,
        };
        Ok(Self {
            deps,
            engine,
            app,
            _lock: None,
        })
    }

    /// Resumes executions a previous process left unfinished; fires deadlines that passed.
    pub async fn resume(&self) -> anyhow::Result<usize> {
        self.engine
            .resume()
            .await
            .map_err(|e| anyhow::anyhow!("could not resume executions: {e}"))
    }

    /// The HTTP API.
    pub fn router(&self) -> axum::Router {
        iras_api::router(self.app.clone())
    }
}

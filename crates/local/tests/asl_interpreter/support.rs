//! Shared helpers: a closure-table `TaskInvoker` that records its calls, and engine builders.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use iras_local::asl::{
    Definition, Engine, EngineOptions, ExecutionStore, ExecutionSummary, MemoryExecutionStore,
    StartOutcome, TaskFailure, TaskInvoker,
};
use serde_json::Value;

/// Every test runs definitions at 1/100 of AWS time: a 1 s interval takes 10 ms.
pub const SCALE: f64 = 0.01;

type Handler = Arc<
    dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + Send>> + Send + Sync,
>;

/// One recorded invocation.
#[derive(Debug, Clone)]
pub struct Call {
    pub input: Value,
    pub at: Instant,
}

/// A `TaskInvoker` answering from a table of closures keyed by resource.
#[derive(Default)]
pub struct TableInvoker {
    handlers: Mutex<HashMap<String, Handler>>,
    calls: Mutex<Vec<(String, Call)>>,
}

impl TableInvoker {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Answers `resource` with a synchronous closure.
    pub fn on(
        &self,
        resource: &str,
        f: impl Fn(Value) -> Result<Value, TaskFailure> + Send + Sync + 'static,
    ) -> &Self {
        let f = Arc::new(f);
        self.on_async(resource, move |input| {
            let f = Arc::clone(&f);
            async move { f(input) }
        })
    }

    /// Answers `resource` with an async closure.
    pub fn on_async<F, Fut>(&self, resource: &str, f: F) -> &Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |input| Box::pin(f(input)));
        self.handlers
            .lock()
            .unwrap()
            .insert(resource.to_string(), handler);
        self
    }

    /// The calls made to `resource` so far.
    pub fn calls(&self, resource: &str) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == resource)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Waits (up to 5 s) until `resource` was called at least `n` times.
    pub async fn wait_for_calls(&self, resource: &str, n: usize) -> Vec<Call> {
        let give_up = Instant::now() + Duration::from_secs(5);
        loop {
            let calls = self.calls(resource);
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < give_up,
                "{resource} was called {} times, expected {n}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[async_trait]
impl TaskInvoker for TableInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        self.calls.lock().unwrap().push((
            resource.to_string(),
            Call {
                input: input.clone(),
                at: Instant::now(),
            },
        ));
        let handler = self.handlers.lock().unwrap().get(resource).cloned();
        match handler {
            Some(handler) => handler(input).await,
            None => Err(TaskFailure::new(
                "Test.NoHandler",
                format!("no handler for {resource}"),
            )),
        }
    }
}

/// Loads an inline definition (no substitutions).
pub fn definition(json: Value) -> Arc<Definition> {
    Arc::new(Definition::from_json(&json.to_string(), &HashMap::new()).expect("definition loads"))
}

/// An engine on an in-memory store at [`SCALE`].
pub fn engine(json: Value, invoker: &Arc<TableInvoker>) -> Engine {
    engine_with(json, invoker, Arc::new(MemoryExecutionStore::new()), SCALE)
}

pub fn engine_with(
    json: Value,
    invoker: &Arc<TableInvoker>,
    store: Arc<dyn ExecutionStore>,
    time_scale: f64,
) -> Engine {
    Engine::new(
        definition(json),
        Arc::clone(invoker) as Arc<dyn TaskInvoker>,
        store,
        EngineOptions {
            time_scale,
            ..EngineOptions::default()
        },
    )
}

/// Starts an execution named `name` and waits (up to 10 s) for it to finish.
pub async fn run_named(engine: &Engine, name: &str, input: Value) -> ExecutionSummary {
    let started = engine.start_execution(name, input).await.expect("starts");
    assert!(
        matches!(started, StartOutcome::Started { .. }),
        "{started:?}"
    );
    engine
        .wait_until_finished(name, Duration::from_secs(10))
        .await
        .expect("finishes")
}

/// Runs one execution named `test`.
pub async fn run(engine: &Engine, input: Value) -> ExecutionSummary {
    run_named(engine, "test", input).await
}

/// Loads, runs and returns the summary of a definition with no tasks.
pub async fn run_definition(json: Value, input: Value) -> ExecutionSummary {
    let invoker = TableInvoker::new();
    run(&engine(json, &invoker), input).await
}

/// Waits (up to 5 s) until the execution's status is `Waiting`.
pub async fn wait_until_waiting(engine: &Engine, name: &str) {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let summary = engine.describe(name).await.unwrap().expect("exists");
        if summary.status == iras_local::asl::ExecutionStatus::Waiting
            && summary.history.iter().any(|e| {
                matches!(
                    e.kind,
                    iras_local::asl::HistoryEventKind::TaskSubmitted { .. }
                )
            })
        {
            return;
        }
        assert!(Instant::now() < give_up, "never waiting: {summary:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The task token a callback resource received in `Payload.token`.
pub fn token_of(call: &Call) -> String {
    call.input["Payload"]["token"]
        .as_str()
        .expect("the Parameters carry the token")
        .to_string()
}

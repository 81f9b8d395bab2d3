//! The [`Engine`]: starts executions (each on its own tokio task), routes task-token callbacks to
//! them, resumes unfinished executions after a restart, and reports on them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{oneshot, Notify};
use tokio::task::AbortHandle;

use super::definition::Definition;
use super::record::{
    CurrentState, ExecutionRecord, ExecutionStatus, HistoryEvent, HistoryEventKind,
};
use super::runner::Runner;
use super::store::{ExecutionStore, StoreError};
use super::token::hash_token;

/// Largest output SendTaskSuccess accepts, like Step Functions' 256 KiB payload quota.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// A Task's resource failed. `error` is the name Retry and Catch match (e.g. `Iras.Transient`,
/// `Lambda.ServiceException`); `cause` is a human-readable description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name.
    pub error: String,
    /// The cause.
    pub cause: String,
}

impl TaskFailure {
    /// A failure with this name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Runs Task resources.
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Runs a Task's resource with its effective input. For `arn:aws:states:::lambda:invoke` and
    /// `arn:aws:states:::lambda:invoke.waitForTaskToken` the input is the Parameters object
    /// (`{"FunctionName", "Payload", ...}`) and the result is what Step Functions' optimized
    /// integration returns (`{"Payload": ..., "StatusCode": 200, ...}`); for a plain Lambda ARN
    /// the input is the effective input itself and the result is the function's. For a
    /// `.waitForTaskToken` resource the result is ignored: the task completes through
    /// [`Engine::send_task_success`] or [`Engine::send_task_failure`].
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure>;
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// A test aid: every Wait duration, Retry interval, task timeout, heartbeat timeout and the
    /// execution timeout is multiplied by this factor, so definitions with AWS-scale intervals run
    /// quickly in tests (e.g. `0.01` turns a 60 s timeout into 0.6 s). Deadlines are still stored
    /// as absolute wall-clock times. `1.0` (the default) is real time.
    pub time_scale: f64,
    /// The state machine's ARN (`$$.StateMachine.Id`); execution ARNs derive from it.
    pub state_machine_arn: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:iras".into(),
        }
    }
}

/// What `start_execution` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution started.
    Started {
        /// Its ARN.
        execution_arn: String,
    },
    /// An execution with that name exists already (running or finished); nothing was started,
    /// like Step Functions' `ExecutionAlreadyExists`.
    AlreadyExists {
        /// The existing execution's ARN.
        execution_arn: String,
    },
}

/// An engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The execution store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The execution name breaks Step Functions' naming rules.
    #[error("invalid execution name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// No execution has that name.
    #[error("execution `{0}` does not exist")]
    ExecutionDoesNotExist(String),
    /// `wait_until_finished` gave up.
    #[error("execution `{name}` did not finish within {timeout:?} (it is {status:?})")]
    NotFinished {
        /// The execution.
        name: String,
        /// How long it waited.
        timeout: Duration,
        /// The status when it gave up.
        status: ExecutionStatus,
    },
}

/// A task-token callback was refused (the Step Functions API errors of the same names).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No task ever had this token.
    #[error("TaskDoesNotExist: no task has this token")]
    TaskDoesNotExist,
    /// The task with this token has already completed, failed or timed out.
    #[error("TaskTimedOut: the task with this token is no longer waiting")]
    TaskTimedOut,
    /// The output is not acceptable (larger than 256 KiB).
    #[error("InvalidOutput: {0}")]
    InvalidOutput(String),
    /// The engine stopped before the execution recorded the callback; send it again.
    #[error("the engine stopped before the callback was recorded; send it again")]
    EngineStopped,
    /// The execution store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An execution as `describe` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionSummary {
    /// The execution name.
    pub name: String,
    /// The execution ARN.
    pub execution_arn: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// The state it is in, while unfinished.
    pub current_state: Option<String>,
    /// The execution input.
    pub input: Value,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error name, once failed or timed out.
    pub error: Option<String>,
    /// The cause, once failed or timed out.
    pub cause: Option<String>,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// When it finished.
    pub stop_time: Option<DateTime<Utc>>,
    /// Its history.
    pub history: Vec<HistoryEvent>,
}

impl From<ExecutionRecord> for ExecutionSummary {
    fn from(record: ExecutionRecord) -> Self {
        Self {
            current_state: record.current.as_ref().map(|c| c.name.clone()),
            name: record.name,
            execution_arn: record.execution_arn,
            status: record.status,
            input: record.input,
            output: record.output,
            error: record.error,
            cause: record.cause,
            start_time: record.start_time,
            stop_time: record.stop_time,
            history: record.history,
        }
    }
}

/// A callback on its way to an execution.
pub(crate) enum Signal {
    Success(Value),
    Failure { error: String, cause: String },
    Heartbeat,
}

pub(crate) type Reply = oneshot::Sender<Result<(), CallbackError>>;

pub(crate) struct Callback {
    pub(crate) signal: Signal,
    pub(crate) reply: Reply,
}

/// Where callbacks for one execution's open task wait to be taken.
///
/// The execution opens the mailbox with the token's hash *before* it saves the record that makes
/// the token findable, and closes it (in the same critical section in which it takes the queue)
/// when the task ends; so a callback either reaches the task or is told `TaskTimedOut`.
pub(crate) struct Mailbox {
    state: Mutex<MailboxState>,
    pub(crate) notify: Notify,
}

#[derive(Default)]
struct MailboxState {
    open: Option<String>,
    queue: VecDeque<Callback>,
}

impl Mailbox {
    fn new(open: Option<String>) -> Self {
        Self {
            state: Mutex::new(MailboxState {
                open,
                queue: VecDeque::new(),
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, MailboxState> {
        // The critical sections cannot panic; recover the data if one ever did.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn open(&self, token_hash: String) {
        self.lock().open = Some(token_hash);
    }

    /// Queues a callback for the open task; gives it back if `token_hash` is not the open one.
    fn deliver(&self, token_hash: &str, callback: Callback) -> Result<(), Callback> {
        let mut state = self.lock();
        if state.open.as_deref() != Some(token_hash) {
            return Err(callback);
        }
        state.queue.push_back(callback);
        drop(state);
        self.notify.notify_one();
        Ok(())
    }

    /// Takes the queued callbacks. Closes the mailbox when `close` is set or when one of them ends
    /// the task, so later callbacks are refused.
    pub(crate) fn drain(&self, close: bool) -> Vec<Callback> {
        let mut state = self.lock();
        let items: Vec<Callback> = state.queue.drain(..).collect();
        if close || items.iter().any(|c| !matches!(c.signal, Signal::Heartbeat)) {
            state.open = None;
        }
        items
    }
}

struct Live {
    generation: u64,
    mailbox: Arc<Mailbox>,
    abort: AbortHandle,
}

/// State shared by the engine and its execution tasks.
pub(crate) struct Inner {
    pub(crate) definition: Arc<Definition>,
    pub(crate) invoker: Arc<dyn TaskInvoker>,
    pub(crate) store: Arc<dyn ExecutionStore>,
    pub(crate) options: EngineOptions,
    live: Mutex<HashMap<String, Live>>,
    /// Notified after every save, for `wait_until_finished`.
    pub(crate) changed: Notify,
    generations: AtomicU64,
    /// Serializes "is it running? if not, reload and start it", so a record read before its
    /// runner finished is never started a second time.
    spawning: tokio::sync::Mutex<()>,
}

impl Inner {
    fn live(&self) -> MutexGuard<'_, HashMap<String, Live>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `seconds` of definition time as wall-clock time, after `time_scale`.
    pub(crate) fn scaled(&self, seconds: f64) -> chrono::Duration {
        let millis = (seconds * self.options.time_scale * 1000.0).round();
        // Cap far-future deadlines (e.g. the 99999999 s default) at ~300 years.
        let millis = millis.clamp(0.0, 1.0e13) as i64;
        chrono::Duration::milliseconds(millis)
    }

    pub(crate) fn state_machine_name(&self) -> &str {
        self.options
            .state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
    }

    /// The mailbox of the execution's task if it runs, else (re)loads the record and starts a
    /// task for it when it is unfinished. Returns the mailbox and whether it started a task.
    ///
    /// A runner saves its final record before it leaves the live map, so when no runner is live
    /// the store is up to date; `spawning` keeps two callers from both starting one.
    async fn ensure_running(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Option<(Arc<Mailbox>, bool)>, StoreError> {
        let _guard = self.spawning.lock().await;
        if let Some(existing) = self.live().get(name) {
            return Ok(Some((Arc::clone(&existing.mailbox), false)));
        }
        let record = match self.store.load(name).await? {
            Some(record) if !record.status.is_finished() => record,
            _ => return Ok(None),
        };
        Ok(Some((self.spawn(record), true)))
    }

    /// Starts a task for `record`; the caller knows none runs.
    fn spawn(self: &Arc<Self>, record: ExecutionRecord) -> Arc<Mailbox> {
        let mut live = self.live();
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let mailbox = Arc::new(Mailbox::new(record.active_token_hash().map(str::to_string)));
        let name = record.name.clone();
        let runner = Runner::new(Arc::clone(self), record, Arc::clone(&mailbox), generation);
        let handle = tokio::spawn(runner.run());
        live.insert(
            name,
            Live {
                generation,
                mailbox: Arc::clone(&mailbox),
                abort: handle.abort_handle(),
            },
        );
        mailbox
    }

    /// Called by an execution task when it ends.
    pub(crate) fn forget(&self, name: &str, generation: u64) {
        let mut live = self.live();
        if live.get(name).is_some_and(|l| l.generation == generation) {
            live.remove(name);
        }
    }
}

/// Runs executions of one state machine definition.
///
/// Dropping the engine aborts its execution tasks (like a process exit); their records stay in
/// the store and [`Engine::resume`] continues them, in this process or a later one.
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state_machine_arn", &self.inner.options.state_machine_arn)
            .field("time_scale", &self.inner.options.time_scale)
            .field("live_executions", &self.inner.live().len())
            .finish_non_exhaustive()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for (_, live) in self.inner.live().drain() {
            live.abort.abort();
        }
    }
}

impl Engine {
    /// An engine for `definition` that runs tasks through `invoker` and keeps records in `store`.
    pub fn new(
        definition: Arc<Definition>,
        invoker: Arc<dyn TaskInvoker>,
        store: Arc<dyn ExecutionStore>,
        options: EngineOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                definition,
                invoker,
                store,
                options,
                live: Mutex::new(HashMap::new()),
                changed: Notify::new(),
                generations: AtomicU64::new(0),
                spawning: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Starts an execution named `name` (unique in the store, like StartExecution's name) with
    /// `input`. The first record is saved before this returns; the execution then runs on its own
    /// task. A name that exists already, finished or not, gives [`StartOutcome::AlreadyExists`]
    /// and never a second run.
    pub async fn start_execution(
        &self,
        name: &str,
        input: Value,
    ) -> Result<StartOutcome, EngineError> {
        validate_name(name)?;
        let inner = &self.inner;
        let execution_arn = execution_arn(&inner.options.state_machine_arn, name);
        let now = Utc::now();
        let start_at = inner.definition.start_at().to_string();
        let state_type = inner
            .definition
            .state_type(&start_at)
            .unwrap_or("Unknown")
            .to_string();
        let mut record = ExecutionRecord {
            name: name.to_string(),
            execution_arn: execution_arn.clone(),
            state_machine_arn: inner.options.state_machine_arn.clone(),
            input: input.clone(),
            start_time: now,
            stop_time: None,
            status: ExecutionStatus::Running,
            deadline: inner
                .definition
                .timeout_seconds()
                .map(|s| now + inner.scaled(s as f64)),
            current: Some(CurrentState::entered(start_at.clone(), input.clone())),
            output: None,
            error: None,
            cause: None,
            closed_token_hashes: Vec::new(),
            history: Vec::new(),
        };
        record.push_event(HistoryEventKind::ExecutionStarted {
            input: input.clone(),
        });
        record.push_event(HistoryEventKind::StateEntered {
            state: start_at,
            state_type,
            input,
        });
        if !inner.store.insert(&record).await? {
            return Ok(StartOutcome::AlreadyExists { execution_arn });
        }
        tracing::info!(execution = %name, "execution started");
        // The name was free a moment ago, so no task runs it.
        let _guard = inner.spawning.lock().await;
        inner.spawn(record);
        Ok(StartOutcome::Started { execution_arn })
    }

    /// Completes the waiting task that was given `token`, with `output` as its result. Returns
    /// once the execution has recorded it.
    pub async fn send_task_success(&self, token: &str, output: Value) -> Result<(), CallbackError> {
        let size = serde_json::to_vec(&output).map_or(usize::MAX, |v| v.len());
        if size > MAX_OUTPUT_BYTES {
            return Err(CallbackError::InvalidOutput(format!(
                "the output is {size} bytes; at most {MAX_OUTPUT_BYTES} are allowed"
            )));
        }
        self.callback(token, Signal::Success(output)).await
    }

    /// Fails the waiting task that was given `token` with this error name and cause (which its
    /// Retry and Catch then see).
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.callback(
            token,
            Signal::Failure {
                error: error.to_string(),
                cause: cause.to_string(),
            },
        )
        .await
    }

    /// Records a heartbeat for the waiting task that was given `token`, restarting its
    /// `HeartbeatSeconds` countdown.
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), CallbackError> {
        self.callback(token, Signal::Heartbeat).await
    }

    async fn callback(&self, token: &str, signal: Signal) -> Result<(), CallbackError> {
        if token.is_empty() || token.len() > 1024 {
            return Err(CallbackError::TaskDoesNotExist);
        }
        let hash = hash_token(token);
        let record = self
            .inner
            .store
            .find_by_token_hash(&hash)
            .await?
            .filter(|r| r.state_machine_arn == self.inner.options.state_machine_arn)
            .ok_or(CallbackError::TaskDoesNotExist)?;
        if record.status.is_finished() || record.active_token_hash() != Some(hash.as_str()) {
            return Err(CallbackError::TaskTimedOut);
        }
        // If this engine is not running the execution yet (no resume() since start-up), start it.
        let Some((mailbox, _)) = self.inner.ensure_running(&record.name).await? else {
            return Err(CallbackError::TaskTimedOut);
        };
        let (reply, answer) = oneshot::channel();
        if mailbox.deliver(&hash, Callback { signal, reply }).is_err() {
            return Err(CallbackError::TaskTimedOut);
        }
        answer.await.unwrap_or(Err(CallbackError::EngineStopped))
    }

    /// Continues every unfinished execution of this state machine found in the store: each
    /// re-enters its current state (at-least-once, like a Lambda retry), except that a task
    /// waiting for its token keeps waiting with its original deadlines. A deadline that passed
    /// while the process was down fires at once. Returns how many executions it started.
    pub async fn resume(&self) -> Result<usize, EngineError> {
        let records = self
            .inner
            .store
            .list_unfinished(&self.inner.options.state_machine_arn)
            .await?;
        let mut started = 0;
        for record in records {
            if let Some((_, true)) = self.inner.ensure_running(&record.name).await? {
                tracing::info!(execution = %record.name, "execution resumed");
                started += 1;
            }
        }
        Ok(started)
    }

    /// The execution's status, current state, output or error, and history.
    pub async fn describe(&self, name: &str) -> Result<Option<ExecutionSummary>, EngineError> {
        Ok(self
            .inner
            .store
            .load(name)
            .await?
            .map(ExecutionSummary::from))
    }

    /// Waits until the execution has finished (succeeded, failed or timed out), at most
    /// `timeout`. Meant for tests and `iras demo`.
    pub async fn wait_until_finished(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<ExecutionSummary, EngineError> {
        let give_up = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let summary = self
                .describe(name)
                .await?
                .ok_or_else(|| EngineError::ExecutionDoesNotExist(name.to_string()))?;
            if summary.status.is_finished() {
                return Ok(summary);
            }
            let now = tokio::time::Instant::now();
            if now >= give_up {
                return Err(EngineError::NotFinished {
                    name: name.to_string(),
                    timeout,
                    status: summary.status,
                });
            }
            // Also poll now and then, in case another engine writes the same store.
            let wake = give_up.min(now + Duration::from_millis(250));
            let _ = tokio::time::timeout_at(wake, changed).await;
        }
    }
}

fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    match state_machine_arn.split_once(":stateMachine:") {
        Some((prefix, machine)) => format!("{prefix}:execution:{machine}:{name}"),
        None => format!("{state_machine_arn}:{name}"),
    }
}

/// Step Functions' execution-name rules.
fn validate_name(name: &str) -> Result<(), EngineError> {
    let bad = |reason| EngineError::InvalidName {
        name: name.to_string(),
        reason,
    };
    let length = name.chars().count();
    if length == 0 || length > 80 {
        return Err(bad("it must be 1 to 80 characters long"));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(bad("it must not contain whitespace"));
    }
    if name.chars().any(|c| "?*<>{}[]:;,\\|^~$#%&`\"".contains(c)) {
        return Err(bad(
            "it must not contain ? * < > { } [ ] : ; , \\ | ^ ~ $ # % & ` \"",
        ));
    }
    if name
        .chars()
        .any(|c| matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f))
    {
        return Err(bad("it must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's futures can be spawned (e.g. an axum handler calling send_task_success).
    #[allow(dead_code)]
    fn engine_futures_are_send(engine: &Engine) {
        fn assert_send<T: Send>(_: T) {}
        assert_send(engine.start_execution("n", Value::Null));
        assert_send(engine.send_task_success("t", Value::Null));
        assert_send(engine.send_task_failure("t", "e", "c"));
        assert_send(engine.send_task_heartbeat("t"));
        assert_send(engine.resume());
        assert_send(engine.describe("n"));
        assert_send(engine.wait_until_finished("n", Duration::from_secs(1)));
    }

    #[test]
    fn execution_names_follow_step_functions_rules() {
        assert!(validate_name("01HZX-incident_1.a").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_name("a:b").is_err());
        assert!(validate_name(&"x".repeat(81)).is_err());
    }

    #[test]
    fn execution_arns_derive_from_the_state_machine_arn() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:iras",
                "e1"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:iras:e1"
        );
    }
}

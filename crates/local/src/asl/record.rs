//! The durable record of one execution: what an [`ExecutionStore`](super::ExecutionStore) saves
//! after every transition, and what [`Engine::resume`](super::Engine::resume) continues from.
//!
//! Task tokens never appear here: a waiting task keeps only the SHA-256 of its token, which is
//! enough to route a callback and useless to anyone who reads the database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The status of an execution, as `describe` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutionStatus {
    /// Running a state (or sleeping in a Wait state or a retry backoff).
    Running,
    /// Parked in a `.waitForTaskToken` Task until a callback, a timeout or a heartbeat timeout.
    Waiting,
    /// Finished through a Succeed state or an `End` state.
    Succeeded,
    /// Finished through a Fail state or an uncaught error.
    Failed,
    /// Ran past the definition's top-level `TimeoutSeconds`.
    TimedOut,
}

impl ExecutionStatus {
    /// Whether the execution has finished.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut)
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Waiting => "Waiting",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::TimedOut => "TimedOut",
        }
    }
}

/// Everything needed to continue an execution after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution name, unique in the store.
    pub name: String,
    /// `arn:aws:states:<region>:<account>:execution:<state machine>:<name>`.
    pub execution_arn: String,
    /// The state machine it runs.
    pub state_machine_arn: String,
    /// The execution input.
    pub input: Value,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// When it finished.
    pub stop_time: Option<DateTime<Utc>>,
    /// Its status.
    pub status: ExecutionStatus,
    /// The top-level `TimeoutSeconds` deadline, if the definition has one.
    pub deadline: Option<DateTime<Utc>>,
    /// The state it is in, while unfinished.
    pub current: Option<CurrentState>,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error name, once failed or timed out.
    pub error: Option<String>,
    /// The error cause, once failed or timed out.
    pub cause: Option<String>,
    /// Hashes of task tokens that were issued and are closed (so a late callback with one of them
    /// is told `TaskTimedOut` instead of `TaskDoesNotExist`).
    pub closed_token_hashes: Vec<String>,
    /// The execution history.
    pub history: Vec<HistoryEvent>,
}

impl ExecutionRecord {
    /// The hash of the task token the execution is waiting for, if any.
    pub fn active_token_hash(&self) -> Option<&str> {
        match &self.current.as_ref()?.step {
            StateStep::Task(attempt) => attempt.token_hash.as_deref(),
            _ => None,
        }
    }

    /// Whether `hash` is the active token or a closed one of this execution.
    pub fn knows_token_hash(&self, hash: &str) -> bool {
        self.active_token_hash() == Some(hash) || self.closed_token_hashes.iter().any(|h| h == hash)
    }

    pub(crate) fn push_event(&mut self, kind: HistoryEventKind) {
        let id = self.history.last().map_or(1, |e| e.id + 1);
        self.history.push(HistoryEvent {
            id,
            timestamp: Utc::now(),
            kind,
        });
    }
}

/// The state an execution is in and how far it got inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentState {
    /// The state's name.
    pub name: String,
    /// The state's raw input.
    pub input: Value,
    /// When it was entered (`$$.State.EnteredTime`).
    pub entered_time: DateTime<Utc>,
    /// Retries so far in this visit (`$$.State.RetryCount`).
    pub retry_count: u32,
    /// Retries so far per retrier, in `Retry` order.
    pub retrier_attempts: Vec<u32>,
    /// Where inside the state it is.
    pub step: StateStep,
}

impl CurrentState {
    pub(crate) fn entered(name: String, input: Value) -> Self {
        Self {
            name,
            input,
            entered_time: Utc::now(),
            retry_count: 0,
            retrier_attempts: Vec::new(),
            step: StateStep::Ready,
        }
    }
}

/// Progress inside the current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum StateStep {
    /// About to run (again) from the start: on resume the state is re-entered.
    Ready,
    /// A Wait state sleeping until `until`.
    Waiting {
        /// When the wait ends.
        until: DateTime<Utc>,
    },
    /// A Task attempt in progress.
    Task(TaskAttempt),
    /// Sleeping before the next Retry attempt.
    RetryBackoff {
        /// When the next attempt starts.
        until: DateTime<Utc>,
    },
}

/// One attempt of a Task state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAttempt {
    /// When the attempt fails with `States.Timeout`.
    pub timeout_at: DateTime<Utc>,
    /// The resolved `HeartbeatSeconds`, for a callback task.
    pub heartbeat_seconds: Option<u64>,
    /// When it fails with `States.HeartbeatTimeout`, once the callback invoke has returned.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the task token, for a `.waitForTaskToken` task.
    pub token_hash: Option<String>,
    /// Whether the invoke that carries the token has returned (the task is then only waiting).
    pub submitted: bool,
}

/// One entry of the execution history (like `GetExecutionHistory`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, increasing.
    pub id: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: HistoryEventKind,
}

/// What a history event records. Task tokens are never included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum HistoryEventKind {
    /// The execution started.
    ExecutionStarted {
        /// Its input.
        input: Value,
    },
    /// A state was entered.
    StateEntered {
        /// The state.
        state: String,
        /// Its `Type`.
        state_type: String,
        /// Its raw input.
        input: Value,
    },
    /// A state finished and handed `output` to the next one.
    StateExited {
        /// The state.
        state: String,
        /// Its output.
        output: Value,
    },
    /// A Task's resource was invoked.
    TaskScheduled {
        /// The state.
        state: String,
        /// The resource.
        resource: String,
        /// The input sent (task token redacted).
        parameters: Value,
    },
    /// A `.waitForTaskToken` invoke returned; the task now waits for its callback.
    TaskSubmitted {
        /// The state.
        state: String,
        /// What the invoke returned.
        output: Value,
    },
    /// A Task succeeded (for a callback task: SendTaskSuccess arrived).
    TaskSucceeded {
        /// The state.
        state: String,
        /// The task result.
        output: Value,
    },
    /// A Task failed (for a callback task: SendTaskFailure arrived or the invoke failed).
    TaskFailed {
        /// The state.
        state: String,
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
    /// A Task ran past its timeout or heartbeat timeout.
    TaskTimedOut {
        /// The state.
        state: String,
        /// `States.Timeout` or `States.HeartbeatTimeout`.
        error: String,
        /// The cause.
        cause: String,
    },
    /// The execution succeeded.
    ExecutionSucceeded {
        /// Its output.
        output: Value,
    },
    /// The execution failed.
    ExecutionFailed {
        /// The error name.
        error: Option<String>,
        /// The cause.
        cause: Option<String>,
    },
    /// The execution ran past the top-level `TimeoutSeconds`.
    ExecutionTimedOut {
        /// `States.Timeout`.
        error: String,
        /// The cause.
        cause: String,
    },
}

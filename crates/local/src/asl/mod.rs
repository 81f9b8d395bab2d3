//! An Amazon States Language interpreter with durable executions.
//!
//! It runs the subset of ASL that IRAS's `statemachine.asl.json` uses, with the semantics AWS Step
//! Functions documents for it: Task (request/response and `.waitForTaskToken`), Choice, Pass, Wait,
//! Succeed and Fail states; InputPath, Parameters (paths, the Context object and intrinsic
//! functions), ResultSelector, ResultPath and OutputPath; Retry and Catch; task timeouts and
//! heartbeats; and an execution-level `TimeoutSeconds`. Parallel and Map states are refused when the
//! definition is loaded.
//!
//! - [`Definition`] parses and validates a definition, after substituting `${Name}` placeholders.
//! - [`Engine`] starts executions, each on its own tokio task, persists every transition through an
//!   [`ExecutionStore`] *before* the next state runs, accepts task-token callbacks, and resumes
//!   unfinished executions after a restart.
//! - [`TaskInvoker`] runs a Task's resource; [`LambdaInvokeClient`] does it through the Lambda Invoke
//!   API (as `cargo lambda watch` serves it).
//! - [`MemoryExecutionStore`] and [`SqliteExecutionStore`] keep execution records.

mod choice;
mod definition;
mod engine;
mod errors;
mod intrinsics;
mod lambda_invoke;
mod path;
mod payload;
mod record;
mod runner;
mod sqlite_store;
mod store;
mod token;

pub use definition::{Definition, LoadError};
pub use engine::{
    CallbackError, Engine, EngineError, EngineOptions, ExecutionSummary, StartOutcome, TaskFailure,
    TaskInvoker,
};
pub use lambda_invoke::LambdaInvokeClient;
pub use record::{
    CurrentState, ExecutionRecord, ExecutionStatus, HistoryEvent, HistoryEventKind, StateStep,
    TaskAttempt,
};
pub use sqlite_store::SqliteExecutionStore;
pub use store::{ExecutionStore, MemoryExecutionStore, StoreError};

//! IRAS adapters: the implementations of the ports that `iras-core` defines (storage, telemetry
//! sources, the analyst, notifiers, pagers, executors, workflow callbacks), each behind the trait
//! it implements so that steps never see which one is configured.

pub mod dynamo;
pub mod sqlite;

pub use dynamo::DynamoStore;
pub use sqlite::SqliteStore;

pub mod config;
pub mod executor;
pub mod llm;
pub mod secrets;
pub mod sfn;
pub mod simulated;
pub mod unconfigured;

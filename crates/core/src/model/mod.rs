//! The domain model: every type that crosses a port, a step boundary or the HTTP API.

pub mod alert;
pub mod approval;
pub mod context;
pub mod incident;
pub mod plan;
pub mod postmortem;
pub mod rca;
pub mod severity;
pub mod timeline;
pub mod triage;
pub mod usage;

pub use alert::*;
pub use approval::*;
pub use context::*;
pub use incident::*;
pub use plan::*;
pub use postmortem::*;
pub use rca::*;
pub use severity::*;
pub use timeline::*;
pub use triage::*;
pub use usage::*;

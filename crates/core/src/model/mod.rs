//! The domain model: every type that crosses a port, a step boundary or the HTTP API.

pub mod alert;

pub use alert::*;

//! IRAS test kit (a dev-dependency only): builders of valid domain objects, in-memory fakes of the
//! ports, and the contract suite that every [`IncidentStore`](iras_core::ports::IncidentStore)
//! implementation must pass.

pub mod fakes;
pub mod moto;
pub mod samples;
pub mod store_contract;

pub use samples::*;

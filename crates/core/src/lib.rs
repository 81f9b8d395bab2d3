//! IRAS core: the domain model, alert intake, policies, the heuristic analyst, the ports that
//! adapters implement, and the logic of every workflow step. No I/O, no AWS, no environment.

pub mod analyst;
pub mod ids;
pub mod intake;
pub mod model;
pub mod policy;
pub mod ports;
pub mod scenario;
pub mod signing;
pub mod steps;

pub use ids::*;
pub use model::*;

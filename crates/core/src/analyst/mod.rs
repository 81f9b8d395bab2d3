//! Analysts: the heuristic analyst (default, and the fallback when a model fails).
//!
//! [`HeuristicAnalyst`] is deterministic and makes no network call. Its parts:
//! - `catalog`: which services matter how much ([`ServiceCatalog`]);
//! - `triage`: severity from the source's words, impact figures and the catalogue;
//! - `signatures` and `changes`: what log lines and change descriptions say;
//! - `rca`: the scoring of every root-cause category from the gathered evidence;
//! - `planning`: a plan per category from the typed action catalogue;
//! - `narrative`: post-mortem prose from templates.

mod catalog;
mod changes;
mod heuristic;
mod narrative;
mod planning;
mod rca;
mod signatures;
mod text;
mod triage;

pub use catalog::{KnownProfile, ServiceCatalog, ServiceProfile, ServiceTier};
pub use heuristic::HeuristicAnalyst;

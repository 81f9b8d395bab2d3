//! The local runtime of IRAS: an Amazon States Language interpreter with durable executions, the
//! runtime that wires it to the step code and the embedded store, and the `iras` CLI.

#[macro_use]
pub mod out;

pub mod asl;
pub mod cli;
pub mod demo;
pub mod drive;
pub mod eval;
pub mod runtime;

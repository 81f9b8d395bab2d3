//! End-to-end tests of IRAS over the HTTP Router, the ASL runner executing the repository's
//! `statemachine.asl.json`, the step code and the embedded SQLite store. One test binary.

mod api;
mod aws_stack;
mod cli;
mod lambda_endpoint;
mod llm;
mod restart;
mod support;
mod workflow;

//! Integration tests of the ASL interpreter (`iras_local::asl`), one binary, grouped by behaviour.
//! Each construct is checked against the behaviour AWS Step Functions documents for it, with small
//! inline definitions and an in-test `TaskInvoker` (a table of closures per resource).

#[path = "asl_interpreter/support.rs"]
mod support;

#[path = "asl_interpreter/callbacks.rs"]
mod callbacks;
#[path = "asl_interpreter/choice.rs"]
mod choice;
#[path = "asl_interpreter/data_flow.rs"]
mod data_flow;
#[path = "asl_interpreter/definition.rs"]
mod definition;
#[path = "asl_interpreter/durability.rs"]
mod durability;
#[path = "asl_interpreter/errors.rs"]
mod errors;
#[path = "asl_interpreter/lambda_invoke.rs"]
mod lambda_invoke;

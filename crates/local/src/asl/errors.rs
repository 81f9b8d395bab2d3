//! Error names of the States language and how Retry/Catch `ErrorEquals` lists match them.

/// Matches every error except the terminal ones below.
pub(crate) const ALL: &str = "States.ALL";
/// A task ran past its `TimeoutSeconds`, or an execution past the top-level `TimeoutSeconds`.
pub(crate) const TIMEOUT: &str = "States.Timeout";
/// A callback task went longer than `HeartbeatSeconds` without a heartbeat.
pub(crate) const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// Matches any error except a timeout.
pub(crate) const TASK_FAILED: &str = "States.TaskFailed";
/// A Choice state matched no rule and has no Default.
pub(crate) const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// A ResultPath could not be applied to the state's input.
pub(crate) const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// An intrinsic function failed inside a payload template.
pub(crate) const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// Data could not be processed (a path that selects nothing, a wrong type, ...). Never retried or
/// caught, not even by `States.ALL`: it fails the execution.
pub(crate) const RUNTIME: &str = "States.Runtime";
/// A payload was larger than Step Functions allows. Terminal like `States.Runtime`.
pub(crate) const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// An error raised while a state runs: the `Error` and `Cause` a catcher sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateError {
    pub(crate) error: String,
    pub(crate) cause: String,
}

impl StateError {
    pub(crate) fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub(crate) fn runtime(cause: impl Into<String>) -> Self {
        Self::new(RUNTIME, cause)
    }

    pub(crate) fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(INTRINSIC_FAILURE, cause)
    }

    /// The `{"Error": ..., "Cause": ...}` object a catcher places at its ResultPath.
    pub(crate) fn to_error_output(&self) -> serde_json::Value {
        serde_json::json!({ "Error": self.error, "Cause": self.cause })
    }
}

/// Whether an `ErrorEquals` list matches `error`, as AWS documents it:
/// - `States.Runtime` and `States.DataLimitExceeded` are terminal and match nothing;
/// - `States.ALL` matches every other error;
/// - `States.TaskFailed` matches every other error except a timeout;
/// - `States.Timeout` also matches `States.HeartbeatTimeout` (a heartbeat timeout is a timeout;
///   before AWS introduced the separate name it was reported as `States.Timeout`);
/// - any other name matches exactly (names are case-sensitive).
pub(crate) fn error_matches(error_equals: &[String], error: &str) -> bool {
    if error == RUNTIME || error == DATA_LIMIT_EXCEEDED {
        return false;
    }
    let is_timeout = error == TIMEOUT || error == HEARTBEAT_TIMEOUT;
    error_equals.iter().any(|name| match name.as_str() {
        ALL => true,
        TASK_FAILED => !is_timeout,
        TIMEOUT => is_timeout,
        other => other == error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn states_all_matches_everything_but_terminal_errors() {
        assert!(error_matches(&list(&[ALL]), "Iras.Transient"));
        assert!(error_matches(&list(&[ALL]), TIMEOUT));
        assert!(!error_matches(&list(&[ALL]), RUNTIME));
        assert!(!error_matches(&list(&[ALL]), DATA_LIMIT_EXCEEDED));
    }

    #[test]
    fn task_failed_matches_everything_but_timeouts() {
        assert!(error_matches(&list(&[TASK_FAILED]), "Lambda.Unknown"));
        assert!(!error_matches(&list(&[TASK_FAILED]), TIMEOUT));
        assert!(!error_matches(&list(&[TASK_FAILED]), HEARTBEAT_TIMEOUT));
    }

    #[test]
    fn timeout_matches_heartbeat_timeouts_and_names_match_exactly() {
        assert!(error_matches(&list(&[TIMEOUT]), HEARTBEAT_TIMEOUT));
        assert!(error_matches(&list(&["A", "B"]), "B"));
        assert!(!error_matches(&list(&["a"]), "A"));
    }
}

//! [`LambdaInvokeClient`]: a [`TaskInvoker`] that calls functions through the Lambda Invoke API
//! (`POST {base}/2015-03-31/functions/{name}/invocations`), as `cargo lambda watch` serves it
//! locally and as Lambda itself answers.
//!
//! - A plain Lambda ARN resource sends the effective input and returns the function's result.
//! - `arn:aws:states:::lambda:invoke` (and `.waitForTaskToken`) take `FunctionName`, `Payload`,
//!   `Qualifier` and `InvocationType` from the Parameters and return what Step Functions' optimized
//!   integration returns: `{"ExecutedVersion", "Payload", "StatusCode"}` (the SDK metadata fields
//!   are left out).
//!
//! Function errors become a [`TaskFailure`] named by the function's `errorType` (what Retry and
//! Catch match), with the function's whole error document as the cause, as Step Functions reports
//! it. Real Lambda answers a function error with 200 and `X-Amz-Function-Error`; `cargo lambda`
//! answers 500 with the same body. Service failures map to the names Step Functions uses:
//! connection errors `Lambda.SdkClientException`, 429 `Lambda.TooManyRequestsException`, 404
//! `Lambda.ResourceNotFoundException`, other 5xx `Lambda.ServiceException`.

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::engine::{TaskFailure, TaskInvoker};

/// The optimized Lambda integration's resource, with or without `.waitForTaskToken`.
const OPTIMIZED_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// Calls Lambda functions through the Invoke API at a base URL (no AWS request signing: meant for
/// `cargo lambda watch` or another local emulator).
#[derive(Debug, Clone)]
pub struct LambdaInvokeClient {
    base_url: String,
    http: reqwest::Client,
}

/// Which function to call and how.
struct Target {
    name: String,
    qualifier: Option<String>,
    event_invocation: bool,
}

impl LambdaInvokeClient {
    /// A client for the Invoke API at `base_url`, e.g. `http://127.0.0.1:9000`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_client(base_url, reqwest::Client::new())
    }

    /// Like [`LambdaInvokeClient::new`], with a configured `reqwest` client.
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
        }
    }

    async fn call(&self, target: &Target, payload: &Value) -> Result<(u16, Value), TaskFailure> {
        let mut url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.base_url, target.name
        );
        if let Some(qualifier) = &target.qualifier {
            url.push_str("?Qualifier=");
            url.push_str(qualifier);
        }
        let mut request = self.http.post(&url).json(payload);
        if target.event_invocation {
            request = request.header("X-Amz-Invocation-Type", "Event");
        }
        let response = request.send().await.map_err(|e| {
            TaskFailure::new(
                "Lambda.SdkClientException",
                format!("Unable to invoke function `{}` at {url}: {e}", target.name),
            )
        })?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response.text().await.map_err(|e| {
            TaskFailure::new(
                "Lambda.SdkClientException",
                format!(
                    "Unable to read the response of function `{}`: {e}",
                    target.name
                ),
            )
        })?;
        let document: Option<Value> = serde_json::from_str(&body).ok();
        let error_type = document
            .as_ref()
            .and_then(|d| d.get("errorType"))
            .and_then(Value::as_str)
            .map(str::to_string);

        if status.is_success() && !function_error {
            let payload = match document {
                Some(value) => value,
                None if body.is_empty() => Value::String(String::new()),
                None => {
                    return Err(TaskFailure::new(
                        "Lambda.Unknown",
                        format!(
                            "Function `{}` returned a response that is not JSON",
                            target.name
                        ),
                    ))
                }
            };
            return Ok((status.as_u16(), payload));
        }
        // A function error: Lambda's 200 + X-Amz-Function-Error, or cargo-lambda's 500.
        if function_error || (status == StatusCode::INTERNAL_SERVER_ERROR && error_type.is_some()) {
            return Err(TaskFailure::new(
                error_type.unwrap_or_else(|| "Lambda.Unknown".to_string()),
                body,
            ));
        }
        let error = match status {
            StatusCode::TOO_MANY_REQUESTS => "Lambda.TooManyRequestsException",
            StatusCode::NOT_FOUND => "Lambda.ResourceNotFoundException",
            s if s.is_server_error() => "Lambda.ServiceException",
            _ => "Lambda.AWSLambdaException",
        };
        Err(TaskFailure::new(
            error,
            format!(
                "Invoking function `{}` answered HTTP {status}: {body}",
                target.name
            ),
        ))
    }
}

/// The function name and qualifier from a function name, a partial ARN (`123:function:name`) or a
/// full ARN (`arn:aws:lambda:region:123:function:name`), each optionally ending in `:qualifier`.
fn parse_function(reference: &str) -> Target {
    let tail = match reference.split_once(":function:") {
        Some((_, tail)) => tail,
        None => reference,
    };
    let (name, qualifier) = match tail.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_string())),
        None => (tail, None),
    };
    Target {
        name: name.to_string(),
        qualifier,
        event_invocation: false,
    }
}

#[async_trait]
impl TaskInvoker for LambdaInvokeClient {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        if resource == OPTIMIZED_INVOKE
            || resource == format!("{OPTIMIZED_INVOKE}.waitForTaskToken")
        {
            let function_name = input
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TaskFailure::new(
                        "Lambda.InvalidParameterValueException",
                        "The Parameters of a lambda:invoke task need a string FunctionName",
                    )
                })?;
            let mut target = parse_function(function_name);
            if let Some(qualifier) = input.get("Qualifier").and_then(Value::as_str) {
                target.qualifier = Some(qualifier.to_string());
            }
            target.event_invocation =
                input.get("InvocationType").and_then(Value::as_str) == Some("Event");
            // Lambda passes `{}` to a function invoked without a payload.
            let payload = input.get("Payload").cloned().unwrap_or_else(|| json!({}));
            let (status, result) = self.call(&target, &payload).await?;
            return Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": result,
                "StatusCode": status,
            }));
        }
        if resource.starts_with("arn:")
            && resource.contains(":lambda:")
            && resource.contains(":function:")
        {
            let target = parse_function(resource);
            return self.call(&target, &input).await.map(|(_, result)| result);
        }
        Err(TaskFailure::new(
            "States.Runtime",
            format!("The local Lambda invoker does not support the resource `{resource}`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_from_names_and_arns() {
        let t = parse_function("arn:aws:lambda:us-east-1:123456789012:function:triage");
        assert_eq!((t.name.as_str(), t.qualifier), ("triage", None));
        let t = parse_function("arn:aws:lambda:us-east-1:123456789012:function:triage:live");
        assert_eq!(
            (t.name.as_str(), t.qualifier.as_deref()),
            ("triage", Some("live"))
        );
        let t = parse_function("123456789012:function:triage");
        assert_eq!(t.name, "triage");
        let t = parse_function("triage");
        assert_eq!(t.name, "triage");
    }
}

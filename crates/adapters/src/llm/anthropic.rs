//! A small client of the Anthropic Messages API (`POST /v1/messages`): it sends one request body,
//! retries rate limits and overloads with jittered exponential backoff that honours
//! `retry-after`, bounds every call with a timeout and every analysis with a deadline.
//!
//! TLS is rustls (reqwest's `rustls-tls`, webpki roots), so a Lambda needs no system
//! certificates.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;
use tokio::time::Instant;

use super::TokenUsage;

/// The public API endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version header value this client speaks.
pub const API_VERSION: &str = "2023-06-01";

/// An Anthropic API key. Never printed.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Why a call failed after its retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// Rate limited, overloaded, timed out or out of time budget: worth trying later.
    #[error("{0}")]
    Transient(String),
    /// The request was refused (bad key, bad request) or the answer was unreadable.
    #[error("{0}")]
    Fatal(String),
}

/// The parts of a Messages API response the analyst reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessagesResponse {
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Content blocks (`text`, `tool_use`…), kept as JSON to be echoed back in repair turns.
    #[serde(default)]
    pub content: Vec<serde_json::Value>,
    /// Why generation stopped (`tool_use`, `end_turn`, `max_tokens`…).
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Tokens.
    #[serde(default)]
    pub usage: TokenUsage,
}

/// The Messages API client.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    http: reqwest::Client,
    base_url: String,
    api_key: ApiKey,
    call_timeout: Duration,
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl AnthropicClient {
    /// A client of `base_url` (no trailing `/v1/messages`), with a 60 s per-call timeout and up to
    /// four retries starting at 1 s.
    pub fn new(base_url: impl Into<String>, api_key: ApiKey) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key,
            call_timeout: Duration::from_secs(60),
            max_retries: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
        }
    }

    /// Sets the timeout of each HTTP call.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets how many times a retryable failure is retried and the first backoff delay.
    pub fn with_retries(mut self, max_retries: u32, base_delay: Duration) -> Self {
        self.max_retries = max_retries;
        self.base_delay = base_delay;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one Messages request, retrying 408, 429, 500, 502, 503, 504 and 529 and transport
    /// failures until `deadline`.
    pub async fn send(
        &self,
        body: &serde_json::Value,
        deadline: Instant,
    ) -> Result<MessagesResponse, CallError> {
        let url = format!("{}/v1/messages", self.base_url);
        let mut attempt = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(CallError::Transient(
                    "the analysis time budget is spent".into(),
                ));
            }
            let timeout = self.call_timeout.min(deadline - now);
            let sent = self
                .http
                .post(&url)
                .header("x-api-key", &self.api_key.0)
                .header("anthropic-version", API_VERSION)
                .header("content-type", "application/json")
                .timeout(timeout)
                .body(body.to_string())
                .send()
                .await;
            let (why, retry_after) = match sent {
                Err(e) if e.is_timeout() => (format!("no answer within {timeout:?}"), None),
                Err(e) => (format!("could not reach the Messages API: {e}"), None),
                Ok(res) => {
                    let status = res.status();
                    let retry_after = res
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64);
                    let text = match res.text().await {
                        Ok(t) => t,
                        Err(e) if e.is_timeout() => {
                            return Err(CallError::Transient(format!(
                                "the answer did not arrive within {timeout:?}"
                            )))
                        }
                        Err(e) => {
                            return Err(CallError::Transient(format!(
                                "the answer could not be read: {e}"
                            )))
                        }
                    };
                    if status.is_success() {
                        return serde_json::from_str(&text).map_err(|e| {
                            CallError::Fatal(format!("the Messages API answer is unreadable: {e}"))
                        });
                    }
                    let detail = api_error_message(&text);
                    if !matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504 | 529) {
                        return Err(CallError::Fatal(format!(
                            "the Messages API refused the request ({status}): {detail}"
                        )));
                    }
                    (format!("{status}: {detail}"), retry_after)
                }
            };
            if attempt >= self.max_retries {
                return Err(CallError::Transient(format!(
                    "{why} (after {} attempts)",
                    attempt + 1
                )));
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            if Instant::now() + wait >= deadline {
                return Err(CallError::Transient(format!(
                    "{why}; waiting {wait:?} to retry would exceed the time budget"
                )));
            }
            tracing::warn!(attempt, ?wait, reason = %why, "retrying the Messages API");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Full jitter: a uniform delay in `[0, min(max, base * 2^attempt)]`, so that many clients
    /// rate-limited together do not retry together.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        let millis = cap.as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
    }
}

/// The `error.message` of an API error body, or the start of the body.
fn api_error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

//! The LLM analyst: the [`Analyst`](iras_core::ports::Analyst) port over the Anthropic Messages
//! API, with one forced tool per output type, validation and repair turns, retries with backoff,
//! per-stage models, versioned prompts and token and cost accounting.
//!
//! - `anthropic`: the HTTP client ([`AnthropicClient`]): request and response shapes, retries,
//!   timeouts.
//! - `analyst`: [`LlmAnalyst`]: prompts, untrusted-data delimiting, schemas, repair, usage.
//!
//! The heuristic analyst stays the default and the fallback: every failure here is an
//! [`AnalystError`](iras_core::ports::AnalystError), on which the steps fall back.

mod analyst;
mod anthropic;

pub use analyst::{neutralise, untrusted, LlmAnalyst, Stage, MAX_PROMPT_BYTES};
pub use anthropic::{AnthropicClient, ApiKey, CallError, MessagesResponse, DEFAULT_BASE_URL};

use serde::{Deserialize, Serialize};

/// Tokens reported by the Messages API for one call (its `usage` object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Input tokens not read from or written to the prompt cache.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

impl TokenUsage {
    /// Adds another call's tokens.
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
    }
}

/// One model call as recorded for accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The incident the call was made for.
    #[serde(default)]
    pub incident_id: Option<iras_core::IncidentId>,
    /// The stage (`triage`, `root_cause`, `plan`, `postmortem`).
    pub stage: String,
    /// The model that answered.
    pub model: String,
    /// Its tokens.
    pub usage: TokenUsage,
    /// Estimated cost in US dollars, `None` for a model missing from the price table.
    pub cost_usd: Option<f64>,
}

/// Every call so far, summed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// How many Messages API calls answered (repair turns count; retried failures do not).
    pub calls: u64,
    /// Tokens, summed.
    pub tokens: TokenUsage,
    /// Estimated cost in US dollars of the calls whose model is priced.
    pub cost_usd: f64,
    /// Calls whose model is not in the price table (their cost is not in `cost_usd`).
    pub unpriced_calls: u64,
}

/// List prices in US dollars per million tokens: input, output, cache read, cache write (5-minute).
struct Price {
    prefix: &'static str,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
}

/// Anthropic's published list prices as of 2025-11 (https://www.anthropic.com/pricing), matched by
/// model-id prefix so dated ids (`claude-sonnet-4-5-20250929`) find their family. Estimates only:
/// batch discounts, long-context surcharges and negotiated prices are not modelled.
const PRICES: [Price; 5] = [
    Price {
        prefix: "claude-haiku-4-5",
        input: 1.0,
        output: 5.0,
        cache_read: 0.10,
        cache_write: 1.25,
    },
    Price {
        prefix: "claude-sonnet-4-5",
        input: 3.0,
        output: 15.0,
        cache_read: 0.30,
        cache_write: 3.75,
    },
    Price {
        prefix: "claude-sonnet-4",
        input: 3.0,
        output: 15.0,
        cache_read: 0.30,
        cache_write: 3.75,
    },
    Price {
        prefix: "claude-opus-4-5",
        input: 5.0,
        output: 25.0,
        cache_read: 0.50,
        cache_write: 6.25,
    },
    Price {
        prefix: "claude-opus-4",
        input: 15.0,
        output: 75.0,
        cache_read: 1.50,
        cache_write: 18.75,
    },
];

/// The estimated cost in US dollars of `usage` on `model`, from the list-price table; `None` when
/// the model is not in it.
pub fn estimate_cost(model: &str, usage: &TokenUsage) -> Option<f64> {
    // The table is ordered so that a more specific prefix comes before its shorter family prefix.
    let p = PRICES.iter().find(|p| model.starts_with(p.prefix))?;
    let per = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
    Some(
        per(usage.input_tokens, p.input)
            + per(usage.output_tokens, p.output)
            + per(usage.cache_read_input_tokens, p.cache_read)
            + per(usage.cache_creation_input_tokens, p.cache_write),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_sonnet_tokens_in_and_out_cost_the_list_price() {
        let u = TokenUsage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..TokenUsage::default()
        };
        assert_eq!(estimate_cost("claude-sonnet-4-5-20250929", &u), Some(18.0));
        assert_eq!(estimate_cost("claude-haiku-4-5", &u), Some(6.0));
        assert_eq!(estimate_cost("some-other-model", &u), None);
    }
}

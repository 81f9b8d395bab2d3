//! What model calls cost: recorded per call on the incident's timeline and summed in the
//! post-mortem.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{EventKind, TimelineEvent};

/// One answered model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelUsage {
    /// The analysis stage (`triage`, `root_cause`, `plan`, `postmortem`).
    pub stage: String,
    /// The model that answered.
    pub model: String,
    /// Input tokens outside the prompt cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Estimated cost in US dollars at list prices; `None` when the model is not priced.
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// Model calls of one incident, summed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UsageSummary {
    /// Answered calls (repair turns count).
    pub calls: u64,
    /// Input tokens outside the cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the cache.
    pub cache_read_tokens: u64,
    /// Estimated cost in US dollars of the priced calls.
    pub cost_usd: f64,
}

impl UsageSummary {
    /// Sums the `model_call` events of a timeline.
    pub fn from_events(events: &[TimelineEvent]) -> Self {
        let mut s = Self::default();
        for e in events.iter().filter(|e| e.kind == EventKind::ModelCall) {
            let Ok(u) = serde_json::from_value::<ModelUsage>(e.data.clone()) else {
                continue;
            };
            s.calls += 1;
            s.input_tokens += u.input_tokens;
            s.output_tokens += u.output_tokens;
            s.cache_read_tokens += u.cache_read_tokens;
            s.cost_usd += u.cost_usd.unwrap_or(0.0);
        }
        s
    }
}

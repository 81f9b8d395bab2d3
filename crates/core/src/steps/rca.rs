//! `AnalyzeRootCause`: a hypothesis from the analyst, grounded in the gathered evidence, and the
//! confidence gate that decides between planning, another attempt and escalation.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids::{IncidentId, TraceId};
use crate::model::{EventKind, RootCauseHypothesis};
use crate::policy::ground;
use crate::ports::{Deps, RootCauseInput};
use crate::steps::{analyst_failed, load, record, save, with_fallback, StepError};

/// Input: the incident and the attempt whose evidence to analyse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeInput {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its trace id.
    pub trace_id: TraceId,
    /// The attempt `GatherContext` produced.
    pub attempt: u32,
}

/// What the `IsConfident` Choice reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOutput {
    /// The attempt analysed.
    pub attempt: u32,
    /// The computed confidence passed the gate.
    pub confident: bool,
    /// Another attempt is allowed.
    pub can_retry: bool,
    /// The computed confidence.
    pub confidence: f64,
}

/// Analyses one attempt's evidence.
pub async fn analyze_root_cause(
    deps: &Deps,
    input: AnalyzeInput,
) -> Result<AnalyzeOutput, StepError> {
    let mut incident = load(deps, input.incident_id).await?;
    let context = deps
        .store
        .get_context(incident.id, input.attempt)
        .await?
        .ok_or_else(|| {
            StepError::InvalidInput(format!("no evidence stored for attempt {}", input.attempt))
        })?;
    let previous = incident.root_cause.clone();
    let (finding, by) = with_fallback!(deps, incident.id, "analyze-root-cause", |a| a.root_cause(
        RootCauseInput {
            incident: &incident,
            context: &context,
            previous: previous.as_ref()
        }
    ))
    .map_err(analyst_failed)?;

    let grounding = ground(&finding, &context);
    let gate = deps.policy.gate(grounding.computed, input.attempt);
    let hypothesis = RootCauseHypothesis {
        computed_confidence: grounding.computed,
        ungrounded_evidence: grounding.ungrounded.clone(),
        analyst: by,
        attempt: input.attempt,
        finding,
    };
    let verdict = if gate.confident {
        "above the gate"
    } else if gate.can_retry {
        "below the gate, gathering more evidence"
    } else {
        "below the gate, no attempts left"
    };
    let msg = format!(
        "Root cause ({}): {} — confidence {} computed, {} claimed; {verdict}",
        hypothesis.finding.category,
        hypothesis.finding.primary_cause,
        hypothesis.computed_confidence,
        hypothesis.finding.model_confidence,
    );
    let data = json!({
        "attempt": input.attempt,
        "category": hypothesis.finding.category,
        "computed_confidence": hypothesis.computed_confidence,
        "model_confidence": hypothesis.finding.model_confidence,
        "ungrounded": grounding.ungrounded.len(),
    });
    incident.attempts = incident.attempts.max(input.attempt);
    incident.root_cause = Some(hypothesis);
    save(deps, &mut incident).await?;
    record(
        deps,
        incident.id,
        "analyze-root-cause",
        EventKind::RootCauseProposed,
        msg,
        data,
    )
    .await?;
    Ok(AnalyzeOutput {
        attempt: input.attempt,
        confident: gate.confident,
        can_retry: gate.can_retry,
        confidence: grounding.computed.value(),
    })
}

//! [`LlmAnalyst`]: the analyst port over the Messages API. Each stage forces one tool whose input
//! schema is generated from the core output type, deserializes the tool input into that type,
//! checks the domain rules, and gives the model up to two repair turns that quote the exact
//! error. Alert text, logs and deployment descriptions reach the prompt only inside
//! `<untrusted_data>` delimiters, folded and bounded in size.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use regex::Regex;
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::time::Instant;

use iras_core::policy::{assess_plan, AutoApplyPolicy};
use iras_core::ports::{Analyst, AnalystError, PostmortemInput, RootCauseInput};
use iras_core::{
    ContextBundle, Incident, IncidentId, ModelUsage, PostmortemNarrative, ProposedPlan,
    RootCauseFinding, RootCauseHypothesis, Severity, TriageResult,
};

use super::anthropic::{AnthropicClient, ApiKey, CallError, MessagesResponse, DEFAULT_BASE_URL};
use super::{estimate_cost, CallRecord, UsageTotals};

/// The most bytes of rendered data a user prompt carries; sections past it are cut with a note.
pub const MAX_PROMPT_BYTES: usize = 48 * 1024;
/// Repair turns after the first answer (so at most three answers per stage).
const MAX_REPAIRS: usize = 2;
const MAX_TOKENS: u32 = 4096;

/// An analysis stage: each has its own tool, prompt file and model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Severity and scope (the fast model).
    Triage,
    /// Root cause (the strong model).
    RootCause,
    /// Remediation plan (the strong model).
    Plan,
    /// Post-mortem prose (the strong model).
    Postmortem,
}

impl Stage {
    /// The stage name used in tool names, prompt files and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::RootCause => "root_cause",
            Self::Plan => "plan",
            Self::Postmortem => "postmortem",
        }
    }

    /// The versioned prompt this stage uses (the file name without `.md`).
    pub fn prompt_version(self) -> &'static str {
        match self {
            Self::Triage => "triage.v1",
            Self::RootCause => "root_cause.v1",
            Self::Plan => "plan.v1",
            Self::Postmortem => "postmortem.v1",
        }
    }

    fn system_prompt(self) -> &'static str {
        match self {
            Self::Triage => include_str!("../../prompts/triage.v1.md"),
            Self::RootCause => include_str!("../../prompts/root_cause.v1.md"),
            Self::Plan => include_str!("../../prompts/plan.v1.md"),
            Self::Postmortem => include_str!("../../prompts/postmortem.v1.md"),
        }
    }

    fn tool_name(self) -> &'static str {
        match self {
            Self::Triage => "record_triage",
            Self::RootCause => "record_root_cause",
            Self::Plan => "record_plan",
            Self::Postmortem => "record_postmortem",
        }
    }

    fn tool_description(self) -> &'static str {
        match self {
            Self::Triage => "Records the triage of the incident: severity, affected services, confidence and reasoning.",
            Self::RootCause => "Records the most likely root cause with evidence quoted verbatim from the data and the evidence still missing.",
            Self::Plan => "Records a remediation plan made only of catalogue actions, each with its rollback and risk.",
            Self::Postmortem => "Records the post-mortem narrative: summary, impact, lessons and follow-ups.",
        }
    }
}

/// The analyst backed by Claude through the Messages API.
#[derive(Debug)]
pub struct LlmAnalyst {
    client: AnthropicClient,
    triage_model: String,
    analysis_model: String,
    triage_budget: Duration,
    analysis_budget: Duration,
    calls: Mutex<Vec<CallRecord>>,
    last_stage: Mutex<Option<Stage>>,
}

impl LlmAnalyst {
    /// An analyst using `triage_model` for triage and `analysis_model` for the other stages.
    ///
    /// Budgets default to 20 s for triage and 60 s for the other stages: they must end well
    /// before the Lambda timeouts of the SAM template (30 s for triage, 90 s or more for the
    /// others), or the function would be killed before the heuristic fallback could answer.
    pub fn new(
        client: AnthropicClient,
        triage_model: impl Into<String>,
        analysis_model: impl Into<String>,
    ) -> Self {
        Self {
            client,
            triage_model: triage_model.into(),
            analysis_model: analysis_model.into(),
            triage_budget: Duration::from_secs(20),
            analysis_budget: Duration::from_secs(60),
            calls: Mutex::new(Vec::new()),
            last_stage: Mutex::new(None),
        }
    }

    /// Sets the time budget of one analysis (every call, retry and repair turn of one stage), for
    /// every stage.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.triage_budget = budget;
        self.analysis_budget = budget;
        self
    }

    /// The time budget of one analysis of `stage`.
    pub fn budget_for(&self, stage: Stage) -> Duration {
        match stage {
            Stage::Triage => self.triage_budget,
            _ => self.analysis_budget,
        }
    }

    /// Reads `ANTHROPIC_API_KEY` (None when unset or blank: the heuristic analyst stays in
    /// charge), `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`), `IRAS_TRIAGE_MODEL`
    /// (default `claude-haiku-4-5`), `IRAS_ANALYSIS_MODEL` (default `claude-sonnet-4-5`),
    /// `IRAS_LLM_TIMEOUT_SECS` (per HTTP call, default 60) and `IRAS_LLM_BUDGET_SECS` (per
    /// analysis of any stage; by default 20 s for triage and 60 s for the others, see
    /// [`LlmAnalyst::new`]). Unparsable numbers keep their defaults.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let key = get("ANTHROPIC_API_KEY")?;
        let secs = |k: &str| {
            get(k)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
        };
        let base_url = get("ANTHROPIC_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into());
        let mut client = AnthropicClient::new(base_url.trim(), ApiKey::new(key.trim()));
        if let Some(t) = secs("IRAS_LLM_TIMEOUT_SECS") {
            client = client.with_call_timeout(t);
        }
        let mut analyst = Self::new(
            client,
            get("IRAS_TRIAGE_MODEL").unwrap_or_else(|| "claude-haiku-4-5".into()),
            get("IRAS_ANALYSIS_MODEL").unwrap_or_else(|| "claude-sonnet-4-5".into()),
        );
        if let Some(b) = secs("IRAS_LLM_BUDGET_SECS") {
            analyst = analyst.with_budget(b);
        }
        Some(analyst)
    }

    /// The model a stage uses.
    pub fn model_for(&self, stage: Stage) -> &str {
        match stage {
            Stage::Triage => &self.triage_model,
            _ => &self.analysis_model,
        }
    }

    /// The name recorded for a stage's results: provider, model and prompt version.
    pub fn stage_name(&self, stage: Stage) -> String {
        format!(
            "anthropic:{}@{}",
            self.model_for(stage),
            stage.prompt_version()
        )
    }

    /// Every answered call so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Removes and returns the calls recorded so far, so a caller can attach them to the incident
    /// they were made for (one analyst serves many incidents in a warm process).
    pub fn take_calls(&self) -> Vec<CallRecord> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Tokens and estimated cost of every answered call so far (since the last
    /// [`LlmAnalyst::take_calls`]), summed.
    pub fn usage(&self) -> UsageTotals {
        let mut t = UsageTotals::default();
        for c in self.calls() {
            t.calls += 1;
            t.tokens.add(&c.usage);
            match c.cost_usd {
                Some(cost) => t.cost_usd += cost,
                None => t.unpriced_calls += 1,
            }
        }
        t
    }

    fn record(&self, stage: Stage, incident: IncidentId, res: &MessagesResponse) {
        let model = if res.model.is_empty() {
            self.model_for(stage).to_owned()
        } else {
            res.model.clone()
        };
        let record = CallRecord {
            incident_id: Some(incident),
            stage: stage.as_str().into(),
            cost_usd: estimate_cost(&model, &res.usage),
            model,
            usage: res.usage,
        };
        tracing::info!(
            stage = stage.as_str(),
            model = %record.model,
            input_tokens = record.usage.input_tokens,
            output_tokens = record.usage.output_tokens,
            cache_read_input_tokens = record.usage.cache_read_input_tokens,
            cost_usd = record.cost_usd,
            "model call"
        );
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(record);
        }
    }

    /// Asks one stage: forced tool, parse, validate, up to two repair turns.
    async fn ask<T>(
        &self,
        stage: Stage,
        incident: IncidentId,
        user_prompt: String,
        validate: impl Fn(&T) -> Result<(), String>,
    ) -> Result<T, AnalystError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        if let Ok(mut last) = self.last_stage.lock() {
            *last = Some(stage);
        }
        let deadline = Instant::now() + self.budget_for(stage);
        let tool = stage.tool_name();
        let mut messages = vec![json!({"role": "user", "content": user_prompt})];
        let mut last_error = String::new();
        for turn in 0..=MAX_REPAIRS {
            let body = json!({
                "model": self.model_for(stage),
                "max_tokens": MAX_TOKENS,
                // Caching the stage's fixed instructions; everything variable is in the user turn.
                "system": [{
                    "type": "text",
                    "text": stage.system_prompt(),
                    "cache_control": {"type": "ephemeral"}
                }],
                "tools": [{
                    "name": tool,
                    "description": stage.tool_description(),
                    "input_schema": input_schema::<T>(),
                }],
                "tool_choice": {"type": "tool", "name": tool},
                "messages": messages,
            });
            let res = self
                .client
                .send(&body, deadline)
                .await
                .map_err(|e| match e {
                    CallError::Transient(m) => AnalystError::Transient(m),
                    CallError::Fatal(m) => AnalystError::Unexpected(m),
                })?;
            self.record(stage, incident, &res);
            let tool_use = res.content.iter().find(|b| {
                b.get("type").and_then(|t| t.as_str()) == Some("tool_use")
                    && b.get("name").and_then(|n| n.as_str()) == Some(tool)
            });
            let (id, error) = match tool_use {
                None => (
                    None,
                    format!(
                        "the answer did not call the `{tool}` tool (stop_reason {:?})",
                        res.stop_reason
                    ),
                ),
                Some(block) => {
                    let id = block.get("id").and_then(|i| i.as_str()).map(str::to_owned);
                    let input = block.get("input").cloned().unwrap_or(json!(null));
                    match serde_json::from_value::<T>(input) {
                        Err(e) => (id, format!("the input does not match the schema: {e}")),
                        Ok(value) => match validate(&value) {
                            Ok(()) => return Ok(value),
                            Err(e) => (id, e),
                        },
                    }
                }
            };
            tracing::warn!(stage = stage.as_str(), turn, error = %error, "invalid model answer");
            last_error = error;
            if turn == MAX_REPAIRS {
                break;
            }
            // The repair turn: the assistant's answer as it was, then the exact error as the
            // tool's result, so the model sees what to fix.
            messages.push(json!({"role": "assistant", "content": res.content}));
            let feedback = format!(
                "Invalid input: {last_error}. Call `{tool}` again with a corrected input that \
                 follows the schema and the rules."
            );
            messages.push(match id {
                Some(id) => json!({"role": "user", "content": [{
                    "type": "tool_result",
                    "tool_use_id": id,
                    "is_error": true,
                    "content": feedback,
                }]}),
                None => json!({"role": "user", "content": feedback}),
            });
        }
        Err(AnalystError::Invalid(format!(
            "{} still invalid after {MAX_REPAIRS} repair turns: {last_error}",
            self.stage_name(stage)
        )))
    }
}

#[async_trait]
impl Analyst for LlmAnalyst {
    /// The name of the stage this analyst ran last (provider, model, prompt version), so the
    /// result a step records names the prompt that produced it. Before any call, the analysis
    /// model alone. With several incidents analysed concurrently by one process the last stage
    /// may be another incident's; [`LlmAnalyst::stage_name`] is exact.
    fn name(&self) -> String {
        match self.last_stage.lock().ok().and_then(|s| *s) {
            Some(stage) => self.stage_name(stage),
            None => format!("anthropic:{}", self.analysis_model),
        }
    }

    fn drain_usage(&self, incident: IncidentId) -> Vec<ModelUsage> {
        let Ok(mut calls) = self.calls.lock() else {
            return Vec::new();
        };
        let (mine, rest): (Vec<CallRecord>, Vec<CallRecord>) = std::mem::take(&mut *calls)
            .into_iter()
            .partition(|c| c.incident_id == Some(incident));
        *calls = rest;
        mine.into_iter()
            .map(|c| ModelUsage {
                stage: c.stage,
                model: c.model,
                input_tokens: c.usage.input_tokens,
                output_tokens: c.usage.output_tokens,
                cache_read_tokens: c.usage.cache_read_input_tokens,
                cache_write_tokens: c.usage.cache_creation_input_tokens,
                cost_usd: c.cost_usd,
            })
            .collect()
    }

    async fn triage(&self, incident: &Incident) -> Result<TriageResult, AnalystError> {
        let prompt = triage_prompt(incident);
        self.ask(Stage::Triage, incident.id, prompt, |t: &TriageResult| {
            if t.reasoning.trim().is_empty() {
                return Err("`reasoning` is empty".into());
            }
            if t.affected_services.is_empty() && !incident.services.is_empty() {
                return Err("`affected_services` is empty but the alert names services".into());
            }
            Ok(())
        })
        .await
    }

    async fn root_cause(
        &self,
        input: RootCauseInput<'_>,
    ) -> Result<RootCauseFinding, AnalystError> {
        let prompt = root_cause_prompt(&input);
        self.ask(
            Stage::RootCause,
            input.incident.id,
            prompt,
            |f: &RootCauseFinding| {
                if f.primary_cause.trim().is_empty() {
                    return Err("`primary_cause` is empty".into());
                }
                if f.evidence.len() > 20 {
                    return Err(format!(
                        "{} evidence quotes; give at most 20",
                        f.evidence.len()
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    async fn plan(
        &self,
        incident: &Incident,
        hypothesis: &RootCauseHypothesis,
        context: &ContextBundle,
    ) -> Result<ProposedPlan, AnalystError> {
        let prompt = plan_prompt(incident, hypothesis, context);
        let severity = incident.severity.unwrap_or(Severity::P2);
        self.ask(Stage::Plan, incident.id, prompt, |p: &ProposedPlan| {
            // The same invariants the plan step applies, checked here so the model can repair a
            // plan the policy would refuse (empty, too long, blank fields, foreign services).
            assess_plan(p, &incident.services, severity, &AutoApplyPolicy::default())
                .map(|_| ())
                .map_err(|e| format!("the safety policy refuses this plan: {e}"))
        })
        .await
    }

    async fn postmortem(
        &self,
        input: PostmortemInput<'_>,
    ) -> Result<PostmortemNarrative, AnalystError> {
        let prompt = postmortem_prompt(&input);
        self.ask(
            Stage::Postmortem,
            input.incident.id,
            prompt,
            |n: &PostmortemNarrative| {
                if n.summary.trim().is_empty() || n.impact.trim().is_empty() {
                    return Err("`summary` and `impact` must not be empty".into());
                }
                Ok(())
            },
        )
        .await
    }
}

/// The JSON Schema of `T` with every subschema inlined (one self-contained object schema, as the
/// Messages API wants for `input_schema`).
fn input_schema<T: JsonSchema>() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut v = generator.into_root_schema_for::<T>().to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
    }
    v
}

fn delimiter_tag() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)<(\s*/?\s*untrusted_data)").unwrap_or_else(|_| unreachable!())
    })
}

/// Makes untrusted text unable to open or close a delimiter: `<untrusted_data` and
/// `</untrusted_data` become `&lt;untrusted_data` and `&lt;/untrusted_data`. Everything else is
/// kept verbatim, so quotes copied from it still ground.
pub fn neutralise(text: &str) -> String {
    delimiter_tag().replace_all(text, "&lt;$1").into_owned()
}

/// Wraps untrusted text in a delimited, labelled block.
pub fn untrusted(source: &str, text: &str) -> String {
    format!(
        "<untrusted_data source=\"{source}\">\n{}\n</untrusted_data>\n",
        neutralise(text)
    )
}

/// Appends `section` unless that would pass `MAX_PROMPT_BYTES`; returns whether it fit.
fn push_bounded(out: &mut String, section: &str) -> bool {
    if out.len() + section.len() > MAX_PROMPT_BYTES {
        return false;
    }
    out.push_str(section);
    true
}

fn alert_text(incident: &Incident) -> String {
    let a = &incident.alert;
    let mut s = String::new();
    let _ = writeln!(s, "title: {}", a.title);
    if let Some(d) = &a.description {
        let _ = writeln!(s, "description: {}", iras_core::truncate(d, 4096));
    }
    if let Some(sev) = &a.severity {
        let _ = writeln!(s, "source severity: {sev}");
    }
    let services: Vec<&str> = a.services.iter().map(|s| s.as_str()).collect();
    let _ = writeln!(s, "services: {}", services.join(", "));
    let _ = writeln!(s, "started at: {}", a.started_at.to_rfc3339());
    for (k, v) in a.labels.iter().take(40) {
        let _ = writeln!(s, "label {k}: {}", iras_core::truncate(v, 512));
    }
    for (k, v) in a.details.iter().take(40) {
        let _ = writeln!(
            s,
            "detail {k}: {}",
            iras_core::truncate(&v.to_string(), 1024)
        );
    }
    s
}

fn header(incident: &Incident) -> String {
    let services: Vec<&str> = incident.services.iter().map(|s| s.as_str()).collect();
    format!(
        "Incident {} from {} (status {}). Services named by the alert: {}.\n\n",
        incident.id,
        incident.source,
        incident.status,
        if services.is_empty() {
            "none".to_owned()
        } else {
            services.join(", ")
        }
    )
}

fn triage_prompt(incident: &Incident) -> String {
    let mut out = header(incident);
    out.push_str("The alert, as received:\n");
    let alert = untrusted(
        "alert",
        &iras_core::truncate(&alert_text(incident), 16 * 1024),
    );
    push_bounded(&mut out, &alert);
    out.push_str("\nAssess severity and scope with the `record_triage` tool.\n");
    out
}

/// The gathered evidence as delimited blocks: folded log templates with counts and samples,
/// metrics against baselines, deployments and failed sources, bounded to `MAX_PROMPT_BYTES`.
fn context_sections(out: &mut String, context: &ContextBundle) {
    let _ = writeln!(
        out,
        "Evidence of attempt {} from {} to {}.\n",
        context.attempt,
        context.window.start.to_rfc3339(),
        context.window.end.to_rfc3339()
    );
    let mut omitted = 0usize;
    for (i, t) in context.logs.iter().enumerate() {
        let services: Vec<&str> = t.services.iter().map(|s| s.as_str()).collect();
        let mut s = format!(
            "[{}] x{} services={} first={} last={}\ntemplate: {}\n",
            t.level,
            t.count,
            services.join(","),
            t.first_seen.to_rfc3339(),
            t.last_seen.to_rfc3339(),
            t.template
        );
        for sample in t.samples.iter().take(3) {
            let _ = writeln!(s, "sample: {sample}");
        }
        if !push_bounded(out, &untrusted(&format!("logs#{}", i + 1), &s)) {
            omitted = context.logs.len() - i;
            break;
        }
    }
    if context.logs.is_empty() {
        out.push_str("No log lines were found.\n");
    }
    let mut metrics = String::new();
    for m in &context.metrics {
        let _ = writeln!(
            metrics,
            "{} {} {} (baseline {}){}{}",
            m.service,
            m.name,
            m.current,
            m.baseline,
            m.unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default(),
            if m.anomalous { " ANOMALOUS" } else { "" }
        );
    }
    if !metrics.is_empty() && !push_bounded(out, &untrusted("metrics", &metrics)) {
        omitted += 1;
    }
    for d in &context.deployments {
        let s = format!(
            "service: {}\nat: {}\nversion: {}\nprevious version: {}\nauthor: {}\ndescription: {}\n",
            d.service,
            d.at.to_rfc3339(),
            d.version,
            d.previous_version.as_deref().unwrap_or("unknown"),
            d.author,
            iras_core::truncate(&d.description, 2048)
        );
        if !push_bounded(out, &untrusted("deployment", &s)) {
            omitted += 1;
        }
    }
    if context.deployments.is_empty() {
        out.push_str("No deployments were found in the window.\n");
    }
    for f in &context.failed_sources {
        let _ = writeln!(
            out,
            "Source {:?}{} could not be read{}.",
            f.source,
            f.service
                .as_ref()
                .map(|s| format!(" for {s}"))
                .unwrap_or_default(),
            if f.not_configured {
                " (not configured)"
            } else {
                ""
            }
        );
    }
    if omitted > 0 {
        let _ = writeln!(
            out,
            "({omitted} more sections were left out to bound the prompt size.)"
        );
    }
}

fn root_cause_prompt(input: &RootCauseInput<'_>) -> String {
    let incident = input.incident;
    let mut out = header(incident);
    if let Some(t) = &incident.triage {
        let _ = writeln!(out, "Triage: severity {}.\n", t.severity);
    }
    out.push_str("The alert:\n");
    let alert = untrusted(
        "alert",
        &iras_core::truncate(&alert_text(incident), 8 * 1024),
    );
    push_bounded(&mut out, &alert);
    if let Some(prev) = input.previous {
        let _ = writeln!(
            out,
            "\nThe previous attempt proposed `{}` with computed confidence {}; it was not enough.",
            prev.finding.category, prev.computed_confidence
        );
        if !prev.finding.missing_evidence.is_empty() {
            out.push_str("It said this evidence was missing; look for it in the new data:\n");
            let missing = prev.finding.missing_evidence.join("\n");
            push_bounded(&mut out, &untrusted("previous_missing", &missing));
        }
        if !prev.ungrounded_evidence.is_empty() {
            out.push_str("Its quotes that were not found in the data:\n");
            let quotes = prev.ungrounded_evidence.join("\n");
            push_bounded(&mut out, &untrusted("previous_quotes", &quotes));
        }
    }
    out.push('\n');
    context_sections(&mut out, input.context);
    out.push_str(
        "\nPropose the root cause with the `record_root_cause` tool. Quote evidence verbatim \
         from the data above and list the evidence that is missing.\n",
    );
    out
}

fn plan_prompt(
    incident: &Incident,
    hypothesis: &RootCauseHypothesis,
    context: &ContextBundle,
) -> String {
    let mut out = header(incident);
    let services: Vec<&str> = incident.services.iter().map(|s| s.as_str()).collect();
    let _ = writeln!(
        out,
        "Allowed targets (the incident's services): {}.",
        services.join(", ")
    );
    let _ = writeln!(
        out,
        "Severity: {}.\n",
        incident
            .severity
            .map(|s| s.as_str())
            .unwrap_or("unassessed")
    );
    let f = &hypothesis.finding;
    let mut h = String::new();
    let _ = writeln!(h, "category: {}", f.category);
    let _ = writeln!(h, "primary cause: {}", f.primary_cause);
    if let Some(s) = &f.suspect_service {
        let _ = writeln!(h, "suspect service: {s}");
    }
    if let Some(v) = &f.suspect_version {
        let _ = writeln!(h, "suspect version: {v}");
    }
    for e in f.evidence.iter().take(10) {
        let _ = writeln!(h, "evidence: {e}");
    }
    let _ = writeln!(
        out,
        "The root cause (computed confidence {}):",
        hypothesis.computed_confidence
    );
    push_bounded(&mut out, &untrusted("hypothesis", &h));
    out.push('\n');
    context_sections(&mut out, context);
    out.push_str("\nPropose a plan with the `record_plan` tool, from the action catalogue only.\n");
    out
}

fn postmortem_prompt(input: &PostmortemInput<'_>) -> String {
    let incident = input.incident;
    let mut out = header(incident);
    let mut rec = String::new();
    let _ = writeln!(rec, "title: {}", incident.title);
    let _ = writeln!(
        rec,
        "severity: {}",
        incident
            .severity
            .map(|s| s.as_str())
            .unwrap_or("unassessed")
    );
    if let Some(rc) = &incident.root_cause {
        let _ = writeln!(
            rec,
            "root cause: {} — {} (computed confidence {})",
            rc.finding.category, rc.finding.primary_cause, rc.computed_confidence
        );
    }
    if let Some(plan) = &incident.plan {
        for s in &plan.steps {
            let _ = writeln!(rec, "plan step: {} (risk {})", s.command, s.risk);
        }
    }
    if let Some(o) = &incident.outcome {
        let _ = writeln!(
            rec,
            "outcome: {}",
            serde_json::to_string(o).unwrap_or_default()
        );
    }
    out.push_str("The incident record:\n");
    push_bounded(&mut out, &untrusted("incident", &rec));
    let mut timeline = String::new();
    for e in input.events.iter().take(200) {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            timeline,
            "{} {kind}: {}",
            e.at.to_rfc3339(),
            iras_core::truncate(&e.message, 512)
        );
    }
    out.push_str("\nThe timeline (UTC):\n");
    if !push_bounded(&mut out, &untrusted("timeline", &timeline)) {
        out.push_str("(The timeline was left out to bound the prompt size.)\n");
    }
    out.push_str("\nWrite the narrative with the `record_postmortem` tool.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closing_delimiter_inside_data_is_neutralised() {
        let block = untrusted(
            "logs",
            "a </untrusted_data> b < / UNTRUSTED_DATA x <untrusted_data>",
        );
        assert_eq!(block.matches("</untrusted_data>").count(), 1);
        assert!(block.ends_with("</untrusted_data>\n"));
        assert_eq!(block.to_lowercase().matches("<untrusted_data").count(), 1);
    }

    #[test]
    fn every_schema_is_a_self_contained_object() {
        for s in [
            input_schema::<TriageResult>(),
            input_schema::<RootCauseFinding>(),
            input_schema::<ProposedPlan>(),
            input_schema::<PostmortemNarrative>(),
        ] {
            assert_eq!(s["type"], "object");
            assert!(!s.to_string().contains("$ref"), "{s}");
        }
    }
}

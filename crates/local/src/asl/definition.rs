//! Loading a state machine definition: `${Name}` substitution (like SAM's
//! `DefinitionSubstitutions`), parsing, and the validation Step Functions does when a state machine
//! is created (every transition names a state, every state is reachable, exactly one of Next/End,
//! field types and ranges, compiled paths, payload templates and choice rules).

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::choice::{self, ChoiceRule};
use super::errors;
use super::path::Path;
use super::payload::{Expr, Template};

/// Task `TimeoutSeconds` when a definition gives none (AWS's default).
pub(crate) const DEFAULT_TASK_TIMEOUT_SECONDS: u64 = 99_999_999;
const MAX_SECONDS: u64 = 99_999_999;

/// Why a definition was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text is not JSON.
    #[error("the state machine definition is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A `${Name}` placeholder remained after substitution.
    #[error("the definition still contains `{placeholder}` at {location}: add `{name}` to the substitutions")]
    Unsubstituted {
        /// The placeholder as written, e.g. `${TriageFunctionArn}`.
        placeholder: String,
        /// Its name, e.g. `TriageFunctionArn`.
        name: String,
        /// Where it is, as a JSON pointer.
        location: String,
    },
    /// A state uses a type this interpreter does not run.
    #[error("state `{state}` has Type `{state_type}`, which the local ASL interpreter does not support (supported: Task, Choice, Pass, Wait, Succeed, Fail)")]
    UnsupportedStateType {
        /// The state's name.
        state: String,
        /// Its `Type`.
        state_type: String,
    },
    /// Anything else that Step Functions would also refuse.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where: the top level, a state, a retrier, ...
        at: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// A parsed and validated state machine definition.
#[derive(Debug)]
pub struct Definition {
    comment: Option<String>,
    start_at: String,
    timeout_seconds: Option<u64>,
    states: HashMap<String, State>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) kind: StateKind,
    pub(crate) input_path: IoPath,
    pub(crate) output_path: IoPath,
    pub(crate) transition: Transition,
}

/// InputPath / OutputPath: absent means `$`; `null` means `{}`.
#[derive(Debug)]
pub(crate) enum IoPath {
    Whole,
    Null,
    Path(Path),
}

/// ResultPath: absent means `$` (replace the input); `null` means discard the result.
#[derive(Debug)]
pub(crate) enum ResultPath {
    Discard,
    Path(Path),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

#[derive(Debug)]
pub(crate) enum StateKind {
    Task(Box<TaskState>),
    Pass(PassState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
}

impl StateKind {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
        }
    }
}

#[derive(Debug)]
pub(crate) struct TaskState {
    pub(crate) resource: String,
    pub(crate) wait_for_token: bool,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
    pub(crate) timeout: Seconds,
    pub(crate) heartbeat: Option<Seconds>,
}

/// A number of seconds given literally or through a reference path into the effective input.
#[derive(Debug)]
pub(crate) enum Seconds {
    Literal(u64),
    Path(Path),
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub(crate) error_equals: Vec<String>,
    pub(crate) interval_seconds: f64,
    pub(crate) max_attempts: u32,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<f64>,
    pub(crate) full_jitter: bool,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub(crate) error_equals: Vec<String>,
    pub(crate) next: String,
    pub(crate) result_path: ResultPath,
}

#[derive(Debug)]
pub(crate) struct PassState {
    pub(crate) parameters: Option<Template>,
    pub(crate) result: Option<Value>,
    pub(crate) result_path: ResultPath,
}

#[derive(Debug)]
pub(crate) struct ChoiceState {
    pub(crate) choices: Vec<ChoiceRule>,
    pub(crate) default: Option<String>,
}

#[derive(Debug)]
pub(crate) enum WaitState {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(DateTime<FixedOffset>),
    TimestampPath(Path),
}

#[derive(Debug)]
pub(crate) struct FailState {
    pub(crate) error: Option<FailField>,
    pub(crate) cause: Option<FailField>,
}

/// A Fail state's Error/Cause: a literal, or an ErrorPath/CausePath (path or intrinsic).
#[derive(Debug)]
pub(crate) enum FailField {
    Literal(String),
    Expr(Expr),
}

impl Definition {
    /// Parses `text`, replaces every `${Name}` in its string values with `substitutions[Name]`, and
    /// validates the result. A placeholder left without a substitution is an error, as are
    /// Parallel and Map states (not supported here) and everything Step Functions itself refuses.
    pub fn from_json(
        text: &str,
        substitutions: &HashMap<String, String>,
    ) -> Result<Self, LoadError> {
        let mut value: Value = serde_json::from_str(text)?;
        substitute(&mut value, substitutions, &mut String::new())?;
        Self::from_value(&value)
    }

    /// The `StartAt` state.
    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    /// The top-level `Comment`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The execution-level `TimeoutSeconds`, if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }

    /// The names of all states, sorted.
    pub fn state_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.states.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The `Type` of a state, if it exists.
    pub fn state_type(&self, name: &str) -> Option<&'static str> {
        self.states.get(name).map(|s| s.kind.type_name())
    }

    pub(crate) fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    fn from_value(value: &Value) -> Result<Self, LoadError> {
        let Value::Object(map) = value else {
            return Err(invalid("the definition", "must be a JSON object"));
        };
        let mut top = Fields::new("the definition", map.clone());
        let comment = top.opt_string("Comment")?;
        let start_at = top
            .opt_string("StartAt")?
            .ok_or_else(|| invalid("the definition", "`StartAt` is required"))?;
        let timeout_seconds = top.opt_seconds("TimeoutSeconds")?;
        if let Some(version) = top.opt_string("Version")? {
            if version != "1.0" {
                return Err(invalid(
                    "the definition",
                    format!("`Version` must be \"1.0\", got {version:?}"),
                ));
            }
        }
        if let Some(language) = top.opt_string("QueryLanguage")? {
            if language != "JSONPath" {
                return Err(invalid(
                    "the definition",
                    format!("`QueryLanguage` {language:?} is not supported by the local ASL interpreter (only JSONPath)"),
                ));
            }
        }
        let states_value = top
            .take("States")
            .ok_or_else(|| invalid("the definition", "`States` is required"))?;
        top.finish()?;
        let Value::Object(states_map) = states_value else {
            return Err(invalid("the definition", "`States` must be an object"));
        };
        if states_map.is_empty() {
            return Err(invalid("the definition", "`States` must not be empty"));
        }
        let mut states = HashMap::new();
        for (name, state_value) in states_map {
            if name.is_empty() || name.chars().count() > 80 {
                return Err(invalid(
                    format!("state `{name}`"),
                    "state names must be 1 to 80 characters long",
                ));
            }
            let state = parse_state(&name, state_value)?;
            states.insert(name, state);
        }
        let definition = Definition {
            comment,
            start_at,
            timeout_seconds,
            states,
        };
        definition.validate_graph()?;
        Ok(definition)
    }

    fn targets(state: &State) -> Vec<&str> {
        let mut out = Vec::new();
        if let Transition::Next(next) = &state.transition {
            out.push(next.as_str());
        }
        match &state.kind {
            StateKind::Choice(choice) => {
                out.extend(choice.choices.iter().map(|c| c.next.as_str()));
                out.extend(choice.default.as_deref());
            }
            StateKind::Task(task) => out.extend(task.catch.iter().map(|c| c.next.as_str())),
            _ => {}
        }
        out
    }

    fn validate_graph(&self) -> Result<(), LoadError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(invalid(
                "the definition",
                format!("`StartAt` names `{}`, which is not a state", self.start_at),
            ));
        }
        let mut names: Vec<&String> = self.states.keys().collect();
        names.sort();
        for name in &names {
            for target in Self::targets(&self.states[*name]) {
                if !self.states.contains_key(target) {
                    return Err(invalid(
                        format!("state `{name}`"),
                        format!("transitions to `{target}`, which is not a state"),
                    ));
                }
            }
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([self.start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name) {
                continue;
            }
            if let Some(state) = self.states.get(name) {
                queue.extend(Self::targets(state));
            }
        }
        if let Some(unreachable) = names.iter().find(|n| !seen.contains(n.as_str())) {
            return Err(invalid(
                format!("state `{unreachable}`"),
                "is not reachable from `StartAt`",
            ));
        }
        Ok(())
    }
}

/// Unknown-field checking wrapper over a JSON object.
struct Fields {
    at: String,
    map: Map<String, Value>,
}

impl Fields {
    fn new(at: impl Into<String>, map: Map<String, Value>) -> Self {
        Self { at: at.into(), map }
    }

    fn err(&self, reason: impl Into<String>) -> LoadError {
        invalid(self.at.clone(), reason)
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    fn opt_string(&mut self, key: &str) -> Result<Option<String>, LoadError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(format!("`{key}` must be a string, got {other}"))),
        }
    }

    fn opt_bool(&mut self, key: &str) -> Result<Option<bool>, LoadError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.err(format!("`{key}` must be a boolean, got {other}"))),
        }
    }

    fn opt_number(&mut self, key: &str) -> Result<Option<f64>, LoadError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(format!("`{key}` is not a usable number"))),
            Some(other) => Err(self.err(format!("`{key}` must be a number, got {other}"))),
        }
    }

    fn opt_int(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, LoadError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(self.err(format!(
                    "`{key}` must be an integer from {min} to {max}, got {n}"
                ))),
            },
            Some(other) => Err(self.err(format!("`{key}` must be an integer, got {other}"))),
        }
    }

    fn opt_seconds(&mut self, key: &str) -> Result<Option<u64>, LoadError> {
        self.opt_int(key, 1, MAX_SECONDS)
    }

    fn opt_reference_path(&mut self, key: &str) -> Result<Option<Path>, LoadError> {
        match self.opt_string(key)? {
            None => Ok(None),
            Some(text) => Path::parse_reference(&text)
                .map(Some)
                .map_err(|e| self.err(format!("`{key}`: {e}"))),
        }
    }

    fn io_path(&mut self, key: &str) -> Result<IoPath, LoadError> {
        match self.take(key) {
            None => Ok(IoPath::Whole),
            Some(Value::Null) => Ok(IoPath::Null),
            Some(Value::String(text)) => Path::parse(&text)
                .map(IoPath::Path)
                .map_err(|e| self.err(format!("`{key}`: {e}"))),
            Some(other) => Err(self.err(format!(
                "`{key}` must be a path string or null, got {other}"
            ))),
        }
    }

    fn result_path(&mut self) -> Result<ResultPath, LoadError> {
        match self.take("ResultPath") {
            None => Ok(ResultPath::Path(root_path())),
            Some(Value::Null) => Ok(ResultPath::Discard),
            Some(Value::String(text)) => Path::parse_reference(&text)
                .map(ResultPath::Path)
                .map_err(|e| self.err(format!("`ResultPath`: {e}"))),
            Some(other) => Err(self.err(format!(
                "`ResultPath` must be a path string or null, got {other}"
            ))),
        }
    }

    fn template(&mut self, key: &str) -> Result<Option<Template>, LoadError> {
        match self.take(key) {
            None => Ok(None),
            Some(value) => Template::compile(&value)
                .map(Some)
                .map_err(|e| self.err(format!("`{key}`: {e}"))),
        }
    }

    fn transition(&mut self) -> Result<Transition, LoadError> {
        let next = self.opt_string("Next")?;
        let end = self.opt_bool("End")?.unwrap_or(false);
        match (next, end) {
            (Some(next), false) => Ok(Transition::Next(next)),
            (None, true) => Ok(Transition::End),
            (Some(_), true) => Err(self.err("has both `Next` and `End`; use one")),
            (None, false) => Err(self.err("needs `Next` or `\"End\": true`")),
        }
    }

    fn finish(self) -> Result<(), LoadError> {
        let mut unknown: Vec<&String> = self.map.keys().collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort();
        let list = unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(invalid(
            self.at.clone(),
            format!("unknown or unsupported field(s) {list} (the local ASL interpreter supports JSONPath states only; no JSONata, variables, Arguments/Output/Assign or Credentials)"),
        ))
    }
}

fn root_path() -> Path {
    // `$` always parses.
    Path::parse_reference("$").unwrap_or_else(|_| unreachable!("`$` is a reference path"))
}

fn parse_state(name: &str, value: Value) -> Result<State, LoadError> {
    let at = format!("state `{name}`");
    let Value::Object(map) = value else {
        return Err(invalid(at, "must be an object"));
    };
    let mut f = Fields::new(at, map);
    let state_type = f
        .opt_string("Type")?
        .ok_or_else(|| f.err("`Type` is required"))?;
    f.take("Comment");
    let state = match state_type.as_str() {
        "Task" => {
            let input_path = f.io_path("InputPath")?;
            let output_path = f.io_path("OutputPath")?;
            let task = parse_task(&mut f)?;
            let transition = f.transition()?;
            State {
                kind: StateKind::Task(Box::new(task)),
                input_path,
                output_path,
                transition,
            }
        }
        "Pass" => {
            let input_path = f.io_path("InputPath")?;
            let output_path = f.io_path("OutputPath")?;
            let pass = PassState {
                parameters: f.template("Parameters")?,
                result: f.take("Result"),
                result_path: f.result_path()?,
            };
            let transition = f.transition()?;
            State {
                kind: StateKind::Pass(pass),
                input_path,
                output_path,
                transition,
            }
        }
        "Choice" => {
            let input_path = f.io_path("InputPath")?;
            let output_path = f.io_path("OutputPath")?;
            let choices = match f.take("Choices") {
                Some(Value::Array(items)) if !items.is_empty() => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        choice::compile_top(item).map_err(|e| f.err(format!("Choices[{i}]: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(f.err("`Choices` must be a non-empty array")),
            };
            let default = f.opt_string("Default")?;
            if f.map.contains_key("Next") || f.map.contains_key("End") {
                return Err(
                    f.err("a Choice state has no `Next` or `End`; use `Choices` and `Default`")
                );
            }
            State {
                kind: StateKind::Choice(ChoiceState { choices, default }),
                input_path,
                output_path,
                transition: Transition::End,
            }
        }
        "Wait" => {
            let input_path = f.io_path("InputPath")?;
            let output_path = f.io_path("OutputPath")?;
            let seconds = f.opt_int("Seconds", 0, MAX_SECONDS)?;
            let seconds_path = f.opt_reference_path("SecondsPath")?;
            let timestamp = match f.opt_string("Timestamp")? {
                None => None,
                Some(text) => Some(choice::parse_timestamp(&text).ok_or_else(|| {
                    f.err(format!(
                        "`Timestamp` {text:?} is not an RFC 3339 timestamp (uppercase T and Z)"
                    ))
                })?),
            };
            let timestamp_path = f.opt_reference_path("TimestampPath")?;
            let wait = match (seconds, seconds_path, timestamp, timestamp_path) {
                (Some(s), None, None, None) => WaitState::Seconds(s),
                (None, Some(p), None, None) => WaitState::SecondsPath(p),
                (None, None, Some(t), None) => WaitState::Timestamp(t),
                (None, None, None, Some(p)) => WaitState::TimestampPath(p),
                _ => {
                    return Err(f.err(
                        "a Wait state needs exactly one of `Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath`",
                    ))
                }
            };
            let transition = f.transition()?;
            State {
                kind: StateKind::Wait(wait),
                input_path,
                output_path,
                transition,
            }
        }
        "Succeed" => State {
            input_path: f.io_path("InputPath")?,
            output_path: f.io_path("OutputPath")?,
            kind: StateKind::Succeed,
            transition: Transition::End,
        },
        "Fail" => {
            let error = fail_field(&mut f, "Error", "ErrorPath")?;
            let cause = fail_field(&mut f, "Cause", "CausePath")?;
            State {
                kind: StateKind::Fail(FailState { error, cause }),
                input_path: IoPath::Whole,
                output_path: IoPath::Whole,
                transition: Transition::End,
            }
        }
        "Parallel" | "Map" => {
            return Err(LoadError::UnsupportedStateType {
                state: name.to_string(),
                state_type,
            })
        }
        other => return Err(f.err(format!("`Type` {other:?} is not a state type"))),
    };
    f.finish()?;
    Ok(state)
}

fn fail_field(f: &mut Fields, literal: &str, path: &str) -> Result<Option<FailField>, LoadError> {
    let lit = f.opt_string(literal)?;
    let expr = match f.opt_string(path)? {
        None => None,
        Some(text) => Some(Expr::parse(&text).map_err(|e| f.err(format!("`{path}`: {e}")))?),
    };
    match (lit, expr) {
        (Some(_), Some(_)) => Err(f.err(format!("use `{literal}` or `{path}`, not both"))),
        (Some(text), None) => Ok(Some(FailField::Literal(text))),
        (None, Some(expr)) => Ok(Some(FailField::Expr(expr))),
        (None, None) => Ok(None),
    }
}

fn parse_task(f: &mut Fields) -> Result<TaskState, LoadError> {
    let resource = f
        .opt_string("Resource")?
        .ok_or_else(|| f.err("`Resource` is required"))?;
    let wait_for_token = resource.ends_with(".waitForTaskToken");
    let parameters = f.template("Parameters")?;
    let result_selector = f.template("ResultSelector")?;
    let result_path = f.result_path()?;
    let timeout_literal = f.opt_seconds("TimeoutSeconds")?;
    let timeout_path = f.opt_reference_path("TimeoutSecondsPath")?;
    let timeout = match (timeout_literal, timeout_path) {
        (Some(_), Some(_)) => {
            return Err(f.err("use `TimeoutSeconds` or `TimeoutSecondsPath`, not both"))
        }
        (Some(s), None) => Seconds::Literal(s),
        (None, Some(p)) => Seconds::Path(p),
        (None, None) => Seconds::Literal(DEFAULT_TASK_TIMEOUT_SECONDS),
    };
    let heartbeat_literal = f.opt_seconds("HeartbeatSeconds")?;
    let heartbeat_path = f.opt_reference_path("HeartbeatSecondsPath")?;
    let heartbeat = match (heartbeat_literal, heartbeat_path) {
        (Some(_), Some(_)) => {
            return Err(f.err("use `HeartbeatSeconds` or `HeartbeatSecondsPath`, not both"))
        }
        (Some(s), None) => Some(Seconds::Literal(s)),
        (None, Some(p)) => Some(Seconds::Path(p)),
        (None, None) => None,
    };
    if let (Some(Seconds::Literal(hb)), Seconds::Literal(to)) = (&heartbeat, &timeout) {
        if hb >= to {
            return Err(f.err(format!(
                "`HeartbeatSeconds` ({hb}) must be smaller than `TimeoutSeconds` ({to})"
            )));
        }
    }
    let retry = match f.take("Retry") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| parse_retrier(&f.at, i, item))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(f.err("`Retry` must be an array")),
    };
    check_all_is_last(&f.at, "Retry", retry.iter().map(|r| &r.error_equals))?;
    let catch = match f.take("Catch") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| parse_catcher(&f.at, i, item))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(f.err("`Catch` must be an array")),
    };
    check_all_is_last(&f.at, "Catch", catch.iter().map(|c| &c.error_equals))?;
    Ok(TaskState {
        resource,
        wait_for_token,
        parameters,
        result_selector,
        result_path,
        retry,
        catch,
        timeout,
        heartbeat,
    })
}

fn error_equals(f: &mut Fields) -> Result<Vec<String>, LoadError> {
    match f.take("ErrorEquals") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(f.err(format!(
                    "`ErrorEquals` entries must be strings, got {other}"
                ))),
            })
            .collect(),
        _ => Err(f.err("`ErrorEquals` must be a non-empty array of error names")),
    }
}

/// `States.ALL` must appear alone, in the last retrier/catcher.
fn check_all_is_last<'a>(
    at: &str,
    field: &str,
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
) -> Result<(), LoadError> {
    let count = lists.len();
    for (i, list) in lists.enumerate() {
        if list.iter().any(|e| e == errors::ALL) && (list.len() != 1 || i + 1 != count) {
            return Err(invalid(
                format!("{at} {field}[{i}]"),
                "`States.ALL` must appear alone in `ErrorEquals`, in the last entry",
            ));
        }
    }
    Ok(())
}

fn parse_retrier(state_at: &str, index: usize, value: Value) -> Result<Retrier, LoadError> {
    let at = format!("{state_at} Retry[{index}]");
    let Value::Object(map) = value else {
        return Err(invalid(at, "must be an object"));
    };
    let mut f = Fields::new(at, map);
    f.take("Comment");
    let error_equals = error_equals(&mut f)?;
    let interval_seconds = f.opt_int("IntervalSeconds", 1, MAX_SECONDS)?.unwrap_or(1) as f64;
    let max_attempts = f.opt_int("MaxAttempts", 0, MAX_SECONDS)?.unwrap_or(3) as u32;
    let backoff_rate = f.opt_number("BackoffRate")?.unwrap_or(2.0);
    if backoff_rate < 1.0 {
        return Err(f.err(format!(
            "`BackoffRate` must be at least 1.0, got {backoff_rate}"
        )));
    }
    let max_delay_seconds = f
        .opt_int("MaxDelaySeconds", 1, 31_622_400)?
        .map(|s| s as f64);
    let full_jitter = match f.opt_string("JitterStrategy")?.as_deref() {
        None | Some("NONE") => false,
        Some("FULL") => true,
        Some(other) => {
            return Err(f.err(format!(
                "`JitterStrategy` must be \"FULL\" or \"NONE\", got {other:?}"
            )))
        }
    };
    f.finish()?;
    Ok(Retrier {
        error_equals,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        full_jitter,
    })
}

fn parse_catcher(state_at: &str, index: usize, value: Value) -> Result<Catcher, LoadError> {
    let at = format!("{state_at} Catch[{index}]");
    let Value::Object(map) = value else {
        return Err(invalid(at, "must be an object"));
    };
    let mut f = Fields::new(at, map);
    f.take("Comment");
    let error_equals = error_equals(&mut f)?;
    let next = f
        .opt_string("Next")?
        .ok_or_else(|| f.err("`Next` is required"))?;
    let result_path = f.result_path()?;
    f.finish()?;
    Ok(Catcher {
        error_equals,
        next,
        result_path,
    })
}

/// Replaces `${Name}` in every string value, then refuses any placeholder that is left.
fn substitute(
    value: &mut Value,
    substitutions: &HashMap<String, String>,
    pointer: &mut String,
) -> Result<(), LoadError> {
    match value {
        Value::String(text) => {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let name_len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                if name_len > 0 && after[name_len..].starts_with('}') {
                    let name = &after[..name_len];
                    match substitutions.get(name) {
                        Some(replacement) => out.push_str(replacement),
                        None => {
                            return Err(LoadError::Unsubstituted {
                                placeholder: format!("${{{name}}}"),
                                name: name.to_string(),
                                location: if pointer.is_empty() {
                                    "/".to_string()
                                } else {
                                    pointer.clone()
                                },
                            })
                        }
                    }
                    rest = &after[name_len + 1..];
                } else {
                    out.push_str("${");
                    rest = after;
                }
            }
            out.push_str(rest);
            *text = out;
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                substitute(item, substitutions, pointer)?;
                pointer.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                substitute(item, substitutions, pointer)?;
                pointer.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Definition, LoadError> {
        Definition::from_json(text, &HashMap::new())
    }

    #[test]
    fn substitution_replaces_placeholders_and_refuses_leftovers() {
        let text =
            r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${FnArn}","End":true}}}"#;
        let subs = HashMap::from([(
            "FnArn".to_string(),
            "arn:aws:lambda:us-east-1:1:function:f".to_string(),
        )]);
        let def = Definition::from_json(text, &subs).unwrap();
        let StateKind::Task(task) = &def.state("A").unwrap().kind else {
            panic!("not a task")
        };
        assert_eq!(task.resource, "arn:aws:lambda:us-east-1:1:function:f");
        match load(text) {
            Err(LoadError::Unsubstituted { name, location, .. }) => {
                assert_eq!(name, "FnArn");
                assert_eq!(location, "/States/A/Resource");
            }
            other => panic!("expected Unsubstituted, got {other:?}"),
        }
    }

    #[test]
    fn parallel_and_map_states_are_refused_by_name() {
        let text = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[],"End":true}}}"#;
        let err = load(text).unwrap_err();
        assert!(matches!(err, LoadError::UnsupportedStateType { ref state, .. } if state == "P"));
        assert!(err.to_string().contains("`P`"));
    }

    #[test]
    fn structural_mistakes_are_refused() {
        for (text, needle) in [
            (
                r#"{"StartAt":"X","States":{"A":{"Type":"Succeed"}}}"#,
                "StartAt",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#,
                "`B`",
            ),
            (r#"{"StartAt":"A","States":{"A":{"Type":"Pass"}}}"#, "Next"),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true},"B":{"Type":"Succeed"}}}"#,
                "reachable",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Bogus":1}}}"#,
                "Bogus",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true,"Retry":[{"ErrorEquals":["States.ALL","X"]}]}}}"#,
                "States.ALL",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true,"HeartbeatSeconds":10,"TimeoutSeconds":5}}}"#,
                "HeartbeatSeconds",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"ResultPath":"$.a[*]"}}}"#,
                "reference path",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"Timestamp":"2020-01-01T00:00:00Z","End":true}}}"#,
                "exactly one",
            ),
            (
                r#"{"StartAt":"A","States":{"A":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}"#,
                "not both",
            ),
        ] {
            let err = load(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}

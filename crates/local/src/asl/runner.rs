//! One execution's task: runs states one after another, saving the record after every transition
//! (and before every wait or invoke) so that a restart can continue where it stopped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::choice::parse_timestamp;
use super::definition::{
    ChoiceState, FailField, FailState, IoPath, PassState, ResultPath, Seconds, State, StateKind,
    TaskState, Transition, WaitState,
};
use super::engine::{Callback, CallbackError, Inner, Mailbox, Reply, Signal, TaskFailure};
use super::errors::{self, error_matches, StateError};
use super::payload::truncate;
use super::record::{
    CurrentState, ExecutionRecord, ExecutionStatus, HistoryEventKind, StateStep, TaskAttempt,
};
use super::store::StoreError;
use super::token::{redact, redact_text, TaskToken};

type InvokeFuture = Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + Send>>;

/// How a state ended.
enum Outcome {
    Next {
        next: String,
        output: Value,
    },
    Succeed(Value),
    Fail {
        error: Option<String>,
        cause: Option<String>,
    },
    TimedOut,
}

impl Outcome {
    fn fail(error: StateError) -> Self {
        Outcome::Fail {
            error: Some(error.error),
            cause: Some(error.cause),
        }
    }
}

/// How one Task attempt ended.
enum AttemptEnd {
    Result(Value),
    /// The task failed or timed out: Retry, then Catch.
    Error(StateError),
    /// Preparing the input failed: no retry, only Catch (States.Runtime is never caught).
    InputError(StateError),
    ExecutionTimedOut,
}

enum Woke {
    Deadline,
    ExecutionTimedOut,
}

pub(crate) struct Runner {
    inner: Arc<Inner>,
    rec: ExecutionRecord,
    mailbox: Arc<Mailbox>,
    generation: u64,
    /// Callback replies to send once the record that reflects them is saved.
    pending_replies: Vec<Reply>,
}

impl Runner {
    pub(crate) fn new(
        inner: Arc<Inner>,
        rec: ExecutionRecord,
        mailbox: Arc<Mailbox>,
        generation: u64,
    ) -> Self {
        Self {
            inner,
            rec,
            mailbox,
            generation,
            pending_replies: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let name = self.rec.name.clone();
        if let Err(error) = self.drive().await {
            tracing::error!(execution = %name, %error,
                "the execution stopped because its record could not be saved; it continues on the next resume");
            for reply in self.pending_replies.drain(..) {
                let _ = reply.send(Err(CallbackError::Store(error.clone())));
            }
        }
        for callback in self.mailbox.drain(true) {
            let _ = callback.reply.send(Err(CallbackError::TaskTimedOut));
        }
        self.inner.forget(&name, self.generation);
        self.inner.changed.notify_waiters();
    }

    async fn drive(&mut self) -> Result<(), StoreError> {
        while !self.rec.status.is_finished() {
            let outcome = self.run_current().await?;
            self.apply(outcome).await?;
        }
        Ok(())
    }

    fn cur(&self) -> &CurrentState {
        // `drive` only runs states while `current` is set (see `run_current`).
        self.rec
            .current
            .as_ref()
            .unwrap_or_else(|| unreachable!("an unfinished execution has a current state"))
    }

    fn cur_mut(&mut self) -> &mut CurrentState {
        self.rec
            .current
            .as_mut()
            .unwrap_or_else(|| unreachable!("an unfinished execution has a current state"))
    }

    async fn save(&mut self) -> Result<(), StoreError> {
        self.inner.store.save(&self.rec).await?;
        for reply in self.pending_replies.drain(..) {
            let _ = reply.send(Ok(()));
        }
        self.inner.changed.notify_waiters();
        Ok(())
    }

    /// The Context object (`$$`) for the current state.
    fn context(&self, token: Option<&TaskToken>) -> Value {
        let mut context = json!({
            "Execution": {
                "Id": self.rec.execution_arn,
                "Input": self.rec.input,
                "Name": self.rec.name,
                "StartTime": timestamp(self.rec.start_time),
            },
            "StateMachine": {
                "Id": self.inner.options.state_machine_arn,
                "Name": self.inner.state_machine_name(),
            },
        });
        if let (Some(cur), Value::Object(map)) = (self.rec.current.as_ref(), &mut context) {
            map.insert(
                "State".into(),
                json!({
                    "EnteredTime": timestamp(cur.entered_time),
                    "Name": cur.name,
                    "RetryCount": cur.retry_count,
                }),
            );
            if let Some(token) = token {
                map.insert("Task".into(), json!({ "Token": token.expose() }));
            }
        }
        context
    }

    async fn run_current(&mut self) -> Result<Outcome, StoreError> {
        if self.rec.deadline.is_some_and(|d| Utc::now() >= d) {
            return Ok(Outcome::TimedOut);
        }
        let Some(name) = self.rec.current.as_ref().map(|c| c.name.clone()) else {
            return Ok(Outcome::fail(StateError::runtime(
                "the execution record has no current state",
            )));
        };
        let definition = Arc::clone(&self.inner.definition);
        let Some(state) = definition.state(&name) else {
            return Ok(Outcome::fail(StateError::runtime(format!(
                "state `{name}` is not in the definition (was it renamed while the execution was paused?)"
            ))));
        };
        tracing::debug!(execution = %self.rec.name, state = %name, "running state");
        match &state.kind {
            StateKind::Pass(pass) => Ok(self.run_pass(state, pass)),
            StateKind::Choice(choice) => Ok(self.run_choice(state, choice)),
            StateKind::Wait(wait) => self.run_wait(state, wait).await,
            StateKind::Succeed => Ok(self.run_succeed(state)),
            StateKind::Fail(fail) => Ok(self.run_fail(fail)),
            StateKind::Task(task) => self.run_task(state, task).await,
        }
    }

    /// Records the outcome and saves: the new state (or the end) is durable before it runs.
    async fn apply(&mut self, outcome: Outcome) -> Result<(), StoreError> {
        self.retire_token();
        for callback in self.mailbox.drain(true) {
            let _ = callback.reply.send(Err(CallbackError::TaskTimedOut));
        }
        let state = self
            .rec
            .current
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let now = Utc::now();
        match outcome {
            Outcome::Next { next, output } => {
                self.rec.push_event(HistoryEventKind::StateExited {
                    state,
                    output: output.clone(),
                });
                let state_type = self
                    .inner
                    .definition
                    .state_type(&next)
                    .unwrap_or("Unknown")
                    .to_string();
                self.rec.push_event(HistoryEventKind::StateEntered {
                    state: next.clone(),
                    state_type,
                    input: output.clone(),
                });
                tracing::debug!(execution = %self.rec.name, state = %next, "entered state");
                self.rec.current = Some(CurrentState::entered(next, output));
                self.rec.status = ExecutionStatus::Running;
            }
            Outcome::Succeed(output) => {
                self.rec.push_event(HistoryEventKind::StateExited {
                    state,
                    output: output.clone(),
                });
                self.rec.push_event(HistoryEventKind::ExecutionSucceeded {
                    output: output.clone(),
                });
                self.finish(ExecutionStatus::Succeeded, now);
                self.rec.output = Some(output);
                tracing::info!(execution = %self.rec.name, "execution succeeded");
            }
            Outcome::Fail { error, cause } => {
                self.rec.push_event(HistoryEventKind::ExecutionFailed {
                    error: error.clone(),
                    cause: cause.clone(),
                });
                self.finish(ExecutionStatus::Failed, now);
                tracing::info!(execution = %self.rec.name, error = error.as_deref().unwrap_or(""), "execution failed");
                self.rec.error = error;
                self.rec.cause = cause;
            }
            Outcome::TimedOut => {
                let cause =
                    "The execution ran longer than the state machine's TimeoutSeconds".to_string();
                self.rec.push_event(HistoryEventKind::ExecutionTimedOut {
                    error: errors::TIMEOUT.into(),
                    cause: cause.clone(),
                });
                self.finish(ExecutionStatus::TimedOut, now);
                self.rec.error = Some(errors::TIMEOUT.into());
                self.rec.cause = Some(cause);
                tracing::info!(execution = %self.rec.name, "execution timed out");
            }
        }
        self.save().await
    }

    fn finish(&mut self, status: ExecutionStatus, now: DateTime<Utc>) {
        self.rec.status = status;
        self.rec.stop_time = Some(now);
        self.rec.current = None;
    }

    /// Moves the current task token (if any) to the closed list: late callbacks get TaskTimedOut.
    fn retire_token(&mut self) {
        if let Some(hash) = self.rec.active_token_hash().map(str::to_string) {
            if !self.rec.closed_token_hashes.contains(&hash) {
                self.rec.closed_token_hashes.push(hash);
            }
        }
    }

    fn transition(state: &State, output: Value) -> Outcome {
        match &state.transition {
            Transition::Next(next) => Outcome::Next {
                next: next.clone(),
                output,
            },
            Transition::End => Outcome::Succeed(output),
        }
    }

    fn run_pass(&self, state: &State, pass: &PassState) -> Outcome {
        let raw = &self.cur().input;
        let context = self.context(None);
        let output = (|| {
            let effective = input_path(&state.input_path, raw, &context)?;
            let effective = match &pass.parameters {
                Some(template) => template.eval(&effective, &context)?,
                None => effective,
            };
            let result = pass.result.clone().unwrap_or(effective);
            let output = apply_result_path(&pass.result_path, raw.clone(), result)?;
            output_path(&state.output_path, output, &context)
        })();
        match output {
            Ok(output) => Self::transition(state, output),
            Err(error) => Outcome::fail(error),
        }
    }

    fn run_choice(&self, state: &State, choice: &ChoiceState) -> Outcome {
        let context = self.context(None);
        let result = (|| {
            let effective = input_path(&state.input_path, &self.cur().input, &context)?;
            let mut next = None;
            for rule in &choice.choices {
                if rule.rule.eval(&effective, &context)? {
                    next = Some(rule.next.clone());
                    break;
                }
            }
            let next = next.or_else(|| choice.default.clone()).ok_or_else(|| {
                StateError::new(
                    errors::NO_CHOICE_MATCHED,
                    "No Choice Rules matched and no Default is specified",
                )
            })?;
            Ok((next, output_path(&state.output_path, effective, &context)?))
        })();
        match result {
            Ok((next, output)) => Outcome::Next { next, output },
            Err(error) => Outcome::fail(error),
        }
    }

    async fn run_wait(&mut self, state: &State, wait: &WaitState) -> Result<Outcome, StoreError> {
        let context = self.context(None);
        let effective = match input_path(&state.input_path, &self.cur().input, &context) {
            Ok(v) => v,
            Err(error) => return Ok(Outcome::fail(error)),
        };
        let until = match self.cur().step {
            StateStep::Waiting { until } => until,
            _ => {
                let now = Utc::now();
                let seconds = match wait_seconds(wait, &effective, &context, now) {
                    Ok(s) => s,
                    Err(error) => return Ok(Outcome::fail(error)),
                };
                let until = now + self.inner.scaled(seconds);
                self.cur_mut().step = StateStep::Waiting { until };
                self.save().await?;
                until
            }
        };
        if let Woke::ExecutionTimedOut = self.sleep_until(until).await {
            return Ok(Outcome::TimedOut);
        }
        Ok(match output_path(&state.output_path, effective, &context) {
            Ok(output) => Self::transition(state, output),
            Err(error) => Outcome::fail(error),
        })
    }

    fn run_succeed(&self, state: &State) -> Outcome {
        let context = self.context(None);
        let output = input_path(&state.input_path, &self.cur().input, &context)
            .and_then(|effective| output_path(&state.output_path, effective, &context));
        match output {
            Ok(output) => Outcome::Succeed(output),
            Err(error) => Outcome::fail(error),
        }
    }

    fn run_fail(&self, fail: &FailState) -> Outcome {
        let context = self.context(None);
        let raw = &self.cur().input;
        let field = |field: &Option<FailField>, name: &str| -> Result<Option<String>, StateError> {
            match field {
                None => Ok(None),
                Some(FailField::Literal(text)) => Ok(Some(text.clone())),
                Some(FailField::Expr(expr)) => match expr.eval(raw, &context)? {
                    Some(Value::String(text)) => Ok(Some(text)),
                    Some(other) => Err(StateError::runtime(format!(
                        "The value of {name} must be a string, got {other}"
                    ))),
                    None => Err(StateError::runtime(format!(
                        "The JSONPath '{}' specified for {name} could not be found in the input",
                        expr.describe()
                    ))),
                },
            }
        };
        match (
            field(&fail.error, "ErrorPath"),
            field(&fail.cause, "CausePath"),
        ) {
            (Ok(error), Ok(cause)) => Outcome::Fail { error, cause },
            (Err(e), _) | (_, Err(e)) => Outcome::fail(e),
        }
    }

    async fn run_task(&mut self, state: &State, task: &TaskState) -> Result<Outcome, StoreError> {
        let raw = self.cur().input.clone();
        if self.cur().retrier_attempts.len() != task.retry.len() {
            self.cur_mut().retrier_attempts = vec![0; task.retry.len()];
        }
        loop {
            if let StateStep::RetryBackoff { until } = self.cur().step {
                if let Woke::ExecutionTimedOut = self.sleep_until(until).await {
                    return Ok(Outcome::TimedOut);
                }
                self.cur_mut().step = StateStep::Ready;
            }
            let error = match self.task_attempt(state, task, &raw).await? {
                AttemptEnd::ExecutionTimedOut => return Ok(Outcome::TimedOut),
                AttemptEnd::InputError(error) => return Ok(catch(task, &raw, error)),
                AttemptEnd::Result(result) => {
                    let context = self.context(None);
                    return Ok(match task_output(state, task, &raw, result, &context) {
                        Ok(output) => Self::transition(state, output),
                        Err(error) => catch(task, &raw, error),
                    });
                }
                AttemptEnd::Error(error) => error,
            };
            match self.retry_delay(task, &error) {
                Some(delay) => {
                    let until = Utc::now() + self.inner.scaled(delay);
                    let cur = self.cur_mut();
                    cur.retry_count += 1;
                    cur.step = StateStep::RetryBackoff { until };
                    self.rec.status = ExecutionStatus::Running;
                    tracing::debug!(execution = %self.rec.name, error = %error.error, delay, "retrying task");
                    self.save().await?;
                }
                None => return Ok(catch(task, &raw, error)),
            }
        }
    }

    /// The delay (in definition seconds) before the next retry, counting the attempt; `None` when
    /// no retrier matches or the matching one is exhausted (then Catch applies).
    fn retry_delay(&mut self, task: &TaskState, error: &StateError) -> Option<f64> {
        let index = task
            .retry
            .iter()
            .position(|r| error_matches(&r.error_equals, &error.error))?;
        let retrier = &task.retry[index];
        let attempts = self.cur().retrier_attempts[index];
        if attempts >= retrier.max_attempts {
            return None;
        }
        let mut delay = retrier.interval_seconds * retrier.backoff_rate.powi(attempts as i32);
        if let Some(max) = retrier.max_delay_seconds {
            delay = delay.min(max);
        }
        if retrier.full_jitter {
            delay *= rand::random::<f64>();
        }
        self.cur_mut().retrier_attempts[index] += 1;
        Some(delay)
    }

    async fn task_attempt(
        &mut self,
        state: &State,
        task: &TaskState,
        raw: &Value,
    ) -> Result<AttemptEnd, StoreError> {
        let context = self.context(None);
        let effective = match input_path(&state.input_path, raw, &context) {
            Ok(v) => v,
            Err(error) => return Ok(AttemptEnd::InputError(error)),
        };
        let timeout_seconds =
            match resolve_seconds(&task.timeout, &effective, &context, "TimeoutSecondsPath") {
                Ok(s) => s,
                Err(error) => return Ok(AttemptEnd::InputError(error)),
            };
        let heartbeat_seconds = match &task.heartbeat {
            None => None,
            Some(spec) => match resolve_seconds(spec, &effective, &context, "HeartbeatSecondsPath")
            {
                Ok(s) => Some(s),
                Err(error) => return Ok(AttemptEnd::InputError(error)),
            },
        };
        let previous = match &self.cur().step {
            StateStep::Task(attempt) => Some(attempt.clone()),
            _ => None,
        };
        // A resumed attempt keeps its original deadline.
        let timeout_at = previous.as_ref().map_or_else(
            || Utc::now() + self.inner.scaled(timeout_seconds as f64),
            |a| a.timeout_at,
        );
        let state_name = self.cur().name.clone();
        let timeout_error = StateError::new(
            errors::TIMEOUT,
            format!("The task did not complete within its TimeoutSeconds ({timeout_seconds} s)"),
        );

        if task.wait_for_token {
            if let Some(attempt) = previous.filter(|a| a.submitted && a.token_hash.is_some()) {
                // Resumed while waiting for the callback: keep the token and the deadlines.
                self.rec.status = ExecutionStatus::Waiting;
                return self.await_callback(&state_name, attempt, None, None).await;
            }
            // A token whose invoke never returned is abandoned; the state is re-entered.
            self.retire_token();
            let token = TaskToken::generate();
            let context = self.context(Some(&token));
            let parameters = match &task.parameters {
                Some(template) => match template.eval(&effective, &context) {
                    Ok(v) => v,
                    Err(error) => {
                        let cause = redact_text(&error.cause, &token);
                        return Ok(AttemptEnd::InputError(StateError::new(error.error, cause)));
                    }
                },
                None => effective,
            };
            let hash = token.hash();
            let attempt = TaskAttempt {
                timeout_at,
                heartbeat_seconds,
                heartbeat_at: None,
                token_hash: Some(hash.clone()),
                submitted: false,
            };
            // Open the mailbox before the save makes the token findable.
            self.mailbox.open(hash);
            self.cur_mut().step = StateStep::Task(attempt.clone());
            self.rec.status = ExecutionStatus::Waiting;
            self.rec.push_event(HistoryEventKind::TaskScheduled {
                state: state_name.clone(),
                resource: task.resource.clone(),
                parameters: redact(&parameters, &token),
            });
            self.save().await?;
            if Utc::now() >= timeout_at {
                return Ok(self.task_timed_out(&state_name, timeout_error));
            }
            let invoker = Arc::clone(&self.inner.invoker);
            let resource = task.resource.clone();
            let invoke: InvokeFuture =
                Box::pin(async move { invoker.invoke(&resource, parameters).await });
            return self
                .await_callback(&state_name, attempt, Some(invoke), Some(token))
                .await;
        }

        let parameters = match &task.parameters {
            Some(template) => match template.eval(&effective, &context) {
                Ok(v) => v,
                Err(error) => return Ok(AttemptEnd::InputError(error)),
            },
            None => effective,
        };
        self.cur_mut().step = StateStep::Task(TaskAttempt {
            timeout_at,
            heartbeat_seconds: None,
            heartbeat_at: None,
            token_hash: None,
            submitted: false,
        });
        self.rec.status = ExecutionStatus::Running;
        self.rec.push_event(HistoryEventKind::TaskScheduled {
            state: state_name.clone(),
            resource: task.resource.clone(),
            parameters: parameters.clone(),
        });
        self.save().await?;
        if Utc::now() >= timeout_at {
            return Ok(self.task_timed_out(&state_name, timeout_error));
        }
        let invoker = Arc::clone(&self.inner.invoker);
        let deadline = self.rec.deadline;
        let result = tokio::select! {
            result = invoker.invoke(&task.resource, parameters) => Some(result),
            _ = wall_sleep(timeout_at) => None,
            _ = wall_sleep_opt(deadline) => return Ok(AttemptEnd::ExecutionTimedOut),
        };
        Ok(match result {
            Some(Ok(output)) => {
                self.rec.push_event(HistoryEventKind::TaskSucceeded {
                    state: state_name,
                    output: output.clone(),
                });
                AttemptEnd::Result(output)
            }
            Some(Err(failure)) => {
                self.rec.push_event(HistoryEventKind::TaskFailed {
                    state: state_name,
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                });
                AttemptEnd::Error(StateError::new(failure.error, failure.cause))
            }
            None => self.task_timed_out(&state_name, timeout_error),
        })
    }

    fn task_timed_out(&mut self, state_name: &str, error: StateError) -> AttemptEnd {
        self.rec.push_event(HistoryEventKind::TaskTimedOut {
            state: state_name.to_string(),
            error: error.error.clone(),
            cause: error.cause.clone(),
        });
        self.retire_token();
        AttemptEnd::Error(error)
    }

    /// Waits for the callback of a `.waitForTaskToken` task, while its invoke (if still running)
    /// completes, and until its timeout, heartbeat timeout or the execution timeout.
    async fn await_callback(
        &mut self,
        state_name: &str,
        mut attempt: TaskAttempt,
        mut invoke: Option<InvokeFuture>,
        token: Option<TaskToken>,
    ) -> Result<AttemptEnd, StoreError> {
        let mailbox = Arc::clone(&self.mailbox);
        loop {
            enum Event {
                Mail,
                Invoked(Result<Value, TaskFailure>),
                TimedOut,
                HeartbeatTimedOut,
                ExecutionTimedOut,
            }
            let timeout_at = attempt.timeout_at;
            let heartbeat_at = attempt.heartbeat_at;
            let deadline = self.rec.deadline;
            let event = tokio::select! {
                biased;
                _ = mailbox.notify.notified() => Event::Mail,
                result = async {
                    match invoke.as_mut() {
                        Some(fut) => fut.await,
                        None => std::future::pending().await,
                    }
                } => Event::Invoked(result),
                _ = wall_sleep(timeout_at) => Event::TimedOut,
                _ = wall_sleep_opt(heartbeat_at) => Event::HeartbeatTimedOut,
                _ = wall_sleep_opt(deadline) => Event::ExecutionTimedOut,
            };
            match event {
                Event::Mail => {
                    let batch = mailbox.drain(false);
                    if let Some(end) = self
                        .handle_mail(state_name, &mut attempt, batch, false)
                        .await?
                    {
                        return Ok(end);
                    }
                }
                Event::Invoked(Ok(output)) => {
                    invoke = None;
                    attempt.submitted = true;
                    // The heartbeat countdown starts when the invoke returns (AWS: it does not
                    // apply while the Lambda function runs).
                    attempt.heartbeat_at = attempt
                        .heartbeat_seconds
                        .map(|s| Utc::now() + self.inner.scaled(s as f64));
                    self.cur_mut().step = StateStep::Task(attempt.clone());
                    let output = match &token {
                        Some(token) => redact(&output, token),
                        None => output,
                    };
                    self.rec.push_event(HistoryEventKind::TaskSubmitted {
                        state: state_name.to_string(),
                        output,
                    });
                    self.save().await?;
                }
                Event::Invoked(Err(failure)) => {
                    // A callback that raced ahead of the failing invoke wins.
                    let batch = mailbox.drain(true);
                    if let Some(end) = self
                        .handle_mail(state_name, &mut attempt, batch, true)
                        .await?
                    {
                        return Ok(end);
                    }
                    let cause = match &token {
                        Some(token) => redact_text(&failure.cause, token),
                        None => failure.cause,
                    };
                    self.rec.push_event(HistoryEventKind::TaskFailed {
                        state: state_name.to_string(),
                        error: failure.error.clone(),
                        cause: cause.clone(),
                    });
                    self.retire_token();
                    return Ok(AttemptEnd::Error(StateError::new(failure.error, cause)));
                }
                Event::TimedOut | Event::HeartbeatTimedOut => {
                    let batch = mailbox.drain(true);
                    if let Some(end) = self
                        .handle_mail(state_name, &mut attempt, batch, true)
                        .await?
                    {
                        return Ok(end);
                    }
                    let error = if matches!(event, Event::TimedOut) {
                        StateError::new(
                            errors::TIMEOUT,
                            "The task did not complete within its TimeoutSeconds",
                        )
                    } else {
                        StateError::new(
                            errors::HEARTBEAT_TIMEOUT,
                            "The task sent no heartbeat within its HeartbeatSeconds",
                        )
                    };
                    return Ok(self.task_timed_out(state_name, error));
                }
                Event::ExecutionTimedOut => {
                    for callback in mailbox.drain(true) {
                        let _ = callback.reply.send(Err(CallbackError::TaskTimedOut));
                    }
                    return Ok(AttemptEnd::ExecutionTimedOut);
                }
            }
        }
    }

    /// Applies queued callbacks. The first success or failure ends the task (its reply is sent
    /// once the outcome is saved); later ones are refused. Heartbeats restart the heartbeat
    /// countdown (and are refused when `closing`).
    async fn handle_mail(
        &mut self,
        state_name: &str,
        attempt: &mut TaskAttempt,
        batch: Vec<Callback>,
        closing: bool,
    ) -> Result<Option<AttemptEnd>, StoreError> {
        let mut end = None;
        let mut heartbeats = Vec::new();
        for callback in batch {
            if end.is_some() {
                let _ = callback.reply.send(Err(CallbackError::TaskTimedOut));
                continue;
            }
            match callback.signal {
                Signal::Heartbeat if closing => {
                    let _ = callback.reply.send(Err(CallbackError::TaskTimedOut));
                }
                Signal::Heartbeat => {
                    if let (Some(seconds), true) = (attempt.heartbeat_seconds, attempt.submitted) {
                        attempt.heartbeat_at = Some(Utc::now() + self.inner.scaled(seconds as f64));
                    }
                    heartbeats.push(callback.reply);
                }
                Signal::Success(output) => {
                    self.rec.push_event(HistoryEventKind::TaskSucceeded {
                        state: state_name.to_string(),
                        output: output.clone(),
                    });
                    self.retire_token();
                    self.pending_replies.push(callback.reply);
                    end = Some(AttemptEnd::Result(output));
                }
                Signal::Failure { error, cause } => {
                    self.rec.push_event(HistoryEventKind::TaskFailed {
                        state: state_name.to_string(),
                        error: error.clone(),
                        cause: cause.clone(),
                    });
                    self.retire_token();
                    self.pending_replies.push(callback.reply);
                    end = Some(AttemptEnd::Error(StateError::new(error, cause)));
                }
            }
        }
        self.pending_replies.extend(heartbeats);
        if end.is_none() && !self.pending_replies.is_empty() {
            self.cur_mut().step = StateStep::Task(attempt.clone());
            self.save().await?;
        }
        Ok(end)
    }

    /// Sleeps until `until` or the execution deadline, whichever is first.
    async fn sleep_until(&self, until: DateTime<Utc>) -> Woke {
        match self.rec.deadline {
            Some(deadline) if deadline < until => {
                wall_sleep(deadline).await;
                Woke::ExecutionTimedOut
            }
            _ => {
                wall_sleep(until).await;
                Woke::Deadline
            }
        }
    }
}

/// Catch: the first catcher that matches sends `{"Error", "Cause"}` (placed at its ResultPath in
/// the raw input) to its Next state; otherwise the execution fails with the error.
fn catch(task: &TaskState, raw: &Value, error: StateError) -> Outcome {
    for catcher in &task.catch {
        if error_matches(&catcher.error_equals, &error.error) {
            return match apply_result_path(
                &catcher.result_path,
                raw.clone(),
                error.to_error_output(),
            ) {
                Ok(output) => Outcome::Next {
                    next: catcher.next.clone(),
                    output,
                },
                Err(path_error) => Outcome::fail(path_error),
            };
        }
    }
    Outcome::fail(error)
}

/// ResultSelector, then ResultPath, then OutputPath.
fn task_output(
    state: &State,
    task: &TaskState,
    raw: &Value,
    result: Value,
    context: &Value,
) -> Result<Value, StateError> {
    let result = match &task.result_selector {
        Some(template) => template.eval(&result, context)?,
        None => result,
    };
    let output = apply_result_path(&task.result_path, raw.clone(), result)?;
    output_path(&state.output_path, output, context)
}

fn input_path(spec: &IoPath, raw: &Value, context: &Value) -> Result<Value, StateError> {
    select(spec, raw, context, "InputPath")
}

fn output_path(spec: &IoPath, output: Value, context: &Value) -> Result<Value, StateError> {
    match spec {
        IoPath::Whole => Ok(output),
        _ => select(spec, &output, context, "OutputPath"),
    }
}

fn select(spec: &IoPath, data: &Value, context: &Value, field: &str) -> Result<Value, StateError> {
    match spec {
        IoPath::Whole => Ok(data.clone()),
        IoPath::Null => Ok(Value::Object(Map::new())),
        IoPath::Path(path) => path.read(data, context).ok_or_else(|| {
            StateError::runtime(format!(
                "Invalid path '{}' : The {field} could not be found in the input '{}'",
                path.text(),
                truncate(&data.to_string())
            ))
        }),
    }
}

fn apply_result_path(spec: &ResultPath, raw: Value, result: Value) -> Result<Value, StateError> {
    match spec {
        ResultPath::Discard => Ok(raw),
        ResultPath::Path(path) => path
            .write(raw, result)
            .map_err(|why| StateError::new(errors::RESULT_PATH_MATCH_FAILURE, why)),
    }
}

fn resolve_seconds(
    spec: &Seconds,
    effective: &Value,
    context: &Value,
    field: &str,
) -> Result<u64, StateError> {
    match spec {
        Seconds::Literal(seconds) => Ok(*seconds),
        Seconds::Path(path) => match path.read(effective, context) {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|s| s > 0) => {
                Ok(n.as_u64().unwrap_or_default())
            }
            Some(other) => Err(StateError::runtime(format!(
                "The value of {field} '{}' must be a positive integer, got {other}",
                path.text()
            ))),
            None => Err(StateError::runtime(format!(
                "The {field} '{}' could not be found in the input",
                path.text()
            ))),
        },
    }
}

fn wait_seconds(
    wait: &WaitState,
    effective: &Value,
    context: &Value,
    now: DateTime<Utc>,
) -> Result<f64, StateError> {
    let until_timestamp =
        |at: DateTime<Utc>| ((at - now).num_milliseconds().max(0) as f64) / 1000.0;
    match wait {
        WaitState::Seconds(seconds) => Ok(*seconds as f64),
        WaitState::Timestamp(at) => Ok(until_timestamp(at.with_timezone(&Utc))),
        WaitState::SecondsPath(path) => match path.read(effective, context) {
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default() as f64),
            Some(other) => Err(StateError::runtime(format!(
                "The SecondsPath '{}' must select a non-negative integer, got {other}",
                path.text()
            ))),
            None => Err(StateError::runtime(format!(
                "The SecondsPath '{}' could not be found in the input",
                path.text()
            ))),
        },
        WaitState::TimestampPath(path) => match path.read(effective, context) {
            Some(Value::String(text)) => parse_timestamp(&text)
                .map(|at| until_timestamp(at.with_timezone(&Utc)))
                .ok_or_else(|| {
                    StateError::runtime(format!(
                        "The TimestampPath '{}' selected {text:?}, which is not an RFC 3339 timestamp",
                        path.text()
                    ))
                }),
            Some(other) => Err(StateError::runtime(format!(
                "The TimestampPath '{}' must select a timestamp string, got {other}",
                path.text()
            ))),
            None => Err(StateError::runtime(format!(
                "The TimestampPath '{}' could not be found in the input",
                path.text()
            ))),
        },
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Sleeps until a wall-clock time, in slices so a far deadline never overflows the timer and a
/// clock jump is noticed.
async fn wall_sleep(until: DateTime<Utc>) {
    const SLICE: std::time::Duration = std::time::Duration::from_secs(60);
    loop {
        let remaining = until - Utc::now();
        let Ok(remaining) = remaining.to_std() else {
            return;
        };
        if remaining.is_zero() {
            return;
        }
        tokio::time::sleep(remaining.min(SLICE)).await;
    }
}

async fn wall_sleep_opt(until: Option<DateTime<Utc>>) {
    match until {
        Some(until) => wall_sleep(until).await,
        None => std::future::pending().await,
    }
}

//! AWS Step Functions as the workflow service: the webhook starts one execution per incident
//! (named after the incident id, so a second start is a harmless duplicate), and a decision
//! resumes the execution paused on its task token.

use anyhow::Context as _;
use async_trait::async_trait;
use aws_sdk_sfn::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use iras_core::ports::{CallbackError, IncidentRef, StartError, TaskCallback, WorkflowStarter};
use iras_core::TaskToken;

/// A Step Functions state machine.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    /// Uses `client` for the state machine `state_machine_arn`.
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// Loads the AWS configuration once (region, credentials, `AWS_ENDPOINT_URL`) and builds the
    /// client.
    pub async fn from_env(state_machine_arn: impl Into<String>) -> Self {
        let config = aws_config::load_from_env().await;
        Self::new(aws_sdk_sfn::Client::new(&config), state_machine_arn)
    }

    /// The state machine's ARN.
    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }
}

/// Whether an SDK error is worth retrying (throttling, 5xx, timeouts, connection failures).
fn transient<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata,
{
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => matches!(
            s.err().code(),
            Some(
                "ThrottlingException"
                    | "ServiceUnavailable"
                    | "InternalServerError"
                    | "RequestLimitExceeded"
            )
        ),
        _ => false,
    }
}

fn describe<
    E: std::error::Error + aws_sdk_sfn::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => {
            format!(
                "{}: {}",
                s.err().code().unwrap_or("error"),
                s.err().message().unwrap_or_default()
            )
        }
        other => format!("{}", aws_sdk_sfn::error::DisplayErrorContext(other)),
    }
}

#[async_trait]
impl WorkflowStarter for StepFunctions {
    async fn start(&self, incident: &IncidentRef) -> Result<(), StartError> {
        let input = serde_json::to_string(incident)
            .context("could not encode the execution input")
            .map_err(|e| StartError::Unexpected(format!("{e:#}")))?;
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(incident.incident_id.to_string())
            .input(input)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The execution name is the incident id: a retried webhook must not run it twice.
            Err(SdkError::ServiceError(s))
                if matches!(s.err(), StartExecutionError::ExecutionAlreadyExists(_)) =>
            {
                Ok(())
            }
            Err(e) if transient(&e) => Err(StartError::Unavailable(describe(&e))),
            Err(e) => Err(StartError::Unexpected(format!(
                "StartExecution failed: {}",
                describe(&e)
            ))),
        }
    }
}

#[async_trait]
impl TaskCallback for StepFunctions {
    async fn send_success(
        &self,
        token: &TaskToken,
        output: serde_json::Value,
    ) -> Result<(), CallbackError> {
        let result = self
            .client
            .send_task_success()
            .task_token(token.expose())
            .output(output.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(s)) => match s.err() {
                SendTaskSuccessError::TaskTimedOut(_) => Err(CallbackError::TimedOut),
                SendTaskSuccessError::TaskDoesNotExist(_)
                | SendTaskSuccessError::InvalidToken(_) => Err(CallbackError::Unknown),
                other => Err(CallbackError::Unexpected(format!(
                    "SendTaskSuccess failed: {}",
                    other.code().unwrap_or("error")
                ))),
            },
            Err(e) => Err(CallbackError::Unexpected(format!(
                "SendTaskSuccess failed: {}",
                describe(&e)
            ))),
        }
    }

    async fn send_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        let result = self
            .client
            .send_task_failure()
            .task_token(token.expose())
            .error(error)
            .cause(cause)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(s)) => match s.err() {
                SendTaskFailureError::TaskTimedOut(_) => Err(CallbackError::TimedOut),
                SendTaskFailureError::TaskDoesNotExist(_)
                | SendTaskFailureError::InvalidToken(_) => Err(CallbackError::Unknown),
                other => Err(CallbackError::Unexpected(format!(
                    "SendTaskFailure failed: {}",
                    other.code().unwrap_or("error")
                ))),
            },
            Err(e) => Err(CallbackError::Unexpected(format!(
                "SendTaskFailure failed: {}",
                describe(&e)
            ))),
        }
    }
}

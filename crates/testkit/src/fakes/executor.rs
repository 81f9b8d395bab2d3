//! An executor that records the actions it is asked to run and fails where the script says.

use std::sync::Mutex;

use async_trait::async_trait;
use iras_core::ports::{ExecError, Executor};
use iras_core::{Action, IncidentId};

use super::lock;

/// One call made to a [`ScriptedExecutor`].
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The incident.
    pub incident_id: IncidentId,
    /// The action asked for.
    pub action: Action,
    /// Whether the script let it succeed.
    pub ok: bool,
}

#[derive(Debug, Default)]
struct Script {
    fail_on_call: Option<usize>,
    fail_on_kinds: Vec<String>,
    calls: Vec<Execution>,
}

/// An [`Executor`] (named `scripted`) that records every call and succeeds unless told to fail
/// on the Nth call or on actions of a given kind. A success reports `ran: <command>`.
#[derive(Debug, Default)]
pub struct ScriptedExecutor {
    script: Mutex<Script>,
}

impl ScriptedExecutor {
    /// An executor on which everything succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`th call (1-based, counting every call so far) fail.
    pub fn fail_on_call(self, n: usize) -> Self {
        lock(&self.script).fail_on_call = Some(n);
        self
    }

    /// Makes every action of catalogue kind `kind` (`restart_service`…) fail.
    pub fn fail_on_kind(self, kind: &str) -> Self {
        lock(&self.script).fail_on_kinds.push(kind.to_owned());
        self
    }

    /// Every call so far, in order, failed ones included.
    pub fn calls(&self) -> Vec<Execution> {
        lock(&self.script).calls.clone()
    }

    /// The actions asked for so far, in order.
    pub fn actions(&self) -> Vec<Action> {
        lock(&self.script)
            .calls
            .iter()
            .map(|c| c.action.clone())
            .collect()
    }
}

#[async_trait]
impl Executor for ScriptedExecutor {
    fn name(&self) -> String {
        "scripted".into()
    }

    async fn execute(&self, incident: IncidentId, action: &Action) -> Result<String, ExecError> {
        let mut script = lock(&self.script);
        let n = script.calls.len() + 1;
        let fails = script.fail_on_call == Some(n)
            || script.fail_on_kinds.iter().any(|k| k == action.kind());
        script.calls.push(Execution {
            incident_id: incident,
            action: action.clone(),
            ok: !fails,
        });
        if fails {
            Err(ExecError::Failed(format!(
                "scripted failure of call {n}: {}",
                action.command()
            )))
        } else {
            Ok(format!("ran: {}", action.command()))
        }
    }
}

//! The dry-run executor, the default: it changes nothing and records what would have run, so a
//! team can watch IRAS's plans before letting it touch production.

use async_trait::async_trait;
use iras_core::ports::{ExecError, Executor};
use iras_core::{Action, IncidentId};

/// Records actions without running them.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRunExecutor;

#[async_trait]
impl Executor for DryRunExecutor {
    fn name(&self) -> String {
        "dry-run".into()
    }

    async fn execute(&self, incident: IncidentId, action: &Action) -> Result<String, ExecError> {
        tracing::info!(incident_id = %incident, kind = action.kind(), "dry run: {}", action.command());
        Ok(format!(
            "dry run, nothing changed: would {}",
            action.command()
        ))
    }
}

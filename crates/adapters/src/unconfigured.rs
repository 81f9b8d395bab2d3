//! What stands in for an integration nobody configured: it says "not configured" instead of
//! inventing data, so the incident records exactly what was missing.

use async_trait::async_trait;
use iras_core::ports::{
    DeploySource, LogSource, MetricSource, Notifier, NotifyError, PageError, Pager, SourceError,
};
use iras_core::{
    ApprovalId, Decision, Deployment, Incident, LogLine, MetricSample, PostMortem, ServiceName,
    TimeWindow,
};

/// A telemetry source that is not configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotConfigured;

#[async_trait]
impl LogSource for NotConfigured {
    async fn fetch_logs(
        &self,
        _: &ServiceName,
        _: TimeWindow,
        _: usize,
    ) -> Result<Vec<LogLine>, SourceError> {
        Err(SourceError::NotConfigured)
    }
}

#[async_trait]
impl MetricSource for NotConfigured {
    async fn fetch_metrics(
        &self,
        _: &ServiceName,
        _: TimeWindow,
    ) -> Result<Vec<MetricSample>, SourceError> {
        Err(SourceError::NotConfigured)
    }
}

#[async_trait]
impl DeploySource for NotConfigured {
    async fn fetch_deployments(
        &self,
        _: &ServiceName,
        _: TimeWindow,
    ) -> Result<Vec<Deployment>, SourceError> {
        Err(SourceError::NotConfigured)
    }
}

#[async_trait]
impl Pager for NotConfigured {
    async fn page(&self, _: &Incident, _: &str) -> Result<String, PageError> {
        Err(PageError::NotConfigured)
    }
}

/// The notifier when no chat is configured: writes structured log lines, so an operator running
/// `iras serve` still sees approval requests. Never logs task tokens (it never receives them).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn approval_requested(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), NotifyError> {
        tracing::info!(incident_id = %incident.id, approval_id = %approval, %deadline,
            "approval requested: POST /incidents/{}/approve or /reject", incident.id);
        Ok(())
    }

    async fn approval_closed(
        &self,
        incident: &Incident,
        approval: &ApprovalId,
        decision: Option<&Decision>,
    ) -> Result<(), NotifyError> {
        match decision {
            Some(d) => {
                tracing::info!(incident_id = %incident.id, approval_id = %approval, verdict = d.verdict.as_str(), by = %d.by, "approval decided")
            }
            None => {
                tracing::info!(incident_id = %incident.id, approval_id = %approval, "approval expired")
            }
        }
        Ok(())
    }

    async fn progress(&self, incident: &Incident, text: &str) -> Result<(), NotifyError> {
        tracing::info!(incident_id = %incident.id, "{text}");
        Ok(())
    }

    async fn postmortem(&self, incident: &Incident, _pm: &PostMortem) -> Result<(), NotifyError> {
        tracing::info!(incident_id = %incident.id, "post-mortem written: GET /incidents/{}/postmortem", incident.id);
        Ok(())
    }
}

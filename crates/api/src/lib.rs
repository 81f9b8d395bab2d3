//! The HTTP API of IRAS: alert webhooks, approval decisions, and the incident read API. One axum
//! Router, served by `iras serve` locally and by `lambda_http` in the webhook, callback and API
//! Lambdas.

mod error;
mod handlers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use iras_core::ports::{Deps, TaskCallback, WorkflowStarter};

pub use error::ApiError;

/// Largest request body accepted, in bytes. Alert webhooks are a few KiB; Alertmanager groups
/// with many alerts stay well under this.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Ports and policies.
    pub deps: Deps,
    /// Starts the workflow of a new incident.
    pub starter: Arc<dyn WorkflowStarter>,
    /// Resumes a workflow paused for approval.
    pub callback: Arc<dyn TaskCallback>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/webhook/{source}", post(handlers::webhook))
        .route("/incidents", get(handlers::list_incidents))
        .route("/incidents/{id}", get(handlers::get_incident))
        .route("/incidents/{id}/timeline", get(handlers::timeline))
        .route("/incidents/{id}/postmortem", get(handlers::postmortem))
        .route("/incidents/{id}/approve", post(handlers::approve))
        .route("/incidents/{id}/reject", post(handlers::reject))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // The extractors enforce the limit; handlers turn its rejection into a JSON 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}

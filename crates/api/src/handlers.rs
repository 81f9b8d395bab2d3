//! Request handlers. Every failure a client can cause is a 4xx with a JSON body; store outages
//! are 503s; nothing a client sends produces a 500.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use iras_core::intake::{self, Intake};
use iras_core::model::{AlertSource, ApprovalView, DecisionChannel, Verdict};
use iras_core::steps::{self, DecideFailure, ReceiptStatus, StepError};
use iras_core::{IncidentId, TraceId};

use crate::{ApiError, AppState};

type ApiResult<T> = Result<T, ApiError>;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rej| {
        let status = rej.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("body exceeds {} bytes", crate::MAX_BODY_BYTES),
            )
        } else {
            ApiError::new(status, format!("could not read the body: {rej}"))
        }
    })
}

/// The trace id of a request: the caller's when it sends a usable one, else a fresh one.
fn trace_id(headers: &HeaderMap) -> TraceId {
    ["x-trace-id", "x-request-id"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok())
        .find_map(|v| TraceId::parse(v).ok())
        .unwrap_or_else(TraceId::generate)
}

fn step_error(e: StepError) -> ApiError {
    match e {
        StepError::Transient(m) => ApiError::unavailable(m),
        StepError::InvalidInput(m) => ApiError::bad_request(m),
        StepError::Unexpected(m) => {
            tracing::error!(error = %m, "unexpected failure handling a request");
            ApiError::unavailable("the request could not be processed; try again")
        }
    }
}

fn unavailable(e: iras_core::ports::StoreError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

fn parse_id(id: &str) -> ApiResult<IncidentId> {
    IncidentId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()).with_field("id"))
}

pub(crate) async fn webhook(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let source = AlertSource::parse(&source).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown alert source {:?}; use one of alertmanager, pagerduty, datadog, grafana, cloudwatch, generic",
            source.chars().take(40).collect::<String>()
        ))
        .with_field("source")
    })?;
    let body = body_or_error(body)?;
    let trace = trace_id(&headers);
    let now = state.deps.clock.now();
    let intake = intake::normalize(source, &body, now).map_err(|e| {
        let mut err = ApiError::bad_request(e.to_string());
        err.field = e.field().map(str::to_owned);
        err
    })?;
    let alerts = match intake {
        Intake::Alerts(a) => a,
        Intake::Ignored { reason } => {
            return Ok((
                StatusCode::OK,
                Json(json!({"status": "ignored", "reason": reason})),
            )
                .into_response())
        }
        Intake::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        } => {
            // IRAS never fetches URLs found in request bodies: an operator confirms by hand.
            tracing::warn!(topic_arn = %topic_arn, subscribe_url = %subscribe_url,
                "SNS subscription confirmation received: open subscribe_url to confirm");
            return Ok((
                StatusCode::OK,
                Json(json!({
                    "status": "subscription_confirmation_required",
                    "topic_arn": topic_arn,
                    "subscribe_url": subscribe_url,
                    "message": "confirm the SNS subscription by opening subscribe_url (IRAS does not follow URLs from requests)"
                })),
            )
                .into_response());
        }
    };
    if alerts.is_empty() {
        return Ok((
            StatusCode::OK,
            Json(json!({"status": "ignored", "reason": "no alerts in the body"})),
        )
            .into_response());
    }
    let receipts = steps::receive_alerts(&state.deps, state.starter.as_ref(), alerts, &trace)
        .await
        .map_err(step_error)?;
    let created = receipts
        .iter()
        .any(|r| r.status == ReceiptStatus::Processing);
    let first = receipts
        .iter()
        .find(|r| r.status == ReceiptStatus::Processing)
        .or_else(|| receipts.first())
        .cloned();
    let mut body = json!({"alerts": receipts, "trace_id": trace});
    if let Some(f) = first {
        body["incident_id"] = json!(f.incident_id);
        body["status"] = json!(f.status);
    }
    let code = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<String>,
    before: Option<String>,
}

pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("limit must be a whole number from 1 to 200")
                    .with_field("limit")
            })?,
    };
    let before = match q.before.as_deref() {
        None => None,
        Some(s) => Some(
            IncidentId::parse(s)
                .map_err(|e| ApiError::bad_request(e.to_string()).with_field("before"))?,
        ),
    };
    let list = state
        .deps
        .store
        .list_incidents(limit, before)
        .await
        .map_err(unavailable)?;
    let next = if list.len() == limit {
        list.last().map(|i| i.id)
    } else {
        None
    };
    let items: Vec<Value> = list
        .iter()
        .map(|i| {
            json!({
                "incident_id": i.id,
                "title": i.title,
                "status": i.status,
                "severity": i.severity,
                "services": i.services,
                "source": i.source,
                "created_at": i.created_at,
                "updated_at": i.updated_at,
            })
        })
        .collect();
    Ok(Json(json!({"incidents": items, "next_before": next})))
}

pub(crate) async fn get_incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let store = &state.deps.store;
    let inc = store
        .get_incident(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("incident {id} not found")))?;
    let approval = match &inc.approval_id {
        Some(a) => store
            .get_approval(a)
            .await
            .map_err(unavailable)?
            .map(|r| ApprovalView::from(&r)),
        None => None,
    };
    let decision = approval.as_ref().and_then(|a| a.decision.clone());
    Ok(Json(json!({
        "incident_id": inc.id,
        "trace_id": inc.trace_id,
        "title": inc.title,
        "status": inc.status,
        "severity": inc.severity,
        "services": inc.services,
        "source": inc.source,
        "created_at": inc.created_at,
        "updated_at": inc.updated_at,
        "alert": inc.alert,
        "triage": inc.triage,
        "attempts": inc.attempts,
        "root_cause": inc.root_cause,
        "plan": inc.plan,
        "approval": approval,
        "decision": decision,
        "outcome": inc.outcome,
    })))
}

pub(crate) async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let store = &state.deps.store;
    if store.get_incident(id).await.map_err(unavailable)?.is_none() {
        return Err(ApiError::not_found(format!("incident {id} not found")));
    }
    let events = store.list_events(id).await.map_err(unavailable)?;
    Ok(Json(json!({"incident_id": id, "events": events})))
}

pub(crate) async fn postmortem(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let store = &state.deps.store;
    let Some(pm) = store.get_postmortem(id).await.map_err(unavailable)? else {
        return match store.get_incident(id).await.map_err(unavailable)? {
            Some(i) => Err(ApiError::not_found(format!(
                "incident {id} is {} and has no post-mortem yet",
                i.status
            ))),
            None => Err(ApiError::not_found(format!("incident {id} not found"))),
        };
    };
    let wants_markdown = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/markdown"));
    if wants_markdown {
        Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            pm.to_markdown(),
        )
            .into_response())
    } else {
        Ok(Json(pm).into_response())
    }
}

#[derive(Debug, Default, Deserialize)]
struct DecisionBody {
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

pub(crate) async fn approve(
    state: State<AppState>,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    decide(state, id, body, Verdict::Approved).await
}

pub(crate) async fn reject(
    state: State<AppState>,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    decide(state, id, body, Verdict::Rejected).await
}

async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
    verdict: Verdict,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let body = body_or_error(body)?;
    let parsed: DecisionBody = if body.iter().all(u8::is_ascii_whitespace) {
        DecisionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("body is not valid JSON: {e}")))?
    };
    let approver = parsed.approver.unwrap_or_else(|| "api".into());
    let decision = steps::decide(
        &state.deps,
        state.callback.as_ref(),
        id,
        verdict,
        &approver,
        parsed.comment,
        DecisionChannel::Rest,
    )
    .await
    .map_err(|e| match e {
        DecideFailure::NotFound => ApiError::not_found(format!("incident {id} not found")),
        DecideFailure::NotAwaiting(_)
        | DecideFailure::AlreadyDecided(_)
        | DecideFailure::Expired => ApiError::conflict(e.to_string()),
        // The contract has one answer for "too late": the decision did not take effect.
        DecideFailure::Gone(_) => ApiError::conflict(e.to_string()),
        DecideFailure::Unavailable(_) => ApiError::unavailable(e.to_string()),
    })?;
    Ok(Json(json!({"incident_id": id, "decision": decision})))
}

//! The HTTP API's contract: status codes, dedup, resolve notifications, and bad input.

use iras_core::{EventKind, IncidentStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_repeat_of_an_open_incidents_alert_is_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let alert = json!({"title": "disk full", "service": "checkout-api", "timestamp": "2026-03-17T14:12:41Z"});
    let (first, a) = call(&rt, "POST", "/webhook/generic", Some(alert.clone())).await;
    let (second, b) = call(&rt, "POST", "/webhook/generic", Some(alert)).await;
    assert_eq!(first, StatusCode::ACCEPTED);
    assert_eq!(second, StatusCode::OK);
    assert_eq!(b["status"], "deduplicated");
    assert_eq!(a["incident_id"], b["incident_id"]);
    let (_, list) = call(&rt, "GET", "/incidents", None).await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_resolve_notification_is_recorded_on_the_open_incident() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let firing = json!({"title": "errors", "service": "checkout-api", "fingerprint": "abc", "timestamp": "2026-03-17T14:12:41Z"});
    let (_, a) = call(&rt, "POST", "/webhook/generic", Some(firing)).await;
    let id = iras_core::IncidentId::parse(a["incident_id"].as_str().unwrap()).unwrap();
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let resolved = json!({"title": "errors", "service": "checkout-api", "fingerprint": "abc", "status": "resolved", "timestamp": "2026-03-17T14:12:41Z"});
    let (status, b) = call(&rt, "POST", "/webhook/generic", Some(resolved)).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["incident_id"], a["incident_id"]);
    let events = rt.deps.store.list_events(id).await.unwrap();
    assert!(kinds(&events).contains(&EventKind::AlertResolved));
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_never_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let (st, body) = call_raw(&rt, "POST", "/webhook/generic", b"{not json".to_vec()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("JSON"));
    let (st, body) = call(&rt, "POST", "/webhook/generic", Some(json!({"title": "x"}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "service");
    let (st, _) = call_raw(&rt, "POST", "/webhook/generic", vec![b' '; 300 * 1024]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let (st, body) = call(&rt, "POST", "/webhook/nagios", Some(json!({}))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(body["field"], "source");
    let (st, _) = call_raw(&rt, "POST", "/webhook/alertmanager", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let unknown = iras_core::IncidentId::new_at(chrono::Utc::now());
    let (st, _) = call(&rt, "GET", &format!("/incidents/{unknown}"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call(&rt, "POST", &format!("/incidents/{unknown}/approve"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, body) = call(&rt, "GET", "/incidents/not-an-id", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "id");
    let (st, _) = call(&rt, "GET", "/incidents?limit=0", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    for uri in [
        "/incidents?limit=1&limit=2",
        "/incidents/%FF",
        "/webhook/%FF",
    ] {
        let method = if uri.starts_with("/webhook") {
            "POST"
        } else {
            "GET"
        };
        let (st, body) = call(&rt, method, uri, None).await;
        assert!(st.is_client_error(), "{uri}: {st}");
        assert!(body["error"].is_string(), "{uri} answers JSON: {body}");
    }
    let (st, body) = call(&rt, "GET", "/healthz", None).await;
    assert_eq!((st, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn a_second_decision_gets_a_conflict_and_the_first_stands() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let alert = json!({"title": "errors", "service": "checkout-api", "fingerprint": "twice", "timestamp": "2026-03-17T14:12:41Z"});
    let (_, a) = call(&rt, "POST", "/webhook/generic", Some(alert)).await;
    let id = iras_core::IncidentId::parse(a["incident_id"].as_str().unwrap()).unwrap();
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let (st, _) = call(
        &rt,
        "POST",
        &format!("/incidents/{id}/reject"),
        Some(json!({"approver": "first"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = call(
        &rt,
        "POST",
        &format!("/incidents/{id}/approve"),
        Some(json!({"approver": "second"})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let pm = wait_for_postmortem(&rt, id).await;
    assert_eq!(pm.status, IncidentStatus::Escalated);
    let (st, body) = call_raw(
        &rt,
        "POST",
        &format!("/incidents/{id}/approve"),
        b"{broken".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_postmortem_is_served_as_json_and_as_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let id = send_alert(&rt, &s).await;
    wait_for(&rt, id, IncidentStatus::AwaitingApproval).await;
    let (st, body) = call(&rt, "GET", &format!("/incidents/{id}/postmortem"), None).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "no post-mortem before the end: {body}"
    );
    call(&rt, "POST", &format!("/incidents/{id}/approve"), None).await;
    wait_for_postmortem(&rt, id).await;
    let (st, pm) = call(&rt, "GET", &format!("/incidents/{id}/postmortem"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(pm["status"], "resolved");
    let req = axum::http::Request::builder()
        .uri(format!("/incidents/{id}/postmortem"))
        .header("accept", "text/markdown")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt as _;
    let res = rt.router().oneshot(req).await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let md = String::from_utf8(
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(md.starts_with("# Post-mortem:"), "{md}");
    assert!(md.contains("## Timeline"));
    let (_, tl) = call(&rt, "GET", &format!("/incidents/{id}/timeline"), None).await;
    assert!(tl["events"].as_array().unwrap().len() >= 8);
}

#[tokio::test]
async fn alerts_of_one_group_about_one_service_open_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("checkout-bad-deploy");
    let rt = runtime_with(dir.path(), &s, |_| {});
    let (st, body) = call(&rt, "POST", "/webhook/alertmanager", Some(s.alert.clone())).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["status"], "processing");
    assert_eq!(alerts[1]["status"], "deduplicated");
    assert_eq!(alerts[0]["incident_id"], alerts[1]["incident_id"]);
    // Alertmanager re-sends the group on its next interval: both alerts join the same incident.
    let (st, again) = call(&rt, "POST", "/webhook/alertmanager", Some(s.alert.clone())).await;
    assert_eq!(st, StatusCode::OK);
    for a in again["alerts"].as_array().unwrap() {
        assert_eq!(a["incident_id"], alerts[0]["incident_id"]);
        assert_eq!(a["status"], "deduplicated");
    }
    let (_, list) = call(&rt, "GET", "/incidents", None).await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

//! The signing vectors and the interactivity sample in `tests/fixtures/conformance/` (Slack's
//! documentation vector, go-pagerduty's V3 test vector, a bolt-python `block_actions` body).

use iras_core::signing::{
    verify_pagerduty, verify_slack, SignatureError, SlackAction, SlackPayloadError,
};
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/fixtures/conformance/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

#[test]
fn slacks_documented_vector_verifies_and_its_negative_cases_are_refused() {
    let v = json("slack/signing-official-test-vector.json");
    let secret = v["signing_secret"].as_str().unwrap().as_bytes();
    let ts = v["X-Slack-Request-Timestamp"].as_str().unwrap();
    let sig = v["expected_X-Slack-Signature"].as_str().unwrap();
    let now = v["clock_for_valid_check"].as_i64().unwrap();
    let body = fixture("slack/signing-official-vector-body.txt");
    assert_eq!(body.len() as u64, v["body_length"].as_u64().unwrap());
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &body, now),
        Ok(())
    );

    let mut tampered = body.clone();
    tampered.extend_from_slice(b"------");
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &tampered, now),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &body, 1_800_000_000),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &body, now + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify_slack(secret, Some(ts), Some(sig), &body, now + 300),
        Ok(())
    );
    assert!(matches!(
        verify_slack(secret, None, Some(sig), &body, now),
        Err(SignatureError::Missing(_))
    ));
    assert!(matches!(
        verify_slack(secret, Some(ts), None, &body, now),
        Err(SignatureError::Missing(_))
    ));
    assert!(matches!(
        verify_slack(secret, Some(ts), Some("v1=00"), &body, now),
        Err(SignatureError::Malformed(_))
    ));
    assert_eq!(
        verify_slack(b"another secret", Some(ts), Some(sig), &body, now),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn pagerdutys_v3_vector_verifies_including_during_secret_rotation() {
    let v = json("pagerduty/v3-signature-test-vector.json");
    let secret = v["secret"].as_str().unwrap().as_bytes();
    let body = fixture(&format!("pagerduty/{}", v["body_file"].as_str().unwrap()));
    for case in v["cases"].as_array().unwrap() {
        let header = case["X-PagerDuty-Signature"].as_str().unwrap();
        let got = verify_pagerduty(secret, Some(header), &body);
        let accept = case["expect"].as_str().unwrap().starts_with("accept");
        assert_eq!(got.is_ok(), accept, "case {}: {got:?}", case["name"]);
    }
    assert_eq!(
        verify_pagerduty(secret, None, &body),
        Err(SignatureError::Missing("X-PagerDuty-Signature"))
    );
    assert_eq!(
        verify_pagerduty(secret, Some("v2=abc"), &body),
        Err(SignatureError::Malformed("X-PagerDuty-Signature"))
    );
}

#[test]
fn a_block_actions_body_yields_the_user_and_the_button() {
    let body = fixture("slack/block_actions-bolt-python-request-body.txt");
    let expected = json("slack/block_actions-bolt-python-payload.json");
    let a = SlackAction::parse_form(&body).unwrap();
    assert_eq!(a.user_id, expected["user"]["id"].as_str().unwrap());
    assert_eq!(
        a.action_id,
        expected["actions"][0]["action_id"].as_str().unwrap()
    );
    assert_eq!(a.value, expected["actions"][0]["value"].as_str().unwrap());
    assert_eq!(a.message_ts.as_deref(), Some("111.222"));
    assert_eq!(a.channel_id.as_deref(), Some("C111"));
}

#[test]
fn malformed_interactivity_bodies_are_refused_without_panicking() {
    assert_eq!(
        SlackAction::parse_form(b"token=x"),
        Err(SlackPayloadError::NotAForm)
    );
    assert!(matches!(
        SlackAction::parse_form(b"payload=%7Bnot"),
        Err(SlackPayloadError::Invalid(_))
    ));
    let other = b"payload=%7B%22type%22%3A%22view_submission%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D";
    assert!(matches!(
        SlackAction::parse_form(other),
        Err(SlackPayloadError::Unsupported(_))
    ));
    assert!(SlackAction::parse_form(&[0xff, 0xfe]).is_err());
}

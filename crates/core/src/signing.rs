//! Request authentication for callers that sign: Slack (interactivity) and PagerDuty (Webhooks
//! V3). Signatures are checked over the raw body before anything parses it; comparisons are
//! constant-time (`hmac`'s `verify_slice`), because a timing leak would let an attacker forge
//! an approval byte by byte.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How old (or how far in the future) a Slack request may be, in seconds.
pub const SLACK_REPLAY_WINDOW_SECS: i64 = 300;

/// Why a signed request was refused. The message never includes the secret or the expected MAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent or empty.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header is present but not in the documented form.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The request is outside the replay window.
    #[error("request timestamp is outside the {SLACK_REPLAY_WINDOW_SECS} s replay window")]
    Stale,
    /// No signature matches the body.
    #[error("signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// Verifies `X-Slack-Signature` (`v0=<hex>`) over `v0:{timestamp}:{raw body}` and the 300-second
/// replay window around `now` (Unix seconds).
pub fn verify_slack(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp
        .filter(|t| !t.is_empty())
        .ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing("X-Slack-Signature"))?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("X-Slack-Request-Timestamp"))?;
    if (now - ts).abs() > SLACK_REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    let hex_sig = signature
        .strip_prefix("v0=")
        .ok_or(SignatureError::Malformed("X-Slack-Signature"))?;
    let expected =
        hex::decode(hex_sig).map_err(|_| SignatureError::Malformed("X-Slack-Signature"))?;
    let mut m = mac(signing_secret);
    m.update(b"v0:");
    m.update(timestamp.as_bytes());
    m.update(b":");
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Verifies `X-PagerDuty-Signature`: a comma-separated list of `v1=<hex HMAC-SHA256 of the raw
/// body>`; during secret rotation several are sent and any match is valid.
pub fn verify_pagerduty(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    const NAME: &str = "X-PagerDuty-Signature";
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing(NAME))?;
    let mut saw_v1 = false;
    for entry in header.split(',').map(str::trim) {
        let Some(hex_sig) = entry.strip_prefix("v1=") else {
            continue;
        };
        saw_v1 = true;
        let Ok(expected) = hex::decode(hex_sig) else {
            continue;
        };
        let mut m = mac(secret);
        m.update(body);
        if m.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    if saw_v1 {
        Err(SignatureError::Mismatch)
    } else {
        Err(SignatureError::Malformed(NAME))
    }
}

/// A button click from Slack's interactivity (`block_actions`), reduced to what a decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAction {
    /// The Slack user who clicked (checked against the approver allow-list).
    pub user_id: String,
    /// The button's `action_id` (`approve` or `reject` on IRAS's messages).
    pub action_id: String,
    /// The button's `value` (the approval id on IRAS's messages).
    pub value: String,
    /// The channel of the message, if any.
    pub channel_id: Option<String>,
    /// The message's timestamp (to update it once decided), if any.
    pub message_ts: Option<String>,
}

/// Why an interactivity body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackPayloadError {
    /// Not a form body with a `payload` field.
    #[error("body is not a form with a payload field")]
    NotAForm,
    /// The payload is not the JSON Slack documents.
    #[error("payload is not valid block_actions JSON: {0}")]
    Invalid(String),
    /// A payload type IRAS does not handle.
    #[error("unsupported interaction type {0:?}")]
    Unsupported(String),
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: User,
    #[serde(default)]
    actions: Vec<RawAction>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    channel: Option<Channel>,
}
#[derive(Deserialize)]
struct User {
    id: String,
}
#[derive(Deserialize)]
struct RawAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}
#[derive(Deserialize)]
struct Container {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}
#[derive(Deserialize)]
struct Channel {
    id: String,
}

impl SlackAction {
    /// Reads the first action of an `application/x-www-form-urlencoded` interactivity body.
    /// Call only after [`verify_slack`] accepted the same bytes.
    pub fn parse_form(body: &[u8]) -> Result<Self, SlackPayloadError> {
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| SlackPayloadError::NotAForm)?;
        let payload = fields
            .into_iter()
            .find_map(|(k, v)| (k == "payload").then_some(v))
            .ok_or(SlackPayloadError::NotAForm)?;
        let p: Payload = serde_json::from_str(&payload)
            .map_err(|e| SlackPayloadError::Invalid(e.to_string()))?;
        if p.kind != "block_actions" {
            return Err(SlackPayloadError::Unsupported(
                p.kind.chars().take(40).collect(),
            ));
        }
        let action = p
            .actions
            .into_iter()
            .next()
            .ok_or_else(|| SlackPayloadError::Invalid("no actions".into()))?;
        Ok(Self {
            user_id: p.user.id,
            action_id: action.action_id,
            value: action.value.unwrap_or_default(),
            channel_id: p
                .container
                .as_ref()
                .and_then(|c| c.channel_id.clone())
                .or(p.channel.map(|c| c.id)),
            message_ts: p.container.and_then(|c| c.message_ts),
        })
    }
}

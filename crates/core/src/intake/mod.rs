//! Alert intake: webhook bodies from each monitoring system, normalised into [`Alert`]s.
//!
//! [`normalize`] is the one entry point: the HTTP layer passes the `{source}` of
//! `POST /webhook/{source}`, the raw body and the time it arrived, and gets back alerts, a
//! delivery to acknowledge and ignore, or an SNS subscription handshake. Every body is untrusted:
//! nothing here panics on any input, unknown keys are ignored, and what is kept is bounded —
//! titles to [`MAX_TITLE_CHARS`] characters, descriptions to [`MAX_DESCRIPTION_BYTES`] bytes,
//! [`MAX_ALERTS`] alerts per delivery (the last one kept carries `details.truncated_alerts`, the
//! number of alerts of the delivery that were not passed on, including those the sender itself
//! truncated) and [`MAX_LABELS`] labels per alert (`details.truncated_labels` counts the rest).
//! Control characters are stripped from all text.
//!
//! Each source's module documents its fingerprint rule: the key that makes repeats of one alert
//! land on one incident.

mod alertmanager;
mod cloudwatch;
mod datadog;
mod generic;
mod grafana;
mod pagerduty;
mod support;

use chrono::{DateTime, Utc};

use crate::model::{Alert, AlertSource};

/// Most alerts kept from one delivery; the rest are counted in `details.truncated_alerts`.
pub const MAX_ALERTS: usize = 100;
/// Longest title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 512;
/// Longest description kept, in bytes (cut on a character boundary).
pub const MAX_DESCRIPTION_BYTES: usize = 8 * 1024;
/// Most labels kept per alert; the rest are counted in `details.truncated_labels`.
pub const MAX_LABELS: usize = 64;

/// What a webhook delivery amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// One or more alerts (firing or resolved).
    Alerts(Vec<Alert>),
    /// A valid delivery that carries no alert (e.g. PagerDuty `incident.priority_updated`, a
    /// Datadog test with no state): accepted and ignored.
    Ignored {
        /// Why the delivery carries no alert, for the log and the HTTP response.
        reason: String,
    },
    /// An SNS HTTPS subscription handshake: the operator must confirm it by visiting `subscribe_url`.
    SubscriptionConfirmation {
        /// The SNS topic asking to deliver here.
        topic_arn: String,
        /// The AWS URL that confirms the subscription; checked to be `https` on an AWS host.
        subscribe_url: String,
    },
}

/// Why a delivery was refused; the HTTP layer answers 400 with [`IntakeError::field`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntakeError {
    /// The body is not UTF-8 JSON (or nests deeper than the parser allows).
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A field the format requires is absent, `null` or blank.
    #[error("missing required field `{field}`")]
    MissingField {
        /// The JSON path of the field, like `alerts[0].startsAt`.
        field: String,
    },
    /// A field is present but cannot be used.
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The JSON path of the field, like `detail.state.value`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl IntakeError {
    /// The JSON path of the offending field, when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidJson(_) => None,
            Self::MissingField { field } | Self::InvalidField { field, .. } => Some(field),
        }
    }
}

/// Turns the body of a webhook from `source` into alerts. `received_at` stands in for the start
/// time of alerts whose source gives none.
pub fn normalize(
    source: AlertSource,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| IntakeError::InvalidJson(format!("body is not UTF-8: {e}")))?;
    // serde_json refuses nesting deeper than 128 levels, so hostile `[[[[…` fails here cleanly.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| IntakeError::InvalidJson(e.to_string()))?;
    match source {
        AlertSource::Generic => generic::normalize(&value, received_at),
        AlertSource::Alertmanager => alertmanager::normalize(&value, received_at),
        AlertSource::Pagerduty => pagerduty::normalize(&value, received_at),
        AlertSource::Datadog => datadog::normalize(&value, received_at),
        AlertSource::Grafana => grafana::normalize(&value, received_at),
        AlertSource::Cloudwatch => cloudwatch::normalize(&value, received_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn invalid_utf8_is_invalid_json_for_every_source() {
        for source in AlertSource::ALL {
            let err = normalize(source, b"{\"title\": \"\xff\xfe\"}", now()).unwrap_err();
            assert!(
                matches!(err, IntakeError::InvalidJson(_)),
                "{source}: {err:?}"
            );
            assert_eq!(err.field(), None);
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_invalid_json_for_every_source() {
        for source in AlertSource::ALL {
            for body in [&b""[..], b"not json", b"{\"a\":", b"<xml/>"] {
                let err = normalize(source, body, now()).unwrap_err();
                assert!(
                    matches!(err, IntakeError::InvalidJson(_)),
                    "{source}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn ten_thousand_open_brackets_give_an_error_not_a_stack_overflow() {
        let body = "[".repeat(10_000);
        for source in AlertSource::ALL {
            let err = normalize(source, body.as_bytes(), now()).unwrap_err();
            match err {
                IntakeError::InvalidJson(msg) => assert!(msg.contains("recursion limit"), "{msg}"),
                other => panic!("{source}: {other:?}"),
            }
        }
    }

    #[test]
    fn nesting_just_under_the_parser_limit_is_refused_by_the_normalizer_not_a_panic() {
        let body = format!("{}{}", "[".repeat(127), "]".repeat(127));
        for source in AlertSource::ALL {
            assert!(
                normalize(source, body.as_bytes(), now()).is_err(),
                "{source}"
            );
        }
        let body = format!(
            "{{\"title\":\"t\",\"service\":\"s\",\"x\":{}1{}}}",
            "[".repeat(120),
            "]".repeat(120)
        );
        let Ok(Intake::Alerts(alerts)) = normalize(AlertSource::Generic, body.as_bytes(), now())
        else {
            panic!("deeply nested free field should still be accepted");
        };
        assert_eq!(alerts.len(), 1);
    }

    #[test]
    fn a_megabyte_of_garbage_gives_an_error_not_a_panic() {
        // A deterministic byte soup covering every byte value, valid UTF-8 or not.
        let mut state: u32 = 0x1234_5678;
        let garbage: Vec<u8> = (0..1_048_576)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        let ascii: Vec<u8> = garbage.iter().map(|b| b'!' + (b % 90)).collect();
        for source in AlertSource::ALL {
            assert!(normalize(source, &garbage, now()).is_err(), "{source}");
            assert!(normalize(source, &ascii, now()).is_err(), "{source}");
        }
    }

    #[test]
    fn json_of_the_wrong_shape_names_a_field_for_every_source() {
        for source in AlertSource::ALL {
            for body in [
                &b"{}"[..],
                b"[1]",
                b"\"text\"",
                b"42",
                b"null",
                b"{\"alerts\": 3}",
            ] {
                match normalize(source, body, now()) {
                    Err(err) => assert!(err.field().is_some(), "{source} {body:?}: {err:?}"),
                    Ok(Intake::Ignored { .. }) => {}
                    Ok(other) => panic!("{source} {body:?}: {other:?}"),
                }
            }
        }
    }
}

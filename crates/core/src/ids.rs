//! Identifiers and secrets as newtypes: parsing constructors are the only way in, and the secret
//! ones never print themselves.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    /// Which identifier was being parsed.
    pub kind: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

/// An incident: a ULID, so ids sort by creation time. Also the Step Functions execution name and
/// the DynamoDB partition key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct IncidentId(#[schemars(with = "String")] ulid::Ulid);

impl IncidentId {
    /// A fresh id for an incident created at `at`.
    pub fn new_at(at: chrono::DateTime<chrono::Utc>) -> Self {
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        Self(ulid::Ulid::from_parts(ms, rand::random()))
    }

    /// Parses the canonical 26-character ULID form.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        ulid::Ulid::from_string(s.trim())
            .map(Self)
            .map_err(|e| IdError {
                kind: "incident id",
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Debug for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IncidentId({})", self.0)
    }
}
impl FromStr for IncidentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl<'de> Deserialize<'de> for IncidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to
            #[doc = stringify!($max)]
            /// printable ASCII characters without spaces.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let s = s.trim();
                if s.is_empty() || s.len() > $max {
                    return Err(IdError { kind: $kind, reason: format!("must be 1 to {} characters", $max) });
                }
                if !s.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(IdError { kind: $kind, reason: "must be printable ASCII without spaces".into() });
                }
                Ok(Self(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

token_id!(
    /// Correlates the log lines of one request or execution; taken from the inbound request or made.
    #[derive(Debug)]
    TraceId, "trace id", 128
);
token_id!(
    /// One approval request. Slack buttons and REST calls carry this, never the task token.
    #[derive(Debug)]
    ApprovalId, "approval id", 64
);

impl TraceId {
    /// A fresh random trace id.
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string().to_lowercase())
    }
}

impl ApprovalId {
    /// A fresh random approval id; unguessable because it gates a production change.
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(format!("apr_{}", hex::encode(bytes)))
    }
}

/// The Step Functions task token of a paused execution. It is a bearer credential for resuming the
/// workflow, so it never appears in `Debug`, logs or API responses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    /// Wraps a token received from the state machine. AWS tokens are up to 1024 characters.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if s.is_empty() || s.len() > 8192 {
            return Err(IdError {
                kind: "task token",
                reason: "must be 1 to 8192 characters".into(),
            });
        }
        Ok(Self(s))
    }

    /// The token itself, for the one call that must send it back to the state machine.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

/// A service name as monitoring systems spell it: lowercase letters, digits, `-`, `_`, `.`, `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    /// Normalises case and surrounding space; refuses empty, overlong or oddly spelled names, since
    /// a service name ends up in queries, commands and Slack messages.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 128 {
            return Err(IdError {
                kind: "service name",
                reason: "must be 1 to 128 characters".into(),
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':'))
        {
            return Err(IdError {
                kind: "service name",
                reason: format!("{s:?} may only contain letters, digits and - _ . / :"),
            });
        }
        Ok(Self(s))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceName({})", self.0)
    }
}
impl FromStr for ServiceName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl<'de> Deserialize<'de> for ServiceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_token_never_shows_in_debug_output() {
        let t = TaskToken::new("AAAAKgAAAAIAAAAAAAAAAsecret").unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn incident_ids_round_trip_and_sort_by_time() {
        let a = IncidentId::new_at(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let b = IncidentId::new_at(chrono::DateTime::from_timestamp(1_700_000_001, 0).unwrap());
        assert!(a < b);
        assert_eq!(IncidentId::parse(&a.to_string()).unwrap(), a);
        assert!(IncidentId::parse("not-a-ulid").is_err());
    }

    #[test]
    fn service_names_are_lowercased_and_refuse_shell_characters() {
        assert_eq!(
            ServiceName::parse(" Checkout-API ").unwrap().as_str(),
            "checkout-api"
        );
        assert!(ServiceName::parse("api; rm -rf /").is_err());
        assert!(ServiceName::parse("").is_err());
    }

    #[test]
    fn approval_ids_are_fresh_and_parse_back() {
        let a = ApprovalId::generate();
        assert_ne!(a, ApprovalId::generate());
        assert_eq!(ApprovalId::parse(a.as_str()).unwrap(), a);
    }
}

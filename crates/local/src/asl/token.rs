//! Task tokens: unguessable, never logged, never stored. Records and history keep the SHA-256 of
//! a token only.

use base64::Engine as _;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A task token handed to a `.waitForTaskToken` resource. Its `Debug` is redacted.
pub(crate) struct TaskToken(String);

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl TaskToken {
    /// 32 bytes from the operating system's CSPRNG, base64url without padding.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

/// The hex SHA-256 of a token, as records store it.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Replaces every occurrence of the token inside strings of `value`, so history never holds it.
pub(crate) fn redact(value: &Value, token: &TaskToken) -> Value {
    match value {
        Value::String(s) if s.contains(token.expose()) => {
            Value::String(s.replace(token.expose(), "<task token>"))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, token)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `redact` for plain text.
pub(crate) fn redact_text(text: &str, token: &TaskToken) -> String {
    text.replace(token.expose(), "<task token>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_redacted_in_debug() {
        let a = TaskToken::generate();
        let b = TaskToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(!format!("{a:?}").contains(a.expose()));
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn redaction_removes_the_token_everywhere() {
        let t = TaskToken::generate();
        let v = serde_json::json!({"Payload": {"token": t.expose(), "l": [format!("x{}y", t.expose())]}});
        let text = redact(&v, &t).to_string();
        assert!(!text.contains(t.expose()));
        assert!(text.contains("<task token>"));
    }
}

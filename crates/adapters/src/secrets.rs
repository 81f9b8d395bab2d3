//! Secrets given as Secrets Manager ARNs: every `<NAME>_SECRET_ARN` variable is fetched once at
//! cold start and its value served as `<NAME>`, so the rest of the configuration reads a secret
//! the same way whether it was given directly or by ARN. Values never reach a log line.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// The suffix that marks a variable holding a secret's ARN.
pub const ARN_SUFFIX: &str = "_SECRET_ARN";

/// A secret that could not be fetched; names the variable, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: could not read the secret: {reason}")]
pub struct SecretError {
    /// The `<NAME>_SECRET_ARN` variable.
    pub var: String,
    /// Why (from Secrets Manager: not found, access denied, not a string secret…).
    pub reason: String,
}

/// Resolved secret values by variable name (`<NAME>`), redacted in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(HashMap<String, String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_struct("Secrets")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// The value of a resolved secret.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// How many secrets were resolved.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The `<NAME>_SECRET_ARN` variables with a non-blank value, as (`NAME`, ARN) pairs, skipping
/// names given directly too (a direct value wins: it is what the operator typed last).
pub fn secret_arns(vars: &HashMap<String, String>) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = vars
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_suffix(ARN_SUFFIX)?;
            let arn = v.trim();
            (!arn.is_empty() && vars.get(name).is_none_or(|d| d.trim().is_empty()))
                .then(|| (k.clone(), name.to_owned(), arn.to_owned()))
        })
        .collect();
    out.sort();
    out
}

/// Fetches every secret named by a `<NAME>_SECRET_ARN` variable of `vars`.
pub async fn resolve(
    client: &aws_sdk_secretsmanager::Client,
    vars: &HashMap<String, String>,
) -> Result<Secrets, SecretError> {
    let mut resolved = HashMap::new();
    for (var, name, arn) in secret_arns(vars) {
        let out = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| SecretError {
                var: var.clone(),
                reason: format!("{}", DisplayErrorContext(&e)),
            })?;
        let value = out.secret_string().ok_or_else(|| SecretError {
            var: var.clone(),
            reason: "the secret has no string value (binary secrets are not supported)".into(),
        })?;
        resolved.insert(name, value.trim().to_owned());
    }
    Ok(Secrets(resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_arn_variables_without_a_direct_value_are_resolved() {
        let vars: HashMap<String, String> = [
            (
                "IRAS_SLACK_BOT_TOKEN_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf",
            ),
            (
                "ANTHROPIC_API_KEY_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-AbCdEf",
            ),
            ("ANTHROPIC_API_KEY", "sk-direct"),
            ("IRAS_API_KEY_SECRET_ARN", "  "),
            ("RUST_LOG", "info"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let names: Vec<String> = secret_arns(&vars).into_iter().map(|(_, n, _)| n).collect();
        assert_eq!(names, ["IRAS_SLACK_BOT_TOKEN"]);
    }

    #[test]
    fn resolved_values_never_print() {
        let s = Secrets(HashMap::from([(
            "ANTHROPIC_API_KEY".to_owned(),
            "sk-live-123".to_owned(),
        )]));
        let shown = format!("{s:?}");
        assert!(shown.contains("ANTHROPIC_API_KEY") && !shown.contains("sk-live"));
    }
}

//! Reading deployment descriptions: is this a configuration change, which key or feature flag did
//! it change and how, is it cosmetic (docs, typos), and which words might tie it to an error.
//!
//! Descriptions are untrusted text. What comes out of here may become an action parameter (a
//! config key, a value, a flag name), so every extracted token is strictly spelled and bounded,
//! and a human reads it in the plan before anything runs.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use crate::analyst::text::{prefix, SCAN_LIMIT};
use crate::analyst::triage::unreachable_regex;

/// A configuration value the change set: `key` went from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigEdit {
    /// The key.
    pub key: String,
    /// The value before the change.
    pub from: String,
    /// The value after the change (running now).
    pub to: String,
}

/// A feature flag the change turned on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlagChange {
    /// The flag.
    pub flag: String,
    /// Whether the change turned it on.
    pub enabled: bool,
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).unwrap_or_else(|_| unreachable_regex()))
}

/// Words that mark a key as configuration rather than, say, a library being upgraded.
const CONFIG_WORDS: &[&str] = &[
    "timeout",
    "pool",
    "size",
    "limit",
    "max",
    "min",
    "ttl",
    "threshold",
    "replicas",
    "retries",
    "retry",
    "rate",
    "concurrency",
    "workers",
    "connections",
    "cache",
    "batch",
    "interval",
    "buffer",
    "capacity",
    "memory",
    "heap",
    "cpu",
    "percent",
    "ratio",
    "endpoint",
    "url",
    "host",
    "port",
    "enabled",
    "mode",
    "level",
    "queue",
    "backoff",
    "keepalive",
    "idle",
];

fn token_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'`' | b'"' | b'\'' | b';' | b'|' | b'&' | b'$' | b'<' | b'>'
                )
        })
}

fn looks_like_config_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key.contains(['_', '.'])
        || (key.len() > 2
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        || CONFIG_WORDS
            .iter()
            .any(|w| lower.split(['-', '_', '.']).any(|p| p == *w))
}

/// The config edit a description states, like `reduce DB_POOL_SIZE from 50 to 5`,
/// `payments.timeout_ms: 5000 -> 500` or `set cache.ttl from 300s to 5s`.
pub(crate) fn config_edit(description: &str) -> Option<ConfigEdit> {
    static SET_WAS: OnceLock<Regex> = OnceLock::new();
    static FROM_TO: OnceLock<Regex> = OnceLock::new();
    static ARROW: OnceLock<Regex> = OnceLock::new();
    let text = prefix(description, SCAN_LIMIT);
    // `set key = "new" (was old)`: the new value comes first.
    let set_was = re(
        &SET_WAS,
        r#"(?i)\bset\s+["'`]?([a-z][a-z0-9_.\-]{1,63})["'`]?\s*(?:=|:|to)\s*["'`]?([^\s,;"'`()]{1,64})["'`]?\s*\(\s*(?:was|previously|from|old value:?)\s+["'`]?([^\s,;"'`()]{1,64})["'`]?\s*\)"#,
    );
    if let Some(c) = set_was.captures(text) {
        if let (Some(k), Some(t), Some(f)) = (c.get(1), c.get(2), c.get(3)) {
            let (key, to, from) = (k.as_str(), t.as_str(), f.as_str());
            if token_ok(key, 64) && token_ok(from, 64) && token_ok(to, 64) && from != to {
                return Some(ConfigEdit {
                    key: key.to_owned(),
                    from: from.to_owned(),
                    to: to.to_owned(),
                });
            }
        }
    }
    let from_to = re(
        &FROM_TO,
        r#"(?i)["'`]?([a-z][a-z0-9_.\-]{1,63})["'`]?\s+from\s+["'`]?([^\s,;"'`()]{1,64})["'`]?\s+to\s+["'`]?([^\s,;"'`()]{1,64})"#,
    );
    let arrow = re(
        &ARROW,
        r#"(?i)["'`]?([a-z][a-z0-9_.\-]{1,63})["'`]?\s*[:=]?\s*["'`]?([^\s,;"'`()]{1,64}?)["'`]?\s*(?:->|→|=>)\s*["'`]?([^\s,;"'`()]{1,64})"#,
    );
    for r in [from_to, arrow] {
        for c in r.captures_iter(text) {
            let (Some(k), Some(f), Some(t)) = (c.get(1), c.get(2), c.get(3)) else {
                continue;
            };
            let key = k.as_str().trim_end_matches(['.', ':']);
            let to = t.as_str().trim_end_matches(['.', ':']);
            let from = f.as_str().trim_end_matches(['.', ':']);
            if looks_like_config_key(key)
                && token_ok(key, 64)
                && token_ok(from, 64)
                && token_ok(to, 64)
                && from != to
            {
                return Some(ConfigEdit {
                    key: key.to_owned(),
                    from: from.to_owned(),
                    to: to.to_owned(),
                });
            }
        }
    }
    None
}

/// The flag change a description states, like `enable feature flag new-pricing` or
/// `flag checkout_v2 -> 100%`.
pub(crate) fn flag_change(description: &str) -> Option<FlagChange> {
    static VERB_FIRST: OnceLock<Regex> = OnceLock::new();
    static TRANSITION: OnceLock<Regex> = OnceLock::new();
    static FLAG_FIRST: OnceLock<Regex> = OnceLock::new();
    let text = prefix(description, SCAN_LIMIT);
    // `flag x: off -> on`: the state after the arrow is the one the change set.
    let transition = re(
        &TRANSITION,
        r#"(?i)\b(?:feature[\s_-]?flag|flag|toggle)\s+["'`]?([a-z0-9][a-z0-9_.\-]{2,63}?)["'`]?\s*[:=]?\s*(?:on|off|true|false|enabled|disabled|\d{1,3}\s*%)\s*(?:->|→|=>|to)\s*(on|off|true|false|enabled|disabled|\d{1,3}\s*%)"#,
    );
    let verb_first = re(
        &VERB_FIRST,
        r#"(?i)\b(enabl(?:e|es|ed|ing)|turn(?:s|ed)?\s+on|activat(?:e|es|ed)|roll(?:s|ed)?\s+out|ramp(?:s|ed)?(?:\s+up)?|disabl(?:e|es|ed|ing)|turn(?:s|ed)?\s+off|deactivat(?:e|es|ed))\s+(?:the\s+)?(?:feature[\s_-]?flag|flag|toggle)s?\s+["'`]?([a-z0-9][a-z0-9_.\-]{2,63})"#,
    );
    let flag_first = re(
        &FLAG_FIRST,
        r#"(?i)\b(?:feature[\s_-]?flag|flag|toggle)\s+["'`]?([a-z0-9][a-z0-9_.\-]{2,63})["'`]?\s*(?:(?:to|=|:|->|→|set to|is now|now)\s*)?(on|off|true|false|enabled|disabled|[1-9]\d{0,2}\s*%|0\s*%)"#,
    );
    let clean = |s: &str| {
        s.trim_end_matches(['.', '-', '_', ':'])
            .to_ascii_lowercase()
    };
    let on = |state: &str| {
        let s = state.to_ascii_lowercase().replace(' ', "");
        !(s == "off" || s == "false" || s == "disabled" || s == "0%")
    };
    if let Some(c) = transition.captures(text) {
        if let (Some(f), Some(state)) = (c.get(1), c.get(2)) {
            return Some(FlagChange {
                flag: clean(f.as_str()),
                enabled: on(state.as_str()),
            });
        }
    }
    if let Some(c) = verb_first.captures(text) {
        if let (Some(v), Some(f)) = (c.get(1), c.get(2)) {
            let verb = v.as_str().to_ascii_lowercase();
            let enabled = !(verb.starts_with("disabl")
                || verb.ends_with("off")
                || verb.starts_with("deactivat"));
            return Some(FlagChange {
                flag: clean(f.as_str()),
                enabled,
            });
        }
    }
    if let Some(c) = flag_first.captures(text) {
        if let (Some(f), Some(state)) = (c.get(1), c.get(2)) {
            return Some(FlagChange {
                flag: clean(f.as_str()),
                enabled: on(state.as_str()),
            });
        }
    }
    None
}

/// Whether a change describes itself as configuration: an edit or flag we can parse, or words
/// like config, settings, feature flag, env var, ConfigMap; or a version named `config-…`/`cfg-…`.
pub(crate) fn is_config_change(description: &str, version: &str) -> bool {
    static WORDS: OnceLock<Regex> = OnceLock::new();
    let words = re(
        &WORDS,
        r"(?i)(\bconfig(?:uration)?\b|\bfeature[\s_-]?flags?\b|\bsettings?\b|\benv(?:ironment)?[\s_-]?var(?:iable)?s?\b|\bhelm values\b|\bconfigmap\b|\bparameter store\b|\.ya?ml\b|\.env\b|\.toml\b|\.properties\b|\bchore\(config\))",
    );
    let v = version.trim().to_ascii_lowercase();
    config_edit(description).is_some()
        || flag_change(description).is_some()
        || words.is_match(prefix(description, SCAN_LIMIT))
        || v.starts_with("config")
        || v.starts_with("cfg")
}

/// Whether a change says it touches nothing that runs: docs, typos, comments, tests, CI, style.
pub(crate) fn is_cosmetic(description: &str) -> bool {
    static COSMETIC: OnceLock<Regex> = OnceLock::new();
    let r = re(
        &COSMETIC,
        r"(?i)(^\s*(?:docs?|readme|typo|comments?|tests?|ci|style|lint|chore\((?:docs?|ci|test|tests|lint)\))\b|\bfix(?:e[sd])? (?:a )?typos?\b|\bupdate[sd]? (?:the )?(?:readme|docs|documentation|changelog)\b|\bdocs? only\b|\bcomments? only\b|\bno functional change\b)",
    );
    r.is_match(prefix(description, SCAN_LIMIT))
}

/// Words common in change descriptions that say nothing about what broke.
const STOPWORDS: &[&str] = &[
    "with", "from", "into", "that", "this", "when", "then", "than", "have", "been", "were", "will",
    "also", "some", "more", "less", "only", "after", "before", "change", "changes", "changed",
    "update", "updates", "updated", "release", "version", "deploy", "deployed", "merge", "merged",
    "pull", "request", "branch", "main", "master", "feat", "feature", "chore", "refactor", "bump",
    "bumps", "bumped", "error", "errors", "service", "services", "failed", "fails", "issue", "add",
    "adds", "added", "remove", "removed", "removes", "use", "uses", "using", "new", "now",
];

/// Distinctive lowercase words (four letters or more) of a text, to tie a change to an error.
pub(crate) fn keywords(text: &str) -> BTreeSet<String> {
    prefix(text, SCAN_LIMIT)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 4 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(|w| w.to_ascii_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_edits_are_read_in_the_usual_spellings() {
        assert_eq!(
            config_edit("Reduce DB_POOL_SIZE from 50 to 5 to save connections"),
            Some(ConfigEdit {
                key: "DB_POOL_SIZE".into(),
                from: "50".into(),
                to: "5".into()
            })
        );
        assert_eq!(
            config_edit("payments.timeout_ms: 5000 -> 500"),
            Some(ConfigEdit {
                key: "payments.timeout_ms".into(),
                from: "5000".into(),
                to: "500".into()
            })
        );
        assert_eq!(
            config_edit("upgrade lodash from 4.17.20 to 4.17.21"),
            None,
            "a library is not a config key"
        );
        assert_eq!(
            config_edit("config: set ratelimit.default_rps = \"5O0\" (was 500) for tier=standard"),
            Some(ConfigEdit {
                key: "ratelimit.default_rps".into(),
                from: "500".into(),
                to: "5O0".into()
            })
        );
        assert_eq!(config_edit("set `timeout` from `5s; rm -rf /` to 1s"), None);
    }

    #[test]
    fn flag_changes_say_which_way_they_went() {
        assert_eq!(
            flag_change("Enable feature flag new-pricing-engine for all users"),
            Some(FlagChange {
                flag: "new-pricing-engine".into(),
                enabled: true
            })
        );
        assert_eq!(
            flag_change("flag checkout_v2 -> 100%"),
            Some(FlagChange {
                flag: "checkout_v2".into(),
                enabled: true
            })
        );
        assert_eq!(
            flag_change("turn off flag legacy-tax"),
            Some(FlagChange {
                flag: "legacy-tax".into(),
                enabled: false
            })
        );
        assert_eq!(flag_change("enable gzip compression"), None);
        assert_eq!(
            flag_change("feature flag pricing.tiered_discounts_v2: off -> on (100% rollout)"),
            Some(FlagChange {
                flag: "pricing.tiered_discounts_v2".into(),
                enabled: true
            })
        );
    }

    #[test]
    fn config_and_cosmetic_changes_are_told_apart_from_code() {
        assert!(is_config_change(
            "Update ConfigMap: lower request timeout",
            "r42"
        ));
        assert!(is_config_change("anything", "config-2024-06-01"));
        assert!(!is_config_change("Add retry to order submission", "v2.4.1"));
        assert!(is_cosmetic("docs: fix typo in README"));
        assert!(!is_cosmetic("Switch JSON serializer to simd-json"));
    }
}

//! Choice rules: data-test expressions (`Variable` + one comparison operator) combined with
//! `And`, `Or` and `Not`, compiled when the definition loads.
//!
//! Semantics follow AWS: a comparison whose operand has the wrong type is simply false (no error);
//! a `Variable` (or `…Path` operand) that selects nothing fails the execution with
//! `States.Runtime`, except under `IsPresent`; strings compare like Java's `String.compareTo`
//! (UTF-16 code units); timestamps must be RFC 3339 with an uppercase `T` and `Z` (or an offset).

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Number, Value};

use super::errors::StateError;
use super::path::Path;

/// A top-level rule and the state it leads to.
#[derive(Debug, Clone)]
pub(crate) struct ChoiceRule {
    pub(crate) rule: Rule,
    pub(crate) next: String,
}

/// A boolean expression over the state's data.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        op: Op,
        operand: Operand,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Compare(Kind, Cmp),
    StringMatches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl Op {
    /// Parses an operator field name; the flag says it is a `…Path` variant.
    fn from_key(key: &str) -> Option<(Op, bool)> {
        let (base, is_path) = match key.strip_suffix("Path") {
            Some(base) => (base, true),
            None => (key, false),
        };
        let op = match base {
            "StringMatches" if !is_path => Op::StringMatches,
            "IsNull" if !is_path => Op::IsNull,
            "IsPresent" if !is_path => Op::IsPresent,
            "IsNumeric" if !is_path => Op::IsNumeric,
            "IsString" if !is_path => Op::IsString,
            "IsBoolean" if !is_path => Op::IsBoolean,
            "IsTimestamp" if !is_path => Op::IsTimestamp,
            "BooleanEquals" => Op::Compare(Kind::Boolean, Cmp::Equals),
            _ => {
                let (kind, rest) = [
                    ("String", Kind::String),
                    ("Numeric", Kind::Numeric),
                    ("Timestamp", Kind::Timestamp),
                ]
                .into_iter()
                .find_map(|(prefix, kind)| base.strip_prefix(prefix).map(|rest| (kind, rest)))?;
                let cmp = match rest {
                    "Equals" => Cmp::Equals,
                    "LessThan" => Cmp::LessThan,
                    "GreaterThan" => Cmp::GreaterThan,
                    "LessThanEquals" => Cmp::LessThanEquals,
                    "GreaterThanEquals" => Cmp::GreaterThanEquals,
                    _ => return None,
                };
                Op::Compare(kind, cmp)
            }
        };
        Some((op, is_path))
    }
}

/// Compiles one entry of `Choices` (which must have `Next`).
pub(crate) fn compile_top(value: &Value) -> Result<ChoiceRule, String> {
    let Value::Object(map) = value else {
        return Err("a choice rule must be an object".into());
    };
    let next = match map.get("Next") {
        Some(Value::String(next)) => next.clone(),
        Some(_) => return Err("`Next` must be a string".into()),
        None => return Err("a top-level choice rule needs `Next`".into()),
    };
    let rule = compile_rule(map, true)?;
    Ok(ChoiceRule { rule, next })
}

fn compile_nested(value: &Value) -> Result<Rule, String> {
    let Value::Object(map) = value else {
        return Err("a choice rule must be an object".into());
    };
    if map.contains_key("Next") {
        return Err("nested choice rules (inside And, Or, Not) must not have `Next`".into());
    }
    compile_rule(map, false)
}

fn compile_rule(map: &Map<String, Value>, top: bool) -> Result<Rule, String> {
    let mut keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "Comment" && !(top && *k == "Next"))
        .collect();
    keys.sort_unstable();
    for combinator in ["And", "Or", "Not"] {
        if let Some(value) = map.get(combinator) {
            if keys.len() != 1 {
                return Err(format!(
                    "a rule with `{combinator}` must have no other operator or `Variable` (found {})",
                    keys.join(", ")
                ));
            }
            return match combinator {
                "Not" => Ok(Rule::Not(Box::new(
                    compile_nested(value).map_err(|e| format!("in Not: {e}"))?,
                ))),
                _ => {
                    let Value::Array(items) = value else {
                        return Err(format!("`{combinator}` must be an array of rules"));
                    };
                    if items.is_empty() {
                        return Err(format!("`{combinator}` must not be empty"));
                    }
                    let rules = items
                        .iter()
                        .map(|item| {
                            compile_nested(item).map_err(|e| format!("in {combinator}: {e}"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(if combinator == "And" {
                        Rule::And(rules)
                    } else {
                        Rule::Or(rules)
                    })
                }
            };
        }
    }
    let variable = match map.get("Variable") {
        Some(Value::String(text)) => Path::parse(text).map_err(|e| format!("`Variable`: {e}"))?,
        Some(_) => return Err("`Variable` must be a path string".into()),
        None => {
            return Err(
                "a choice rule needs `Variable` and one comparison operator, or And/Or/Not".into(),
            )
        }
    };
    let operators: Vec<&str> = keys.iter().copied().filter(|k| *k != "Variable").collect();
    let [key] = operators.as_slice() else {
        return Err(format!(
            "a choice rule needs exactly one comparison operator besides `Variable` (found {})",
            if operators.is_empty() {
                "none".to_string()
            } else {
                operators.join(", ")
            }
        ));
    };
    let (op, is_path) =
        Op::from_key(key).ok_or_else(|| format!("`{key}` is not a comparison operator"))?;
    let value = &map[*key];
    let operand = if is_path {
        let Value::String(text) = value else {
            return Err(format!("`{key}` must be a path string"));
        };
        Operand::Path(Path::parse(text).map_err(|e| format!("`{key}`: {e}"))?)
    } else {
        check_literal(op, key, value)?;
        Operand::Literal(value.clone())
    };
    Ok(Rule::Test {
        variable,
        op,
        operand,
    })
}

fn check_literal(op: Op, key: &str, value: &Value) -> Result<(), String> {
    let ok = match op {
        Op::Compare(Kind::String, _) | Op::StringMatches => value.is_string(),
        Op::Compare(Kind::Numeric, _) => value.is_number(),
        Op::Compare(Kind::Boolean, _) => value.is_boolean(),
        Op::Compare(Kind::Timestamp, _) => value.as_str().and_then(parse_timestamp).is_some(),
        Op::IsNull
        | Op::IsPresent
        | Op::IsNumeric
        | Op::IsString
        | Op::IsBoolean
        | Op::IsTimestamp => value.is_boolean(),
    };
    if ok {
        Ok(())
    } else {
        let expected = match op {
            Op::Compare(Kind::String, _) | Op::StringMatches => "a string",
            Op::Compare(Kind::Numeric, _) => "a number",
            Op::Compare(Kind::Timestamp, _) => "an RFC 3339 timestamp string",
            _ => "a boolean",
        };
        Err(format!("`{key}` must be {expected}, got {value}"))
    }
}

impl Rule {
    /// Evaluates the rule on the Choice state's effective input.
    pub(crate) fn eval(&self, input: &Value, context: &Value) -> Result<bool, StateError> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, context)?),
            Rule::Test {
                variable,
                op,
                operand,
            } => {
                let value = variable.read(input, context);
                if *op == Op::IsPresent {
                    let expected = matches!(operand, Operand::Literal(Value::Bool(true)));
                    return Ok(value.is_some() == expected);
                }
                let value = value.ok_or_else(|| {
                    StateError::runtime(format!(
                        "Invalid path '{}': The choice state's condition path references an invalid value.",
                        variable.text()
                    ))
                })?;
                let operand = match operand {
                    Operand::Literal(literal) => literal.clone(),
                    Operand::Path(path) => path.read(input, context).ok_or_else(|| {
                        StateError::runtime(format!(
                            "Invalid path '{}': The choice state's condition path references an invalid value.",
                            path.text()
                        ))
                    })?,
                };
                Ok(test(*op, &value, &operand))
            }
        }
    }
}

fn test(op: Op, value: &Value, operand: &Value) -> bool {
    let flag = operand.as_bool() == Some(true);
    match op {
        Op::IsNull => value.is_null() == flag,
        Op::IsNumeric => value.is_number() == flag,
        Op::IsString => value.is_string() == flag,
        Op::IsBoolean => value.is_boolean() == flag,
        Op::IsTimestamp => value.as_str().and_then(parse_timestamp).is_some() == flag,
        Op::IsPresent => true, // handled by the caller
        Op::StringMatches => match (value, operand) {
            (Value::String(s), Value::String(pattern)) => glob_matches(pattern, s),
            _ => false,
        },
        Op::Compare(kind, cmp) => {
            let ordering = match (kind, value, operand) {
                (Kind::String, Value::String(a), Value::String(b)) => {
                    Some(a.encode_utf16().cmp(b.encode_utf16()))
                }
                (Kind::Numeric, Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
                (Kind::Boolean, Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
                (Kind::Timestamp, Value::String(a), Value::String(b)) => {
                    match (parse_timestamp(a), parse_timestamp(b)) {
                        (Some(a), Some(b)) => Some(a.cmp(&b)),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(ordering) = ordering else {
                return false;
            };
            match cmp {
                Cmp::Equals => ordering == Ordering::Equal,
                Cmp::LessThan => ordering == Ordering::Less,
                Cmp::GreaterThan => ordering == Ordering::Greater,
                Cmp::LessThanEquals => ordering != Ordering::Greater,
                Cmp::GreaterThanEquals => ordering != Ordering::Less,
            }
        }
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Parses a timestamp the way the States language restricts RFC 3339: an uppercase `T` between
/// date and time and an uppercase `Z` when there is no numeric offset.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// `StringMatches`: `*` matches any run of characters; `\*` is a literal star and `\\` a literal
/// backslash.
fn glob_matches(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Star,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => tokens.push(Token::Char(escaped)),
                None => tokens.push(Token::Char('\\')),
            },
            '*' => tokens.push(Token::Star),
            other => tokens.push(Token::Char(other)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic wildcard matching with backtracking to the last star.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> Rule {
        compile_nested(&value).unwrap()
    }

    #[test]
    fn string_matches_supports_wildcards_and_escapes() {
        assert!(glob_matches("log-*.txt", "log-2024.txt"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b", "aXXc"));
        assert!(glob_matches(r"a\*b", "a*b"));
        assert!(!glob_matches(r"a\*b", "aXb"));
    }

    #[test]
    fn type_mismatches_are_false_and_missing_variables_are_runtime_errors() {
        let r = rule(json!({"Variable": "$.x", "NumericEquals": 1}));
        assert!(!r.eval(&json!({"x": "1"}), &json!({})).unwrap());
        assert!(r.eval(&json!({"x": 1.0}), &json!({})).unwrap());
        let err = r.eval(&json!({}), &json!({})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn timestamps_must_use_uppercase_t_and_z() {
        assert!(parse_timestamp("2016-03-14T01:59:00Z").is_some());
        assert!(parse_timestamp("2016-03-14T01:59:00+02:00").is_some());
        assert!(parse_timestamp("2016-03-14t01:59:00Z").is_none());
        assert!(parse_timestamp("2016-03-14T01:59:00z").is_none());
        assert!(parse_timestamp("2016-03-14 01:59:00Z").is_none());
    }

    #[test]
    fn malformed_rules_do_not_compile() {
        assert!(compile_nested(&json!({"Variable": "$.x"})).is_err());
        assert!(compile_nested(&json!({"Variable": "$.x", "NumericEquals": "1"})).is_err());
        assert!(
            compile_nested(&json!({"Variable": "$.x", "StringEquals": "a", "IsNull": true}))
                .is_err()
        );
        assert!(compile_nested(&json!({"And": []})).is_err());
        assert!(
            compile_nested(&json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "A"}}))
                .is_err()
        );
        assert!(compile_nested(&json!({"Variable": "$.x", "StringMatchesPath": "$.y"})).is_err());
        assert!(
            compile_nested(&json!({"Variable": "$.x", "TimestampEquals": "yesterday"})).is_err()
        );
        assert!(compile_top(&json!({"Variable": "$.x", "IsNull": true})).is_err());
    }

    #[test]
    fn strings_compare_by_utf16_code_units_like_java() {
        // By code point U+FF61 < U+1F600, but in UTF-16 0xFF61 > 0xD83D (the surrogate), as in Java.
        let r = rule(json!({"Variable": "$.a", "StringLessThanPath": "$.b"}));
        assert!(!r
            .eval(&json!({"a": "\u{FF61}", "b": "\u{1F600}"}), &json!({}))
            .unwrap());
        assert!(r
            .eval(&json!({"a": "abc", "b": "abd"}), &json!({}))
            .unwrap());
    }
}

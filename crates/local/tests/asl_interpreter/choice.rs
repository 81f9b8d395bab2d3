//! Choice states: every comparison operator, the `…Path` variants, And/Or/Not, Default, and the
//! errors AWS documents.

use iras_local::asl::ExecutionStatus;
use serde_json::{json, Value};

use crate::support::run_definition;

/// Runs a Choice with one rule (→ "Yes") and Default "No"; returns which branch ran.
async fn branch(rule: Value, input: Value) -> String {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let summary = run_definition(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "Yes", "End": true},
            "No": {"Type": "Pass", "Result": "No", "End": true}
        }}),
        input,
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
    summary.output.unwrap().as_str().unwrap().to_string()
}

async fn check(cases: &[(Value, Value, bool)]) {
    for (rule, input, expected) in cases {
        let got = branch(rule.clone(), input.clone()).await == "Yes";
        assert_eq!(got, *expected, "rule {rule} on {input}");
    }
}

#[tokio::test]
async fn string_comparisons_and_string_matches_behave_as_documented() {
    check(&[
        (
            json!({"Variable": "$.s", "StringEquals": "MyString"}),
            json!({"s": "MyString"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringEquals": "MyString"}),
            json!({"s": "mystring"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThan": "MyStringABC"}),
            json!({"s": "MyStringABD"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringLessThan": "b"}),
            json!({"s": "a"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEquals": "a"}),
            json!({"s": "a"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}),
            json!({"s": "a"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringMatches": "log-*.txt"}),
            json!({"s": "log-2024-01.txt"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringMatches": "*.log"}),
            json!({"s": "a.txt"}),
            false,
        ),
        // A number is never equal to a string.
        (
            json!({"Variable": "$.n", "StringEquals": "1"}),
            json!({"n": 1}),
            false,
        ),
    ])
    .await;
}

#[tokio::test]
async fn numeric_boolean_and_timestamp_comparisons_behave_as_documented() {
    check(&[
        (
            json!({"Variable": "$.n", "NumericEquals": 1}),
            json!({"n": 1}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericEquals": 1}),
            json!({"n": 1.0}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericEquals": 1}),
            json!({"n": "1"}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThan": 30}),
            json!({"n": 22}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThan": 30}),
            json!({"n": 22}),
            false,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEquals": 22}),
            json!({"n": 22}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 20.5}),
            json!({"n": 22}),
            true,
        ),
        (
            json!({"Variable": "$.b", "BooleanEquals": true}),
            json!({"b": true}),
            true,
        ),
        (
            json!({"Variable": "$.b", "BooleanEquals": true}),
            json!({"b": "true"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2001-01-01T12:00:00Z"}),
            json!({"t": "2001-01-01T13:00:00+01:00"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThan": "2001-01-01T12:00:00Z"}),
            json!({"t": "2000-12-31T23:59:59Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThan": "2001-01-01T12:00:00Z"}),
            json!({"t": "2000-12-31T23:59:59Z"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2001-01-01T12:00:00Z"}),
            json!({"t": "2001-01-01T12:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2001-01-01T12:00:00Z"}),
            json!({"t": "not a timestamp"}),
            false,
        ),
        // A timestamp is also a string.
        (
            json!({"Variable": "$.t", "StringEquals": "2001-01-01T12:00:00Z"}),
            json!({"t": "2001-01-01T12:00:00Z"}),
            true,
        ),
    ])
    .await;
}

#[tokio::test]
async fn type_tests_and_is_present_behave_as_documented() {
    check(&[
        (
            json!({"Variable": "$.v", "IsNull": true}),
            json!({"v": null}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsNull": false}),
            json!({"v": null}),
            false,
        ),
        (
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({"v": null}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsPresent": true}),
            json!({}),
            false,
        ),
        (
            json!({"Variable": "$.v", "IsPresent": false}),
            json!({}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsNumeric": true}),
            json!({"v": 1.5}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsNumeric": true}),
            json!({"v": "1.5"}),
            false,
        ),
        (
            json!({"Variable": "$.v", "IsString": true}),
            json!({"v": "x"}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsBoolean": true}),
            json!({"v": false}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsBoolean": false}),
            json!({"v": 0}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsTimestamp": true}),
            json!({"v": "2016-03-14T01:59:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.v", "IsTimestamp": true}),
            json!({"v": "2016-03-14 01:59:00Z"}),
            false,
        ),
    ])
    .await;
}

#[tokio::test]
async fn path_variants_compare_against_another_field_of_the_input() {
    check(&[
        (
            json!({"Variable": "$.a", "StringEqualsPath": "$.b"}),
            json!({"a": "x", "b": "x"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "StringLessThanPath": "$.b"}),
            json!({"a": "x", "b": "y"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "StringGreaterThanPath": "$.b"}),
            json!({"a": "x", "b": "y"}),
            false,
        ),
        (
            json!({"Variable": "$.a", "StringLessThanEqualsPath": "$.b"}),
            json!({"a": "y", "b": "y"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "StringGreaterThanEqualsPath": "$.b"}),
            json!({"a": "z", "b": "y"}),
            true,
        ),
        (
            json!({"Variable": "$.attempt", "NumericLessThanPath": "$.max"}),
            json!({"attempt": 1, "max": 3}),
            true,
        ),
        (
            json!({"Variable": "$.attempt", "NumericEqualsPath": "$.max"}),
            json!({"attempt": 3, "max": 3}),
            true,
        ),
        (
            json!({"Variable": "$.attempt", "NumericGreaterThanPath": "$.max"}),
            json!({"attempt": 3, "max": 3}),
            false,
        ),
        (
            json!({"Variable": "$.attempt", "NumericLessThanEqualsPath": "$.max"}),
            json!({"attempt": 3, "max": 3}),
            true,
        ),
        (
            json!({"Variable": "$.attempt", "NumericGreaterThanEqualsPath": "$.max"}),
            json!({"attempt": 2, "max": 3}),
            false,
        ),
        (
            json!({"Variable": "$.a", "BooleanEqualsPath": "$.b"}),
            json!({"a": true, "b": true}),
            true,
        ),
        (
            json!({"Variable": "$.a", "TimestampEqualsPath": "$.b"}),
            json!({"a": "2020-01-01T00:00:00Z", "b": "2020-01-01T00:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "TimestampLessThanPath": "$.b"}),
            json!({"a": "2020-01-01T00:00:00Z", "b": "2021-01-01T00:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "TimestampGreaterThanPath": "$.b"}),
            json!({"a": "2020-01-01T00:00:00Z", "b": "2021-01-01T00:00:00Z"}),
            false,
        ),
        (
            json!({"Variable": "$.a", "TimestampLessThanEqualsPath": "$.b"}),
            json!({"a": "2021-01-01T00:00:00Z", "b": "2021-01-01T00:00:00Z"}),
            true,
        ),
        (
            json!({"Variable": "$.a", "TimestampGreaterThanEqualsPath": "$.b"}),
            json!({"a": "2022-01-01T00:00:00Z", "b": "2021-01-01T00:00:00Z"}),
            true,
        ),
        // The Context object can be compared too.
        (
            json!({"Variable": "$$.State.RetryCount", "NumericEquals": 0}),
            json!({}),
            true,
        ),
    ])
    .await;
}

#[tokio::test]
async fn and_or_and_not_combine_rules_as_in_the_documented_example() {
    // The guide's example: {"type": "Private", "value": 22} goes to ValueInTwenties.
    let summary = run_definition(
        json!({"StartAt": "ChoiceStateX", "States": {
            "ChoiceStateX": {"Type": "Choice", "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
                {"And": [
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30}
                ], "Next": "ValueInTwenties"}
            ], "Default": "DefaultState"},
            "Public": {"Type": "Pass", "Result": "Public", "End": true},
            "ValueIsZero": {"Type": "Pass", "Result": "ValueIsZero", "End": true},
            "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": true},
            "DefaultState": {"Type": "Fail", "Cause": "No Matches!"}
        }}),
        json!({"type": "Private", "value": 22}),
    )
    .await;
    assert_eq!(summary.output.unwrap(), json!("ValueInTwenties"));

    check(&[
        (json!({"Or": [{"Variable": "$.a", "IsNull": true}, {"Variable": "$.b", "NumericEquals": 2}]}),
         json!({"a": 1, "b": 2}), true),
        (json!({"Or": [{"Variable": "$.a", "IsNull": true}, {"Variable": "$.b", "NumericEquals": 3}]}),
         json!({"a": 1, "b": 2}), false),
        // And short-circuits: the missing $.c is never read once $.a fails.
        (json!({"And": [{"Variable": "$.a", "IsNull": true}, {"Variable": "$.c", "NumericEquals": 3}]}),
         json!({"a": 1}), false),
        (json!({"Not": {"Variable": "$.a", "IsPresent": true}}), json!({}), true),
    ])
    .await;
}

#[tokio::test]
async fn a_choice_with_no_match_and_no_default_fails_with_no_choice_matched() {
    let summary = run_definition(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }}),
        json!({"n": 2}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(summary.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn a_choice_on_a_missing_variable_fails_with_states_runtime() {
    let summary = run_definition(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.type", "StringEquals": "x", "Next": "Done"}],
                  "Default": "Done"},
            "Done": {"Type": "Succeed"}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(summary.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn a_choice_passes_its_input_through_input_path_and_output_path() {
    let summary = run_definition(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "InputPath": "$.rca", "OutputPath": "$.confidence",
                  "Choices": [{"Variable": "$.confidence", "NumericGreaterThanEquals": 0.7, "Next": "Done"}],
                  "Default": "Done"},
            "Done": {"Type": "Succeed"}
        }}),
        json!({"rca": {"confidence": 0.9}}),
    )
    .await;
    assert_eq!(summary.output.unwrap(), json!(0.9));
}

//! Loading definitions: substitutions, unsupported states, validation, and the repository's own
//! `statemachine.asl.json` when it exists.

use std::collections::HashMap;

use iras_local::asl::{Definition, LoadError};
use serde_json::json;

fn load(value: serde_json::Value) -> Result<Definition, LoadError> {
    Definition::from_json(&value.to_string(), &HashMap::new())
}

#[test]
fn placeholders_are_substituted_like_definition_substitutions_and_a_missing_one_is_refused() {
    let text = json!({"Comment": "IRAS", "StartAt": "Triage", "States": {
        "Triage": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "${TriageFunctionArn}", "Payload.$": "$"},
                   "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "${RequestApprovalFunctionArn}",
                                   "Payload": {"token.$": "$$.Task.Token"}},
                    "End": true}
    }})
    .to_string();
    let substitutions = HashMap::from([
        (
            "TriageFunctionArn".to_string(),
            "arn:aws:lambda:us-east-1:1:function:triage".to_string(),
        ),
        (
            "RequestApprovalFunctionArn".to_string(),
            "arn:aws:lambda:us-east-1:1:function:request-approval".to_string(),
        ),
    ]);
    let definition = Definition::from_json(&text, &substitutions).unwrap();
    assert_eq!(definition.start_at(), "Triage");
    assert_eq!(definition.comment(), Some("IRAS"));
    assert_eq!(definition.state_names(), ["Approve", "Triage"]);
    assert_eq!(definition.state_type("Approve"), Some("Task"));

    let partial = HashMap::from([(
        "TriageFunctionArn".to_string(),
        "arn:aws:lambda:us-east-1:1:function:triage".to_string(),
    )]);
    let err = Definition::from_json(&text, &partial).unwrap_err();
    assert!(
        matches!(&err, LoadError::Unsubstituted { name, .. } if name == "RequestApprovalFunctionArn"),
        "{err}"
    );
    assert!(err.to_string().contains("${RequestApprovalFunctionArn}"));
}

#[test]
fn parallel_and_map_states_are_refused_naming_the_state() {
    for state_type in ["Parallel", "Map"] {
        let err = load(json!({"StartAt": "GatherContext", "States": {
            "GatherContext": {"Type": state_type, "End": true}}}))
        .unwrap_err();
        assert!(
            matches!(err, LoadError::UnsupportedStateType { ref state, .. } if state == "GatherContext")
        );
        assert!(err.to_string().contains("GatherContext") && err.to_string().contains(state_type));
    }
}

#[test]
fn definitions_step_functions_would_refuse_are_refused() {
    let cases = [
        json!({"States": {"A": {"Type": "Succeed"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Bogus"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "StringEquals": 1, "Next": "A"}]}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "nope"}, "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Bogus()"}, "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "TimeoutSeconds": 0}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": true}}}),
        json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Succeed"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1}, "End": true}}}),
    ];
    for case in cases {
        assert!(load(case.clone()).is_err(), "{case} should be refused");
    }
    assert!(matches!(
        Definition::from_json("{not json", &HashMap::new()),
        Err(LoadError::Json(_))
    ));
}

#[test]
fn the_repository_state_machine_loads_when_present() {
    // The lead's statemachine.asl.json (at the workspace root) must load with its placeholders
    // substituted; skipped until it exists.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine.asl.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let mut substitutions = HashMap::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        substitutions.insert(
            name.to_string(),
            format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        );
        rest = &after[end.min(after.len())..];
    }
    if let Err(err) = Definition::from_json(&text, &substitutions) {
        panic!("{} does not load: {err}", path.display());
    }
}

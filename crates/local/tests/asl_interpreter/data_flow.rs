//! Input and output processing: InputPath, Parameters (paths, Context object, intrinsics),
//! ResultSelector, ResultPath and OutputPath, with the examples of the AWS developer guide.

use iras_local::asl::{ExecutionStatus, TaskFailure};
use serde_json::{json, Value};

use crate::support::{engine, run, run_definition, TableInvoker};

const HELLO: &str = "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction";

fn one_task(extra: Value) -> Value {
    let mut task = json!({"Type": "Task", "Resource": HELLO, "End": true});
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"StartAt": "Hello", "States": {"Hello": task}})
}

async fn hello_with(extra: Value, input: Value) -> Value {
    let invoker = TableInvoker::new();
    invoker.on(HELLO, |_| Ok(json!("Hello, AWS Step Functions!")));
    let summary = run(&engine(one_task(extra), &invoker), input).await;
    assert_eq!(summary.status, ExecutionStatus::Succeeded, "{summary:?}");
    summary.output.unwrap()
}

#[tokio::test]
async fn input_path_selects_part_of_the_input_and_parameters_reshape_it() {
    // Given the guide's InputPath example
    let dataset_input = json!({
        "comment": "Example for InputPath.",
        "dataset1": {"val1": 1, "val2": 2, "val3": 3},
        "dataset2": {"val1": "a", "val2": "b", "val3": "c"}
    });
    let summary = run_definition(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.dataset2", "End": true}}}),
        dataset_input,
    )
    .await;
    // Then only dataset2 passes
    assert_eq!(
        summary.output.unwrap(),
        json!({"val1": "a", "val2": "b", "val3": "c"})
    );

    // Given the guide's Parameters example
    let summary = run_definition(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.product.details.size",
                "exists.$": "$.product.availability",
                "StaticValue": "foo"
            }
        }}}}),
        json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23"
            }
        }),
    )
    .await;
    assert_eq!(
        summary.output.unwrap(),
        json!({"comment": "Selecting what I care about.",
               "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}})
    );
}

#[tokio::test]
async fn parameters_read_the_context_object_and_intrinsic_functions() {
    let invoker = TableInvoker::new();
    let summary = run(
        &engine(
            json!({"StartAt": "Ctx", "States": {"Ctx": {"Type": "Pass", "End": true, "Parameters": {
                "executionId.$": "$$.Execution.Id",
                "executionName.$": "$$.Execution.Name",
                "executionInput.$": "$$.Execution.Input",
                "startTime.$": "$$.Execution.StartTime",
                "stateName.$": "$$.State.Name",
                "enteredTime.$": "$$.State.EnteredTime",
                "retryCount.$": "$$.State.RetryCount",
                "machineId.$": "$$.StateMachine.Id",
                "machineName.$": "$$.StateMachine.Name",
                "greeting.$": "States.Format('Hello, my name is {}.', $.name)",
                "parsed.$": "States.StringToJson($.escaped)",
                "text.$": "States.JsonToString($.object)",
                "ids.$": "States.Array($.id, 'x', 2)",
                "sum.$": "States.MathAdd($.value1, $.step)",
                "uuid.$": "States.UUID()"
            }}}}),
            &invoker,
        ),
        json!({"name": "Arnav", "escaped": "{\"foo\": \"bar\"}", "object": {"foo": "bar"},
               "id": 123456, "value1": 111, "step": -1}),
    )
    .await;
    let out = summary.output.unwrap();
    assert_eq!(
        out["executionId"],
        json!("arn:aws:states:us-east-1:123456789012:execution:iras:test")
    );
    assert_eq!(out["executionName"], json!("test"));
    assert_eq!(out["executionInput"]["name"], json!("Arnav"));
    assert!(out["startTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(out["stateName"], json!("Ctx"));
    assert!(out["enteredTime"].as_str().unwrap().contains('T'));
    assert_eq!(out["retryCount"], json!(0));
    assert_eq!(
        out["machineId"],
        json!("arn:aws:states:us-east-1:123456789012:stateMachine:iras")
    );
    assert_eq!(out["machineName"], json!("iras"));
    assert_eq!(out["greeting"], json!("Hello, my name is Arnav."));
    assert_eq!(out["parsed"], json!({"foo": "bar"}));
    assert_eq!(out["text"], json!("{\"foo\":\"bar\"}"));
    assert_eq!(out["ids"], json!([123456, "x", 2]));
    assert_eq!(out["sum"], json!(110));
    assert_eq!(out["uuid"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn result_path_replaces_includes_or_updates_like_the_aws_examples() {
    let input = json!({
        "comment": "This is a test of the input and output of a Task state.",
        "details": "Default example",
        "who": "AWS Step Functions"
    });
    // No ResultPath (or "$"): the result replaces the input.
    assert_eq!(
        hello_with(json!({}), input.clone()).await,
        json!("Hello, AWS Step Functions!")
    );
    assert_eq!(
        hello_with(json!({"ResultPath": "$"}), input.clone()).await,
        json!("Hello, AWS Step Functions!")
    );
    // "$.taskresult": the result is included with the input.
    let mut expected = input.clone();
    expected["taskresult"] = json!("Hello, AWS Step Functions!");
    assert_eq!(
        hello_with(json!({"ResultPath": "$.taskresult"}), input.clone()).await,
        expected
    );
    // "$.strings.lambdaresult": inserted as a child node.
    let strings_input = json!({"comment": "An input comment.",
        "strings": {"string1": "foo", "string2": "bar", "string3": "baz"}, "who": "AWS Step Functions"});
    let mut expected = strings_input.clone();
    expected["strings"]["lambdaresult"] = json!("Hello, AWS Step Functions!");
    assert_eq!(
        hello_with(
            json!({"ResultPath": "$.strings.lambdaresult"}),
            strings_input
        )
        .await,
        expected
    );
    // "$.comment": an existing node is updated.
    let mut expected = input.clone();
    expected["comment"] = json!("Hello, AWS Step Functions!");
    assert_eq!(
        hello_with(json!({"ResultPath": "$.comment"}), input.clone()).await,
        expected
    );
    // null: the result is discarded and the input passes through.
    assert_eq!(
        hello_with(json!({"ResultPath": null}), input.clone()).await,
        input
    );
}

#[tokio::test]
async fn result_path_creates_missing_intermediate_objects() {
    let out = hello_with(json!({"ResultPath": "$.a.b.c"}), json!({"x": 1})).await;
    assert_eq!(
        out,
        json!({"x": 1, "a": {"b": {"c": "Hello, AWS Step Functions!"}}})
    );
}

#[tokio::test]
async fn result_selector_then_result_path_then_output_path_shape_the_task_output() {
    let invoker = TableInvoker::new();
    invoker.on("arn:aws:states:::lambda:invoke", |params| {
        Ok(json!({"ExecutedVersion": "$LATEST", "StatusCode": 200,
                  "Payload": {"severity": "P1", "echo": params["Payload"]}}))
    });
    let def = json!({"StartAt": "Triage", "States": {"Triage": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "triage", "Payload.$": "$.incident"},
        "ResultSelector": {"severity.$": "$.Payload.severity", "code.$": "$.StatusCode"},
        "ResultPath": "$.triage",
        "OutputPath": "$.triage",
        "End": true
    }}});
    let summary = run(&engine(def, &invoker), json!({"incident": {"id": "i-1"}})).await;
    assert_eq!(
        summary.output.unwrap(),
        json!({"severity": "P1", "code": 200})
    );
    let call = &invoker.calls("arn:aws:states:::lambda:invoke")[0];
    assert_eq!(
        call.input,
        json!({"FunctionName": "triage", "Payload": {"id": "i-1"}})
    );
}

#[tokio::test]
async fn input_path_null_and_output_path_null_give_empty_objects() {
    let summary = run_definition(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": null, "ResultPath": "$.r",
            "Result": 1, "Next": "Q"}, "Q": {"Type": "Pass", "OutputPath": null, "End": true}}}),
        json!({"big": "input"}),
    )
    .await;
    assert_eq!(summary.output.unwrap(), json!({}));
    let entered_q = summary
        .history
        .iter()
        .find_map(|e| match &e.kind {
            iras_local::asl::HistoryEventKind::StateEntered { state, input, .. }
                if state == "Q" =>
            {
                Some(input.clone())
            }
            _ => None,
        })
        .unwrap();
    // ResultPath applies to the raw input, not the InputPath selection.
    assert_eq!(entered_q, json!({"big": "input", "r": 1}));
}

#[tokio::test]
async fn a_pass_state_result_is_placed_at_its_result_path() {
    // The guide's Pass example: Result placed at $.coords.
    let summary = run_definition(
        json!({"StartAt": "No-op", "States": {"No-op": {"Type": "Pass",
            "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
            "ResultPath": "$.coords", "End": true}}}),
        json!({"georefOf": "Home"}),
    )
    .await;
    assert_eq!(
        summary.output.unwrap(),
        json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
    );
}

#[tokio::test]
async fn a_result_path_that_cannot_be_applied_is_a_catchable_result_path_match_failure() {
    let invoker = TableInvoker::new();
    invoker.on(HELLO, |_| Ok(json!("hi")));
    let def = json!({"StartAt": "Hello", "States": {
        "Hello": {"Type": "Task", "Resource": HELLO, "ResultPath": "$.a.b", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let summary = run(&engine(def, &invoker), json!({"a": "not an object"})).await;
    assert_eq!(summary.status, ExecutionStatus::Succeeded);
    assert_eq!(
        summary.output.unwrap()["Error"],
        json!("States.ResultPathMatchFailure")
    );
}

#[tokio::test]
async fn a_path_that_selects_nothing_fails_with_states_runtime_even_under_a_catch_all() {
    let invoker = TableInvoker::new();
    invoker.on(HELLO, |_| Err(TaskFailure::new("Never", "not called")));
    let def = json!({"StartAt": "Hello", "States": {
        "Hello": {"Type": "Task", "Resource": HELLO, "Parameters": {"x.$": "$.missing"}, "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let summary = run(&engine(def, &invoker), json!({})).await;
    assert_eq!(summary.status, ExecutionStatus::Failed);
    assert_eq!(summary.error.as_deref(), Some("States.Runtime"));
    assert!(summary.cause.unwrap().contains("'x.$'"));
    assert!(invoker.calls(HELLO).is_empty());

    let summary = run_definition(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}),
        json!({}),
    )
    .await;
    assert_eq!(summary.error.as_deref(), Some("States.Runtime"));
}

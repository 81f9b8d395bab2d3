//! Payload templates: the `Parameters` and `ResultSelector` objects, in which a field whose name
//! ends with `.$` takes its value from a path (`$...` into the data, `$$...` into the Context
//! object) or an intrinsic function, and loses the `.$` suffix. Templates are compiled when the
//! definition loads, so a bad path or call is a load error, not a runtime surprise.

use serde_json::{Map, Value};

use super::errors::StateError;
use super::intrinsics::{self, Call};
use super::path::Path;

/// A compiled payload template.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// A `.$` field's value; `field` is the field's name as written (with `.$`), for messages.
    Dynamic {
        field: String,
        expr: Expr,
    },
}

/// What a `.$` field or a Fail state's ErrorPath/CausePath evaluates.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Path(Path),
    Call(Call),
}

impl Expr {
    /// Parses a path or an intrinsic call.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if intrinsics::looks_like_call(text) {
            intrinsics::parse(text).map(Expr::Call)
        } else {
            Path::parse(text).map(Expr::Path)
        }
    }

    /// Evaluates it; `None` when a path selects nothing.
    pub(crate) fn eval(&self, input: &Value, context: &Value) -> Result<Option<Value>, StateError> {
        match self {
            Expr::Path(path) => Ok(path.read(input, context)),
            Expr::Call(call) => call.eval(input, context).map(Some),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Expr::Path(path) => path.text().to_string(),
            Expr::Call(_) => "an intrinsic function".to_string(),
        }
    }
}

impl Template {
    /// Compiles a template; errors name the offending field.
    pub(crate) fn compile(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, child) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Value::String(text) = child else {
                            return Err(format!(
                                "field `{key}` ends with `.$`, so its value must be a path or an intrinsic function string"
                            ));
                        };
                        let expr = Expr::parse(text).map_err(|e| format!("field `{key}`: {e}"))?;
                        fields.push((
                            name.to_string(),
                            Template::Dynamic {
                                field: key.clone(),
                                expr,
                            },
                        ));
                    } else {
                        let compiled =
                            Template::compile(child).map_err(|e| format!("in `{key}`: {e}"))?;
                        fields.push((key.clone(), compiled));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => items
                .iter()
                .map(Template::compile)
                .collect::<Result<Vec<_>, _>>()
                .map(Template::Array),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// Builds the payload from `input` (the effective input, or a task result for ResultSelector).
    pub(crate) fn eval(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Array(items) => items
                .iter()
                .map(|item| item.eval(input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (name, template) in fields {
                    out.insert(name.clone(), template.eval(input, context)?);
                }
                Ok(Value::Object(out))
            }
            Template::Dynamic { field, expr } => expr.eval(input, context)?.ok_or_else(|| {
                StateError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    expr.describe(),
                    truncate(&input.to_string())
                ))
            }),
        }
    }
}

/// Keeps error causes readable when inputs are large.
pub(crate) fn truncate(text: &str) -> String {
    const MAX: usize = 1024;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_parameters_example_selects_what_it_names() {
        let template = Template::compile(&json!({
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.product.details.size",
                "exists.$": "$.product.availability",
                "StaticValue": "foo"
            }
        }))
        .unwrap();
        let input = json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23"
            }
        });
        assert_eq!(
            template.eval(&input, &json!({})).unwrap(),
            json!({
                "comment": "Selecting what I care about.",
                "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}
            })
        );
    }

    #[test]
    fn nested_arrays_context_paths_and_intrinsics_are_evaluated() {
        let template = Template::compile(&json!({
            "list": [{"x.$": "$.a"}, 1],
            "exec.$": "$$.Execution.Id",
            "greeting.$": "States.Format('hi {}', $.a)"
        }))
        .unwrap();
        let got = template
            .eval(&json!({"a": "bob"}), &json!({"Execution": {"Id": "arn:x"}}))
            .unwrap();
        assert_eq!(
            got,
            json!({"list": [{"x": "bob"}, 1], "exec": "arn:x", "greeting": "hi bob"})
        );
    }

    #[test]
    fn a_missing_path_is_a_runtime_error_and_bad_templates_do_not_compile() {
        let template = Template::compile(&json!({"x.$": "$.nope"})).unwrap();
        let err = template.eval(&json!({}), &json!({})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("'x.$'"));
        assert!(Template::compile(&json!({"x.$": 3})).is_err());
        assert!(Template::compile(&json!({"x.$": "no-dollar"})).is_err());
    }
}

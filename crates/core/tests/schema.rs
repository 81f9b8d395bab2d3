//! JSON Schemas generated from the domain types: what an LLM tool or an outside client is held to.

use iras_core::{
    Action, ProposedPlan, RootCauseCategory, RootCauseFinding, TriageResult, ACTION_KINDS,
};

fn text<T: schemars::JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(T)).unwrap()
}

#[test]
fn the_action_schema_offers_exactly_the_catalogue() {
    let schema = text::<Action>();
    for kind in ACTION_KINDS {
        assert!(
            schema.contains(&format!("\"{kind}\"")),
            "{kind} missing from {schema}"
        );
    }
    assert!(!schema.contains("exec"), "nothing outside the catalogue");
    assert!(text::<ProposedPlan>().contains("rollback"));
}

#[test]
fn the_root_cause_schema_fixes_the_categories_and_bounds_confidence() {
    let schema: serde_json::Value =
        serde_json::to_value(schemars::schema_for!(RootCauseFinding)).unwrap();
    let s = schema.to_string();
    for c in RootCauseCategory::ALL {
        assert!(s.contains(&format!("\"{}\"", c.as_str())), "{c} missing");
    }
    for field in [
        "primary_cause",
        "evidence",
        "model_confidence",
        "missing_evidence",
    ] {
        assert!(schema["properties"].get(field).is_some(), "{field} missing");
    }
    assert!(text::<TriageResult>().contains("\"P0\""));
    let conf = serde_json::to_value(schemars::schema_for!(iras_core::Confidence)).unwrap();
    assert_eq!(
        (conf["minimum"].as_f64(), conf["maximum"].as_f64()),
        (Some(0.0), Some(1.0))
    );
}

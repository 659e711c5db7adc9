//! Text-to-API: calls proposed by the real models under the tool grammar.

mod common;

use common::*;
use serde_json::json;
use sextant_act::tools::{self, Tool};
use sextant_models::ChatModel;

const QWEN: &str = "qwen2.5-coder-0.5b-instruct";

fn model(id: &str) -> ChatModel {
    ChatModel::spawn(
        sextant_models::load_chat_engine(&models_dir(), id, None).unwrap(),
        2,
    )
}

fn catalogue() -> Vec<Tool> {
    vec![
        Tool {
            name: "get_aircraft".into(),
            description: "Aircraft positions inside a bounding box.".into(),
            parameters: json!({"type": "object", "properties": {
                "bbox": {"type": "string", "description": "minLon,minLat,maxLon,maxLat"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100}},
                "required": ["bbox"], "additionalProperties": false}),
        },
        Tool {
            name: "get_city".into(),
            description: "Facts about a city: population, country.".into(),
            parameters: json!({"type": "object", "properties": {
                "name": {"type": "string"}, "country": {"type": "string", "enum": ["FR", "DE", "GB"]}},
                "required": ["name"], "additionalProperties": false}),
        },
    ]
}

/// A request that needs a tool gets one schema-valid call; one that no tool serves gets none.
#[test]
fn the_model_calls_a_fitting_tool_with_valid_arguments_and_declines_otherwise() {
    let m = model(QWEN);
    let tools = catalogue();
    let p = tools::propose(
        &m,
        &tools,
        tools::prompt(&tools, None, &["What is the population of Lyon in France?"]),
        0.5,
    )
    .unwrap();
    eprintln!("{p:?}");
    assert_eq!(p.calls.len(), 1, "{p:?}");
    assert_eq!(p.calls[0].name, "get_city");
    assert!(p.calls[0].arguments["name"]
        .as_str()
        .unwrap()
        .contains("Lyon"));
    let p = tools::propose(
        &m,
        &tools,
        tools::prompt(&tools, None, &["Write a haiku about autumn leaves."]),
        0.5,
    )
    .unwrap();
    eprintln!("{p:?}");
    assert!(p.calls.is_empty(), "{p:?}");
}

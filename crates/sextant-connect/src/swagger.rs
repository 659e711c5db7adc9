//! Swagger 2.0 documents converted to OpenAPI 3.0, as far as a connector needs them: the
//! paths, their parameters (with their types moved into `schema`), a `body` parameter as the
//! request body, and `definitions` as `components/schemas`. Form-data parameters are left out
//! (Sextant sends JSON bodies only), as are responses and security definitions (the connector's
//! settings say how to authenticate). The paths keep their place, so an error still points at
//! the operation it is about.

use serde_json::{json, Map, Value};

/// Parameter keywords that Swagger 2.0 writes on the parameter and OpenAPI 3 in its schema.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// The OpenAPI 3.0 form of the Swagger 2.0 document `doc`.
pub fn to_openapi3(doc: &Value) -> Value {
    let global_consumes = doc.get("consumes");
    let shared_params = doc.get("parameters").and_then(Value::as_object);
    // A parameter, with a reference to the document's shared parameters resolved.
    let resolve = |p: &Value| -> Value {
        match p.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/parameters/")
                .and_then(|n| shared_params.and_then(|m| m.get(n)))
                .cloned()
                .unwrap_or_else(|| p.clone()),
            None => p.clone(),
        }
    };
    let mut paths = Map::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Value::Object(item) = item else {
            paths.insert(path.clone(), item.clone());
            continue;
        };
        let mut out = Map::new();
        for (k, v) in item {
            if k == "parameters" {
                let list: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(&resolve)
                    .filter_map(|p| parameter(&p))
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            } else if METHODS.contains(&k.as_str()) {
                out.insert(k.clone(), operation(v, global_consumes, &resolve));
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        paths.insert(path.clone(), Value::Object(out));
    }
    let mut out = json!({
        "openapi": "3.0.3",
        "info": doc.get("info").cloned().unwrap_or(json!({})),
        "paths": paths,
        "components": {
            "schemas": doc.get("definitions").cloned().unwrap_or(json!({})),
        },
    });
    if doc.get("paths").is_none() {
        // Missing stays missing, for the reader to say so.
        out.as_object_mut().map(|m| m.remove("paths"));
    }
    rewrite_refs(&mut out);
    out
}

/// An operation with its body parameter as the request body and its other parameters in
/// OpenAPI 3 form.
fn operation(
    op: &Value,
    global_consumes: Option<&Value>,
    resolve: &dyn Fn(&Value) -> Value,
) -> Value {
    let Value::Object(op) = op else {
        return op.clone();
    };
    let mut out = Map::new();
    let mut params = Vec::new();
    for (k, v) in op {
        match k.as_str() {
            "parameters" => {
                for p in v.as_array().into_iter().flatten().map(resolve) {
                    if p.get("in").and_then(Value::as_str) == Some("body") {
                        let consumes = op.get("consumes").or(global_consumes);
                        let media = consumes
                            .and_then(Value::as_array)
                            .and_then(|c| {
                                let types = c.iter().filter_map(Value::as_str);
                                types
                                    .clone()
                                    .find(|t| t.contains("json"))
                                    .or(types.clone().next())
                            })
                            .unwrap_or("application/json");
                        out.insert(
                            "requestBody".into(),
                            json!({
                                "required": p.get("required").cloned().unwrap_or(json!(false)),
                                "description": p.get("description").cloned().unwrap_or(json!("")),
                                "content": { media: { "schema": p.get("schema").cloned().unwrap_or(json!({})) } },
                            }),
                        );
                    } else if let Some(p) = parameter(&p) {
                        params.push(p);
                    }
                }
            }
            "responses" | "consumes" | "produces" | "security" | "schemes" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert("parameters".into(), Value::Array(params));
    Value::Object(out)
}

/// A path, query or header parameter in OpenAPI 3 form; `None` for body, form-data and file
/// parameters.
fn parameter(p: &Value) -> Option<Value> {
    let Value::Object(m) = p else {
        return Some(p.clone());
    };
    if m.contains_key("$ref") {
        return Some(p.clone());
    }
    match m.get("in").and_then(Value::as_str) {
        Some("body" | "formData") => return None,
        _ if m.get("type").and_then(Value::as_str) == Some("file") => return None,
        _ => {}
    }
    let mut out = Map::new();
    let mut schema = Map::new();
    for (k, v) in m {
        if SCHEMA_KEYS.contains(&k.as_str()) {
            schema.insert(k.clone(), v.clone());
        } else if k != "collectionFormat" && k != "allowEmptyValue" {
            out.insert(k.clone(), v.clone());
        }
    }
    if schema.get("type").and_then(Value::as_str) == Some("array") {
        // csv (the default) is one comma-separated value; multi repeats the parameter.
        let multi = m.get("collectionFormat").and_then(Value::as_str) == Some("multi");
        out.insert("explode".into(), json!(multi));
    }
    out.insert("schema".into(), Value::Object(schema));
    Some(Value::Object(out))
}

/// `#/definitions/X` becomes `#/components/schemas/X`, everywhere.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if k == "$ref" => {
                        if let Some(rest) = s.strip_prefix("#/definitions/") {
                            *s = format!("#/components/schemas/{rest}");
                        }
                    }
                    _ => rewrite_refs(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

//! An OpenAPI 3.0 or 3.1 document (JSON) read into operations, each with one JSON Schema for
//! all its arguments: path, query and header parameters by name, and the JSON request body as
//! `body`. Local `$ref`s are resolved (recursive schemas are cut at a fixed depth; references to
//! other documents are not followed: such a schema is open, such a parameter left out, a path
//! variable nobody describes a required string); descriptions
//! are kept for the prompt; response schemas are not read.

use serde_json::{json, Map, Value};
use std::path::Path;

use crate::{ConnectError, Result};

/// HTTP methods an operation may have, as OpenAPI spells them (path item keys).
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How deep `$ref`s are followed inside one schema before a recursive one is cut.
const MAX_REF_DEPTH: usize = 8;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum In {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "in")]
    pub location: In,
    pub required: bool,
    /// How an array value is written in the query: repeated (`a=1&a=2`, OpenAPI's default) or
    /// comma-separated (`explode: false`, as OGC API `bbox`).
    pub explode: bool,
}

/// One operation of the document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Operation {
    /// `operationId`, or `METHOD /path` when the document gives none.
    pub id: String,
    /// Upper case: GET, POST, ...
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    /// The media type of the JSON body the operation takes (as the `body` argument).
    pub body: Option<String>,
    /// JSON Schema of the arguments (an object; unknown members are not allowed).
    pub arguments: Value,
    /// Declared by the connector's settings to change nothing whatever its method.
    pub safe: bool,
}

impl Operation {
    /// GET and HEAD, and operations the settings declare safe: what runs without the user's
    /// confirmation.
    pub fn read_only(&self) -> bool {
        self.safe || matches!(self.method.as_str(), "GET" | "HEAD")
    }

    /// Removes the optional parameters named in `names` (required ones stay).
    /// Gives the request body `schema` (for a document that leaves it open); the body becomes
    /// required, JSON unless the document names another JSON media type.
    pub fn set_body_schema(&mut self, schema: Value) {
        self.arguments["properties"]["body"] = schema;
        let required = self.arguments["required"].as_array_mut();
        if let Some(r) = required {
            if !r.iter().any(|x| x == "body") {
                r.push(json!("body"));
            }
        }
        self.body.get_or_insert_with(|| "application/json".into());
    }

    pub fn hide(&mut self, names: &[String]) {
        let gone: Vec<String> = self
            .params
            .iter()
            .filter(|p| !p.required && names.contains(&p.name))
            .map(|p| p.name.clone())
            .collect();
        self.params.retain(|p| !gone.contains(&p.name));
        if let Some(props) = self.arguments["properties"].as_object_mut() {
            for g in &gone {
                props.remove(g);
            }
        }
    }

    /// Whether an allowlist entry names this operation: its id, or `METHOD /path`.
    pub fn named_by(&self, entry: &str) -> bool {
        let entry = entry.trim();
        if entry == self.id {
            return true;
        }
        match entry.split_once(char::is_whitespace) {
            Some((m, p)) => m.eq_ignore_ascii_case(&self.method) && p.trim() == self.path,
            None => false,
        }
    }
}

/// Reads the operations of the OpenAPI document in `file`.
pub fn read(file: &Path) -> Result<Vec<Operation>> {
    let err = |pointer: &str, message: String| ConnectError::Spec {
        file: file.to_path_buf(),
        pointer: pointer.to_string(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| err("", e.to_string()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        err(
            "",
            format!(
                "not JSON (line {} column {}): {e}; write the document as JSON",
                e.line(),
                e.column()
            ),
        )
    })?;
    operations(&doc).map_err(|(pointer, message)| err(&pointer, message))
}

type Located<T> = std::result::Result<T, (String, String)>;

/// The operations of a parsed document; errors carry the JSON pointer of what is wrong.
pub fn operations(doc: &Value) -> Located<Vec<Operation>> {
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => {}
        Some(v) => {
            return Err((
                "/openapi".into(),
                format!("OpenAPI {v} is not supported: 3.0 and 3.1 are"),
            ))
        }
        None => match doc.get("swagger").and_then(Value::as_str) {
            Some("2.0") => return operations(&crate::swagger::to_openapi3(doc)),
            Some(v) => {
                return Err((
                    "/swagger".into(),
                    format!("Swagger {v} is not supported: 2.0, OpenAPI 3.0 and 3.1 are"),
                ))
            }
            None => {
                return Err((
                    "".into(),
                    "no \"openapi\" version: not an OpenAPI document".into(),
                ))
            }
        },
    }
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Err(("/paths".into(), "no \"paths\" object".into()));
    };
    let mut out = Vec::new();
    for (path, item) in paths {
        let item_ptr = format!("/paths/{}", escape(path));
        let item = resolve_ref(doc, item, &item_ptr)?;
        let shared = item.get("parameters").cloned().unwrap_or(json!([]));
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let ptr = format!("{item_ptr}/{method}");
            out.push(operation(doc, path, method, op, &shared, &ptr)?);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for o in &out {
        if !seen.insert(o.id.clone()) {
            return Err((
                "/paths".into(),
                format!("operationId {:?} is used twice", o.id),
            ));
        }
    }
    Ok(out)
}

fn operation(
    doc: &Value,
    path: &str,
    method: &str,
    op: &Value,
    shared: &Value,
    ptr: &str,
) -> Located<Operation> {
    let text = |k: &str| {
        op.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let id = match op.get("operationId").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => format!("{} {path}", method.to_ascii_uppercase()),
    };
    // Path-level parameters, overridden by the operation's own of the same name and place.
    let mut raw: Vec<(Value, String)> = Vec::new();
    for (list, list_ptr) in [
        (
            shared,
            format!("{}/parameters", ptr.rsplit_once('/').map_or("", |p| p.0)),
        ),
        (
            op.get("parameters").unwrap_or(&Value::Null),
            format!("{ptr}/parameters"),
        ),
    ] {
        let Some(list) = list.as_array() else {
            continue;
        };
        for (i, p) in list.iter().enumerate() {
            let here = format!("{list_ptr}/{i}");
            // A parameter defined outside the document cannot be read offline: left out (a
            // path variable among them comes back below as a plain string).
            if is_external(p) {
                continue;
            }
            let p = resolve_ref(doc, p, &here)?.clone();
            let key = |v: &Value| (v["name"].clone(), v["in"].clone());
            raw.retain(|(q, _)| key(q) != key(&p));
            raw.push((p, here));
        }
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut params = Vec::new();
    for (p, here) in raw {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| (here.clone(), "parameter without a name".to_string()))?;
        let location = match p.get("in").and_then(Value::as_str) {
            Some("path") => In::Path,
            Some("query") => In::Query,
            Some("header") => In::Header,
            // Cookies are the client's session, never the model's to set.
            Some("cookie") => continue,
            other => {
                return Err((
                    here,
                    format!("parameter {name:?}: unknown \"in\" {other:?}"),
                ))
            }
        };
        let is_required = location == In::Path || p.get("required") == Some(&Value::Bool(true));
        let mut schema = match p.get("schema") {
            Some(s) => inline(doc, s, &format!("{here}/schema"), 0)?,
            // `content` parameters (a media type's schema) are rare: taken as a string.
            None => json!({"type": "string"}),
        };
        if let Some(d) = p.get("description").and_then(Value::as_str) {
            if let Value::Object(m) = &mut schema {
                m.entry("description").or_insert(json!(d.trim()));
            }
        }
        if properties.insert(name.to_string(), schema).is_some() || name == "body" {
            return Err((
                here,
                format!("parameter {name:?} clashes with another argument of the operation"),
            ));
        }
        if is_required {
            required.push(json!(name));
        }
        params.push(Param {
            name: name.to_string(),
            location,
            required: is_required,
            explode: p.get("explode").and_then(Value::as_bool).unwrap_or(true),
        });
    }
    // Path variables the document does not describe are required strings.
    for var in path_variables(path) {
        if !params
            .iter()
            .any(|p| p.location == In::Path && p.name == var)
        {
            properties.insert(var.to_string(), json!({"type": "string"}));
            required.push(json!(var));
            params.push(Param {
                name: var.to_string(),
                location: In::Path,
                required: true,
                explode: true,
            });
        }
    }
    let mut body = None;
    if let Some(rb) = op.get("requestBody") {
        let rb_ptr = format!("{ptr}/requestBody");
        let rb = resolve_ref(doc, rb, &rb_ptr)?;
        let content = rb.get("content").and_then(Value::as_object);
        let json_type = content.and_then(|c| {
            c.iter()
                .find(|(t, _)| t.starts_with("application/json") || t.ends_with("+json"))
        });
        // A body Sextant cannot build (form data, files) is left out: the operation is still
        // listed, and calling it fails with a clear message.
        if let Some((t, media)) = json_type {
            let schema = match media.get("schema") {
                Some(s) => inline(doc, s, &format!("{rb_ptr}/content/{}/schema", escape(t)), 0)?,
                None => json!({}),
            };
            properties.insert("body".into(), schema);
            if rb.get("required") == Some(&Value::Bool(true)) {
                required.push(json!("body"));
            }
            body = Some(t.clone());
        }
    }
    Ok(Operation {
        id,
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        summary: text("summary"),
        description: text("description"),
        params,
        body,
        arguments: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
        safe: false,
    })
}

/// `v` itself, or what its `$ref` points at (one level: for parameters and path items).
fn resolve_ref<'a>(doc: &'a Value, v: &'a Value, ptr: &str) -> Located<&'a Value> {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            target(doc, r).ok_or_else(|| (ptr.to_string(), format!("unresolvable $ref {r:?}")))
        }
        None => Ok(v),
    }
}

/// Whether `v` is a reference to another document (`{"$ref": "https://…"}`).
fn is_external(v: &Value) -> bool {
    v.get("$ref")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.starts_with('#'))
}

/// The `{name}` variables of a path template, in order.
pub fn path_variables(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(v, _)| v))
}

fn target<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    reference.strip_prefix('#').and_then(|p| doc.pointer(p))
}

/// A schema with every local `$ref` replaced by what it points at; a reference deeper than
/// [`MAX_REF_DEPTH`] (a recursive schema) becomes an open schema.
fn inline(doc: &Value, s: &Value, ptr: &str, depth: usize) -> Located<Value> {
    match s {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                if !r.starts_with('#') {
                    // Another document: not read (no network); any value is let through the
                    // schema and the system itself judges it.
                    return Ok(
                        json!({"description": format!("(defined in {r}; not available offline)")}),
                    );
                }
                if depth >= MAX_REF_DEPTH {
                    return Ok(json!({"description": "(recursive: not expanded)"}));
                }
                let t = target(doc, r).ok_or_else(|| {
                    (
                        ptr.to_string(),
                        format!("unresolvable $ref {r:?} (only references inside the document are read)"),
                    )
                })?;
                return inline(doc, t, ptr, depth + 1);
            }
            let mut out = Map::new();
            for (k, v) in m {
                // Examples are long and say nothing the schema does not.
                if matches!(k.as_str(), "example" | "examples" | "xml" | "externalDocs") {
                    continue;
                }
                out.insert(
                    k.clone(),
                    inline(doc, v, &format!("{ptr}/{}", escape(k)), depth)?,
                );
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| inline(doc, v, &format!("{ptr}/{i}"), depth))
            .collect::<Located<Vec<_>>>()
            .map(Value::Array),
        v => Ok(v.clone()),
    }
}

/// A JSON pointer token (RFC 6901).
fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

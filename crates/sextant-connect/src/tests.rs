use super::*;
use serde_json::json;

/// A small OpenAPI 3.0 document in the shape OGC API - Features servers publish: shared
/// parameters by `$ref`, path-level parameters, a JSON body, a recursive schema.
fn spec() -> serde_json::Value {
    json!({
        "openapi": "3.0.2",
        "info": {"title": "features", "version": "1"},
        "paths": {
            "/collections": {"get": {"operationId": "getCollections", "summary": "The collections"}},
            "/collections/{collectionId}/items": {
                "parameters": [{"$ref": "#/components/parameters/collectionId"}],
                "get": {
                    "operationId": "getItems",
                    "summary": "Features of a collection",
                    "parameters": [
                        {"$ref": "#/components/parameters/bbox"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}, "example": 10},
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}}
                    ]
                },
                "post": {
                    "operationId": "addItem",
                    "requestBody": {"required": true, "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/feature"}}}}
                }
            },
            "/collections/{collectionId}/items/{featureId}": {
                "parameters": [{"$ref": "#/components/parameters/collectionId"}],
                "delete": {"parameters": [{"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}}]}
            }
        },
        "components": {
            "parameters": {
                "collectionId": {"name": "collectionId", "in": "path", "required": true, "description": "the collection", "schema": {"type": "string"}},
                "bbox": {"name": "bbox", "in": "query", "schema": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6}}
            },
            "schemas": {
                "feature": {"type": "object", "properties": {"type": {"type": "string"}, "parts": {"type": "array", "items": {"$ref": "#/components/schemas/feature"}}}}
            }
        }
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn operations_have_one_schema_for_their_arguments() {
    let ops = openapi::operations(&spec()).unwrap();
    let ids: Vec<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "getCollections",
            "getItems",
            "addItem",
            "DELETE /collections/{collectionId}/items/{featureId}"
        ]
    );
    let items = &ops[1];
    assert!(items.read_only());
    let a = &items.arguments;
    assert_eq!(a["additionalProperties"], false);
    assert_eq!(a["required"], json!(["collectionId"]));
    assert_eq!(
        a["properties"]["collectionId"]["description"],
        "the collection"
    );
    assert_eq!(a["properties"]["bbox"]["minItems"], 4);
    assert_eq!(a["properties"]["limit"]["maximum"], 10000);
    assert!(a["properties"]["limit"].get("example").is_none());
    assert!(
        a["properties"].get("session").is_none(),
        "cookies are not arguments"
    );
    let add = &ops[2];
    assert!(!add.read_only() && add.body.as_deref() == Some("application/geo+json"));
    assert_eq!(add.arguments["required"], json!(["collectionId", "body"]));
    // The recursive schema is expanded a few levels, then left open.
    let text = add.arguments.to_string();
    assert!(text.contains("recursive: not expanded"), "{text}");
    assert!(!text.contains("$ref"), "{text}");
    let del = &ops[3];
    assert!(del.named_by("DELETE /collections/{collectionId}/items/{featureId}"));
    assert!(del.named_by("delete  /collections/{collectionId}/items/{featureId}"));
    assert_eq!(
        del.arguments["required"],
        json!(["collectionId", "featureId"])
    );
}

#[test]
fn bad_documents_say_where() {
    let mut s = spec();
    s["paths"]["/collections/{collectionId}/items"]["get"]["parameters"][0] =
        json!({"$ref": "#/components/parameters/nope"});
    let (ptr, msg) = openapi::operations(&s).unwrap_err();
    assert_eq!(
        ptr,
        "/paths/~1collections~1{collectionId}~1items/get/parameters/0"
    );
    assert!(msg.contains("nope"), "{msg}");
    let (ptr, msg) = openapi::operations(&json!({"swagger": "1.2"})).unwrap_err();
    assert_eq!(ptr, "/swagger");
    assert!(msg.contains("2.0, OpenAPI 3.0 and 3.1"), "{msg}");
    let (ptr, _) = openapi::operations(&json!({"swagger": "2.0"})).unwrap_err();
    assert_eq!(ptr, "/paths");
}

/// A Swagger 2.0 document reads like its OpenAPI 3 form: parameter types in schemas, a body
/// parameter as the JSON body, definitions as components, form data left out.
#[test]
fn swagger_2_documents_are_converted() {
    let doc = json!({"swagger": "2.0", "info": {"title": "tracks", "version": "1"},
        "basePath": "/api", "consumes": ["application/json"],
        "parameters": {"limit": {"name": "limit", "in": "query", "type": "integer", "minimum": 1}},
        "definitions": {"Track": {"type": "object", "required": ["callsign"],
            "properties": {"callsign": {"type": "string"}, "alt": {"$ref": "#/definitions/Alt"}}},
            "Alt": {"type": "number"}},
        "paths": {
            "/tracks": {
                "get": {"operationId": "listTracks", "summary": "List tracks", "parameters": [
                    {"$ref": "#/parameters/limit"},
                    {"name": "ids", "in": "query", "type": "array", "items": {"type": "string"}},
                    {"name": "side", "in": "query", "type": "string", "enum": ["blue", "red"], "required": true}],
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Track"}}}},
                "post": {"operationId": "addTrack", "parameters": [
                    {"name": "track", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Track"}}],
                    "responses": {"201": {"description": "made"}}}},
            "/tracks/{id}/photo": {
                "put": {"operationId": "putPhoto", "parameters": [
                    {"name": "id", "in": "path", "required": true, "type": "string"},
                    {"name": "file", "in": "formData", "type": "file"}]}}}});
    let ops = openapi::operations(&doc).unwrap();
    let get = ops.iter().find(|o| o.id == "listTracks").unwrap();
    let a = &get.arguments;
    assert_eq!(a["properties"]["limit"]["type"], "integer");
    assert_eq!(a["properties"]["limit"]["minimum"], 1);
    assert_eq!(a["properties"]["side"]["enum"], json!(["blue", "red"]));
    assert_eq!(a["required"], json!(["side"]));
    let ids = get.params.iter().find(|p| p.name == "ids").unwrap();
    assert!(!ids.explode, "csv arrays are one comma-separated value");
    let post = ops.iter().find(|o| o.id == "addTrack").unwrap();
    assert_eq!(post.body.as_deref(), Some("application/json"));
    assert_eq!(post.arguments["required"], json!(["body"]));
    assert_eq!(
        post.arguments["properties"]["body"]["properties"]["alt"]["type"],
        "number"
    );
    let put = ops.iter().find(|o| o.id == "putPhoto").unwrap();
    assert_eq!(put.body, None);
    assert_eq!(put.params.len(), 1);
}

#[test]
fn settings_choose_the_operations_and_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "geo.json", &spec().to_string());
    // Default: read-only operations only.
    let f = write(
        d,
        "geo.toml",
        "spec = \"geo.json\"\nbase_url = \"http://127.0.0.1:5000/\"\nmarking = \"UNCLASSIFIED\"\n",
    );
    let c = Connector::load(&f).unwrap();
    assert_eq!(c.name(), "geo");
    assert_eq!(c.settings.base_url, "http://127.0.0.1:5000");
    let ids: Vec<&str> = c.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["getCollections", "getItems"]);
    assert_eq!(c.settings.roles, [sextant_auth::Role::Reader]);
    // An allowlist by id and by method + path.
    let f = write(
        d,
        "geo-rw.toml",
        "spec = \"geo.json\"\nbase_url = \"https://geo.example\"\nmarking = \"SECRET\"\nroles = [\"ingester\"]\nallow = [\"getItems\", \"POST /collections/{collectionId}/items\"]\n",
    );
    let c = Connector::load(&f).unwrap();
    let ids: Vec<&str> = c.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["getItems", "addItem"]);
    assert_eq!(c.settings.marking.banner(), "SECRET");
    // An unknown operation in the allowlist names the file and the line.
    let f = write(
        d,
        "typo.toml",
        "spec = \"geo.json\"\nbase_url = \"https://geo.example\"\nmarking = \"U\"\nallow = [\n  \"getItems\",\n  \"getItemz\",\n]\n",
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("typo.toml line 6") && e.contains("getItemz"),
        "{e}"
    );
    // Settings errors: a bad marking, an unknown key, a bad URL.
    let f = write(
        d,
        "badmark.toml",
        "spec = \"geo.json\"\nbase_url = \"https://geo.example\"\nmarking = \"SECRET//NOFRN\"\n",
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("badmark.toml line 3") && e.contains("NOFRN"),
        "{e}"
    );
    let f = write(
        d,
        "unknown.toml",
        "spec = \"geo.json\"\nbase_url = \"https://geo.example\"\nmarking = \"U\"\nretries = 3\n",
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("unknown.toml line 4") && e.contains("retries"),
        "{e}"
    );
    let f = write(
        d,
        "badurl.toml",
        "spec = \"geo.json\"\nbase_url = \"ftp://geo.example\"\nmarking = \"U\"\n",
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("badurl.toml line 2") && e.contains("http"),
        "{e}"
    );
    // A document that is not there, or not JSON.
    write(d, "broken.json", "openapi: 3.0.0\n");
    let f = write(
        d,
        "broken.toml",
        "spec = \"broken.json\"\nbase_url = \"https://geo.example\"\nmarking = \"U\"\n",
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(e.contains("broken.json") && e.contains("not JSON"), "{e}");
    // The directory: good connectors load beside the bad ones.
    let (ok, bad) = load_dir(d);
    let names: Vec<&str> = ok.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["geo", "geo-rw"]);
    assert_eq!(bad.len(), 5);
}

/// pygeoapi's documents point at schemas on the internet (`featureId`, `datetime`): they are
/// not read; an undescribed path variable becomes a required string, any other such parameter
/// is left out, and such a schema lets any value through.
#[test]
fn references_to_other_documents_do_not_stop_the_catalogue() {
    let doc = json!({
        "openapi": "3.0.2",
        "paths": {"/items/{featureId}": {"delete": {"operationId": "del", "parameters": [
            {"$ref": "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/parameters/featureId.yaml"},
            {"$ref": "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/parameters/datetime.yaml"},
            {"name": "q", "in": "query", "schema": {"$ref": "https://example.org/q.json"}}
        ]}}}
    });
    let ops = openapi::operations(&doc).unwrap();
    let a = &ops[0].arguments;
    assert_eq!(a["properties"]["featureId"], json!({"type": "string"}));
    assert_eq!(a["required"], json!(["featureId"]));
    assert!(a["properties"].get("datetime").is_none());
    assert!(a["properties"]["q"]["description"]
        .as_str()
        .unwrap()
        .contains("not available offline"));
}

/// `[bodies]` gives an operation's open request body a schema; errors name the file and line.
#[test]
fn body_schemas_fill_open_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut s = spec();
    s["paths"]["/collections/{collectionId}/items"]["post"]["requestBody"]["content"]
        ["application/geo+json"]["schema"] = json!({});
    write(d, "geo.json", &s.to_string());
    write(
        d,
        "report.json",
        r#"{"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}"#,
    );
    write(d, "bad.json", r#"{"type": 7}"#);
    let head = "spec = \"geo.json\"\nbase_url = \"http://127.0.0.1:5000\"\nmarking = \"UNCLASSIFIED\"\nallow = [\"addItem\"]\n";
    let f = write(
        d,
        "geo.toml",
        &format!("{head}[bodies]\n\"addItem\" = \"report.json\"\n"),
    );
    let c = Connector::load(&f).unwrap();
    let op = c.operation("addItem").unwrap();
    assert_eq!(
        op.arguments["properties"]["body"]["required"],
        json!(["title"])
    );
    assert!(op.arguments["required"]
        .as_array()
        .unwrap()
        .contains(&json!("body")));
    assert_eq!(op.body.as_deref(), Some("application/geo+json"));
    let f = write(
        d,
        "geo.toml",
        &format!("{head}[bodies]\n\"nope\" = \"report.json\"\n"),
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(e.contains("geo.toml line 6") && e.contains("nope"), "{e}");
    let f = write(
        d,
        "geo.toml",
        &format!("{head}[bodies]\n\"addItem\" = \"bad.json\"\n"),
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("bad.json") && e.contains("not a JSON Schema"),
        "{e}"
    );
    let f = write(
        d,
        "geo.toml",
        &format!("{head}[bodies]\n\"addItem\" = \"missing.json\"\n"),
    );
    let e = Connector::load(&f).unwrap_err().to_string();
    assert!(e.contains("missing.json"), "{e}");
}

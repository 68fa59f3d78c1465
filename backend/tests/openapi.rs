//! `backend/openapi.json` stays true to the code: the same routes as the router's table, and
//! the real protocol types (and real server answers) validate against its schemas.

mod common;

#[path = "openapi/examples.rs"]
mod examples;
#[path = "openapi/limits.rs"]
mod limits;
#[path = "openapi/live.rs"]
mod live;

use backend::api::openapi::DOCUMENT;
use backend::app::ROUTES;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use sync_core::client::ErrorCode;

pub fn doc() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// Errors of `instance` against `schema` (any schema object that may `$ref` the document).
pub fn errors_against(schema: Value, instance: &Value) -> Vec<String> {
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc()["components"].clone(),
    });
    if let (Some(root), Some(schema)) = (root.as_object_mut(), schema.as_object()) {
        root.extend(schema.clone());
    }
    let validator = jsonschema::draft202012::new(&root).expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The response `method path` documents for `status`, its `$ref` resolved; the route's own
/// `description` (allowed beside a `$ref` in OpenAPI 3.1) replaces the shared one.
pub fn documented_response(route: &str, method: &str, status: u16) -> Option<Value> {
    let doc = doc();
    let mut response = doc["paths"][route][method]["responses"][status.to_string()].clone();
    if response.is_null() {
        return None;
    }
    if let Some(r) = response.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        let mut shared = doc["components"]["responses"][name].clone();
        if let (Some(own), Some(shared)) = (response.get("description"), shared.as_object_mut()) {
            shared.insert("description".to_owned(), own.clone());
        }
        response = shared;
    }
    Some(response)
}

/// The error codes (the `backticked` words that are [`ErrorCode`]s) a route's answer with
/// `status` documents.
pub fn documented_codes(route: &str, method: &str, status: u16) -> BTreeSet<String> {
    let description = documented_response(route, method, status)
        .and_then(|r| r["description"].as_str().map(str::to_owned))
        .unwrap_or_default();
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| ErrorCode::parse(word).is_some())
        .map(str::to_owned)
        .collect()
}

pub fn errors(schema_name: &str, instance: &Value) -> Vec<String> {
    errors_against(
        json!({ "$ref": format!("#/components/schemas/{schema_name}") }),
        instance,
    )
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let in_router: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    let doc = doc();
    let mut in_doc = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                in_doc.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert_eq!(in_router, in_doc);
    assert_eq!(in_router.len(), ROUTES.len(), "a route is registered twice");
}

#[test]
fn every_error_answer_is_the_error_body() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let errors: Vec<_> = op["responses"]
                .as_object()
                .expect("responses")
                .iter()
                .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
                .collect();
            // Only the static document itself cannot fail.
            assert!(
                !errors.is_empty() || path == "/v1/openapi.json",
                "{method} {path} documents no error answer"
            );
            for (status, response) in errors {
                let code: u16 = status.parse().expect("numeric status");
                assert!(
                    !documented_codes(path, method, code).is_empty(),
                    "{method} {path} {status} names no error code"
                );
                let name = response["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/responses/"))
                    .unwrap_or_else(|| panic!("{method} {path} {status} is not a shared error"));
                assert_eq!(
                    doc["components"]["responses"][name]["content"]["application/json"]["schema"],
                    json!({"$ref": "#/components/schemas/ErrorBody"}),
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn schemas_refuse_what_the_types_refuse() {
    // The validator really runs: undeclared fields, wrong types and bad tags fail.
    assert!(!errors("Entry", &json!({"path": "a"})).is_empty());
    let mut entry = serde_json::to_value(examples::entry(None, None)).expect("json");
    entry["surprise"] = json!(1);
    assert!(!errors("Entry", &entry).is_empty());
    assert!(
        !errors(
            "CommitOp",
            &json!({"path": "a", "expect_version": 0, "op": "explode"})
        )
        .is_empty()
    );
    assert!(!errors("BlobRef", &json!({"sha256": "zz", "size": 1})).is_empty());
    assert!(!errors("ChangesRequest", &json!({"since": "yesterday"})).is_empty());
}

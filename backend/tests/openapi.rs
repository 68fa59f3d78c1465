//! `backend/openapi.json` stays true to the code: the same routes as the router's table, and
//! the real protocol types (and real server answers) validate against its schemas.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use backend::api::openapi::DOCUMENT;
use backend::app::ROUTES;
use serde_json::{Value, json};
use sync_core::protocol::*;
use sync_core::savemeta::SaveMeta;
use sync_core::{ContentHash, SavePath};

use common::inproc::InProcess;
use common::{Resp, put_op};

fn doc() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// Errors of `instance` against `schema` (any schema object that may `$ref` the document).
fn errors_against(schema: Value, instance: &Value) -> Vec<String> {
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

fn errors(schema_name: &str, instance: &Value) -> Vec<String> {
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

fn hash(s: &str) -> ContentHash {
    ContentHash::of(s.as_bytes())
}

fn path(s: &str) -> SavePath {
    SavePath::new(s).expect("valid path")
}

fn full_meta() -> SaveMeta {
    SaveMeta {
        save_name: Some("Chapter 2".into()),
        ctime: Some(1_700_000_000.5),
        game_runtime: Some(3600.25),
        version: Some("1.0".into()),
        renpy_version: Some(vec![8, 3, 7, 25031702]),
        extra: BTreeMap::from([("_custom".to_owned(), json!({"x": 1}))]),
        has_screenshot: true,
    }
}

fn entry(meta: Option<SaveMeta>, mtime: Option<i64>) -> Entry {
    Entry {
        path: path("1-1-LT1.save"),
        sha256: hash("a"),
        size: 10,
        version: 2,
        seq: 7,
        device_id: "d1".into(),
        deleted: false,
        mtime,
        committed_at: 1_700_000_000_000,
        meta,
    }
}

fn history_version(meta: Option<SaveMeta>) -> HistoryVersion {
    HistoryVersion {
        version: 1,
        sha256: hash("a"),
        size: 10,
        device_id: "d1".into(),
        deleted: false,
        archived: true,
        current: false,
        mtime: None,
        committed_at: 1,
        meta,
    }
}

#[test]
fn protocol_types_serialize_to_documented_shapes() {
    let full = entry(Some(full_meta()), Some(5));
    let bare = entry(None, None);
    let target = |present: bool| UploadTarget {
        sha256: hash("a"),
        size: 1,
        present,
        url: (!present).then(|| "http://127.0.0.1/v1/blobs/t".to_owned()),
        method: "PUT".into(),
        headers: BTreeMap::from([("x-amz-checksum-sha256".to_owned(), "abc".to_owned())]),
        expires_at: 9,
    };
    let put = put_op("a.save", 0, b"x");
    let mut put_with_meta = put.clone();
    if let CommitAction::Put { meta, .. } = &mut put_with_meta.action {
        *meta = Some(SaveMeta::default());
    }
    let archive = CommitOp {
        action: CommitAction::Archive {
            sha256: hash("b"),
            size: 1,
            mtime: None,
            meta: Some(full_meta()),
        },
        ..put.clone()
    };
    let delete = common::delete_op("a.save", 3);
    let tokens = TokenResponse {
        user_id: "u".into(),
        username: "alice".into(),
        device_id: "d".into(),
        access_token: "a.b".into(),
        expires_in: 900,
        refresh_token: "r".into(),
    };

    let mut checked = BTreeSet::new();
    let mut check = |name: &'static str, value: Value| {
        let errs = errors(name, &value);
        assert!(errs.is_empty(), "{name}: {errs:?}\n{value:#}");
        checked.insert(name);
    };
    let v = |x: &dyn erased::Ser| x.value();
    check(
        "ErrorBody",
        v(&ErrorBody {
            error: ErrorDetail {
                code: "invalid_path".into(),
                message: "m".into(),
            },
        }),
    );
    check(
        "ErrorDetail",
        v(&ErrorDetail {
            code: "quota_exceeded".into(),
            message: "m".into(),
        }),
    );
    check("Entry", v(&full));
    check("Entry", v(&bare));
    check("SaveMeta", v(&full_meta()));
    check("SaveMeta", v(&SaveMeta::default()));
    check(
        "BlobRef",
        v(&BlobRef {
            sha256: hash("a"),
            size: 1,
        }),
    );
    check(
        "ChangesRequest",
        v(&ChangesRequest {
            since: Some(3),
            uploads: vec![BlobRef {
                sha256: hash("a"),
                size: 1,
            }],
        }),
    );
    check("ChangesRequest", v(&ChangesRequest::default()));
    check("UploadTarget", v(&target(true)));
    check("UploadTarget", v(&target(false)));
    check(
        "ChangesResponse",
        v(&ChangesResponse {
            cursor: 7,
            changes: vec![full.clone(), bare.clone()],
            downloads: BTreeMap::from([(hash("a"), "http://x/v1/blobs/t".to_owned())]),
            uploads: vec![target(false)],
        }),
    );
    for op in [&put, &put_with_meta, &archive, &delete] {
        check("CommitOp", v(op));
    }
    check(
        "CommitRequest",
        v(&CommitRequest {
            ops: vec![put, archive, delete],
        }),
    );
    let outcomes = vec![
        CommitOutcome::Committed {
            version: 3,
            entry: Some(full.clone()),
        },
        CommitOutcome::Committed {
            version: 3,
            entry: None,
        },
        CommitOutcome::Conflict {
            current: Some(bare.clone()),
            download_url: Some("u".into()),
        },
        CommitOutcome::Conflict {
            current: None,
            download_url: None,
        },
    ];
    for o in &outcomes {
        check("CommitOutcome", v(o));
    }
    check(
        "CommitResponse",
        v(&CommitResponse {
            cursor: 3,
            results: outcomes,
        }),
    );
    check(
        "DownloadRequest",
        v(&DownloadRequest {
            sha256: vec![hash("a")],
        }),
    );
    check(
        "DownloadResponse",
        v(&DownloadResponse {
            downloads: BTreeMap::from([(hash("a"), "u".to_owned())]),
        }),
    );
    check(
        "ManifestResponse",
        v(&ManifestResponse {
            cursor: 1,
            entries: vec![full.clone()],
        }),
    );
    check("HistoryVersion", v(&history_version(Some(full_meta()))));
    check(
        "HistoryResponse",
        v(&HistoryResponse {
            path: path("a.save"),
            versions: vec![history_version(None)],
        }),
    );
    check(
        "RestoreRequest",
        v(&RestoreRequest {
            path: path("a.save"),
            version: 1,
        }),
    );
    check(
        "RestoreResponse",
        v(&RestoreResponse {
            entry: full,
            cursor: 9,
        }),
    );
    check(
        "Credentials",
        v(&Credentials {
            username: "alice".into(),
            password: "correct horse".into(),
            device_name: "pc".into(),
        }),
    );
    check("TokenResponse", v(&tokens));
    check(
        "RefreshRequest",
        v(&RefreshRequest {
            refresh_token: "r".into(),
        }),
    );
    check(
        "DeviceInfo",
        v(&DeviceInfo {
            device_id: "d".into(),
            name: "pc".into(),
            created_at: 1,
            last_seen_at: None,
        }),
    );
    check(
        "DevicesResponse",
        v(&DevicesResponse {
            devices: vec![DeviceInfo {
                device_id: "d".into(),
                name: "pc".into(),
                created_at: 1,
                last_seen_at: Some(2),
            }],
        }),
    );
    check(
        "PairingCode",
        v(&PairingCode {
            code: "ABCD-EFGH".into(),
            expires_at: 1,
        }),
    );
    check(
        "PairingClaim",
        v(&PairingClaim {
            code: "abcdefgh".into(),
            device_name: "deck".into(),
        }),
    );
    check(
        "Health",
        v(&Health {
            status: "ok".into(),
            storage: "ok".into(),
            version: "0.1.0".into(),
        }),
    );

    // Every object schema of the document was exercised by a real type.
    let doc = doc();
    let objects: BTreeSet<&str> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .filter(|(_, s)| s.get("type") == Some(&json!("object")) || s.get("oneOf").is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    let missing: Vec<_> = objects.difference(&checked).collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
}

#[test]
fn schemas_refuse_what_the_types_refuse() {
    // The validator really runs: undeclared fields, wrong types and bad tags fail.
    assert!(!errors("Entry", &json!({"path": "a"})).is_empty());
    let mut entry = serde_json::to_value(entry(None, None)).expect("json");
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

/// The documented schema of `method path` answering `status`, resolving response refs.
fn response_schema(route: &str, method: &str, status: u16) -> Option<Value> {
    let doc = doc();
    let mut response = doc["paths"][route][method]["responses"][status.to_string()].clone();
    if let Some(r) = response.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        response = doc["components"]["responses"][name].clone();
    }
    if response.is_null() {
        panic!("{method} {route} does not document status {status}");
    }
    response["content"]["application/json"]
        .get("schema")
        .cloned()
}

#[track_caller]
fn assert_documented(route: &str, method: &str, resp: &Resp) {
    if let Some(schema) = response_schema(route, method, resp.status) {
        let errs = errors_against(schema, &resp.value());
        assert!(
            errs.is_empty(),
            "{method} {route} {}: {errs:?}",
            resp.status
        );
    } else {
        assert!(
            resp.body.is_empty() || resp.status == 200,
            "{method} {route}: undocumented body"
        );
    }
}

#[test]
fn real_answers_match_their_documented_schemas() {
    let server = InProcess::start();
    let anon = server.client();
    let creds = json!({"username": "alice", "password": "correct horse", "device_name": "pc"});
    let resp = anon.post("/v1/auth/signup", &creds);
    assert_documented("/v1/auth/signup", "post", &resp);
    let tokens: TokenResponse = resp.json();
    let alice = anon.with_token(&tokens.access_token);
    let dup = anon.post("/v1/auth/signup", &creds);
    assert_documented("/v1/auth/signup", "post", &dup);
    let resp = anon.login("alice", "correct horse");
    assert_documented("/v1/auth/login", "post", &resp);
    assert_documented(
        "/v1/auth/login",
        "post",
        &anon.login("alice", "wrong password"),
    );
    let resp = anon.post(
        "/v1/auth/refresh",
        &json!({"refresh_token": tokens.refresh_token}),
    );
    assert_documented("/v1/auth/refresh", "post", &resp);
    assert_documented(
        "/v1/auth/refresh",
        "post",
        &anon.post("/v1/auth/refresh", &json!({"refresh_token": "x"})),
    );
    assert_documented("/v1/health", "get", &anon.get("/v1/health"));
    assert_documented("/v1/devices", "get", &alice.get("/v1/devices"));
    assert_documented("/v1/devices", "get", &anon.get("/v1/devices"));
    let resp = alice.post("/v1/pairing", &json!({}));
    assert_documented("/v1/pairing", "post", &resp);

    let g = "/v1/games/{game}";
    let resp = alice.changes(
        "g",
        &ChangesRequest {
            since: None,
            uploads: vec![BlobRef {
                sha256: ContentHash::of(b"one"),
                size: 3,
            }],
        },
    );
    assert_documented(&format!("{g}/changes"), "post", &resp);
    alice.upload("g", b"one");
    let resp = alice.commit("g", vec![put_op("a.save", 0, b"one")]);
    assert_documented(&format!("{g}/commit"), "post", &resp);
    let resp = alice.commit(
        "g",
        vec![put_op("a.save", 0, b"one"), put_op("b.save", 0, b"two")],
    );
    assert_documented(&format!("{g}/commit"), "post", &resp);
    let resp = alice.commit("g", vec![put_op("a.save", 0, b"one")]);
    assert_documented(&format!("{g}/commit"), "post", &resp);
    let resp = alice.post_raw("/v1/games/g/commit", "application/json", b"{");
    assert_documented(&format!("{g}/commit"), "post", &resp);
    assert_documented(
        &format!("{g}/changes"),
        "post",
        &alice.changes("g", &ChangesRequest::default()),
    );
    assert_documented(
        &format!("{g}/manifest"),
        "get",
        &alice.get("/v1/games/g/manifest"),
    );
    assert_documented(
        &format!("{g}/manifest"),
        "get",
        &alice.get("/v1/games/.x/manifest"),
    );
    let resp = alice.post(
        "/v1/games/g/downloads",
        &json!({"sha256": [ContentHash::of(b"one")]}),
    );
    assert_documented(&format!("{g}/downloads"), "post", &resp);
    assert_documented(
        &format!("{g}/history"),
        "get",
        &alice.get("/v1/games/g/history?path=a.save"),
    );
    assert_documented(
        &format!("{g}/history"),
        "get",
        &alice.get("/v1/games/g/history"),
    );
    let resp = alice.post(
        "/v1/games/g/restore",
        &json!({"path": "a.save", "version": 1}),
    );
    assert_documented(&format!("{g}/restore"), "post", &resp);
    let resp = alice.post(
        "/v1/games/g/restore",
        &json!({"path": "a.save", "version": 9}),
    );
    assert_documented(&format!("{g}/restore"), "post", &resp);
    let blob = "/v1/blobs/{ticket}";
    assert_documented(blob, "get", &anon.get("/v1/blobs/nope"));
    assert_documented(blob, "put", &anon.put_bytes("/v1/blobs/nope", b"x"));
    let resp = anon.post("/v1/auth/logout", &json!({"refresh_token": "x"}));
    assert_documented("/v1/auth/logout", "post", &resp);
    let resp = alice.delete("/v1/devices/unknown");
    assert_documented("/v1/devices/{device_id}", "delete", &resp);
}

#[test]
fn a_store_outage_answers_503_with_retry_after() {
    let server = InProcess::start();
    let client = server.client();
    client.get("/v1/health").expect_status(200);
    server.blobs.set_unavailable(true);
    let resp = client.get("/v1/health");
    resp.expect_error(503, "storage_unavailable");
    assert_eq!(resp.header("retry-after").as_deref(), Some("5"));
    assert_documented("/v1/health", "get", &resp);
    server.blobs.set_unavailable(false);
    server.meta.set_unavailable(true);
    client
        .get("/v1/health")
        .expect_error(503, "storage_unavailable");
    server.meta.set_unavailable(false);
    client.get("/v1/health").expect_status(200);
}

/// Object-safe serialization for the example table.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializes")
        }
    }
}

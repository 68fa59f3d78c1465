//! Real answers of a running server (memory stores, real HTTP on 127.0.0.1) match the
//! schemas documented for their route and status.

use serde_json::{Value, json};
use sync_core::ContentHash;
use sync_core::protocol::{BlobRef, ChangesRequest, TokenResponse};

use crate::common::inproc::InProcess;
use crate::common::{Resp, put_op};
use crate::{documented_codes, documented_response, errors_against};

/// The documented schema of `method path` answering `status`, resolving response refs.
fn response_schema(route: &str, method: &str, status: u16) -> Option<Value> {
    let response = documented_response(route, method, status)
        .unwrap_or_else(|| panic!("{method} {route} does not document status {status}"));
    response["content"]["application/json"]
        .get("schema")
        .cloned()
}

/// `resp` has a status, a body and (for an error) a code that `method route` documents.
#[track_caller]
pub fn assert_documented(route: &str, method: &str, resp: &Resp) {
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
    if resp.status >= 400 {
        let code = resp.error_code();
        let documented = documented_codes(route, method, resp.status);
        assert!(
            documented.contains(&code),
            "{method} {route} {} answered `{code}`, the document names {documented:?}",
            resp.status
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

//! Every class of bad input answers a 4xx JSON error with its code and changes nothing.

use serde_json::{Value, json};
use sync_core::ContentHash;

use crate::common::{Client, Server, put_op};

fn put_json(path: &str, sha256: &str) -> Value {
    json!({"path": path, "expect_version": 0, "op": "put", "sha256": sha256, "size": 3, "mtime": null})
}

fn commit_body(ops: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "ops": ops })).expect("json")
}

/// (route, content type, body, status, code)
type Case = (String, &'static str, Vec<u8>, u16, &'static str);

fn cases(known: &ContentHash, fresh: &ContentHash) -> Vec<Case> {
    let commit = "/v1/games/g/commit".to_owned();
    let json_ct = "application/json";
    let known = known.to_hex();
    let fresh_hex = fresh.to_hex();
    let bad_path = |p: &str| commit_body(vec![put_json(p, &known)]);
    let long_segment = "x".repeat(256);
    let long_path = "abc/".repeat(300) + "x";
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"path": format!("f{i}"), "expect_version": 0, "op": "delete"}))
        .collect();
    let huge = commit_body(vec![json!({
        "path": "a.save", "expect_version": 0, "op": "put", "sha256": known, "size": 3,
        "mtime": null, "meta": {"save_name": "x".repeat(1_100_000)}
    })]);
    vec![
        (
            commit.clone(),
            json_ct,
            b"{\"ops\": [".to_vec(),
            400,
            "malformed_json",
        ),
        (
            commit.clone(),
            json_ct,
            b"not json at all".to_vec(),
            400,
            "malformed_json",
        ),
        (
            commit.clone(),
            json_ct,
            b"{\"ops\": \"x\"}".to_vec(),
            400,
            "invalid_body",
        ),
        (commit.clone(), json_ct, b"{}".to_vec(), 400, "invalid_body"),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![
                json!({"path": "a.save", "expect_version": "one", "op": "delete"}),
            ]),
            400,
            "invalid_body",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![
                json!({"path": "a.save", "expect_version": 0, "op": "explode"}),
            ]),
            400,
            "invalid_body",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("../evil.save"),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("saves/../../evil"),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("/etc/passwd"),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("a\\b.save"),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("a\u{0}b.save"),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path("C:/x.save"),
            400,
            "invalid_path",
        ),
        (commit.clone(), json_ct, bad_path(""), 400, "invalid_path"),
        (
            commit.clone(),
            json_ct,
            bad_path(&long_segment),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            bad_path(&long_path),
            400,
            "invalid_path",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![put_json("a.save", "abc")]),
            400,
            "invalid_hash",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![put_json("b.save", &fresh_hex)]),
            400,
            "blob_missing",
        ),
        (
            commit.clone(),
            json_ct,
            // A valid op first: the whole batch is refused before anything applies.
            commit_body(vec![
                json!({"path": "a.save", "expect_version": 1, "op": "delete"}),
                put_json("b.save", &fresh_hex),
            ]),
            400,
            "blob_missing",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![
                json!({"path": "a.save", "expect_version": 1, "op": "delete"}),
                json!({"path": "a.save", "expect_version": 1, "op": "delete"}),
            ]),
            400,
            "duplicate_path",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(too_many),
            400,
            "batch_too_large",
        ),
        (
            commit.clone(),
            "text/plain",
            commit_body(vec![]),
            415,
            "unsupported_media_type",
        ),
        (commit.clone(), json_ct, huge, 413, "body_too_large"),
        (
            "/v1/games/bad%20game/commit".into(),
            json_ct,
            commit_body(vec![]),
            400,
            "invalid_game_id",
        ),
        (
            "/v1/games/.hidden/commit".into(),
            json_ct,
            commit_body(vec![]),
            400,
            "invalid_game_id",
        ),
        (
            format!("/v1/games/{}/commit", "g".repeat(65)),
            json_ct,
            commit_body(vec![]),
            400,
            "invalid_game_id",
        ),
        (
            "/v1/games/g/changes".into(),
            json_ct,
            b"{\"since\": \"yesterday\"}".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "/v1/games/g/restore".into(),
            json_ct,
            serde_json::to_vec(&json!({"path": "../a.save", "version": 1})).expect("json"),
            400,
            "invalid_path",
        ),
        (
            "/v1/games/g/downloads".into(),
            json_ct,
            b"{\"sha256\": [\"zz\"]}".to_vec(),
            400,
            "invalid_hash",
        ),
        // Above the stores' signed 64-bit range: a bad request, not a storage failure.
        (
            "/v1/games/g/changes".into(),
            json_ct,
            b"{\"since\": 9223372036854775808}".to_vec(),
            400,
            "invalid_body",
        ),
        (
            commit.clone(),
            json_ct,
            commit_body(vec![
                json!({"path": "a.save", "expect_version": 18446744073709551615u64, "op": "delete"}),
            ]),
            400,
            "invalid_body",
        ),
        (
            "/v1/games/g/restore".into(),
            json_ct,
            serde_json::to_vec(&json!({"path": "a.save", "version": 9223372036854775808u64}))
                .expect("json"),
            400,
            "invalid_body",
        ),
        (
            "/v1/auth/signup".into(),
            json_ct,
            b"{\"username\": 5}".to_vec(),
            400,
            "invalid_body",
        ),
    ]
}

fn assert_unchanged(client: &Client, before: &sync_core::protocol::ManifestResponse, what: &str) {
    assert_eq!(
        &client.manifest("g"),
        before,
        "manifest changed after {what}"
    );
}

#[test]
fn bad_requests_get_json_errors_and_change_nothing() {
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    alice.put_file("g", "a.save", 0, b"one");
    let known = ContentHash::of(b"one");
    let fresh = ContentHash::of(b"two");
    let before = alice.manifest("g");

    for (route, content_type, body, status, code) in cases(&known, &fresh) {
        let resp = alice.post_raw(&route, content_type, &body);
        let what = format!(
            "{route} {}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        );
        assert_eq!(
            (resp.status, resp.error_code().as_str()),
            (status, code),
            "{what}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert_unchanged(&alice, &before, &what);
    }

    for (query, code) in [
        ("path=..%2Fx", "invalid_path"),
        ("path=%2Fabs", "invalid_path"),
        ("path=a%5Cb", "invalid_path"),
        ("path=a%00b", "invalid_path"),
        ("", "invalid_query"),
    ] {
        alice
            .get(&format!("/v1/games/g/history?{query}"))
            .expect_error(400, code);
    }
    alice
        .get("/v1/games/bad%20game/manifest")
        .expect_error(400, "invalid_game_id");
    assert_unchanged(&alice, &before, "history queries");

    // The manifest only moves with a valid commit.
    alice.upload("g", b"two");
    alice
        .commit("g", vec![put_op("a.save", 1, b"two")])
        .expect_status(200);
    assert_ne!(alice.manifest("g"), before);
}

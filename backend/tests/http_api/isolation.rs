//! Users and games are isolated: no token or ticket reaches another user's or game's data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use std::time::Duration;

use backend::clock::ManualClock;
use serde_json::{Value, json};
use sync_core::ContentHash;
use sync_core::protocol::{ChangesRequest, ChangesResponse, DownloadResponse, HistoryResponse};

use crate::common::inproc::InProcess;
use crate::common::{Server, on_aws, put_op};
use crate::skip_on_aws;

/// Rewrites one claim of a signed URL's ticket, keeping the original signature.
fn tamper(url: &str, field: &str, value: Value) -> String {
    let (prefix, ticket) = url.rsplit_once('/').expect("ticket in URL");
    let (payload, signature) = ticket.split_once('.').expect("payload.signature");
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    claims[field] = value;
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
    format!("{prefix}/{forged}.{signature}")
}

#[test]
fn another_user_sees_and_reaches_nothing() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (alice, _) = anon.signup("alice");
    let (bob, bob_tokens) = anon.signup("bob");
    alice.put_file("g", "a.save", 0, b"alice's save");
    let hash = ContentHash::of(b"alice's save");

    assert!(bob.manifest("g").entries.is_empty());
    let changes: ChangesResponse = bob.changes("g", &ChangesRequest::default()).json();
    assert!(changes.changes.is_empty() && changes.downloads.is_empty());
    let history: HistoryResponse = bob.get("/v1/games/g/history?path=a.save").json();
    assert!(history.versions.is_empty());
    let downloads: DownloadResponse = bob
        .post("/v1/games/g/downloads", &json!({"sha256": [hash.to_hex()]}))
        .json();
    assert!(downloads.downloads.is_empty());
    bob.post(
        "/v1/games/g/restore",
        &json!({"path": "a.save", "version": 1}),
    )
    .expect_error(404, "no_such_version");
    // Alice's bytes do not count as uploaded for Bob.
    assert!(!bob.upload_target("g", b"alice's save").present);
    bob.commit("g", vec![put_op("a.save", 0, b"alice's save")])
        .expect_error(400, "blob_missing");

    // An upload URL of Alice's, even when Bob sends the bytes, fills Alice's space only.
    let target = alice.upload_target("g", b"new bytes");
    bob.put_target(&target, b"new bytes").expect_success();
    bob.commit("g", vec![put_op("b.save", 0, b"new bytes")])
        .expect_error(400, "blob_missing");
    if on_aws() {
        // The rest re-signs the API's own blob tickets; S3 signs its presigned URLs itself.
        return;
    }
    let alice_url = target.url.expect("upload URL");

    // Alice's download URL re-signed for Bob's account is refused.
    let alice_changes: ChangesResponse = alice.changes("g", &ChangesRequest::default()).json();
    let url = &alice_changes.downloads[&hash];
    let forged = tamper(url, "uid", json!(bob_tokens.user_id));
    anon.get(&forged).expect_error(403, "bad_signature");
    let forged = tamper(&alice_url, "uid", json!(bob_tokens.user_id));
    bob.put_bytes(&forged, b"new bytes")
        .expect_error(403, "bad_signature");
    assert!(bob.manifest("g").entries.is_empty());
}

#[test]
fn tickets_are_bound_to_their_game_method_and_lifetime() {
    skip_on_aws!(
        "the API's own blob tickets; S3 presigned URLs are scoped to one key and method by \
         S3 (aws_storage covers the per-user, per-game key prefix)"
    );
    let server = Server::start(&["--upload-url-ttl-secs", "1"]);
    let (alice, _) = server.client().signup("alice");
    let target = alice.upload_target("game-a", b"bytes for A");
    let url = target.url.expect("upload URL");

    // Re-signed for game B: refused; uploaded to A: not usable in B.
    alice
        .put_bytes(&tamper(&url, "game", json!("game-b")), b"bytes for A")
        .expect_error(403, "bad_signature");
    alice.put_bytes(&url, b"bytes for A").expect_status(204);
    alice
        .commit("game-b", vec![put_op("a.save", 0, b"bytes for A")])
        .expect_error(400, "blob_missing");
    assert!(alice.manifest("game-b").entries.is_empty());
    alice
        .commit("game-a", vec![put_op("a.save", 0, b"bytes for A")])
        .expect_status(200);

    // An upload URL does not download and a download URL does not upload.
    alice.get(&url).expect_error(403, "wrong_method");
    let changes: ChangesResponse = alice.changes("game-a", &ChangesRequest::default()).json();
    let download = changes
        .downloads
        .values()
        .next()
        .expect("download URL")
        .clone();
    alice
        .put_bytes(&download, b"bytes for A")
        .expect_error(403, "wrong_method");
    alice
        .get("/v1/blobs/not-a-ticket")
        .expect_error(403, "bad_signature");
}

#[test]
fn upload_urls_expire() {
    let clock = Arc::new(ManualClock::new());
    let server = InProcess::start_with(
        |c| c.ttls.upload_url = Duration::from_secs(300),
        Arc::clone(&clock) as _,
    );
    let (alice, _) = server.client().signup("alice");
    let late = alice
        .upload_target("game-a", b"late bytes")
        .url
        .expect("upload URL");
    clock.advance(Duration::from_secs(301));
    alice
        .put_bytes(&late, b"late bytes")
        .expect_error(410, "expired");
}

//! A full sync round: changes → upload → commit → changes → download; history and restore.

use serde_json::json;
use sync_core::ContentHash;
use sync_core::protocol::{
    BlobRef, ChangesRequest, ChangesResponse, CommitOutcome, CommitResponse, DownloadResponse,
    HistoryResponse, RestoreResponse,
};

use crate::common::{Server, delete_op, on_aws, put_op};

#[test]
fn upload_commit_and_fetch_back() {
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    let game = "MyGame-1700000000";
    let save = b"a ren'py save".to_vec();
    let persistent = b"persistent data".to_vec();

    // First sync: nothing remote; both blobs need uploading.
    let resp = alice.changes(
        game,
        &ChangesRequest {
            since: None,
            uploads: vec![
                BlobRef {
                    sha256: ContentHash::of(&save),
                    size: save.len() as u64,
                },
                BlobRef {
                    sha256: ContentHash::of(&persistent),
                    size: persistent.len() as u64,
                },
            ],
        },
    );
    resp.expect_status(200);
    let first: ChangesResponse = resp.json();
    assert_eq!(first.cursor, 0);
    assert!(first.changes.is_empty());
    assert_eq!(first.uploads.len(), 2);
    for (target, bytes) in first.uploads.iter().zip([&save, &persistent]) {
        assert!(!target.present);
        assert_eq!(target.method, "PUT");
        let url = target.url.as_deref().expect("signed URL");
        if on_aws() {
            // A presigned S3 PUT that carries the SHA-256 S3 checks.
            assert!(
                target.headers.contains_key("x-amz-checksum-sha256"),
                "{target:?}"
            );
        } else {
            assert!(
                url.starts_with(&format!("{}/v1/blobs/", server.base)),
                "{url}"
            );
        }
        alice.put_target(target, bytes).expect_success();
    }
    // Announcing them again: the server has them.
    let again = alice.upload_target(game, &save);
    assert!(again.present && again.url.is_none());

    let resp = alice.commit(
        game,
        vec![
            put_op("1-1-LT1.save", 0, &save),
            put_op("sync/persistent", 0, &persistent),
        ],
    );
    resp.expect_status(200);
    let committed: CommitResponse = resp.json();
    assert_eq!(committed.cursor, 2);
    assert!(
        committed
            .results
            .iter()
            .all(|r| matches!(r, CommitOutcome::Committed { version: 1, .. }))
    );

    // Another device sees both changes with download URLs that return the bytes.
    let resp = alice.changes(game, &ChangesRequest::default());
    let changes: ChangesResponse = resp.json();
    assert_eq!(changes.cursor, 2);
    assert_eq!(changes.changes.len(), 2);
    for bytes in [&save, &persistent] {
        let url = &changes.downloads[&ContentHash::of(bytes)];
        let got = server.client().get(url);
        got.expect_status(200);
        assert_eq!(
            got.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(got.header("content-length"), Some(bytes.len().to_string()));
        assert_eq!(&got.body, bytes);
    }
    // Nothing new since the cursor.
    let none: ChangesResponse = alice
        .changes(
            game,
            &ChangesRequest {
                since: Some(2),
                uploads: vec![],
            },
        )
        .json();
    assert!(none.changes.is_empty() && none.downloads.is_empty());

    let manifest = alice.manifest(game);
    assert_eq!(manifest.cursor, 2);
    assert_eq!(manifest.entries.len(), 2);
}

#[test]
fn history_restore_and_download_urls() {
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    let game = "g";
    alice.put_file(game, "1-1-LT1.save", 0, b"version one");
    alice.put_file(game, "1-1-LT1.save", 1, b"version two");
    let resp = alice.commit(game, vec![delete_op("1-1-LT1.save", 2)]);
    resp.expect_status(200);

    let resp = alice.get("/v1/games/g/history?path=1-1-LT1.save");
    resp.expect_status(200);
    let history: HistoryResponse = resp.json();
    assert_eq!(history.path.as_str(), "1-1-LT1.save");
    assert_eq!(
        history
            .versions
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert!(history.versions[0].deleted && history.versions[0].current);

    // Old content is still downloadable; unknown hashes are left out.
    let v1 = ContentHash::of(b"version one");
    let unknown = ContentHash::of(b"never uploaded");
    let resp = alice.post(
        "/v1/games/g/downloads",
        &json!({"sha256": [v1.to_hex(), unknown.to_hex()]}),
    );
    resp.expect_status(200);
    let downloads: DownloadResponse = resp.json();
    assert_eq!(downloads.downloads.len(), 1);
    assert_eq!(
        server.client().get(&downloads.downloads[&v1]).body,
        b"version one"
    );

    let resp = alice.post(
        "/v1/games/g/restore",
        &json!({"path": "1-1-LT1.save", "version": 1}),
    );
    resp.expect_status(200);
    let restored: RestoreResponse = resp.json();
    assert_eq!(restored.entry.version, 4);
    assert_eq!(restored.entry.sha256, v1);
    assert!(!restored.entry.deleted);
    assert_eq!(alice.manifest(game).entries[0].version, 4);

    alice
        .post(
            "/v1/games/g/restore",
            &json!({"path": "1-1-LT1.save", "version": 99}),
        )
        .expect_error(404, "no_such_version");
    alice
        .post(
            "/v1/games/g/restore",
            &json!({"path": "other.save", "version": 1}),
        )
        .expect_error(404, "no_such_version");
    // History of an unknown file is empty, not an error.
    let empty: HistoryResponse = alice.get("/v1/games/g/history?path=nope.save").json();
    assert!(empty.versions.is_empty());
}

#[test]
fn stale_expectation_conflicts_with_current_entry_and_its_download() {
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    alice.put_file("g", "a.save", 0, b"first");
    alice.upload("g", b"second");
    let resp = alice.commit("g", vec![put_op("a.save", 0, b"second")]);
    resp.expect_status(200);
    let answer: CommitResponse = resp.json();
    match &answer.results[0] {
        CommitOutcome::Conflict {
            current: Some(current),
            download_url: Some(url),
        } => {
            assert_eq!(current.version, 1);
            assert_eq!(server.client().get(url).body, b"first");
        }
        other => panic!("expected a conflict with a download URL, got {other:?}"),
    }
}

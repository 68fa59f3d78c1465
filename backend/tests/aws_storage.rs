//! The storage conformance suites on the AWS stores (DynamoDB + S3) against a real moto
//! server on 127.0.0.1, plus what only S3 has: presigned uploads that S3 itself verifies.

mod aws_common;

use std::sync::Arc;

use aws_common::Moto;
use backend::storage::conformance::{
    NO_QUOTA, blob_check_names, commit_with, metadata_check_names, quota, run_blob_suite,
    run_metadata_suite,
};
use backend::storage::dynamo::DynamoMetadataStore;
use backend::storage::{BlobStore, LeaseRequest, MetadataStore, Scope};
use bytes::Bytes;
use sync_core::protocol::{CommitAction, CommitOp, CommitOutcome, UnixMillis, Version};
use sync_core::{ContentHash, GameId, SavePath};

fn in_five_minutes() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as UnixMillis
        + 300_000
}

fn scope(user_id: &str, game: &str) -> Scope {
    Scope {
        user_id: user_id.to_owned(),
        game: GameId::new(game).expect("valid game"),
    }
}

fn put_op(path: &str, expect: Version, content: &[u8]) -> CommitOp {
    CommitOp {
        path: SavePath::new(path).expect("valid path"),
        expect_version: expect,
        action: CommitAction::Put {
            sha256: ContentHash::of(content),
            size: content.len() as u64,
            mtime: Some(42),
            meta: None,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_metadata_store_passes_the_conformance_suite() {
    let moto = Moto::start().await;
    let report = run_metadata_suite(|| moto.fresh_table()).await;
    report.assert_all_passed();
    assert_eq!(report.passed, metadata_check_names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_passes_the_suite_on_one_shared_table() {
    let moto = Moto::start().await;
    let store = moto.fresh_table().await;
    run_metadata_suite(|| {
        let store = store.clone();
        async move { store }
    })
    .await
    .assert_all_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_blob_store_passes_the_conformance_suite() {
    let moto = Moto::start().await;
    let report = run_blob_suite(|| async { moto.fresh_bucket().await.0 }).await;
    report.assert_all_passed();
    assert_eq!(report.passed, blob_check_names());
}

#[tokio::test]
async fn bucket_is_versioned_and_keys_are_per_user_and_game() {
    let moto = Moto::start().await;
    let (store, bucket) = moto.fresh_bucket().await;
    assert!(store.versioning_enabled().await.expect("versioning"));
    let s = scope("u1", "Game.One");
    let data = b"save bytes".to_vec();
    let sha = ContentHash::of(&data);
    let body = Box::pin(futures::stream::iter([Ok(Bytes::from(data.clone()))]));
    store
        .put(&s, &sha, data.len() as u64, body)
        .await
        .expect("put");
    let raw = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk().await)
            .force_path_style(true)
            .build(),
    );
    let listed = raw
        .list_object_versions()
        .bucket(&bucket)
        .prefix("blobs/u1/Game.One/")
        .send()
        .await
        .expect("list versions");
    let keys: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().is_some(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![(format!("blobs/u1/Game.One/{}", sha.to_hex()), true)]
    );
}

/// Uploads `body` to a presigned target with the headers it requires.
async fn upload(target: &sync_core::protocol::UploadTarget, body: &[u8]) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new().put(target.url.as_deref().expect("a URL"));
    for (name, value) in &target.headers {
        req = req.header(name, value);
    }
    req.body(body.to_vec())
        .send()
        .await
        .expect("upload request")
        .status()
}

#[tokio::test]
async fn presigned_upload_with_wrong_bytes_is_refused_by_s3() {
    let moto = Moto::start().await;
    let (store, _) = moto.fresh_bucket().await;
    let s = scope("alice", "Game");
    let real = b"the real save file".to_vec();
    let forged = b"a forged save file".to_vec(); // same length, other bytes
    let sha = ContentHash::of(&real);
    let target = store
        .presign_upload(&s, &sha, real.len() as u64, in_five_minutes())
        .await
        .expect("presign")
        .expect("S3 presigns uploads");
    assert_eq!(target.method, "PUT");
    assert_eq!(
        target.headers.get("x-amz-checksum-sha256"),
        Some(&backend::storage::s3::checksum_header(&sha)),
        "the checksum is part of the signed request: {:?}",
        target.headers
    );
    let url = target.url.as_deref().expect("url");
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    assert!(
        url.contains(&format!("/blobs/alice/Game/{}", sha.to_hex())),
        "{url}"
    );

    let signed = url
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-SignedHeaders="))
        .expect("signed headers");
    assert!(
        signed.contains("x-amz-checksum-sha256") && signed.contains("content-length"),
        "{signed}"
    );

    // Amazon S3 answers 400 BadDigest here. moto 5.1.22 does not check checksums and
    // stores the bytes: then the verifying store finds and removes them before any commit
    // can reference them.
    let store = store.verifying_uploads(true);
    let status = upload(&target, &forged).await;
    assert!(
        status.is_client_error() || status.is_success(),
        "wrong bytes answered {status}"
    );
    assert!(
        !store.exists(&s, &sha).await.expect("exists"),
        "forged bytes kept"
    );
    assert!(
        store.get(&s, &sha).await.expect("get").is_none(),
        "forged bytes kept"
    );

    let accepted = upload(&target, &real).await;
    assert!(accepted.is_success(), "right bytes answered {accepted}");
    assert!(store.exists(&s, &sha).await.expect("exists"));
    let download = store
        .presign_download(&s, &sha, in_five_minutes())
        .await
        .expect("presign")
        .expect("S3 presigns downloads");
    let got = reqwest::get(&download)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    assert_eq!(got.as_ref(), real.as_slice());
}

#[tokio::test]
async fn cross_user_access_is_refused() {
    let moto = Moto::start().await;
    let (blobs, _) = moto.fresh_bucket().await;
    let meta = moto.fresh_table().await;
    let (alice, mallory) = (scope("alice", "Game"), scope("mallory", "Game"));
    let data = b"alice's save".to_vec();
    let sha = ContentHash::of(&data);
    let body = Box::pin(futures::stream::iter([Ok(Bytes::from(data.clone()))]));
    blobs
        .put(&alice, &sha, data.len() as u64, body)
        .await
        .expect("put");
    commit_with(
        &meta,
        &alice,
        "dev-a",
        &[put_op("1-1-LT1.save", 0, &data)],
        NO_QUOTA,
        1,
    )
    .await
    .expect("commit");

    // Mallory knows the hash but her scope is her own prefix and partition.
    assert!(!blobs.exists(&mallory, &sha).await.expect("exists"));
    assert!(blobs.get(&mallory, &sha).await.expect("get").is_none());
    let url = blobs
        .presign_download(&mallory, &sha, in_five_minutes())
        .await
        .expect("presign")
        .expect("url");
    let status = reqwest::get(&url).await.expect("download").status();
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{url}");
    let (cursor, changes) = meta.changes_since(&mallory, None).await.expect("changes");
    assert_eq!((cursor, changes.len()), (0, 0));
    let path = SavePath::new("1-1-LT1.save").expect("path");
    assert!(
        meta.history(&mallory, &path)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(
        meta.restore(&mallory, &path, 1, "dev-m", NO_QUOTA, 2)
            .await
            .expect("restore"),
        None
    );
    // A user id that could name another prefix never reaches S3.
    assert!(
        blobs
            .exists(&scope("alice/../x", "Game"), &sha)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_committers_on_two_clients_have_one_winner() {
    let moto = Moto::start().await;
    let table = moto.fresh_table().await;
    // Two separate stores with their own SDK clients and locks, as two Lambda instances
    // have: only DynamoDB's conditions decide between them.
    let other = Arc::new(DynamoMetadataStore::new(
        &moto.sdk().await,
        table.table_name(),
    ));
    let one = Arc::new(table);
    let s = scope("bob", "Game");
    commit_with(
        &*one,
        &s,
        "base",
        &[put_op("a.save", 0, b"base")],
        NO_QUOTA,
        1,
    )
    .await
    .expect("base");
    for round in 0..10u64 {
        let (a, b) = (Arc::clone(&one), Arc::clone(&other));
        let (sa, sb) = (s.clone(), s.clone());
        let expect = round + 1;
        let left = tokio::spawn(async move {
            commit_with(
                &*a,
                &sa,
                "laptop",
                &[put_op(
                    "a.save",
                    expect,
                    format!("laptop {round}").as_bytes(),
                )],
                NO_QUOTA,
                2,
            )
            .await
        });
        let right = tokio::spawn(async move {
            commit_with(
                &*b,
                &sb,
                "phone",
                &[put_op(
                    "a.save",
                    expect,
                    format!("phone {round}").as_bytes(),
                )],
                NO_QUOTA,
                2,
            )
            .await
        });
        let results = [
            left.await.expect("join").expect("commit"),
            right.await.expect("join").expect("commit"),
        ];
        let won = results
            .iter()
            .filter(|(_, o)| matches!(o[0], CommitOutcome::Committed { .. }))
            .count();
        let lost = results
            .iter()
            .filter(|(_, o)| matches!(o[0], CommitOutcome::Conflict { .. }))
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");
    }
    let history = one
        .history(&s, &SavePath::new("a.save").expect("path"))
        .await
        .expect("history");
    assert_eq!(history.len(), 11, "one base and one winner per round");
}

#[tokio::test]
async fn a_large_batch_commits_in_chunks_with_one_answer_per_op() {
    let moto = Moto::start().await;
    let store: Arc<DynamoMetadataStore> = Arc::new(moto.fresh_table().await);
    let s = scope("carol", "Big");
    let ops: Vec<CommitOp> = (0..120)
        .map(|i| put_op(&format!("slot-{i}.save"), 0, format!("save {i}").as_bytes()))
        .collect();
    let quota = quota(u64::MAX, 100);
    assert!(
        commit_with(&*store, &s, "d", &ops, quota, 1).await.is_err(),
        "120 files over a 100-file quota must be refused as a whole"
    );
    assert_eq!(
        store.usage(&s).await.expect("usage").files,
        0,
        "nothing applied"
    );
    let (cursor, outcomes) = commit_with(&*store, &s, "d", &ops, NO_QUOTA, 1)
        .await
        .expect("commit");
    assert_eq!(cursor, 120);
    assert_eq!(outcomes.len(), 120);
    let (_, changes) = store.changes_since(&s, Some(100)).await.expect("changes");
    assert_eq!(changes.len(), 20);
    assert_eq!(store.usage(&s).await.expect("usage").files, 120);
}

#[tokio::test]
async fn expired_leases_of_any_game_are_found_through_the_expiry_index() {
    let moto = Moto::start().await;
    let store = moto.fresh_table().await;
    let (old, fresh) = (scope("dora", "Old"), scope("erin", "Fresh"));
    let blob = |content: &[u8]| LeaseRequest {
        sha256: ContentHash::of(content),
        size: content.len() as u64,
        stored: false,
    };
    store
        .lease_blobs(&old, &[blob(b"abandoned upload")], 1_000, u64::MAX, 0)
        .await
        .expect("lease");
    store
        .lease_blobs(&fresh, &[blob(b"upload in progress")], 9_000, u64::MAX, 0)
        .await
        .expect("lease");
    let found = store
        .scopes_with_expired_leases(5_000, 10)
        .await
        .expect("query the index");
    assert_eq!(found, vec![old], "only the game whose lease expired");
}

//! The storage conformance suites against the embedded store: a real SQLite file and real
//! blob files in temp folders. Plus what only the embedded store has: durability across a
//! reopen, idempotent schema migration, temp-file hygiene.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use backend::storage::conformance::{
    NO_QUOTA, blob_check_names, commit_with, metadata_check_names, run_blob_suite,
    run_metadata_suite,
};
use backend::storage::files::FileBlobStore;
use backend::storage::sqlite::SqliteMetadataStore;
use backend::storage::sqlite::schema::SCHEMA_VERSION;
use backend::storage::{BlobStore, MetadataStore, RefreshRecord, Scope, StorageError, Usage};
use bytes::Bytes;
use futures::StreamExt;
use sync_core::protocol::{CommitAction, CommitOp, Version};
use sync_core::{ContentHash, GameId, SavePath};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_metadata_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = AtomicUsize::new(0);
    let report = run_metadata_suite(|| {
        let db = dir.path().join(format!(
            "check-{}.sqlite3",
            n.fetch_add(1, Ordering::Relaxed)
        ));
        async move { SqliteMetadataStore::open(&db).expect("open a fresh database") }
    })
    .await;
    report.assert_all_passed();
    assert_eq!(report.passed, metadata_check_names());
    eprintln!("metadata checks passed: {:?}", report.passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_suite_on_one_shared_database() {
    // Checks make their own users, so one long-lived database must pass as well.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteMetadataStore::open(&dir.path().join("shared.sqlite3")).expect("open");
    run_metadata_suite(|| {
        let store = store.clone();
        async move { store }
    })
    .await
    .assert_all_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_blob_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = run_blob_suite(|| {
        let root = dir.path().to_owned();
        async move { FileBlobStore::open(&root).expect("open the blob store") }
    })
    .await;
    report.assert_all_passed();
    assert_eq!(report.passed, blob_check_names());
    eprintln!("blob checks passed: {:?}", report.passed);
    // Refused and finished uploads alike leave no temp files behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs/.tmp"))
        .expect("temp folder")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
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

#[tokio::test]
async fn reopening_the_database_keeps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("nested/folder/renpy-cloud.sqlite3");
    let (user, device, token, entries, history) = {
        let store = SqliteMetadataStore::open(&db).expect("first open");
        let user = store.create_user("Persist", "hash", 1).await.expect("user");
        let device = store
            .create_device(&user.user_id, "pc", 2)
            .await
            .expect("device");
        let token = ContentHash::of(b"refresh");
        let record = RefreshRecord {
            user_id: user.user_id.clone(),
            device_id: device.device_id.clone(),
            expires_at: 99,
        };
        store
            .put_refresh_token(&token, &record)
            .await
            .expect("token");
        let s = scope(&user.user_id, "Game");
        commit_with(
            &store,
            &s,
            &device.device_id,
            &[put_op("a.save", 0, b"v1")],
            NO_QUOTA,
            3,
        )
        .await
        .expect("commit 1");
        commit_with(
            &store,
            &s,
            &device.device_id,
            &[put_op("a.save", 1, b"v2")],
            NO_QUOTA,
            4,
        )
        .await
        .expect("commit 2");
        let entries = store.changes_since(&s, None).await.expect("changes");
        let path = SavePath::new("a.save").expect("path");
        let history = store.history(&s, &path).await.expect("history");
        (user, device, (token, record), entries, history)
    };
    let store = SqliteMetadataStore::open(&db).expect("reopen");
    let s = scope(&user.user_id, "Game");
    assert_eq!(
        store.user_by_name("persist").await.expect("user"),
        Some(user.clone())
    );
    assert_eq!(
        store.device(&device.device_id).await.expect("device"),
        Some(device)
    );
    assert_eq!(
        store.changes_since(&s, None).await.expect("changes"),
        entries
    );
    let path = SavePath::new("a.save").expect("path");
    assert_eq!(store.history(&s, &path).await.expect("history"), history);
    assert_eq!(
        store.usage(&s).await.expect("usage"),
        Usage { bytes: 2, files: 1 }
    );
    assert_eq!(
        store.take_refresh_token(&token.0).await.expect("take"),
        Some(token.1)
    );
    // The feed continues where it stopped.
    let (cursor, _) = commit_with(&store, &s, "d", &[put_op("b.save", 0, b"b")], NO_QUOTA, 5)
        .await
        .expect("commit after reopen");
    assert_eq!(cursor, 3);
}

#[tokio::test]
async fn migration_is_idempotent_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("meta.sqlite3");
    for _ in 0..3 {
        let store = SqliteMetadataStore::open(&db).expect("open");
        assert_eq!(
            store.schema_version().await.expect("version"),
            SCHEMA_VERSION as i64
        );
        store
            .create_user(&format!("u{}", rand_suffix()), "h", 1)
            .await
            .expect("user");
    }
    let raw = rusqlite::Connection::open(&db).expect("raw open");
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let users: i64 = raw
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .expect("count");
    assert_eq!(users, 3, "reopening must not recreate or clear tables");
    raw.pragma_update(None, "user_version", 999)
        .expect("bump version");
    drop(raw);
    match SqliteMetadataStore::open(&db) {
        Err(StorageError::Unavailable(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!(
            "a newer schema must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
}

fn rand_suffix() -> String {
    backend::storage::ids::new_id().expect("id")
}

#[tokio::test]
async fn blobs_survive_a_reopen_and_stale_temp_files_are_swept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = scope(&rand_suffix(), "Game");
    let data = b"a durable save".to_vec();
    let sha = ContentHash::of(&data);
    {
        let store = FileBlobStore::open(dir.path()).expect("open");
        let body = Box::pin(futures::stream::iter([Ok(Bytes::from(data.clone()))]));
        store
            .put(&s, &sha, data.len() as u64, body)
            .await
            .expect("put");
    }
    let tmp = dir.path().join("blobs/.tmp");
    let stale = tmp.join("crashed.part");
    let fresh = tmp.join("in-progress.part");
    for p in [&stale, &fresh] {
        std::fs::write(p, b"partial").expect("write temp");
    }
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .expect("age the stale file");

    let store = FileBlobStore::open(dir.path()).expect("reopen");
    assert!(!stale.exists(), "a stale temp file survived the open");
    assert!(fresh.exists(), "an upload in progress was removed");
    // The periodic sweep removes what has gone untouched for ten minutes.
    std::fs::File::options()
        .write(true)
        .open(&fresh)
        .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(11 * 60)))
        .expect("age the other file");
    store.remove_stale_uploads().await.expect("sweep");
    assert!(!fresh.exists(), "an abandoned temp file survived the sweep");
    let (size, mut stream) = store.get(&s, &sha).await.expect("get").expect("present");
    assert_eq!(size, data.len() as u64);
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(got, data);
    let expected_path = dir
        .path()
        .join("blobs")
        .join(&s.user_id)
        .join("Game")
        .join(&sha.to_hex()[..2])
        .join(sha.to_hex());
    assert!(
        expected_path.is_file(),
        "layout is blobs/<user>/<game>/<xx>/<sha>"
    );
}

#[tokio::test]
async fn unsafe_user_ids_never_reach_the_file_system() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileBlobStore::open(&dir.path().join("data")).expect("open");
    let sha = ContentHash::of(b"x");
    for bad in ["../escape", "a/b", "", ".tmp", "x\0y"] {
        let s = scope(bad, "Game");
        let body = Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"x"))]));
        assert!(store.put(&s, &sha, 1, body).await.is_err(), "{bad:?}");
        assert!(store.exists(&s, &sha).await.is_err(), "{bad:?}");
        assert!(store.get(&s, &sha).await.is_err(), "{bad:?}");
    }
    assert!(!dir.path().join("escape").exists());
}

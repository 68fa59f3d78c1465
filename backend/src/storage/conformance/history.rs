//! History, restores, metadata round trips and a random walk against the reference.

use std::sync::Arc;

use sync_core::ContentHash;
use sync_core::ledger::current_version;
use sync_core::protocol::{CommitAction, CommitOp};

use super::fixtures::{
    Rng, Twin, archive, committed_entry, delete, path, put, put_with_meta, sample_meta,
};
use super::{Check, CheckResult};
use crate::storage::MetadataStore;

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("history_is_newest_first_with_details", |s| {
            Box::pin(history_is_newest_first_with_details(s))
        }),
        ("restore_makes_an_old_version_current", |s| {
            Box::pin(restore_makes_an_old_version_current(s))
        }),
        ("restore_of_a_deleted_file", |s| {
            Box::pin(restore_of_a_deleted_file(s))
        }),
        ("restore_of_a_tombstone_deletes", |s| {
            Box::pin(restore_of_a_tombstone_deletes(s))
        }),
        ("save_metadata_and_mtime_round_trip", |s| {
            Box::pin(save_metadata_and_mtime_round_trip(s))
        }),
        ("unicode_and_nested_paths_round_trip", |s| {
            Box::pin(unicode_and_nested_paths_round_trip(s))
        }),
        ("matches_memory_ledger_on_a_random_walk", |s| {
            Box::pin(matches_memory_ledger_on_a_random_walk(s))
        }),
    ]
}

async fn history_is_newest_first_with_details<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "History").await?;
    twin.commit(
        "laptop",
        &[put_with_meta("1-1-LT1.save", 0, b"one", sample_meta(1))],
        10,
    )
    .await?;
    twin.commit("phone", &[archive("1-1-LT1.save", b"phone's")], 20)
        .await?;
    twin.commit(
        "phone",
        &[put_with_meta("1-1-LT1.save", 1, b"two", sample_meta(2))],
        30,
    )
    .await?;
    twin.commit("laptop", &[delete("1-1-LT1.save", 3)], 40)
        .await?;
    let history = twin
        .store
        .history(&twin.scope, &path("1-1-LT1.save"))
        .await?;
    let summary: Vec<(u64, bool, bool, bool, &str, i64)> = history
        .iter()
        .map(|v| {
            (
                v.version,
                v.current,
                v.deleted,
                v.archived,
                v.device_id.as_str(),
                v.committed_at,
            )
        })
        .collect();
    ensure_eq!(
        summary,
        vec![
            (4, true, true, false, "laptop", 40),
            (3, false, false, false, "phone", 30),
            (2, false, false, true, "phone", 20),
            (1, false, false, false, "laptop", 10),
        ],
        "(version, current, deleted, archived, device, committed_at)"
    );
    ensure_eq!(
        history[0].sha256,
        ContentHash::of(b"two"),
        "the tombstone names what it deleted"
    );
    twin.verify().await
}

async fn restore_makes_an_old_version_current<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Restore").await?;
    twin.commit("a", &[put("a.save", 0, b"one")], 1).await?;
    twin.commit("a", &[put("a.save", 1, b"two")], 2).await?;
    let restored = twin.restore(&path("a.save"), 1, "b", 3).await?;
    let entry = restored.ok_or_else(|| super::CheckFailure("restore found nothing".into()))?;
    ensure_eq!(
        (entry.version, entry.seq, entry.deleted),
        (3, 3, false),
        "restored entry"
    );
    ensure_eq!(entry.sha256, ContentHash::of(b"one"), "restored content");
    ensure_eq!(entry.device_id, "b", "the restoring device wrote it");
    // Restoring what is current already is a success without a new version.
    twin.restore(&path("a.save"), 3, "b", 4).await?;
    ensure_eq!(
        twin.restore(&path("a.save"), 99, "b", 5).await?,
        None,
        "unknown version"
    );
    ensure_eq!(
        twin.restore(&path("nope.save"), 1, "b", 6).await?,
        None,
        "unknown file"
    );
    twin.verify().await
}

async fn restore_of_a_deleted_file<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "RestoreDeleted").await?;
    twin.commit("a", &[put("a.save", 0, b"precious")], 1)
        .await?;
    twin.commit("a", &[delete("a.save", 1)], 2).await?;
    let entry = twin.restore(&path("a.save"), 1, "a", 3).await?;
    ensure!(
        entry.as_ref().is_some_and(|e| !e.deleted && e.version == 3),
        "restore of a deleted file: {entry:?}"
    );
    twin.verify().await
}

async fn restore_of_a_tombstone_deletes<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "RestoreTombstone").await?;
    twin.commit("a", &[put("a.save", 0, b"one")], 1).await?;
    twin.commit("a", &[delete("a.save", 1)], 2).await?;
    twin.commit("a", &[put("a.save", 2, b"three")], 3).await?;
    let entry = twin.restore(&path("a.save"), 2, "a", 4).await?;
    ensure!(
        entry.as_ref().is_some_and(|e| e.deleted && e.version == 4),
        "restore of a tombstone: {entry:?}"
    );
    // Restoring a tombstone over a tombstone changes nothing.
    twin.restore(&path("a.save"), 2, "a", 5).await?;
    ensure_eq!(twin.ledger.cursor, 4, "cursor");
    twin.verify().await
}

async fn save_metadata_and_mtime_round_trip<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Meta").await?;
    let out = twin
        .commit(
            "a",
            &[put_with_meta("1-2-LT1.save", 0, b"zip", sample_meta(3))],
            1,
        )
        .await?;
    ensure_eq!(
        committed_entry(&out[0])?.meta,
        Some(sample_meta(3)),
        "meta in the outcome"
    );
    let no_mtime = CommitOp {
        path: path("persistent"),
        expect_version: 0,
        action: CommitAction::Put {
            sha256: ContentHash::of(b"p"),
            size: 1,
            mtime: None,
            meta: None,
        },
    };
    let negative_mtime = CommitOp {
        path: path("old.save"),
        expect_version: 0,
        action: CommitAction::Put {
            sha256: ContentHash::of(b"o"),
            size: 1,
            mtime: Some(-86_400_000),
            meta: None,
        },
    };
    twin.commit("a", &[no_mtime, negative_mtime], 2).await?;
    // A delete keeps the deleted version's metadata on the tombstone.
    twin.commit("a", &[delete("1-2-LT1.save", 1)], 3).await?;
    twin.verify().await
}

async fn unicode_and_nested_paths_round_trip<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Paths").await?;
    let ops = [
        put("sync/persistent", 0, b"1"),
        put("セーブ/1-1-LT1.save", 0, b"2"),
        put("a b/c'd\"e;--.save", 0, b"3"),
        put("A.save", 0, b"4"),
        put("a.save", 0, b"5"),
    ];
    twin.commit("a", &ops, 1).await?;
    ensure_eq!(
        twin.ledger.current.len(),
        5,
        "paths differing in case are distinct files"
    );
    twin.verify().await
}

async fn matches_memory_ledger_on_a_random_walk<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "RandomWalk").await?;
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let files = ["1-1-LT1.save", "1-2-LT1.save", "persistent", "sub/x.save"];
    let contents: [&[u8]; 4] = [b"alpha", b"beta", b"gamma gamma", b""];
    for step in 0..120i64 {
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let p = files[rng.below(4) as usize];
            let current = current_version(twin.ledger.current.get(&path(p)));
            let expect = match rng.below(5) {
                0 => current.saturating_sub(1),
                1 => current + 1,
                _ => current,
            };
            let content = contents[rng.below(4) as usize];
            ops.push(match rng.below(6) {
                0 | 1 => delete(p, expect),
                2 => archive(p, content),
                3 => put_with_meta(p, expect, content, sample_meta(rng.below(3))),
                _ => put(p, expect, content),
            });
        }
        let device = ["d1", "d2", "d3"][rng.below(3) as usize];
        twin.commit(device, &ops, step).await?;
        if rng.below(5) == 0 {
            let p = path(files[rng.below(4) as usize]);
            let max = twin.ledger.history.get(&p).map_or(0, |h| h.len() as u64);
            twin.restore(&p, 1 + rng.below(max + 1), device, step)
                .await?;
        }
        if step % 30 == 29 {
            twin.verify().await?;
        }
    }
    twin.verify().await
}

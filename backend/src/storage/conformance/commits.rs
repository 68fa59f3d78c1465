//! Conditional commits: puts, conflicts, no-ops, deletes, archives and batches.

use std::sync::Arc;

use sync_core::ContentHash;
use sync_core::protocol::CommitOutcome;

use super::fixtures::{
    NO_QUOTA, Twin, archive, commit, committed_entry, delete, new_scope, path, put,
};
use super::{Check, CheckResult};
use crate::storage::{MetadataStore, Usage};

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("empty_scope_has_cursor_zero", |s| {
            Box::pin(empty_scope_has_cursor_zero(s))
        }),
        ("first_put_creates_version_one", |s| {
            Box::pin(first_put_creates_version_one(s))
        }),
        ("stale_expectation_conflicts_with_current_entry", |s| {
            Box::pin(stale_expectation_conflicts_with_current_entry(s))
        }),
        ("identical_put_is_a_no_op", |s| {
            Box::pin(identical_put_is_a_no_op(s))
        }),
        ("delete_makes_a_tombstone", |s| {
            Box::pin(delete_makes_a_tombstone(s))
        }),
        ("deleting_a_missing_file_changes_nothing", |s| {
            Box::pin(deleting_a_missing_file_changes_nothing(s))
        }),
        ("archive_keeps_current_and_cursor", |s| {
            Box::pin(archive_keeps_current_and_cursor(s))
        }),
        ("versions_are_monotonic_across_archive_delete_put", |s| {
            Box::pin(versions_are_monotonic_across_archive_delete_put(s))
        }),
        ("changes_since_orders_by_seq_and_moves_the_cursor", |s| {
            Box::pin(changes_since_orders_by_seq_and_moves_the_cursor(s))
        }),
        ("batch_with_mixed_outcomes", |s| {
            Box::pin(batch_with_mixed_outcomes(s))
        }),
    ]
}

async fn empty_scope_has_cursor_zero<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "EmptyGame").await?;
    ensure_eq!(
        store.changes_since(&scope, None).await?,
        (0, vec![]),
        "changes"
    );
    ensure_eq!(
        store.changes_since(&scope, Some(5)).await?,
        (0, vec![]),
        "changes since 5"
    );
    ensure_eq!(store.usage(&scope).await?, Usage::default(), "usage");
    ensure_eq!(
        store.history(&scope, &path("1-1-LT1.save")).await?,
        vec![],
        "history"
    );
    ensure_eq!(
        store
            .restore(&scope, &path("1-1-LT1.save"), 1, "d", NO_QUOTA, 1)
            .await?,
        None,
        "restore of nothing"
    );
    let (cursor, outcomes) = commit(store.as_ref(), &scope, "d", &[], 1).await?;
    ensure_eq!((cursor, outcomes), (0, vec![]), "empty commit");
    Ok(())
}

async fn first_put_creates_version_one<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "FirstPut").await?;
    let out = twin
        .commit("dev-a", &[put("1-1-LT1.save", 0, b"save one")], 1_000)
        .await?;
    let entry = committed_entry(&out[0])?;
    ensure_eq!(
        (entry.version, entry.seq, entry.deleted),
        (1, 1, false),
        "version, seq, deleted"
    );
    ensure_eq!(entry.sha256, ContentHash::of(b"save one"), "hash");
    ensure_eq!(
        (entry.size, entry.device_id.as_str()),
        (8, "dev-a"),
        "size and device"
    );
    ensure_eq!(
        entry.committed_at,
        1_000,
        "committed_at is the commit's now"
    );
    twin.verify().await
}

async fn stale_expectation_conflicts_with_current_entry<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let mut twin = Twin::new(store, "Conflicts").await?;
    let out = twin.commit("a", &[put("a.save", 0, b"one")], 1).await?;
    let v1 = committed_entry(&out[0])?;
    for (expect, label) in [(0, "expecting no file"), (2, "expecting the future")] {
        let out = twin
            .commit("b", &[put("a.save", expect, b"two")], 2)
            .await?;
        ensure_eq!(
            out[0],
            CommitOutcome::Conflict {
                current: Some(v1.clone()),
                download_url: None
            },
            "{label}"
        );
    }
    let out = twin.commit("b", &[delete("a.save", 0)], 3).await?;
    ensure!(
        matches!(out[0], CommitOutcome::Conflict { .. }),
        "stale delete: {out:?}"
    );
    // Expecting a version of a file that does not exist conflicts with no current entry.
    let out = twin.commit("b", &[put("b.save", 3, b"x")], 4).await?;
    ensure_eq!(
        out[0],
        CommitOutcome::Conflict {
            current: None,
            download_url: None
        },
        "missing file"
    );
    twin.verify().await
}

async fn identical_put_is_a_no_op<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "NoOp").await?;
    let out = twin.commit("a", &[put("a.save", 0, b"same")], 1).await?;
    let v1 = committed_entry(&out[0])?;
    let out = twin.commit("b", &[put("a.save", 1, b"same")], 2).await?;
    ensure_eq!(
        out[0],
        CommitOutcome::Committed {
            version: 1,
            entry: Some(v1)
        },
        "identical put"
    );
    ensure_eq!(twin.ledger.cursor, 1, "cursor moved");
    twin.verify().await
}

async fn delete_makes_a_tombstone<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Delete").await?;
    twin.commit("a", &[put("a.save", 0, b"content")], 1).await?;
    let out = twin.commit("b", &[delete("a.save", 1)], 2).await?;
    let tomb = committed_entry(&out[0])?;
    ensure!(tomb.deleted, "not a tombstone: {tomb:?}");
    ensure_eq!(
        (tomb.version, tomb.seq),
        (2, 2),
        "tombstone version and seq"
    );
    ensure_eq!(
        tomb.sha256,
        ContentHash::of(b"content"),
        "a tombstone names the deleted content"
    );
    let (_, changes) = twin.store.changes_since(&twin.scope, Some(1)).await?;
    ensure_eq!(changes, vec![tomb], "the feed carries the tombstone");
    ensure_eq!(
        twin.store.usage(&twin.scope).await?,
        Usage::default(),
        "usage"
    );
    twin.verify().await
}

async fn deleting_a_missing_file_changes_nothing<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "DeleteMissing").await?;
    let out = twin.commit("a", &[delete("ghost.save", 0)], 1).await?;
    ensure_eq!(
        out[0],
        CommitOutcome::Committed {
            version: 0,
            entry: None
        },
        "delete of nothing"
    );
    twin.commit("a", &[put("a.save", 0, b"x")], 2).await?;
    twin.commit("a", &[delete("a.save", 1)], 3).await?;
    // Deleting a tombstone again is a success without a new version.
    let out = twin.commit("a", &[delete("a.save", 2)], 4).await?;
    ensure!(
        matches!(out[0], CommitOutcome::Committed { version: 2, .. }),
        "{out:?}"
    );
    ensure_eq!(twin.ledger.cursor, 2, "cursor");
    twin.verify().await
}

async fn archive_keeps_current_and_cursor<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Archive").await?;
    let out = twin.commit("a", &[put("a.save", 0, b"winner")], 1).await?;
    let current = committed_entry(&out[0])?;
    let out = twin.commit("b", &[archive("a.save", b"loser")], 2).await?;
    ensure_eq!(
        out[0],
        CommitOutcome::Committed {
            version: 2,
            entry: Some(current)
        },
        "archive"
    );
    ensure_eq!(
        twin.store.changes_since(&twin.scope, Some(1)).await?,
        (1, vec![]),
        "feed"
    );
    let history = twin.store.history(&twin.scope, &path("a.save")).await?;
    ensure!(
        history.len() == 2 && history[0].archived && !history[0].current && history[1].current,
        "history after an archive: {history:?}"
    );
    // The next put still expects the current version and gets the next number.
    let out = twin.commit("a", &[put("a.save", 1, b"third")], 3).await?;
    ensure!(
        matches!(out[0], CommitOutcome::Committed { version: 3, .. }),
        "{out:?}"
    );
    // An archive keeps the loser of a conflict with a file the server has: on a path it
    // never had it is a conflict, and nothing is stored (history cannot grow outside quotas).
    let out = twin
        .commit("b", &[archive("other.save", b"lost")], 4)
        .await?;
    ensure_eq!(
        out[0],
        CommitOutcome::Conflict {
            current: None,
            download_url: None
        },
        "archive of a new file"
    );
    ensure_eq!(
        twin.store.history(&twin.scope, &path("other.save")).await?,
        vec![],
        "nothing stored for it"
    );
    twin.verify().await
}

async fn versions_are_monotonic_across_archive_delete_put<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let mut twin = Twin::new(store, "Monotonic").await?;
    twin.commit("a", &[put("f.save", 0, b"0")], 1).await?; // v1
    twin.commit("a", &[archive("f.save", b"1")], 2).await?; // v2, archived
    twin.commit("a", &[put("f.save", 1, b"2")], 3).await?; // v3
    twin.commit("a", &[delete("f.save", 3)], 4).await?; // v4 tombstone
    let out = twin.commit("a", &[put("f.save", 4, b"5")], 5).await?; // v5 over a tombstone
    ensure!(
        matches!(out[0], CommitOutcome::Committed { version: 5, .. }),
        "{out:?}"
    );
    let versions: Vec<u64> = twin
        .store
        .history(&twin.scope, &path("f.save"))
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    ensure_eq!(versions, vec![5, 4, 3, 2, 1], "history versions");
    twin.verify().await
}

async fn changes_since_orders_by_seq_and_moves_the_cursor<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let mut twin = Twin::new(store, "Feed").await?;
    twin.commit("a", &[put("b.save", 0, b"b")], 1).await?;
    twin.commit("a", &[put("c.save", 0, b"c")], 2).await?;
    twin.commit("a", &[put("a.save", 0, b"a")], 3).await?;
    twin.commit("a", &[put("b.save", 1, b"b2")], 4).await?;
    let (cursor, all) = twin.store.changes_since(&twin.scope, None).await?;
    let order: Vec<(&str, u64)> = all.iter().map(|e| (e.path.as_str(), e.seq)).collect();
    ensure_eq!(cursor, 4, "cursor");
    ensure_eq!(
        order,
        vec![("c.save", 2), ("a.save", 3), ("b.save", 4)],
        "feed order"
    );
    let (_, since2) = twin.store.changes_since(&twin.scope, Some(2)).await?;
    ensure_eq!(since2.len(), 2, "changes after 2");
    ensure_eq!(
        twin.store.changes_since(&twin.scope, Some(4)).await?,
        (4, vec![]),
        "up to date"
    );
    ensure_eq!(
        twin.store.changes_since(&twin.scope, Some(99)).await?,
        (4, vec![]),
        "ahead"
    );
    twin.verify().await
}

async fn batch_with_mixed_outcomes<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let mut twin = Twin::new(store, "Batch").await?;
    twin.commit(
        "a",
        &[put("old.save", 0, b"old"), put("gone.save", 0, b"g")],
        1,
    )
    .await?;
    let batch = [
        put("new.save", 0, b"new"),       // committed v1
        put("old.save", 0, b"stale"),     // conflict
        delete("missing.save", 0),        // no change
        archive("old.save", b"kept"),     // archived v2
        put("old.save", 1, b"fresh"),     // committed v3
        put("new.save", 1, b"new again"), // sees the batch's own first op: v2
        delete("gone.save", 1),           // tombstone v2
        put("persistent", 0, b"p"),       // committed v1
    ];
    let out = twin.commit("b", &batch, 2).await?;
    ensure_eq!(out.len(), batch.len(), "one outcome per op");
    ensure_eq!(twin.ledger.cursor, 7, "cursor after the batch");
    twin.verify().await
}

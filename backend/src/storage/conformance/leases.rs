//! Blob leases, the collector's protocol and history retention (see `storage::BlobLease`):
//! a commit needs a lease; uncommitted uploads have a budget; the collector takes only
//! expired, unrenewed, unreferenced leases; retention prunes and hands blobs over.

use std::sync::Arc;

use sync_core::ContentHash;
use sync_core::protocol::UnixMillis;

use super::fixtures::{NO_QUOTA, commit_with, new_scope, path, put};
use super::{Check, CheckFailure, CheckResult};
use crate::storage::{LeaseRequest, MetadataStore, Quota, Retention, Scope, StorageError};

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("a_commit_needs_a_lease", |s| {
            Box::pin(a_commit_needs_a_lease(s))
        }),
        ("uncommitted_uploads_have_a_budget", |s| {
            Box::pin(uncommitted_uploads_have_a_budget(s))
        }),
        ("the_collector_takes_only_unreferenced_leases", |s| {
            Box::pin(the_collector_takes_only_unreferenced_leases(s))
        }),
        ("a_renewal_or_a_commit_beats_the_collector", |s| {
            Box::pin(a_renewal_or_a_commit_beats_the_collector(s))
        }),
        ("retention_prunes_history_and_hands_blobs_over", |s| {
            Box::pin(retention_prunes_history_and_hands_blobs_over(s))
        }),
        ("retention_keeps_young_versions_up_to_the_cap", |s| {
            Box::pin(retention_keeps_young_versions_up_to_the_cap(s))
        }),
    ]
}

fn upload(content: &[u8]) -> LeaseRequest {
    LeaseRequest {
        sha256: ContentHash::of(content),
        size: content.len() as u64,
        stored: false,
    }
}

/// Leases `blobs` until `expires_at` with a budget of `max_pending` (expiries from 0 count).
async fn lease<M: MetadataStore>(
    store: &M,
    scope: &Scope,
    blobs: &[LeaseRequest],
    expires_at: UnixMillis,
    max_pending: u64,
) -> Result<Vec<ContentHash>, StorageError> {
    store
        .lease_blobs(scope, blobs, expires_at, max_pending, 0)
        .await
}

async fn a_commit_needs_a_lease<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Lease").await?;
    let op = put("a.save", 0, b"never announced");
    match store
        .commit(&scope, "d", std::slice::from_ref(&op), NO_QUOTA, 1)
        .await
    {
        Err(StorageError::BlobMissing(sha)) => {
            ensure_eq!(sha, ContentHash::of(b"never announced"), "the missing blob");
        }
        other => return Err(CheckFailure(format!("a commit without a lease: {other:?}"))),
    }
    ensure_eq!(
        store.changes_since(&scope, None).await?,
        (0, vec![]),
        "nothing applied"
    );
    lease(
        store.as_ref(),
        &scope,
        &[upload(b"never announced")],
        100,
        u64::MAX,
    )
    .await?;
    store.commit(&scope, "d", &[op], NO_QUOTA, 2).await?;
    ensure_eq!(store.changes_since(&scope, None).await?.0, 1, "committed");
    Ok(())
}

async fn uncommitted_uploads_have_a_budget<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Budget").await?;
    let (a, b, c) = (vec![b'a'; 600], vec![b'b'; 600], vec![b'c'; 600]);
    lease(store.as_ref(), &scope, &[upload(&a)], 100, 1_000).await?;
    // The same blob again adds nothing.
    lease(store.as_ref(), &scope, &[upload(&a)], 100, 1_000).await?;
    match lease(store.as_ref(), &scope, &[upload(&b)], 100, 1_000).await {
        Err(StorageError::QuotaExceeded(_)) => {}
        other => {
            return Err(CheckFailure(format!(
                "1,200 pending bytes of 1,000: {other:?}"
            )));
        }
    }
    // Bytes already stored are not pending.
    let stored = LeaseRequest {
        stored: true,
        ..upload(&b)
    };
    lease(store.as_ref(), &scope, &[stored], 100, 1_000).await?;
    // A commit ends a blob's pending state and frees the budget.
    store
        .commit(&scope, "d", &[put("a.save", 0, &a)], NO_QUOTA, 1)
        .await?;
    lease(store.as_ref(), &scope, &[upload(&c)], 100, 1_000).await?;
    // Leases expired before `pending_since` no longer count.
    let d = vec![b'd'; 600];
    store
        .lease_blobs(&scope, &[upload(&d)], 200, 1_000, 101)
        .await?;
    Ok(())
}

async fn the_collector_takes_only_unreferenced_leases<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Collect").await?;
    let (orphan, kept) = (b"uploaded, never committed", b"uploaded and committed");
    lease(
        store.as_ref(),
        &scope,
        &[upload(orphan), upload(kept)],
        100,
        u64::MAX,
    )
    .await?;
    store
        .commit(&scope, "d", &[put("a.save", 0, kept)], NO_QUOTA, 50)
        .await?;
    ensure_eq!(
        store.expired_leases(&scope, 100, 10).await?,
        vec![],
        "nothing expired before 100"
    );
    let expired = store.expired_leases(&scope, 101, 10).await?;
    ensure_eq!(expired.len(), 2, "both leases expired: {expired:?}");
    for l in &expired {
        let taken = store.start_collecting(&scope, l).await?;
        ensure_eq!(
            taken,
            l.sha256 == ContentHash::of(orphan),
            "collecting {} (only the orphan goes)",
            l.sha256
        );
    }
    let left = store.expired_leases(&scope, 101, 10).await?;
    ensure!(
        left.len() == 1 && left[0].collecting && left[0].sha256 == ContentHash::of(orphan),
        "only the orphan's lease is left, taken over: {left:?}"
    );
    // While it is being collected, the blob must be uploaded again and cannot be committed.
    let collecting = lease(store.as_ref(), &scope, &[upload(orphan)], 500, u64::MAX).await?;
    ensure_eq!(collecting, vec![ContentHash::of(orphan)], "being collected");
    match store
        .commit(&scope, "d", &[put("b.save", 0, orphan)], NO_QUOTA, 60)
        .await
    {
        Err(StorageError::BlobMissing(_)) => {}
        other => {
            return Err(CheckFailure(format!(
                "a commit of a collected blob: {other:?}"
            )));
        }
    }
    store
        .finish_collecting(&scope, &ContentHash::of(orphan))
        .await?;
    ensure_eq!(
        store.expired_leases(&scope, i64::MAX, 10).await?,
        vec![],
        "no lease left"
    );
    // Uploaded again: a fresh lease, and the commit goes through.
    let collecting = lease(store.as_ref(), &scope, &[upload(orphan)], 500, u64::MAX).await?;
    ensure_eq!(collecting, vec![], "a fresh lease");
    store
        .commit(&scope, "d", &[put("b.save", 0, orphan)], NO_QUOTA, 70)
        .await?;
    Ok(())
}

async fn a_renewal_or_a_commit_beats_the_collector<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Race").await?;
    let (renewed, committed) = (b"announced again", b"committed late");
    lease(
        store.as_ref(),
        &scope,
        &[upload(renewed), upload(committed)],
        100,
        u64::MAX,
    )
    .await?;
    let read = store.expired_leases(&scope, 101, 10).await?;
    ensure_eq!(read.len(), 2, "both expired");
    // After the collector read them: one is announced again, the other committed.
    lease(store.as_ref(), &scope, &[upload(renewed)], 100, u64::MAX).await?;
    store
        .commit(&scope, "d", &[put("a.save", 0, committed)], NO_QUOTA, 200)
        .await?;
    for l in &read {
        ensure!(
            !store.start_collecting(&scope, l).await?,
            "the collector took a lease renewed after it read it: {l:?}"
        );
    }
    let now_expired = store.expired_leases(&scope, 101, 10).await?;
    ensure!(
        now_expired.iter().all(|l| !l.collecting),
        "nothing is being collected: {now_expired:?}"
    );
    Ok(())
}

fn keep(keep_versions: u32, keep_days: u32, max_versions: u32) -> Quota {
    Quota {
        retention: Retention {
            keep_versions,
            keep_days,
            max_versions,
        },
        ..NO_QUOTA
    }
}

const DAY: i64 = 24 * 60 * 60 * 1000;

/// Commits one put after leasing its blob as a client would, until `now`.
async fn put_leased<M: MetadataStore>(
    store: &M,
    scope: &Scope,
    version: u64,
    content: &[u8],
    quota: Quota,
    now: UnixMillis,
) -> CheckResult {
    lease(store, scope, &[upload(content)], now, u64::MAX).await?;
    store
        .commit(scope, "d", &[put("a.save", version, content)], quota, now)
        .await?;
    Ok(())
}

async fn retention_prunes_history_and_hands_blobs_over<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Retention").await?;
    let quota = keep(2, 0, 100);
    let contents: Vec<Vec<u8>> = (1..=6)
        .map(|i| format!("version {i}").into_bytes())
        .collect();
    for (i, content) in contents.iter().enumerate() {
        let version = i as u64;
        put_leased(
            store.as_ref(),
            &scope,
            version,
            content,
            quota,
            (version as i64 + 1) * DAY,
        )
        .await?;
    }
    let history = store.history(&scope, &path("a.save")).await?;
    let versions: Vec<u64> = history.iter().map(|v| v.version).collect();
    ensure_eq!(
        versions,
        vec![6, 5, 4],
        "the current and the two newest others"
    );
    // Version numbers go on from the highest ever, not from what is left.
    put_leased(store.as_ref(), &scope, 6, b"version 7", quota, 7 * DAY).await?;
    ensure_eq!(
        store.history(&scope, &path("a.save")).await?[0].version,
        7,
        "the next version"
    );
    // The pruned versions' blobs are leased for the collector, which may take them.
    let expired = store.expired_leases(&scope, i64::MAX, 100).await?;
    let pruned: Vec<ContentHash> = contents[..4].iter().map(|c| ContentHash::of(c)).collect();
    ensure!(
        expired
            .iter()
            .all(|l| !pruned.contains(&l.sha256) || l.expires_at <= 7 * DAY),
        "pruned blobs' leases expire by the pruning commit: {expired:?}"
    );
    for sha in &pruned {
        let l = expired
            .iter()
            .find(|l| l.sha256 == *sha)
            .ok_or_else(|| CheckFailure(format!("no lease for pruned blob {sha}: {expired:?}")))?;
        ensure!(
            store.start_collecting(&scope, l).await?,
            "the collector may take pruned blob {sha}"
        );
    }
    Ok(())
}

async fn retention_keeps_young_versions_up_to_the_cap<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Young").await?;
    let quota = keep(1, 30, 4);
    for version in 0..6u64 {
        commit_with(
            store.as_ref(),
            &scope,
            "d",
            &[put("a.save", version, format!("v{version}").as_bytes())],
            quota,
            100 * DAY + version as i64,
        )
        .await?;
    }
    let versions: Vec<u64> = store
        .history(&scope, &path("a.save"))
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    ensure_eq!(
        versions,
        vec![6, 5, 4, 3],
        "young versions, at most 4 in all"
    );
    // Thirty days on, only the current and the newest other survive the next commit.
    commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("a.save", 6, b"v6")],
        quota,
        131 * DAY,
    )
    .await?;
    let versions: Vec<u64> = store
        .history(&scope, &path("a.save"))
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    ensure_eq!(versions, vec![7, 6], "after thirty days");
    Ok(())
}

//! Quotas: checked on the commit's result, atomically with it; a refused commit leaves no
//! trace.

use std::sync::Arc;

use sync_core::protocol::CommitOutcome;

use super::fixtures::{archive, commit, commit_with, delete, new_scope, path, put, quota};
use super::{Check, CheckFailure, CheckResult};
use crate::storage::{MetadataStore, StorageError, Usage};

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("quota_exceeded_applies_nothing", |s| {
            Box::pin(quota_exceeded_applies_nothing(s))
        }),
        ("quota_counts_replaced_content_once", |s| {
            Box::pin(quota_counts_replaced_content_once(s))
        }),
        ("shrinking_is_allowed_over_quota", |s| {
            Box::pin(shrinking_is_allowed_over_quota(s))
        }),
        ("a_restore_respects_the_quota", |s| {
            Box::pin(a_restore_respects_the_quota(s))
        }),
    ]
}

async fn quota_exceeded_applies_nothing<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Quota").await?;
    let bytes_10 = quota(10, 100);
    let over = [put("a.save", 0, b"12345"), put("b.save", 0, b"123456")];
    match commit_with(store.as_ref(), &scope, "d", &over, bytes_10, 1).await {
        Err(StorageError::QuotaExceeded(_)) => {}
        other => {
            return Err(CheckFailure(format!(
                "11 bytes over a 10-byte quota: {other:?}"
            )));
        }
    }
    let files_1 = quota(1_000, 1);
    match commit_with(store.as_ref(), &scope, "d", &over, files_1, 2).await {
        Err(StorageError::QuotaExceeded(_)) => {}
        other => {
            return Err(CheckFailure(format!(
                "2 files over a 1-file quota: {other:?}"
            )));
        }
    }
    ensure_eq!(
        store.changes_since(&scope, None).await?,
        (0, vec![]),
        "nothing applied"
    );
    ensure_eq!(
        store.history(&scope, &path("a.save")).await?,
        vec![],
        "no history"
    );
    ensure_eq!(store.usage(&scope).await?, Usage::default(), "usage");
    // Exactly at the limit is allowed.
    let (cursor, _) = commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("a.save", 0, b"1234567890")],
        bytes_10,
        3,
    )
    .await?;
    ensure_eq!(cursor, 1, "a commit at the limit");
    ensure_eq!(
        store.usage(&scope).await?,
        Usage {
            bytes: 10,
            files: 1
        },
        "usage"
    );
    Ok(())
}

async fn quota_counts_replaced_content_once<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "QuotaReplace").await?;
    let quota = quota(10, 2);
    commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("a.save", 0, b"12345678")],
        quota,
        1,
    )
    .await?;
    // Replacing 8 bytes by 9 uses 9, not 17; archives do not count (they are not current).
    let ops = [
        put("a.save", 1, b"123456789"),
        archive("a.save", b"1234567890"),
    ];
    commit_with(store.as_ref(), &scope, "d", &ops, quota, 2).await?;
    ensure_eq!(
        store.usage(&scope).await?,
        Usage { bytes: 9, files: 1 },
        "usage"
    );
    Ok(())
}

async fn shrinking_is_allowed_over_quota<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "QuotaLowered").await?;
    let ops = [
        put("a.save", 0, b"aaaaaaaaaa"),
        put("b.save", 0, b"bbbbbbbbbb"),
    ];
    commit(store.as_ref(), &scope, "d", &ops, 1).await?;
    // The limit was lowered below what is stored: deleting must still work...
    let lowered = quota(5, 1);
    let (_, out) = commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[delete("a.save", 1)],
        lowered,
        2,
    )
    .await?;
    ensure!(
        matches!(out[0], CommitOutcome::Committed { version: 2, .. }),
        "{out:?}"
    );
    ensure_eq!(
        store.usage(&scope).await?,
        Usage {
            bytes: 10,
            files: 1
        },
        "usage"
    );
    // ...and growing must not.
    match commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("b.save", 1, b"bbbbbbbbbbb")],
        lowered,
        3,
    )
    .await
    {
        Err(StorageError::QuotaExceeded(_)) => Ok(()),
        other => Err(CheckFailure(format!(
            "growth over a lowered quota: {other:?}"
        ))),
    }
}

async fn a_restore_respects_the_quota<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "RestoreQuota").await?;
    let bytes_10 = quota(10, 100);
    commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("a.save", 0, b"12345678")],
        bytes_10,
        1,
    )
    .await?;
    commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[delete("a.save", 1)],
        bytes_10,
        2,
    )
    .await?;
    commit_with(
        store.as_ref(),
        &scope,
        "d",
        &[put("b.save", 0, b"12345")],
        bytes_10,
        3,
    )
    .await?;
    // Bringing the deleted 8 bytes back next to the 5 would make 13 of 10.
    match store
        .restore(&scope, &path("a.save"), 1, "d", bytes_10, 4)
        .await
    {
        Err(StorageError::QuotaExceeded(_)) => {}
        other => return Err(CheckFailure(format!("a restore over the quota: {other:?}"))),
    }
    ensure_eq!(
        store.usage(&scope).await?,
        Usage { bytes: 5, files: 1 },
        "nothing restored"
    );
    ensure!(
        store
            .restore(&scope, &path("a.save"), 1, "d", quota(20, 100), 5)
            .await?
            .is_some(),
        "a restore within the quota"
    );
    Ok(())
}

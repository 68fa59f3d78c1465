//! Blob checks: verified, all-or-nothing uploads; streamed reads; isolation per scope.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sync_core::ContentHash;
use tokio::task::JoinSet;

use super::fixtures::{game, random_scope};
use super::{Check, CheckFailure, CheckResult};
use crate::storage::{BlobStore, ByteStream, Scope, StorageError};

/// How long a store may take to refuse a body that already went past its declared size.
const EARLY_REJECT: Duration = Duration::from_secs(10);

pub fn checks<B: BlobStore>() -> Vec<Check<B>> {
    vec![
        ("blob_health_ok", |s| Box::pin(blob_health_ok(s))),
        ("blob_round_trip", |s| Box::pin(blob_round_trip(s))),
        ("blob_empty_body_round_trip", |s| {
            Box::pin(blob_empty_body_round_trip(s))
        }),
        ("blob_multi_megabyte_round_trip", |s| {
            Box::pin(blob_multi_megabyte_round_trip(s))
        }),
        ("blob_get_missing_is_none", |s| {
            Box::pin(blob_get_missing_is_none(s))
        }),
        ("blob_hash_mismatch_stores_nothing", |s| {
            Box::pin(blob_hash_mismatch_stores_nothing(s))
        }),
        ("blob_short_body_rejected", |s| {
            Box::pin(blob_short_body_rejected(s))
        }),
        ("blob_long_body_rejected_without_reading_to_the_end", |s| {
            Box::pin(blob_long_body_rejected_without_reading_to_the_end(s))
        }),
        ("blob_failing_body_stores_nothing", |s| {
            Box::pin(blob_failing_body_stores_nothing(s))
        }),
        ("blob_reupload_keeps_the_existing_blob", |s| {
            Box::pin(blob_reupload_keeps_the_existing_blob(s))
        }),
        ("blob_exists_is_isolated_per_scope", |s| {
            Box::pin(blob_exists_is_isolated_per_scope(s))
        }),
        ("blob_concurrent_puts_of_one_blob", |s| {
            Box::pin(blob_concurrent_puts_of_one_blob(s))
        }),
    ]
}

/// A body that yields `data` in chunks of `chunk` bytes.
pub fn body(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Deterministic bytes that are not all alike.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

async fn read_all(mut stream: ByteStream) -> Result<Vec<u8>, CheckFailure> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| CheckFailure(format!("reading a blob failed: {e}")))?;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Checks the blob's presence and, if present, its exact bytes.
async fn expect_blob<B: BlobStore>(
    store: &B,
    scope: &Scope,
    data: Option<&[u8]>,
    sha256: &ContentHash,
    label: &str,
) -> CheckResult {
    ensure_eq!(
        store.exists(scope, sha256).await?,
        data.is_some(),
        "{label}: exists"
    );
    match (store.get(scope, sha256).await?, data) {
        (None, None) => Ok(()),
        (Some((size, stream)), Some(want)) => {
            ensure_eq!(size, want.len() as u64, "{label}: size");
            let got = read_all(stream).await?;
            ensure!(
                got == want,
                "{label}: {} bytes read differ from what was stored",
                got.len()
            );
            Ok(())
        }
        (got, want) => Err(CheckFailure(format!(
            "{label}: get returned {}, expected {}",
            if got.is_some() { "a blob" } else { "nothing" },
            if want.is_some() { "a blob" } else { "nothing" }
        ))),
    }
}

fn expect_mismatch(result: Result<(), StorageError>, label: &str) -> CheckResult {
    match result {
        Err(StorageError::Mismatch(_)) => Ok(()),
        other => Err(CheckFailure(format!(
            "{label}: expected Mismatch, got {other:?}"
        ))),
    }
}

async fn blob_health_ok<B: BlobStore>(store: Arc<B>) -> CheckResult {
    store.health().await?;
    Ok(())
}

async fn blob_round_trip<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(10_000, 1);
    let sha = ContentHash::of(&data);
    store
        .put(&scope, &sha, data.len() as u64, body(&data, 3_000))
        .await?;
    expect_blob(store.as_ref(), &scope, Some(&data), &sha, "after put").await
}

async fn blob_empty_body_round_trip<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let sha = ContentHash::of(b"");
    store.put(&scope, &sha, 0, body(b"", 1)).await?;
    expect_blob(store.as_ref(), &scope, Some(b""), &sha, "empty blob").await
}

async fn blob_multi_megabyte_round_trip<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(5 * 1024 * 1024 + 17, 2);
    let sha = ContentHash::of(&data);
    store
        .put(&scope, &sha, data.len() as u64, body(&data, 64 * 1024))
        .await?;
    expect_blob(store.as_ref(), &scope, Some(&data), &sha, "5 MiB blob").await
}

async fn blob_get_missing_is_none<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    expect_blob(
        store.as_ref(),
        &scope,
        None,
        &ContentHash::of(b"never"),
        "missing",
    )
    .await
}

async fn blob_hash_mismatch_stores_nothing<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let (claimed, sent) = (b"the real save".as_slice(), b"a forged save".as_slice());
    let sha = ContentHash::of(claimed);
    let result = store
        .put(&scope, &sha, sent.len() as u64, body(sent, 4))
        .await;
    expect_mismatch(result, "forged body")?;
    expect_blob(store.as_ref(), &scope, None, &sha, "claimed hash").await?;
    expect_blob(
        store.as_ref(),
        &scope,
        None,
        &ContentHash::of(sent),
        "sent bytes",
    )
    .await
}

async fn blob_short_body_rejected<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(1_000, 3);
    let sha = ContentHash::of(&data);
    let result = store
        .put(&scope, &sha, data.len() as u64, body(&data[..999], 100))
        .await;
    expect_mismatch(result, "body one byte short")?;
    expect_blob(store.as_ref(), &scope, None, &sha, "after a short body").await
}

async fn blob_long_body_rejected_without_reading_to_the_end<B: BlobStore>(
    store: Arc<B>,
) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(1_000, 4);
    let sha = ContentHash::of(&data);
    // One byte too many, then a body that never ends: a store must stop at the limit
    // instead of buffering or waiting for an end that an attacker never sends.
    let endless: ByteStream =
        Box::pin(body(&pattern(1_001, 4), 250).chain(futures::stream::pending()));
    let result = tokio::time::timeout(EARLY_REJECT, store.put(&scope, &sha, 1_000, endless))
        .await
        .map_err(|_| CheckFailure("an over-long body was not refused at its limit".into()))?;
    expect_mismatch(result, "body one byte long")?;
    let result = store
        .put(&scope, &sha, 1_000, body(&pattern(5_000, 4), 1_000))
        .await;
    expect_mismatch(result, "body five times too long")?;
    expect_blob(store.as_ref(), &scope, None, &sha, "after long bodies").await
}

async fn blob_failing_body_stores_nothing<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(2_000, 5);
    let sha = ContentHash::of(&data);
    let chunks = vec![
        Ok(Bytes::copy_from_slice(&data[..1_000])),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let result = store
        .put(&scope, &sha, 2_000, Box::pin(futures::stream::iter(chunks)))
        .await;
    ensure!(result.is_err(), "a body that failed midway was accepted");
    expect_blob(store.as_ref(), &scope, None, &sha, "after a failed body").await
}

async fn blob_reupload_keeps_the_existing_blob<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = pattern(4_096, 6);
    let sha = ContentHash::of(&data);
    store.put(&scope, &sha, 4_096, body(&data, 1_000)).await?;
    store.put(&scope, &sha, 4_096, body(&data, 4_096)).await?;
    let forged = pattern(4_096, 7);
    expect_mismatch(
        store.put(&scope, &sha, 4_096, body(&forged, 512)).await,
        "forged re-upload of a stored hash",
    )?;
    expect_blob(
        store.as_ref(),
        &scope,
        Some(&data),
        &sha,
        "after re-uploads",
    )
    .await
}

async fn blob_exists_is_isolated_per_scope<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let owner = random_scope("GameOne")?;
    let other_game = Scope {
        user_id: owner.user_id.clone(),
        game: game("GameTwo"),
    };
    let other_user = random_scope("GameOne")?;
    let data = b"alice's save".to_vec();
    let sha = ContentHash::of(&data);
    store
        .put(&owner, &sha, data.len() as u64, body(&data, 5))
        .await?;
    expect_blob(store.as_ref(), &owner, Some(&data), &sha, "owner").await?;
    expect_blob(
        store.as_ref(),
        &other_game,
        None,
        &sha,
        "same user, other game",
    )
    .await?;
    expect_blob(
        store.as_ref(),
        &other_user,
        None,
        &sha,
        "other user, same game",
    )
    .await
}

async fn blob_concurrent_puts_of_one_blob<B: BlobStore>(store: Arc<B>) -> CheckResult {
    let scope = random_scope("Blobs")?;
    let data = Arc::new(pattern(200_000, 8));
    let sha = ContentHash::of(&data);
    let mut set = JoinSet::new();
    for i in 0..8 {
        let (store, scope, data) = (Arc::clone(&store), scope.clone(), Arc::clone(&data));
        set.spawn(async move {
            store
                .put(
                    &scope,
                    &sha,
                    data.len() as u64,
                    body(&data, 7_000 + i * 1_000),
                )
                .await
        });
    }
    while let Some(joined) = set.join_next().await {
        joined.map_err(|e| CheckFailure(format!("an upload task panicked: {e}")))??;
    }
    expect_blob(
        store.as_ref(),
        &scope,
        Some(&data),
        &sha,
        "after concurrent puts",
    )
    .await
}

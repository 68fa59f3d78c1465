//! The garbage collector: deletes blobs no version refers to once their lease expired
//! (uploads never committed, versions pruned by retention). The protocol that keeps it from
//! deleting a blob a commit is about to use is on [`super::BlobLease`].

use sync_core::protocol::UnixMillis;

use super::{BlobStore, MetadataStore, Scope, StorageResult};

/// Leases looked at per scope in one pass.
pub const LEASES_PER_PASS: usize = 200;
/// Scopes looked at in one server-wide sweep.
pub const SCOPES_PER_SWEEP: usize = 100;

/// Deletes the unreferenced blobs of `scope` whose lease expired before `cutoff`; returns
/// how many blobs were deleted.
pub async fn collect_scope(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    scope: &Scope,
    cutoff: UnixMillis,
) -> StorageResult<usize> {
    let mut deleted = 0;
    for lease in meta.expired_leases(scope, cutoff, LEASES_PER_PASS).await? {
        // A lease already taken over was left by a crash between the two steps.
        if lease.collecting || meta.start_collecting(scope, &lease).await? {
            blobs.delete(scope, &lease.sha256).await?;
            meta.finish_collecting(scope, &lease.sha256).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Collects up to `scopes` games holding expired leases, whichever user's (see
/// [`MetadataStore::scopes_with_expired_leases`]); returns how many blobs were deleted.
pub async fn collect_any(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    cutoff: UnixMillis,
    scopes: usize,
) -> StorageResult<usize> {
    let mut deleted = 0;
    for scope in meta.scopes_with_expired_leases(cutoff, scopes).await? {
        deleted += collect_scope(meta, blobs, &scope, cutoff).await?;
    }
    Ok(deleted)
}

/// One server-wide sweep (the embedded server runs it on a timer): expired leases of up to
/// [`SCOPES_PER_SWEEP`] games, and abandoned temp files. Returns how many blobs went.
pub async fn sweep(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    cutoff: UnixMillis,
) -> StorageResult<usize> {
    let deleted = collect_any(meta, blobs, cutoff, SCOPES_PER_SWEEP).await?;
    blobs.remove_stale_uploads().await?;
    Ok(deleted)
}

//! The sync endpoints of one game: changes, commit, manifest, download URLs.

use std::collections::{BTreeMap, HashSet, btree_map};

use axum::Json;
use axum::extract::State;
use sync_core::ContentHash;
use sync_core::client::ErrorCode;
use sync_core::protocol::{
    BlobRef, ChangesRequest, ChangesResponse, CommitAction, CommitOp, CommitOutcome, CommitRequest,
    CommitResponse, DownloadRequest, DownloadResponse, Entry, ManifestResponse, UploadTarget,
};
use sync_core::savemeta::SaveMeta;

use super::blobs::{download_url, upload_target};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Authed, GamePath};
use super::{ago, expiry};
use crate::app::AppState;
use crate::storage::collect::{collect_any, collect_scope};
use crate::storage::{LeaseRequest, Scope};

fn check_batch(state: &AppState, len: usize, what: &str) -> ApiResult<()> {
    let max = state.config.limits.max_batch_ops;
    if len > max {
        return Err(ApiError::bad_request(
            ErrorCode::BatchTooLarge,
            format!("at most {max} {what} per request, got {len}"),
        ));
    }
    Ok(())
}

fn check_file_size(state: &AppState, size: u64) -> ApiResult<()> {
    let max = state.config.limits.max_file_size;
    if size > max {
        return Err(ApiError::too_large(
            ErrorCode::FileTooLarge,
            format!("a file of {size} bytes is larger than the {max} bytes allowed"),
        ));
    }
    Ok(())
}

/// Save metadata is stored with every version: a cap keeps history rows small.
fn check_meta_size(state: &AppState, op: &CommitOp, meta: Option<&SaveMeta>) -> ApiResult<()> {
    let Some(meta) = meta else {
        return Ok(());
    };
    let max = state.config.limits.max_meta_bytes;
    let len = serde_json::to_vec(meta).map_or(usize::MAX, |json| json.len());
    if len > max {
        return Err(ApiError::too_large(
            ErrorCode::MetaTooLarge,
            format!(
                "the save metadata of {} takes {len} bytes, at most {max} are allowed",
                op.path
            ),
        ));
    }
    Ok(())
}

/// Signed download URLs for the content of non-deleted entries, one per hash.
async fn entry_downloads<'a>(
    state: &AppState,
    scope: &Scope,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> ApiResult<BTreeMap<ContentHash, String>> {
    let now = state.now();
    let mut out = BTreeMap::new();
    for entry in entries.into_iter().filter(|e| !e.deleted) {
        if let btree_map::Entry::Vacant(slot) = out.entry(entry.sha256) {
            slot.insert(download_url(state, scope, entry.sha256, entry.size, now).await?);
        }
    }
    Ok(out)
}

/// Upload targets for the announced blobs, each leased first (see `storage::BlobLease`):
/// bytes not yet stored count against the game's quota until committed or collected, so
/// uploads never committed cannot fill the disk. The scope's expired leases are collected
/// first, which frees that budget.
async fn lease_uploads(
    state: &AppState,
    scope: &Scope,
    announced: &[BlobRef],
) -> ApiResult<Vec<UploadTarget>> {
    if announced.is_empty() {
        return Ok(Vec::new());
    }
    let now = state.now();
    let pending_since = ago(now, state.config.ttls.orphan_grace);
    // This game first (it frees the budget), then one other game: on AWS, where no timer
    // runs, traffic drives the collection of games nobody uses any more.
    let collected = async {
        collect_scope(&*state.meta, &*state.blobs, scope, pending_since).await?;
        collect_any(&*state.meta, &*state.blobs, pending_since, 1).await
    };
    if let Err(e) = collected.await {
        // Collection is housekeeping: the sync goes on, the next pass tries again.
        tracing::warn!("collecting unused blobs failed: {e}");
    }
    let mut requests = Vec::with_capacity(announced.len());
    for blob in announced {
        requests.push(LeaseRequest {
            sha256: blob.sha256,
            size: blob.size,
            stored: state.blobs.exists(scope, &blob.sha256).await?,
        });
    }
    let expires_at = expiry(now, state.config.ttls.upload_url);
    let collecting = state
        .meta
        .lease_blobs(
            scope,
            &requests,
            expires_at,
            state.config.limits.max_game_bytes,
            pending_since,
        )
        .await?;
    let mut targets = Vec::with_capacity(requests.len());
    for r in requests {
        // A blob being collected is uploaded again.
        let stored = r.stored && !collecting.contains(&r.sha256);
        targets.push(upload_target(state, scope, r.sha256, r.size, stored, expires_at).await?);
    }
    Ok(targets)
}

/// `POST /v1/games/{game}/changes`: what changed since the client's cursor, where to fetch it,
/// and where to upload the blobs the client announces.
pub async fn changes(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
    ApiJson(req): ApiJson<ChangesRequest>,
) -> ApiResult<Json<ChangesResponse>> {
    check_batch(&state, req.uploads.len(), "uploads")?;
    for upload in &req.uploads {
        check_file_size(&state, upload.size)?;
    }
    let scope = auth.scope(&game);
    let uploads = lease_uploads(&state, &scope, &req.uploads).await?;
    let (cursor, changes, more) = state
        .meta
        .changes_page(&scope, req.since, state.config.limits.page_entries)
        .await?;
    let downloads = entry_downloads(&state, &scope, &changes).await?;
    Ok(Json(ChangesResponse {
        cursor,
        changes,
        more,
        downloads,
        uploads,
    }))
}

/// `POST /v1/games/{game}/commit`: validates the whole batch (sizes, no path twice, every
/// blob uploaded) before applying anything, then applies each op conditionally. Conflicts
/// carry a download URL for the current content.
pub async fn commit(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
    ApiJson(req): ApiJson<CommitRequest>,
) -> ApiResult<Json<CommitResponse>> {
    check_batch(&state, req.ops.len(), "ops")?;
    let mut seen = HashSet::with_capacity(req.ops.len());
    for op in &req.ops {
        if !seen.insert(&op.path) {
            return Err(ApiError::bad_request(
                ErrorCode::DuplicatePath,
                format!("path {} appears more than once in this commit", op.path),
            ));
        }
    }
    let scope = auth.scope(&game);
    for op in &req.ops {
        if let CommitAction::Put {
            sha256, size, meta, ..
        }
        | CommitAction::Archive {
            sha256, size, meta, ..
        } = &op.action
        {
            check_file_size(&state, *size)?;
            check_meta_size(&state, op, meta.as_ref())?;
            if !state.blobs.exists(&scope, sha256).await? {
                return Err(ApiError::bad_request(
                    ErrorCode::BlobMissing,
                    format!("the content of {} ({sha256}) was not uploaded", op.path),
                ));
            }
        }
    }
    let (cursor, mut results) = state
        .meta
        .commit(
            &scope,
            &auth.device_id,
            &req.ops,
            state.config.limits.quota(),
            state.now(),
        )
        .await?;
    let now = state.now();
    for outcome in &mut results {
        if let CommitOutcome::Conflict {
            current: Some(current),
            download_url: url,
        } = outcome
            && !current.deleted
        {
            *url = Some(download_url(&state, &scope, current.sha256, current.size, now).await?);
        }
    }
    Ok(Json(CommitResponse { cursor, results }))
}

/// `GET /v1/games/{game}/manifest`: every current entry, tombstones included (the first page;
/// `changes` from its cursor gives the rest).
pub async fn manifest(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
) -> ApiResult<Json<ManifestResponse>> {
    let (cursor, entries, more) = state
        .meta
        .changes_page(&auth.scope(&game), None, state.config.limits.page_entries)
        .await?;
    Ok(Json(ManifestResponse {
        cursor,
        entries,
        more,
    }))
}

/// `POST /v1/games/{game}/downloads`: signed URLs for blobs this game holds; others are left out.
pub async fn downloads(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
    ApiJson(req): ApiJson<DownloadRequest>,
) -> ApiResult<Json<DownloadResponse>> {
    check_batch(&state, req.sha256.len(), "hashes")?;
    let scope = auth.scope(&game);
    let now = state.now();
    let mut downloads = BTreeMap::new();
    for sha256 in req.sha256 {
        if downloads.contains_key(&sha256) {
            continue;
        }
        if state.blobs.exists(&scope, &sha256).await? {
            // A GET ticket does not use the size (the stored blob has the one it was
            // verified with), so it is not looked up.
            downloads.insert(sha256, download_url(&state, &scope, sha256, 0, now).await?);
        }
    }
    Ok(Json(DownloadResponse { downloads }))
}

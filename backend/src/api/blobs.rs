//! Blob bytes behind signed URLs: `PUT`/`GET /v1/blobs/{ticket}`. The ticket is the
//! authorization (no bearer token), so the same URLs work from plain HTTP clients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use sync_core::client::ErrorCode;
use sync_core::protocol::{UnixMillis, UploadTarget};
use sync_core::{ContentHash, GameId};

use super::error::{ApiError, ApiResult};
use super::expiry;
use super::tokens::{BlobTicket, TicketMethod, TokenError};
use crate::app::AppState;
use crate::storage::{ByteStream, Scope, StorageError};

/// Where to upload `sha256` for `scope`, leased until `expires_at`: `present` if the store
/// has it (`stored`), else the store's own presigned target, else our signed
/// `PUT /v1/blobs/{ticket}` URL.
pub async fn upload_target(
    state: &AppState,
    scope: &Scope,
    sha256: ContentHash,
    size: u64,
    stored: bool,
    expires_at: UnixMillis,
) -> ApiResult<UploadTarget> {
    if stored {
        return Ok(UploadTarget {
            sha256,
            size,
            present: true,
            url: None,
            method: "PUT".into(),
            headers: Default::default(),
            expires_at,
        });
    }
    if let Some(target) = state
        .blobs
        .presign_upload(scope, &sha256, size, expires_at)
        .await?
    {
        return Ok(target);
    }
    let ticket = state.signer.sign_ticket(&BlobTicket {
        uid: scope.user_id.clone(),
        game: scope.game.as_str().to_owned(),
        sha256,
        size,
        exp: expires_at,
        m: TicketMethod::Put,
    });
    Ok(UploadTarget {
        sha256,
        size,
        present: false,
        url: Some(blob_url(state, &ticket)),
        method: "PUT".into(),
        headers: Default::default(),
        expires_at,
    })
}

/// A download URL for a blob of `scope`: the store's own presigned URL, else our signed
/// `GET /v1/blobs/{ticket}` URL.
pub async fn download_url(
    state: &AppState,
    scope: &Scope,
    sha256: ContentHash,
    size: u64,
    now: UnixMillis,
) -> ApiResult<String> {
    let expires_at = expiry(now, state.config.ttls.download_url);
    if let Some(url) = state
        .blobs
        .presign_download(scope, &sha256, expires_at)
        .await?
    {
        return Ok(url);
    }
    let ticket = state.signer.sign_ticket(&BlobTicket {
        uid: scope.user_id.clone(),
        game: scope.game.as_str().to_owned(),
        sha256,
        size,
        exp: expires_at,
        m: TicketMethod::Get,
    });
    Ok(blob_url(state, &ticket))
}

fn blob_url(state: &AppState, ticket: &str) -> String {
    format!("{}/v1/blobs/{ticket}", state.config.public_url)
}

/// Checks a ticket for `method` and charges its user's request rate.
fn open_ticket(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
    method: TicketMethod,
) -> ApiResult<(BlobTicket, Scope)> {
    let bad_signature =
        || ApiError::forbidden(ErrorCode::BadSignature, "this blob URL is not valid");
    let Path(raw) = path.map_err(|_| bad_signature())?;
    let ticket = state
        .signer
        .verify_ticket(&raw, state.now())
        .map_err(|e| match e {
            TokenError::Expired => ApiError::new(
                StatusCode::GONE,
                ErrorCode::Expired,
                "this blob URL has expired; ask for a new one",
            ),
            TokenError::Malformed | TokenError::BadSignature => bad_signature(),
        })?;
    if ticket.m != method {
        return Err(ApiError::forbidden(
            ErrorCode::WrongMethod,
            "this blob URL does not allow that method",
        ));
    }
    state.limit_user(&ticket.uid)?;
    let game = GameId::new(&ticket.game).map_err(ApiError::internal)?;
    let scope = Scope {
        user_id: ticket.uid.clone(),
        game,
    };
    Ok((ticket, scope))
}

/// How many uploads each user is streaming, so one account cannot take every slot.
#[derive(Debug, Default)]
pub struct UploadsByUser(Mutex<HashMap<String, usize>>);

/// One of a user's upload places; given back on drop (also when the request is cancelled).
struct UserUpload<'a> {
    uploads: &'a UploadsByUser,
    user_id: String,
}

impl UploadsByUser {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for `user_id` if they stream fewer than `cap` uploads now.
    fn take(&self, user_id: &str, cap: usize) -> Option<UserUpload<'_>> {
        let mut counts = self.lock();
        let count = counts.entry(user_id.to_owned()).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(UserUpload {
            uploads: self,
            user_id: user_id.to_owned(),
        })
    }
}

impl Drop for UserUpload<'_> {
    fn drop(&mut self) {
        let mut counts = self.uploads.lock();
        if let Some(count) = counts.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user_id);
            }
        }
    }
}

/// The body's chunks, failing with `TimedOut` (and setting `timed_out`) when one takes
/// longer than `limit` to arrive: a stalled client cannot hold an upload slot forever.
fn with_chunk_timeout(
    body: Body,
    limit: Duration,
    timed_out: Arc<AtomicBool>,
) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures::stream::unfold(Some(body.into_data_stream()), move |body| {
        let timed_out = Arc::clone(&timed_out);
        async move {
            let mut body = body?;
            match tokio::time::timeout(limit, body.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
                Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
                Ok(None) => None,
                Err(_) => {
                    timed_out.store(true, Ordering::Relaxed);
                    let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "body stalled");
                    Some((Err(e), None))
                }
            }
        }
    })
}

/// `PUT /v1/blobs/{ticket}`: streams the body into the blob store, which verifies its size
/// and SHA-256 before publishing it. 400 `size_mismatch` / `hash_mismatch` otherwise.
pub async fn upload(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (ticket, scope) = open_ticket(&state, path, TicketMethod::Put)?;
    let size_mismatch = |got: u64| {
        ApiError::bad_request(
            ErrorCode::SizeMismatch,
            format!("the body has {got} bytes but {} were declared", ticket.size),
        )
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared_length.filter(|l| *l != ticket.size) {
        return Err(size_mismatch(length));
    }
    let limits = &state.config.limits;
    let _place = state
        .uploads_by_user
        .take(&ticket.uid, limits.uploads_per_user)
        .ok_or_else(|| ApiError::rate_limited(1))?;
    // Bodies of waiting uploads stay in the kernel's socket buffers: memory stays bounded
    // however many clients upload at once. The wait is bounded too.
    let _permit = match tokio::time::timeout(limits.upload_wait, state.uploads.acquire()).await {
        Ok(permit) => permit.map_err(ApiError::internal)?,
        Err(_) => return Err(server_busy(limits.upload_wait)),
    };
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let timed_out = Arc::new(AtomicBool::new(false));
    let chunks = with_chunk_timeout(body, limits.body_chunk_timeout, Arc::clone(&timed_out));
    let stream: ByteStream = Box::pin(chunks.map(move |chunk| {
        let chunk = chunk?;
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok(chunk)
    }));
    let stored = state
        .blobs
        .put(&scope, &ticket.sha256, ticket.size, stream)
        .await;
    if timed_out.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BodyTimeout,
            format!(
                "the body paused over {} s; nothing was stored",
                limits.body_chunk_timeout.as_secs()
            ),
        ));
    }
    match stored {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StorageError::Mismatch(detail)) => {
            let got = received.load(Ordering::Relaxed);
            if got != ticket.size {
                Err(size_mismatch(got))
            } else {
                Err(ApiError::bad_request(
                    ErrorCode::HashMismatch,
                    format!("the body does not hash to {}: {detail}", ticket.sha256),
                ))
            }
        }
        Err(other) => Err(other.into()),
    }
}

/// 503 `server_busy`: every upload slot stayed taken for `waited`.
fn server_busy(waited: Duration) -> ApiError {
    ApiError {
        retry_after: Some(waited.as_secs().max(1)),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerBusy,
            "the server is busy with other uploads; retry later",
        )
    }
}

/// `GET /v1/blobs/{ticket}`: streams the blob's bytes.
pub async fn download(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let (ticket, scope) = open_ticket(&state, path, TicketMethod::Get)?;
    let (size, stream) = state
        .blobs
        .get(&scope, &ticket.sha256)
        .await?
        .ok_or_else(|| ApiError::not_found(ErrorCode::BlobNotFound, "this blob is not stored"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

//! Blob bytes behind signed URLs: `PUT`/`GET /v1/blobs/{ticket}`. The ticket is the
//! authorization (no bearer token), so the same URLs work from plain HTTP clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use sync_core::client::ErrorCode;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sync_core::protocol::{UnixMillis, UploadTarget};
use sync_core::{ContentHash, GameId};

use super::error::{ApiError, ApiResult};
use super::expiry;
use super::tokens::{BlobTicket, TicketMethod, TokenError};
use crate::app::AppState;
use crate::storage::{ByteStream, Scope, StorageError};

/// Where to upload `sha256` for `scope`: `present` if the store has it, else the store's own
/// presigned target, else our signed `PUT /v1/blobs/{ticket}` URL.
pub async fn upload_target(
    state: &AppState,
    scope: &Scope,
    sha256: ContentHash,
    size: u64,
    now: UnixMillis,
) -> ApiResult<UploadTarget> {
    let expires_at = expiry(now, state.config.ttls.upload_url);
    if state.blobs.exists(scope, &sha256).await? {
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
    // Bodies of waiting uploads stay in the kernel's socket buffers: memory stays bounded
    // however many clients upload at once.
    let _permit = state.uploads.acquire().await.map_err(ApiError::internal)?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let stream: ByteStream = Box::pin(body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok(chunk)
    }));
    match state
        .blobs
        .put(&scope, &ticket.sha256, ticket.size, stream)
        .await
    {
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

//! Request extractors that turn every bad input into an [`ApiError`] (never axum's plain
//! text rejections): JSON bodies, game ids, bearer tokens, client IPs.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use sync_core::GameId;
use sync_core::client::ErrorCode;

use super::error::ApiError;
use super::ratelimit::retry_after_secs;
use crate::app::AppState;
use crate::storage::Scope;

/// A JSON body parsed into `T`; failures answer 400 (`malformed_json`, `invalid_body`,
/// `invalid_path`, `invalid_hash`), 413 `body_too_large`, 415 `unsupported_media_type`, or
/// 408 `body_timeout` when the whole body takes longer than `--body-chunk-timeout-secs` (a
/// trickled body would otherwise hold its connection forever).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "the body must be JSON with content-type: application/json",
            ));
        }
        let limit = state.config.limits.body_chunk_timeout;
        let read = tokio::time::timeout(limit, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::BodyTimeout,
                    format!("the request body took over {} s", limit.as_secs()),
                )
            })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(ErrorCode::BodyTooLarge, "the request body is too large")
            } else {
                ApiError::bad_request(ErrorCode::InvalidBody, rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses a JSON body, naming the offending field and classifying the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() {
            return malformed(inner);
        }
        let text = inner.to_string();
        // The protocol types' own validators say what is wrong; keep their codes distinct
        // so clients can tell a bad path from a bad hash from a wrong type.
        let code = if text.contains("invalid save path") {
            ErrorCode::InvalidPath
        } else if text.contains("SHA-256") {
            ErrorCode::InvalidHash
        } else {
            ErrorCode::InvalidBody
        };
        ApiError::bad_request(code, format!("{}: {text}", err.path()))
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// The `{game}` path segment, validated.
#[derive(Debug, Clone)]
pub struct GamePath(pub GameId);

impl<S: Send + Sync> FromRequestParts<S> for GamePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bad = || {
            ApiError::bad_request(
                ErrorCode::InvalidGameId,
                "game id must be 1-64 characters of A-Z a-z 0-9 . _ - and not start with '.'",
            )
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad())?;
        GameId::new(&raw).map(GamePath).map_err(|_| bad())
    }
}

/// A signed-in device, from `Authorization: Bearer <access token>` as the configured
/// [`Accounts`](super::accounts::Accounts) verify it; the device must still
/// exist (deleting it revokes its tokens). Counts against the user's request rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authed {
    pub user_id: String,
    pub device_id: String,
}

impl Authed {
    /// The partition of one of this user's games.
    pub fn scope(&self, game: &GameId) -> Scope {
        Scope {
            user_id: self.user_id.clone(),
            game: game.clone(),
        }
    }
}

/// A device's `last_seen_at` is written at most this often (ms).
const TOUCH_EVERY_MS: i64 = 60_000;

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| ApiError::unauthorized("missing bearer access token"))?;
        let now = state.now();
        let owner = state.accounts.verify(state, token.trim(), now).await?;
        // The device first: a signed-out device's token must not spend the budget of the
        // account's devices that are still signed in.
        let device = state
            .meta
            .device(&owner.device_id)
            .await?
            .filter(|d| d.user_id == owner.user_id)
            .ok_or_else(|| ApiError::unauthorized("this device was signed out"))?;
        state.limit_user(&owner.user_id)?;
        if device
            .last_seen_at
            .is_none_or(|seen| now - seen >= TOUCH_EVERY_MS)
        {
            state.meta.touch_device(&device.device_id, now).await?;
        }
        Ok(Self {
            user_id: owner.user_id,
            device_id: owner.device_id,
        })
    }
}

/// The client's IP for rate limits: the connection's peer, or the last `X-Forwarded-For`
/// hop when the server is configured to trust its proxy; `unknown` when neither is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|hop| !hop.is_empty());
            if let Some(hop) = forwarded {
                return Ok(Self(hop.to_owned()));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Self(peer.unwrap_or_else(|| "unknown".to_owned())))
    }
}

impl AppState {
    /// Takes one request from the user's rate budget: 429 with `Retry-After` when empty.
    pub fn limit_user(&self, user_id: &str) -> Result<(), ApiError> {
        self.user_limiter
            .acquire(user_id)
            .map_err(|wait| ApiError::rate_limited(retry_after_secs(wait)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::protocol::CommitRequest;

    fn code_of(raw: &str) -> &'static str {
        parse_json::<CommitRequest>(raw.as_bytes())
            .map(|_| "ok")
            .unwrap_or_else(|e| e.code.as_str())
    }

    #[test]
    fn json_errors_are_classified() {
        assert_eq!(code_of(r#"{"ops":[]}"#), "ok");
        assert_eq!(code_of(r#"{"ops":["#), "malformed_json");
        assert_eq!(code_of(r#"{"ops":[]} trailing"#), "malformed_json");
        assert_eq!(code_of(r#"{"ops":"nope"}"#), "invalid_body");
        assert_eq!(
            code_of(r#"{"ops":[{"path":"../x","expect_version":0,"op":"delete"}]}"#),
            "invalid_path"
        );
        assert_eq!(
            code_of(
                r#"{"ops":[{"path":"a","expect_version":0,"op":"put","sha256":"zz","size":1,"mtime":null}]}"#
            ),
            "invalid_hash"
        );
    }

    #[test]
    fn json_content_types() {
        let v = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("Application/JSON; charset=utf-8"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(None));
    }
}

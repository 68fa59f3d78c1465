//! The remote side of a sync: the `/v1` API calls the engine needs.
//!
//! Implemented over HTTP by each client (`ureq` natively, `fetch` in the browser) and by an
//! in-memory server in tests. The transport owns authentication (tokens and refresh).

use crate::path::{GameId, SavePath};
use crate::protocol::{
    ChangesRequest, ChangesResponse, CommitRequest, CommitResponse, DownloadRequest,
    DownloadResponse, ErrorBody, HistoryResponse, RestoreRequest, RestoreResponse, UploadTarget,
};

/// Why a remote call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
    /// Seconds the server asked us to wait (429 / 503 `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// Could not reach the server, or the connection broke: retry later.
    Offline,
    /// The server did not answer in time: retry later.
    Timeout,
    /// Not signed in, or the session was revoked: the player must sign in again.
    Unauthorized,
    /// Over quota (413) or rate-limited (429).
    Quota,
    /// The server refused the request (4xx) with this error code.
    Rejected { status: u16, code: String },
    /// The server failed (5xx): retry later.
    Server { status: u16 },
    /// Downloaded bytes did not match their hash, or a response could not be parsed.
    Corrupt,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Worth retrying later without the player doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Offline
                | TransportErrorKind::Timeout
                | TransportErrorKind::Server { .. }
                | TransportErrorKind::Corrupt
        ) || self.retry_after.is_some()
    }
}

/// An HTTP answer as a transport received it, before interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// Seconds from a `Retry-After` header.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// A 2xx answer's body, or the [`TransportError`] its status and JSON error body mean.
/// Every client's transport uses this one mapping, so the engine sees the same errors in
/// the browser and on the desktop.
pub fn classify(response: RawResponse) -> Result<Vec<u8>, TransportError> {
    let RawResponse {
        status,
        retry_after,
        body,
    } = response;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let detail = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .map(|b| b.error);
    let message = detail.as_ref().map_or_else(
        || format!("server answered HTTP {status}"),
        |d| format!("{} (HTTP {status})", d.message),
    );
    let kind = match status {
        401 => TransportErrorKind::Unauthorized,
        413 | 429 => TransportErrorKind::Quota,
        500..=599 => TransportErrorKind::Server { status },
        _ => TransportErrorKind::Rejected {
            status,
            code: detail.map_or_else(|| format!("http_{status}"), |d| d.code),
        },
    };
    let mut error = TransportError::new(kind, message);
    error.retry_after = retry_after;
    Err(error)
}

/// The API calls of one signed-in device.
#[allow(
    async_fn_in_trait,
    reason = "no Send bound on purpose: the engine also runs in a browser"
)]
pub trait Transport {
    /// `POST /v1/games/{game}/changes`.
    async fn changes(
        &self,
        game: &GameId,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, TransportError>;
    /// Upload one blob to a target from [`ChangesResponse::uploads`].
    async fn upload(&self, target: &UploadTarget, bytes: &[u8]) -> Result<(), TransportError>;
    /// `POST /v1/games/{game}/commit`.
    async fn commit(
        &self,
        game: &GameId,
        req: &CommitRequest,
    ) -> Result<CommitResponse, TransportError>;
    /// Fetch a blob from a signed download URL.
    async fn download(&self, url: &str) -> Result<Vec<u8>, TransportError>;
    /// `POST /v1/games/{game}/downloads`.
    async fn download_urls(
        &self,
        game: &GameId,
        req: &DownloadRequest,
    ) -> Result<DownloadResponse, TransportError>;
    /// `GET /v1/games/{game}/history?path=...`.
    async fn history(
        &self,
        game: &GameId,
        path: &SavePath,
    ) -> Result<HistoryResponse, TransportError>;
    /// `POST /v1/games/{game}/restore`.
    async fn restore(
        &self,
        game: &GameId,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, TransportError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(
        status: u16,
        body: &str,
        retry_after: Option<u64>,
    ) -> Result<Vec<u8>, TransportError> {
        classify(RawResponse {
            status,
            retry_after,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn statuses_map_to_kinds_with_the_server_code() {
        assert_eq!(answer(204, "", None), Ok(Vec::new()));
        let e = answer(
            400,
            r#"{"error":{"code":"invalid_path","message":"bad path"}}"#,
            None,
        )
        .expect_err("400");
        assert_eq!(
            e.kind,
            TransportErrorKind::Rejected {
                status: 400,
                code: "invalid_path".into()
            }
        );
        assert_eq!(e.message, "bad path (HTTP 400)");
        assert!(!e.is_transient());
        assert_eq!(
            answer(401, "", None).map_err(|e| e.kind),
            Err(TransportErrorKind::Unauthorized)
        );
        let e = answer(429, "", Some(7)).expect_err("429");
        assert_eq!(
            (e.kind.clone(), e.retry_after, e.is_transient()),
            (TransportErrorKind::Quota, Some(7), true)
        );
        let e = answer(503, "not json", None).expect_err("503");
        assert_eq!(e.kind, TransportErrorKind::Server { status: 503 });
        assert!(e.is_transient());
        let e = answer(418, "<html>", None).expect_err("418");
        assert_eq!(
            e.kind,
            TransportErrorKind::Rejected {
                status: 418,
                code: "http_418".into()
            }
        );
    }
}

//! The remote side of a sync: the `/v1` API calls the engine needs.
//!
//! Implemented over HTTP by each client (`ureq` natively, `fetch` in the browser) and by an
//! in-memory server in tests. The transport owns authentication (tokens and refresh).

use crate::path::{GameId, SavePath};
use crate::protocol::{
    ChangesRequest, ChangesResponse, CommitRequest, CommitResponse, DownloadRequest,
    DownloadResponse, HistoryResponse, RestoreRequest, RestoreResponse, UploadTarget,
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

//! The engine's [`Transport`] calls over [`HttpTransport`].

use sync_core::protocol::{
    ChangesRequest, ChangesResponse, CommitOutcome, CommitRequest, CommitResponse, DownloadRequest,
    DownloadResponse, HistoryResponse, RestoreRequest, RestoreResponse, UploadTarget,
};
use sync_core::routes;
use sync_core::transport::{Transport, TransportError, TransportErrorKind};
use sync_core::{ContentHash, GameId, SavePath};

use super::error_map::strip_query;
use super::{Call, HttpTransport, MAX_BLOB_BYTES, MAX_JSON_BYTES, TYPICAL_MAX_SAVE_BYTES};

impl Transport for HttpTransport {
    async fn changes(
        &self,
        game: &GameId,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, TransportError> {
        let path = routes::for_game(routes::CHANGES, game);
        let answer: ChangesResponse = self.json("POST", &path, Some(req), true)?;
        self.remember_downloads(&answer.downloads);
        Ok(answer)
    }

    async fn upload(&self, target: &UploadTarget, bytes: &[u8]) -> Result<(), TransportError> {
        if target.present {
            return Ok(());
        }
        let Some(url) = &target.url else {
            return Err(TransportError::new(
                TransportErrorKind::Corrupt,
                format!("upload target for {} has no URL", target.sha256),
            ));
        };
        let url = self.resolve_url(url);
        // ureq sets Content-Length from the body itself; a second one would be invalid.
        let mut headers: Vec<(String, String)> = target
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/octet-stream".into()));
        }
        let call = Call {
            method: &target.method,
            auth: self.is_own_url(&url),
            url,
            headers,
            body: Some(bytes),
            timeout: self.transfer_timeout(bytes.len() as u64),
            limit: MAX_JSON_BYTES,
        };
        self.execute(&call).map(|_| ())
    }

    async fn commit(
        &self,
        game: &GameId,
        req: &CommitRequest,
    ) -> Result<CommitResponse, TransportError> {
        let path = routes::for_game(routes::COMMIT, game);
        let answer: CommitResponse = self.json("POST", &path, Some(req), true)?;
        for outcome in &answer.results {
            if let CommitOutcome::Conflict {
                current: Some(entry),
                download_url: Some(url),
            } = outcome
            {
                self.remember_downloads([(&entry.sha256, url)]);
            }
        }
        Ok(answer)
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TransportError> {
        let absolute = self.resolve_url(url);
        let call = Call {
            method: "GET",
            auth: self.is_own_url(&absolute),
            url: absolute.clone(),
            headers: Vec::new(),
            body: None,
            // The size is unknown up front: allow a large save at the minimum rate; the
            // stall timeout still catches a server that stops sending.
            timeout: self.transfer_timeout(TYPICAL_MAX_SAVE_BYTES),
            limit: MAX_BLOB_BYTES,
        };
        let bytes = self.execute(&call)?;
        let expected = self.expected.borrow().get(url).copied();
        if let Some(want) = expected {
            let got = ContentHash::of(&bytes);
            if got != want {
                return Err(TransportError::new(
                    TransportErrorKind::Corrupt,
                    format!(
                        "download from {} has SHA-256 {got}, expected {want}",
                        strip_query(&absolute)
                    ),
                ));
            }
        }
        Ok(bytes)
    }

    async fn download_urls(
        &self,
        game: &GameId,
        req: &DownloadRequest,
    ) -> Result<DownloadResponse, TransportError> {
        let path = routes::for_game(routes::DOWNLOADS, game);
        let answer: DownloadResponse = self.json("POST", &path, Some(req), true)?;
        self.remember_downloads(&answer.downloads);
        Ok(answer)
    }

    async fn history(
        &self,
        game: &GameId,
        path: &SavePath,
    ) -> Result<HistoryResponse, TransportError> {
        let url = format!(
            "{}?path={}",
            routes::for_game(routes::HISTORY, game),
            percent_encode(path.as_str())
        );
        self.json::<(), _>("GET", &url, None, true)
    }

    async fn restore(
        &self,
        game: &GameId,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, TransportError> {
        let path = routes::for_game(routes::RESTORE, game);
        self.json("POST", &path, Some(req), true)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a query value).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

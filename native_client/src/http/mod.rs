//! [`HttpTransport`]: the `/v1` API over blocking `ureq` (rustls).
//!
//! Owns the device's session: it sends the access token, refreshes it once when the server
//! answers 401 (or before, when it is known to be expired), and tells a listener about new
//! tokens so they are persisted at once (refresh tokens rotate: a lost one signs us out).

mod account;
mod error_map;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sync_core::protocol::{
    ChangesRequest, ChangesResponse, CommitOutcome, CommitRequest, CommitResponse, DownloadRequest,
    DownloadResponse, HistoryResponse, RestoreRequest, RestoreResponse, UploadTarget,
};
use sync_core::transport::{Transport, TransportError, TransportErrorKind};
use sync_core::{ContentHash, GameId, SavePath};

use crate::profile::normalize_server;
use crate::session::Session;
use error_map::{RawResponse, classify, corrupt, from_ureq, parse_retry_after, strip_query};

/// Time limits of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (DNS, TCP, TLS).
    pub connect: Duration,
    /// Longest wait for any single read or write: a server that goes silent this long is
    /// treated as timed out, whatever the transfer size.
    pub stall: Duration,
    /// A whole API call (request and answer).
    pub request: Duration,
    /// Blob transfers get `request` plus their size at this many bytes per second.
    pub min_bytes_per_sec: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            stall: Duration::from_secs(30),
            request: Duration::from_secs(60),
            min_bytes_per_sec: 32 * 1024,
        }
    }
}

/// Largest JSON answer accepted (a big game's whole manifest fits easily).
const MAX_JSON_BYTES: u64 = 64 << 20;
/// Download time budget is sized for a file this big (larger ones need a faster link).
const TYPICAL_MAX_SAVE_BYTES: u64 = 64 << 20;
/// Largest blob accepted from a download.
const MAX_BLOB_BYTES: u64 = 1 << 30;

/// Called with the new session whenever tokens change (sign-in, refresh).
pub type SessionListener = Box<dyn Fn(&Session)>;

/// Why a server URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server URL must start with http:// or https://, got {0:?}")]
pub struct BadServerUrl(pub String);

/// The `/v1` API of one server, for one device.
pub struct HttpTransport {
    /// Normalized base URL (no trailing `/`); API paths and relative targets join onto it.
    server: String,
    agent: ureq::Agent,
    timeouts: Timeouts,
    session: RefCell<Option<Session>>,
    listener: Option<SessionListener>,
    requests: Cell<u32>,
    /// Content hash expected behind each download URL the server handed out, so that a
    /// download is verified before anyone can write it.
    expected: RefCell<HashMap<String, ContentHash>>,
}

impl HttpTransport {
    /// A transport to `server` (e.g. `https://saves.example.com`), not signed in.
    pub fn new(server: &str, timeouts: Timeouts) -> Result<Self, BadServerUrl> {
        let server = normalize_server(server);
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(BadServerUrl(server));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeouts.connect))
            .timeout_per_read(Some(timeouts.stall))
            .timeout_per_write(Some(timeouts.stall))
            .user_agent(concat!("renpy-cloud/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            server,
            agent: config.into(),
            timeouts,
            session: RefCell::new(None),
            listener: None,
            requests: Cell::new(0),
            expected: RefCell::new(HashMap::new()),
        })
    }

    /// Uses this signed-in session for authenticated calls.
    pub fn with_session(self, session: Option<Session>) -> Self {
        self.session.replace(session);
        self
    }

    /// Registers the callback that persists new tokens.
    pub fn with_session_listener(mut self, listener: SessionListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// The normalized server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The current session (with any refreshed tokens).
    pub fn session(&self) -> Option<Session> {
        self.session.borrow().clone()
    }

    /// HTTP requests sent so far (retries and refreshes included).
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    /// An absolute URL for a server-relative one (`/v1/...` joins onto the server URL,
    /// including any path prefix it has); absolute URLs are kept.
    pub fn resolve_url(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else if url.starts_with('/') {
            format!("{}{url}", self.server)
        } else {
            format!("{}/{url}", self.server)
        }
    }

    /// Our own server gets the bearer token; a storage service's signed URL must not.
    fn is_own_url(&self, absolute: &str) -> bool {
        absolute
            .strip_prefix(&self.server)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    fn set_session(&self, session: Session) {
        if let Some(listener) = &self.listener {
            listener(&session);
        }
        self.session.replace(Some(session));
    }

    /// Sends one request, refreshing the session first if it is known to be expired and
    /// once more after a 401. Returns the body of a 2xx answer.
    fn execute(&self, call: &Call<'_>) -> Result<Vec<u8>, TransportError> {
        let authenticated = call.auth && self.session.borrow().is_some();
        let expired = self
            .session
            .borrow()
            .as_ref()
            .is_some_and(Session::access_expired);
        if authenticated && expired {
            self.refresh_session()?;
        }
        let first = self.send_once(call)?;
        if first.status == 401 && authenticated {
            self.refresh_session()?;
            return classify(self.send_once(call)?);
        }
        classify(first)
    }

    /// One HTTP exchange; transport-level failures are errors, any status is an answer.
    fn send_once(&self, call: &Call<'_>) -> Result<RawResponse, TransportError> {
        self.requests.set(self.requests.get().saturating_add(1));
        let mut builder = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        for (name, value) in &call.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if call.auth
            && let Some(session) = self.session.borrow().as_ref()
        {
            builder = builder.header("authorization", format!("Bearer {}", session.access_token));
        }
        let request = builder
            .body(call.body.unwrap_or_default())
            .map_err(|e| corrupt("invalid request", &call.url, e))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(call.timeout))
            .build();
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| from_ureq(e, &call.url))?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
        );
        let body = response
            .body_mut()
            .with_config()
            .limit(call.limit)
            .read_to_vec()
            .map_err(|e| from_ureq(e, &call.url))?;
        Ok(RawResponse {
            status,
            retry_after,
            body,
        })
    }

    /// A JSON call to an API path (`/v1/...`).
    fn json<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Req>,
        auth: bool,
    ) -> Result<Resp, TransportError> {
        let url = self.resolve_url(path);
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| corrupt("request", &url, e))?),
            None => None,
        };
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        if bytes.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let call = Call {
            method,
            url: url.clone(),
            headers,
            body: bytes.as_deref(),
            auth,
            timeout: self.timeouts.request,
            limit: MAX_JSON_BYTES,
        };
        let answer = self.execute(&call)?;
        serde_json::from_slice(&answer).map_err(|e| corrupt("unexpected answer", &url, e))
    }

    fn remember_downloads<'a>(
        &self,
        urls: impl IntoIterator<Item = (&'a ContentHash, &'a String)>,
    ) {
        let mut expected = self.expected.borrow_mut();
        for (hash, url) in urls {
            expected.insert(url.clone(), *hash);
        }
    }

    fn transfer_timeout(&self, size: u64) -> Duration {
        let seconds = size / self.timeouts.min_bytes_per_sec.max(1);
        self.timeouts.request + Duration::from_secs(seconds)
    }
}

/// One request to send.
struct Call<'a> {
    method: &'a str,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<&'a [u8]>,
    auth: bool,
    timeout: Duration,
    limit: u64,
}

impl Transport for HttpTransport {
    async fn changes(
        &self,
        game: &GameId,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, TransportError> {
        let path = format!("/v1/games/{game}/changes");
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
        let path = format!("/v1/games/{game}/commit");
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
        let path = format!("/v1/games/{game}/downloads");
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
            "/v1/games/{game}/history?path={}",
            percent_encode(path.as_str())
        );
        self.json::<(), _>("GET", &url, None, true)
    }

    async fn restore(
        &self,
        game: &GameId,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, TransportError> {
        let path = format!("/v1/games/{game}/restore");
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

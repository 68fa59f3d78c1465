//! [`HttpTransport`]: the `/v1` API over blocking `ureq` (rustls).
//!
//! Owns the device's session: it sends the access token, refreshes it once when the server
//! answers 401 (or before, when it is known to be expired), and tells a listener about new
//! tokens so they are persisted at once (refresh tokens rotate: a lost one signs us out).

mod account;
mod api;
mod error_map;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sync_core::ContentHash;
use sync_core::transport::TransportError;

use crate::profile::normalize_server;
use crate::session::Session;
use error_map::{RawResponse, classify, corrupt, from_ureq, parse_retry_after};

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
    /// Set on the first HTTP answer (any status), shared with whoever asked for it.
    answered: Option<Arc<AtomicBool>>,
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
            answered: None,
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

    /// Sets `flag` when the server first answers (a game starting up waits for a pull
    /// only from a server that answers; the flag outlives this transport).
    pub fn with_answer_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.answered = Some(flag);
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
            .is_some_and(crate::session::access_expired);
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
        if let Some(flag) = &self.answered {
            flag.store(true, Ordering::Relaxed);
        }
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

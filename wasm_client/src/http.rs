//! [`FetchTransport`]: the `/v1` API over the browser's `fetch`.
//!
//! Owns the session: sends the access token to our own server (never to a storage
//! service's signed URL), refreshes it once on a 401 and persists new tokens at once
//! (refresh tokens rotate). Another tab of the same game may have rotated them first, so a
//! refresh first re-reads the stored session and adopts newer tokens.

mod errors;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sync_core::protocol::{
    ChangesRequest, ChangesResponse, CommitRequest, CommitResponse, DownloadRequest,
    DownloadResponse, HistoryResponse, RefreshRequest, RestoreRequest, RestoreResponse,
    TokenResponse, UploadTarget,
};
use sync_core::routes;
use sync_core::transport::{Transport, TransportError, TransportErrorKind};
use sync_core::{GameId, SavePath};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::js;
use crate::statedb::ClientDb;
pub use errors::classify;

/// Longest wait for an API call.
const API_TIMEOUT_MS: u32 = 60_000;
/// Blob transfers also get this much time per byte (32 KiB/s minimum speed).
const BLOB_MS_PER_KIB: u64 = 32;
/// `fetch(..., {keepalive: true})` allows about 64 KiB of bodies in flight per page;
/// larger requests go without it.
pub const KEEPALIVE_MAX_BODY: usize = 60 * 1024;

/// A signed-in device's tokens, persisted per server and game (the core's session and its
/// refresh-before-expiry rule).
pub use sync_core::client::session::Session;

/// Now on this browser's clock, Unix ms.
pub fn now_millis() -> i64 {
    crate::js::now_ms() as i64
}

/// The `/v1` API of one server for one game's client; cheap to clone.
#[derive(Clone)]
pub struct FetchTransport {
    inner: Rc<Inner>,
}

struct Inner {
    /// Base URL without a trailing `/`.
    server: String,
    session: RefCell<Option<Session>>,
    db: ClientDb,
    session_key: String,
    keepalive: Cell<bool>,
}

pub use sync_core::transport::RawResponse;

impl FetchTransport {
    /// A transport for `server`, with the session stored under `session_key` (if any).
    pub async fn open(server: &str, db: ClientDb, session_key: String) -> Result<Self, String> {
        let server = server.trim_end_matches('/').to_owned();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(format!(
                "server URL must start with http:// or https://, got {server:?}"
            ));
        }
        let session = load_session(&db, &session_key).await?;
        Ok(Self {
            inner: Rc::new(Inner {
                server,
                session: RefCell::new(session),
                db,
                session_key,
                keepalive: Cell::new(false),
            }),
        })
    }

    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The current session, if signed in.
    pub fn session(&self) -> Option<Session> {
        self.inner.session.borrow().clone()
    }

    /// Requests small enough are sent with `keepalive`, so they complete even if the tab
    /// closes meanwhile (used for the flush when the page is hidden).
    pub fn set_keepalive(&self, on: bool) {
        self.inner.keepalive.set(on);
    }

    /// Adopts and persists a new session (`None`: signed out).
    pub async fn set_session(&self, session: Option<Session>) -> Result<(), String> {
        match &session {
            Some(s) => {
                let json = serde_json::to_string(s).map_err(|e| e.to_string())?;
                self.inner.db.put(&self.inner.session_key, &json).await?;
            }
            None => self.inner.db.delete(&self.inner.session_key).await?,
        }
        self.inner.session.replace(session);
        Ok(())
    }

    /// An absolute URL for a server-relative one.
    pub fn resolve_url(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else if url.starts_with('/') {
            format!("{}{url}", self.inner.server)
        } else {
            format!("{}/{url}", self.inner.server)
        }
    }

    fn is_own_url(&self, absolute: &str) -> bool {
        absolute
            .strip_prefix(&self.inner.server)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    /// One exchange, no auth handling.
    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        timeout_ms: u32,
    ) -> Result<RawResponse, TransportError> {
        let list = js_sys::Array::new();
        for (k, v) in headers {
            list.push(&js_sys::Array::of2(
                &JsValue::from_str(k),
                &JsValue::from_str(v),
            ));
        }
        let body_js = body.map_or(JsValue::UNDEFINED, |b| js_sys::Uint8Array::from(b).into());
        let keepalive =
            self.inner.keepalive.get() && body.map_or(0, <[u8]>::len) <= KEEPALIVE_MAX_BODY;
        let promise = js::http_fetch(url, method, &list, &body_js, keepalive, timeout_ms);
        let answer = JsFuture::from(promise)
            .await
            .map_err(|e| errors::from_fetch_error(&e, url))?;
        let status = js::get(&answer, "status").as_f64().unwrap_or(0.0) as u16;
        let retry_after = js::get(&answer, "retryAfter")
            .as_string()
            .and_then(|v| v.trim().parse().ok());
        let body = js_sys::Uint8Array::new(&js::get(&answer, "body")).to_vec();
        Ok(RawResponse {
            status,
            retry_after,
            body,
        })
    }

    /// An authenticated call to our server, refreshing the token once on 401.
    async fn authed(
        &self,
        method: &str,
        path: &str,
        json: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, TransportError> {
        let url = self.resolve_url(path);
        // Before the token runs out rather than after a 401 (which costs a round trip).
        let mut refreshed = false;
        if let Some(s) = self.session()
            && s.access_expired(now_millis())
        {
            refreshed = true;
            if !self.refresh(&s.access_token).await? {
                return Err(TransportError::new(
                    TransportErrorKind::Unauthorized,
                    "signed out: the session was revoked",
                ));
            }
        }
        loop {
            let token = self.session().map(|s| s.access_token).ok_or_else(|| {
                TransportError::new(TransportErrorKind::Unauthorized, "not signed in")
            })?;
            let mut headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
            if json.is_some() {
                headers.push(("content-type".into(), "application/json".into()));
            }
            let raw = self
                .send(method, &url, &headers, json.as_deref(), timeout_ms)
                .await?;
            if raw.status == 401 && !refreshed {
                refreshed = true;
                if self.refresh(&token).await? {
                    continue;
                }
            }
            return classify(raw);
        }
    }

    /// Gets a new access token; `false` when the session is gone (signed out).
    async fn refresh(&self, rejected_access: &str) -> Result<bool, TransportError> {
        // Another tab may already have rotated the tokens: adopt its session.
        let stored = load_session(&self.inner.db, &self.inner.session_key)
            .await
            .map_err(|e| TransportError::new(TransportErrorKind::Corrupt, e))?;
        if stored
            .as_ref()
            .is_some_and(|s| s.access_token != rejected_access)
        {
            self.inner.session.replace(stored);
            return Ok(true);
        }
        let Some(current) = self.session() else {
            return Ok(false);
        };
        let body = to_json(&RefreshRequest {
            refresh_token: current.refresh_token,
        });
        let raw = self
            .send(
                "POST",
                &self.resolve_url(routes::REFRESH),
                &[("content-type".into(), "application/json".into())],
                Some(&body),
                API_TIMEOUT_MS,
            )
            .await?;
        if raw.status == 401 {
            // The refresh token was revoked: this device is signed out.
            let _ = self.set_session(None).await;
            return Ok(false);
        }
        let tokens: TokenResponse = parse(&classify(raw)?, "refresh")?;
        self.set_session(Some(Session::from_tokens(tokens, now_millis())))
            .await
            .map_err(|e| TransportError::new(TransportErrorKind::Corrupt, e))?;
        Ok(true)
    }

    /// `POST` without a session (sign-up, login, pairing claim); the answer as `R`.
    pub async fn post_anonymous<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, TransportError> {
        let raw = self
            .send(
                "POST",
                &self.resolve_url(path),
                &[("content-type".into(), "application/json".into())],
                Some(&to_json(body)),
                API_TIMEOUT_MS,
            )
            .await?;
        parse(&classify(raw)?, path)
    }

    /// An authenticated JSON call; the answer as `R`.
    pub async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, TransportError> {
        let bytes = self
            .authed(method, path, body.map(to_json), API_TIMEOUT_MS)
            .await?;
        parse(&bytes, path)
    }

    /// An authenticated call whose answer body is ignored.
    pub async fn call_empty<B: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), TransportError> {
        self.authed(method, path, body.map(to_json), API_TIMEOUT_MS)
            .await
            .map(drop)
    }

    fn blob_timeout(size: usize) -> u32 {
        let extra = (size as u64 / 1024).saturating_mul(BLOB_MS_PER_KIB);
        u32::try_from(u64::from(API_TIMEOUT_MS).saturating_add(extra)).unwrap_or(u32::MAX)
    }

    /// A blob URL: our own server's get the bearer token, others (signed) do not.
    async fn blob(
        &self,
        method: &str,
        url: &str,
        extra_headers: &[(String, String)],
        body: Option<&[u8]>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, TransportError> {
        let absolute = self.resolve_url(url);
        if self.is_own_url(&absolute) && self.session().is_some() {
            let raw = self
                .send(
                    method,
                    &absolute,
                    &self.with_auth(extra_headers),
                    body,
                    timeout_ms,
                )
                .await?;
            if raw.status != 401 {
                return classify(raw);
            }
            let token = self.session().map(|s| s.access_token).unwrap_or_default();
            if !self.refresh(&token).await? {
                return classify(raw);
            }
            let raw = self
                .send(
                    method,
                    &absolute,
                    &self.with_auth(extra_headers),
                    body,
                    timeout_ms,
                )
                .await?;
            return classify(raw);
        }
        classify(
            self.send(method, &absolute, extra_headers, body, timeout_ms)
                .await?,
        )
    }

    fn with_auth(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        let mut all = headers.to_vec();
        if let Some(s) = self.session() {
            all.push(("authorization".into(), format!("Bearer {}", s.access_token)));
        }
        all
    }
}

async fn load_session(db: &ClientDb, key: &str) -> Result<Option<Session>, String> {
    Ok(db.get(key).await?.and_then(|json| {
        serde_json::from_str(&json).ok().or_else(|| {
            // Stored by an older client as the server's token answer: keep the device
            // signed in; its unknown expiry makes the next call refresh first.
            serde_json::from_str::<TokenResponse>(&json)
                .ok()
                .map(|t| Session::from_tokens(t, 0))
        })
    }))
}

fn to_json<B: Serialize>(body: &B) -> Vec<u8> {
    // Our request types are plain data: serializing cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

fn parse<R: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<R, TransportError> {
    serde_json::from_slice(bytes).map_err(|e| {
        TransportError::new(
            TransportErrorKind::Corrupt,
            format!("unexpected answer to {what}: {e}"),
        )
    })
}

impl Transport for FetchTransport {
    async fn changes(
        &self,
        game: &GameId,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, TransportError> {
        self.call("POST", &routes::for_game(routes::CHANGES, game), Some(req))
            .await
    }

    async fn upload(&self, target: &UploadTarget, bytes: &[u8]) -> Result<(), TransportError> {
        let url = target.url.as_deref().ok_or_else(|| {
            TransportError::new(TransportErrorKind::Corrupt, "upload target without a URL")
        })?;
        let mut headers: Vec<(String, String)> = target
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/octet-stream".into()));
        }
        let timeout = Self::blob_timeout(bytes.len());
        self.blob(&target.method, url, &headers, Some(bytes), timeout)
            .await
            .map(drop)
    }

    async fn commit(
        &self,
        game: &GameId,
        req: &CommitRequest,
    ) -> Result<CommitResponse, TransportError> {
        self.call("POST", &routes::for_game(routes::COMMIT, game), Some(req))
            .await
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TransportError> {
        // The size is unknown here; allow a generous typical-save budget (64 MiB).
        self.blob("GET", url, &[], None, Self::blob_timeout(64 << 20))
            .await
    }

    async fn download_urls(
        &self,
        game: &GameId,
        req: &DownloadRequest,
    ) -> Result<DownloadResponse, TransportError> {
        self.call(
            "POST",
            &routes::for_game(routes::DOWNLOADS, game),
            Some(req),
        )
        .await
    }

    async fn history(
        &self,
        game: &GameId,
        path: &SavePath,
    ) -> Result<HistoryResponse, TransportError> {
        let url = format!(
            "{}?path={}",
            routes::for_game(routes::HISTORY, game),
            js_sys::encode_uri_component(path.as_str())
        );
        self.call::<(), _>("GET", &url, None).await
    }

    async fn restore(
        &self,
        game: &GameId,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, TransportError> {
        self.call("POST", &routes::for_game(routes::RESTORE, game), Some(req))
            .await
    }
}

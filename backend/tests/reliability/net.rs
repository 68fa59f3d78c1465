//! A client that survives the server going away: every exchange returns `Err` on a transport
//! error instead of panicking, and URLs follow the server to whatever port it restarted on.

use std::io::Read;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::Agent;

/// A status and a body; the transport worked.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, or a description of why it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "{e}: status {} body {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error.code` of a JSON error body, if it is one.
    pub fn error_code(&self) -> Option<String> {
        serde_json::from_slice::<sync_core::protocol::ErrorBody>(&self.body)
            .ok()
            .map(|b| b.error.code)
    }

    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let shown: String = body.chars().take(300).collect();
        format!("{} {shown}", self.status)
    }
}

/// The connection failed, was refused or reset (the server is down or was killed).
#[derive(Debug)]
pub struct Down(pub String);

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no answer: {}", self.0)
    }
}

/// Where the server is now: the main thread updates it after each restart.
pub type Base = Arc<RwLock<String>>;

#[derive(Clone)]
pub struct Net {
    agent: Agent,
    base: Base,
    token: Option<String>,
}

impl Net {
    pub fn new(base: Base, timeout: Duration) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self {
            agent,
            base,
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// `path`, or the path part of an absolute URL the server handed out (upload and download
    /// URLs name the port of the server that signed them), on the current server.
    pub fn url(&self, path_or_url: &str) -> String {
        let path = if path_or_url.starts_with("http") {
            path_or_url
                .find("/v1/")
                .map_or(path_or_url, |at| &path_or_url[at..])
        } else {
            path_or_url
        };
        let base = self
            .base
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        format!("{base}{path}")
    }

    fn finish(
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, Down> {
        let mut response = result.map_err(|e| Down(e.to_string()))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .map_err(|e| Down(format!("reading the body: {e}")))?;
        Ok(Answer { status, body })
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> Result<Answer, Down> {
        Self::finish(self.auth(self.agent.get(self.url(path))).call())
    }

    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Answer, Down> {
        Self::finish(self.auth(self.agent.post(self.url(path))).send_json(body))
    }

    /// POST a raw body (already serialised JSON, possibly huge).
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Answer, Down> {
        Self::finish(
            self.auth(self.agent.post(self.url(path)))
                .content_type(content_type)
                .send(body),
        )
    }

    /// PUT `bytes` to an upload URL with the headers its target requires.
    pub fn put_blob(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        bytes: &[u8],
    ) -> Result<Answer, Down> {
        let mut req = self
            .agent
            .put(self.url(url))
            .content_type("application/octet-stream");
        for (name, value) in headers {
            req = req.header(name, value);
        }
        Self::finish(req.send(bytes))
    }
}

/// A small deterministic generator (xorshift64*), so a failing run can be replayed by seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..high` (`high > low`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low).max(1)
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

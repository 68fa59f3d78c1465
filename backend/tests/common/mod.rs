//! Test harness: the real server binary on 127.0.0.1 and a blocking client.
//!
//! By default the server is `renpy-cloud-server` (embedded store, the API's own accounts).
//! With `RENPY_CLOUD_TEST_BACKEND=aws` (tests built with `--features aws`) it is
//! `renpy-cloud-lambda` outside Lambda: the same router on DynamoDB + S3 + Cognito, all on a
//! moto server of its own, with a fresh table, bucket and user pool per server.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

pub mod inproc;
pub mod moto;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sync_core::ContentHash;
use sync_core::SavePath;
use sync_core::protocol::{
    BlobRef, ChangesRequest, ChangesResponse, CommitAction, CommitOp, CommitRequest,
    CommitResponse, ManifestResponse, TokenResponse, UploadTarget,
};
use ureq::Agent;

/// Env var choosing the backend the suite runs against: `aws`, or the embedded one.
pub const BACKEND_ENV: &str = "RENPY_CLOUD_TEST_BACKEND";

/// Whether this run targets the AWS backend (see the module docs).
pub fn on_aws() -> bool {
    std::env::var(BACKEND_ENV).is_ok_and(|v| v == "aws")
}

/// Returns from the calling test on the AWS backend, saying why it does not apply there.
#[macro_export]
macro_rules! skip_on_aws {
    ($why:expr) => {
        if $crate::common::on_aws() {
            eprintln!("skipped on the AWS backend: {}", $why);
            return;
        }
    };
}

/// A running server process with its own temporary data dir; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    /// The AWS backend's emulator (dropped after the server: fields drop in order).
    moto: Option<moto::MotoProcess>,
}

/// The AWS backend's binary; the suite must be built with `--features aws` to run on it.
#[cfg(feature = "aws")]
fn lambda_binary() -> &'static str {
    env!("CARGO_BIN_EXE_renpy-cloud-lambda")
}

#[cfg(not(feature = "aws"))]
fn lambda_binary() -> &'static str {
    panic!("{BACKEND_ENV}=aws needs the tests built with `--features aws`")
}

/// `renpy-cloud-lambda` on `moto`, configured as in Lambda but with fresh resources.
fn aws_command(moto: &moto::MotoProcess) -> Command {
    let mut command = Command::new(lambda_binary());
    command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RENPY_CLOUD_AWS_ENDPOINT", &moto.endpoint)
        .env("RENPY_CLOUD_TABLE", "api")
        .env("RENPY_CLOUD_BUCKET", "api-saves")
        // Replaced by the pool the fresh start creates.
        .env("RENPY_CLOUD_USER_POOL_ID", "us-east-1_placeholder")
        .env("RENPY_CLOUD_CLIENT_ID", "placeholder")
        .env("RENPY_CLOUD_SECRET", "http-suite-secret-http-suite-secret")
        // moto does not check S3 checksums; the store re-hashes uploads itself.
        .env("RENPY_CLOUD_VERIFY_UPLOADS", "1")
        .env("RENPY_CLOUD_CREATE_RESOURCES", "fresh");
    command
}

impl Server {
    /// Starts the binary on a free loopback port with `extra` flags.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp data dir"), extra)
    }

    /// Stops this server and starts a new one on the same data dir (on another port).
    /// Embedded backend only (the AWS one starts with fresh resources).
    pub fn restart(mut self, extra: &[&str]) -> Self {
        assert!(!on_aws(), "restart is for the embedded backend");
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = tempfile::tempdir().expect("placeholder dir");
        let data_dir = std::mem::replace(&mut self.data_dir, data_dir);
        Self::start_in(data_dir, extra)
    }

    fn start_in(data_dir: tempfile::TempDir, extra: &[&str]) -> Self {
        let moto = on_aws().then(moto::MotoProcess::start);
        let mut command = match &moto {
            Some(moto) => aws_command(moto),
            None => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_renpy-cloud-server"));
                command.env_remove("RENPY_CLOUD_SECRET");
                command
            }
        };
        let mut child = command
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start renpy-cloud-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's first line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            base,
            data_dir,
            moto,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (after a signal), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished HTTP exchange.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn value(&self) -> Value {
        self.json()
    }

    /// The `error.code` of a JSON error body (panics if the body is not one).
    pub fn error_code(&self) -> String {
        let body: sync_core::protocol::ErrorBody = self.json();
        assert!(!body.error.message.is_empty(), "error message is empty");
        body.error.code
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts a status and an error code, with the body in the failure message.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json")
        );
    }

    /// Asserts a 2xx status: the API answers uploads 204, S3 answers them 200.
    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        assert!(
            (200..300).contains(&self.status),
            "status {} body: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

/// A blocking HTTP client, optionally signed in.
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut response = result.expect("HTTP exchange");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .expect("read body");
        Resp {
            status,
            headers,
            body,
        }
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        Self::finish(self.auth(self.agent.get(self.url(path))).call())
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.auth(self.agent.get(self.url(path)));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::finish(req.call())
    }

    pub fn delete(&self, path: &str) -> Resp {
        Self::finish(self.auth(self.agent.delete(self.url(path))).call())
    }

    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Resp {
        Self::finish(self.auth(self.agent.post(self.url(path))).send_json(body))
    }

    /// POST JSON with extra headers.
    pub fn post_with<T: Serialize>(&self, path: &str, headers: &[(&str, &str)], body: &T) -> Resp {
        let mut req = self.auth(self.agent.post(self.url(path)));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::finish(req.send_json(body))
    }

    /// POST with a raw body and content type (for malformed input).
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        Self::finish(
            self.auth(self.agent.post(self.url(path)))
                .content_type(content_type)
                .send(body),
        )
    }

    /// OPTIONS (CORS preflight).
    pub fn options(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.options(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::finish(req.call())
    }

    pub fn put_json<T: Serialize>(&self, path: &str, body: &T) -> Resp {
        Self::finish(self.auth(self.agent.put(self.url(path))).send_json(body))
    }

    /// PUT bytes with a content length.
    pub fn put_bytes(&self, url: &str, bytes: &[u8]) -> Resp {
        Self::finish(
            self.agent
                .put(self.url(url))
                .content_type("application/octet-stream")
                .send(bytes),
        )
    }

    /// PUT bytes with chunked transfer encoding (no content length).
    pub fn put_chunked(&self, url: &str, bytes: &[u8]) -> Resp {
        let mut reader = bytes;
        Self::finish(
            self.agent
                .put(self.url(url))
                .content_type("application/octet-stream")
                .send(ureq::SendBody::from_reader(&mut reader)),
        )
    }

    // ---- protocol helpers ----

    /// Signs up `username` (password `correct horse`), returns the signed-in client.
    pub fn signup(&self, username: &str) -> (Client, TokenResponse) {
        let resp = self.post(
            "/v1/auth/signup",
            &json!({"username": username, "password": "correct horse", "device_name": "laptop"}),
        );
        resp.expect_status(201);
        let tokens: TokenResponse = resp.json();
        (self.with_token(&tokens.access_token), tokens)
    }

    pub fn login(&self, username: &str, password: &str) -> Resp {
        self.post(
            "/v1/auth/login",
            &json!({"username": username, "password": password, "device_name": "phone"}),
        )
    }

    pub fn manifest(&self, game: &str) -> ManifestResponse {
        let resp = self.get(&format!("/v1/games/{game}/manifest"));
        resp.expect_status(200);
        resp.json()
    }

    pub fn changes(&self, game: &str, req: &ChangesRequest) -> Resp {
        self.post(&format!("/v1/games/{game}/changes"), req)
    }

    /// The upload target for `bytes` in `game`.
    pub fn upload_target(&self, game: &str, bytes: &[u8]) -> UploadTarget {
        let resp = self.changes(
            game,
            &ChangesRequest {
                since: None,
                uploads: vec![BlobRef {
                    sha256: ContentHash::of(bytes),
                    size: bytes.len() as u64,
                }],
            },
        );
        resp.expect_status(200);
        let answer: ChangesResponse = resp.json();
        answer
            .uploads
            .into_iter()
            .next()
            .expect("one upload target")
    }

    /// Uploads `bytes` to `game` (if not present yet); returns their hash.
    pub fn upload(&self, game: &str, bytes: &[u8]) -> ContentHash {
        let target = self.upload_target(game, bytes);
        if !target.present {
            self.put_target(&target, bytes).expect_success();
        }
        ContentHash::of(bytes)
    }

    /// PUTs `bytes` to an upload target with the headers it requires (S3's checksum).
    pub fn put_target(&self, target: &UploadTarget, bytes: &[u8]) -> Resp {
        let url = target.url.as_deref().expect("upload URL");
        let mut req = self
            .agent
            .put(self.url(url))
            .content_type("application/octet-stream");
        for (name, value) in &target.headers {
            req = req.header(name, value);
        }
        Self::finish(req.send(bytes))
    }

    pub fn commit(&self, game: &str, ops: Vec<CommitOp>) -> Resp {
        self.post(&format!("/v1/games/{game}/commit"), &CommitRequest { ops })
    }

    /// Uploads and commits one file; returns the commit response.
    pub fn put_file(&self, game: &str, path: &str, expect: u64, bytes: &[u8]) -> CommitResponse {
        self.upload(game, bytes);
        let resp = self.commit(game, vec![put_op(path, expect, bytes)]);
        resp.expect_status(200);
        resp.json()
    }
}

/// A `Put` op for `bytes` at `path`.
pub fn put_op(path: &str, expect: u64, bytes: &[u8]) -> CommitOp {
    CommitOp {
        path: SavePath::new(path).expect("valid test path"),
        expect_version: expect,
        action: CommitAction::Put {
            sha256: ContentHash::of(bytes),
            size: bytes.len() as u64,
            mtime: Some(1_700_000_000_000),
            meta: None,
        },
    }
}

/// A `Delete` op at `path`.
pub fn delete_op(path: &str, expect: u64) -> CommitOp {
    CommitOp {
        path: SavePath::new(path).expect("valid test path"),
        expect_version: expect,
        action: CommitAction::Delete,
    }
}

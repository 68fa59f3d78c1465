//! `cargo xtask aws <step>`: the AWS backend's tooling, installed idempotently.
//!
//! - `setup`: `.venv/` at the workspace root with moto server (pinned: 5.2.x answers
//!   GetBucketVersioning in a shape the Rust SDK rejects), cfn-lint and cargo-lambda.
//! - `lint`: `cfn-lint infra/template.yaml`.
//! - `lambda`: the Lambda artifact, `cargo lambda build --release --arm64`; falls back to
//!   x86_64 (saying why) if the arm64 build fails.
//! - `test`: the AWS tests (clippy with the feature, then the tests against moto), then the
//!   HTTP API suite again with `RENPY_CLOUD_TEST_BACKEND=aws`: the same tests through
//!   `renpy-cloud-lambda` on DynamoDB, S3 and Cognito (moto). Every build here uses
//!   `run::WORKSPACE`, the feature set of `cargo xtask test`, so nothing compiles twice.
//! - `e2e`: the CLI end-to-end test (two devices, two folders) through the Lambda router
//!   (`renpy-cloud-lambda` on a local port) backed by DynamoDB, S3 and Cognito on moto.
//! - `all` (or no step): everything above, in that order.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::run::{build_workspace, cargo, cmd, output, root, status, workspace_test};

/// The moto release the tests are verified with.
pub const MOTO_VERSION: &str = "5.1.22";
const LAMBDA_BIN: &str = "renpy-cloud-lambda";

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("lint") => lint(),
        Some("lambda") => build_lambda(),
        Some("test") => test(),
        Some("e2e") => e2e(),
        Some("all") | None => all(),
        Some(other) => bail!("unknown aws step {other:?} (setup, lint, lambda, test, all)"),
    }
}

/// Every AWS step; what `cargo xtask test` runs.
pub fn all() -> Result<()> {
    setup()?;
    lint()?;
    test()?;
    e2e()?;
    build_lambda()
}

fn venv_bin(name: &str) -> PathBuf {
    root().join(".venv/bin").join(name)
}

/// PATH with the virtualenv first, so `cargo lambda` and its Zig linker are found.
fn path_with_venv() -> String {
    let venv = root().join(".venv/bin");
    match std::env::var("PATH") {
        Ok(path) => format!("{}:{path}", venv.display()),
        Err(_) => venv.display().to_string(),
    }
}

/// Creates `.venv` and installs the tools unless they are already there at the right version.
pub fn setup() -> Result<()> {
    let python = venv_bin("python");
    if !python.exists() {
        cmd("python3", &["-m", "venv", ".venv"])?;
    }
    let python = python.display().to_string();
    let moto = output(&python, &["-m", "pip", "show", "moto"]).unwrap_or_default();
    let moto_ok = moto
        .lines()
        .any(|l| l.trim() == format!("Version: {MOTO_VERSION}"));
    let tools_ok = ["moto_server", "cfn-lint", "cargo-lambda"]
        .iter()
        .all(|t| venv_bin(t).exists());
    if moto_ok && tools_ok {
        eprintln!("aws setup: .venv already has moto {MOTO_VERSION}, cfn-lint, cargo-lambda");
        return Ok(());
    }
    let pin = format!("moto[server]=={MOTO_VERSION}");
    cmd(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            &pin,
            "cfn-lint",
            "cargo-lambda",
        ],
    )
}

pub fn lint() -> Result<()> {
    cmd(
        &venv_bin("cfn-lint").display().to_string(),
        &["infra/template.yaml"],
    )
}

/// The AWS tests alone: clippy with the feature, the moto suites, then the HTTP API suite
/// through the Lambda router. `cargo xtask test` runs the first two in its workspace stages.
pub fn test() -> Result<()> {
    crate::run::clippy_workspace()?;
    status(workspace_test(&[
        "--test",
        "aws_storage",
        "--test",
        "aws_cognito",
    ]))?;
    http_api_on_aws()
}

/// The HTTP API suite once more, against renpy-cloud-lambda (DynamoDB + S3 + Cognito on
/// moto) instead of the embedded server.
pub fn http_api_on_aws() -> Result<()> {
    let mut suite = workspace_test(&["--test", "http_api"]);
    suite.env("RENPY_CLOUD_TEST_BACKEND", "aws");
    status(suite)
}

fn lambda_build(target_flag: Option<&str>) -> Command {
    let mut c = Command::new(cargo());
    c.args(["lambda", "build", "--release"]);
    c.args(target_flag);
    c.args(["-p", "backend", "--bin", LAMBDA_BIN, "--features", "aws"])
        .env("PATH", path_with_venv())
        .current_dir(root());
    c
}

/// `target/lambda/renpy-cloud-lambda/bootstrap`, arm64 (x86_64 if arm64 cannot be built).
pub fn build_lambda() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "aarch64-unknown-linux-gnu")
    {
        cmd("rustup", &["target", "add", "aarch64-unknown-linux-gnu"])?;
    }
    match status(lambda_build(Some("--arm64"))) {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!(
                "\nthe arm64 Lambda build failed ({e:#});\nbuilding the x86_64 variant \
                 instead: set `Architectures: [x86_64]` in infra/template.yaml to deploy it"
            );
            status(lambda_build(None))
        }
    }
}

/// A moto server on 127.0.0.1, killed on drop.
struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        // moto with DynamoDB calls one at a time (see the script: moto's transactions
        // are not isolated under concurrency, the real service's are).
        let child = Command::new(venv_bin("python"))
            .arg(root().join("backend/tests/moto/serial_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if answers(port) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("moto_server did not answer on port {port}")
    }
}

/// Whether moto answers a plain HTTP request on `port`.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut reply = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply.ends_with(b"200")
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI end-to-end test with `RENPY_CLOUD_SERVER_BIN` set to the Lambda binary, which
/// serves the same router on a local port with a fresh table and bucket on moto.
pub fn e2e() -> Result<()> {
    build_workspace()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let server_bin = target.join("debug").join(LAMBDA_BIN);
    let moto = MotoServer::start()?;
    let mut c = workspace_test(&["--test", "cli_end_to_end"]);
    c.env("RENPY_CLOUD_SERVER_BIN", &server_bin)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RENPY_CLOUD_AWS_ENDPOINT", &moto.endpoint)
        .env("RENPY_CLOUD_TABLE", "e2e")
        .env("RENPY_CLOUD_BUCKET", "e2e-saves")
        .env("RENPY_CLOUD_USER_POOL_ID", "us-east-1_e2e")
        .env("RENPY_CLOUD_CLIENT_ID", "e2e")
        .env("RENPY_CLOUD_SECRET", "e2e-secret-e2e-secret-e2e-secret-00")
        .env("RENPY_CLOUD_VERIFY_UPLOADS", "1")
        .env("RENPY_CLOUD_CREATE_RESOURCES", "fresh");
    status(c)
}

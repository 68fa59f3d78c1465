//! `cargo xtask fuzz [SCHEMATHESIS ARGS]`: schemathesis, a property-based fuzzer driven by
//! the served OpenAPI document, against the real `renpy-cloud-server` on loopback.
//!
//! - Installs schemathesis [`SCHEMATHESIS_VERSION`] into its own `.venv-fuzz/` unless it is
//!   already there at that version.
//! - Builds through [`build_workspace`] (a no-op in `cargo xtask test`, after `cargo test`),
//!   then starts `target/debug/renpy-cloud-server` on `127.0.0.1:0` with a fresh data dir
//!   and rate limits no fuzzer reaches, and signs one user up over HTTP.
//! - Runs `schemathesis run http://127.0.0.1:PORT/v1/openapi.json`, every authenticated
//!   request with `Authorization: Bearer` and a token from logging that user in (logged in
//!   again on a 401, see [`run`]): every phase (coverage, fuzzing, stateful), positive and
//!   negative data, at most [`MAX_EXAMPLES`] cases per operation, deterministic generation
//!   (no seed, no example database) and one worker, so a run is reproducible; killed after
//!   [`TIME_LIMIT`]. It prints the operations and test cases it ran and every failure with a
//!   `curl` line that reproduces it.
//! - Passes when no check in [`CHECKS`] fails: no 5xx at all (a 503 `storage_unavailable`
//!   counts), responses as documented (status, schema, content type, headers), and the
//!   server neither panicked nor exited.
//!
//! Extra arguments go to `schemathesis run` after ours, e.g. `cargo xtask fuzz --checks all`
//! to add the two checks [`CHECKS`] leaves out, `negative_data_rejection` and
//! `positive_data_acceptance`: the server answers 413 `file_too_large` (not 400) to a `size`
//! above the document's maximum, and 400 to integers written as floats (`1.0`), which JSON
//! Schema counts as integers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::run::{build_workspace, cmd, root};

/// Schemathesis's own venv: its pytest plugin and its pytest and hypothesis versions stay out
/// of the `.venv` the Python and Ren'Py suites run in.
const VENV: &str = ".venv-fuzz";
/// The schemathesis release the suite is verified with.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test cases per API operation and phase.
pub const MAX_EXAMPLES: &str = "50";
/// The whole schemathesis run is killed (and fails) after this long.
pub const TIME_LIMIT: Duration = Duration::from_secs(180);
/// The checks that must pass.
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,response_schema_conformance,\
content_type_conformance,response_headers_conformance,missing_required_header,\
unsupported_method,allow_header_conformance,ignored_auth,use_after_free,\
ensure_resource_availability";

/// The one account the fuzzer acts as.
const USERNAME: &str = "fuzzer";
const PASSWORD: &str = "fuzz-password-1";
const DEVICE: &str = "fuzz";

pub fn run(args: &[String]) -> Result<()> {
    let schemathesis = setup()?;
    build_workspace()?;
    let scratch = Scratch::new()?;
    let mut server = Server::start(&scratch.0)?;
    signup(server.port)?;
    // Bearer tokens come from `POST /v1/auth/login` as that user, fetched again (and the
    // request replayed) on a 401: the fuzzer learns device ids from `GET /v1/devices` and
    // signs its own device out with `DELETE /v1/devices/{device_id}`, so a fixed token
    // would leave every later authenticated request at 401.
    let config = scratch.0.join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.dynamic.openapi.bearer]\n\
             path = \"/v1/auth/login\"\n\
             payload = {{ username = \"{USERNAME}\", password = \"{PASSWORD}\", \
             device_name = \"{DEVICE}\" }}\n\
             extract_selector = \"/access_token\"\n"
        ),
    )?;

    let url = format!("http://127.0.0.1:{}", server.port);
    let mut c = Command::new(&schemathesis);
    c.arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{url}/v1/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .arg("--generation-deterministic")
        // One worker: CPython 3.11's `ast.parse`, which Hypothesis calls to describe
        // filters, fails now and then when two threads call it at once.
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(args)
        // Schemathesis keeps state (`.schemathesis/`) in its working directory.
        .current_dir(&scratch.0);
    let shown = format!("{c:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let started = Instant::now();
    let outcome = wait_bounded(c.spawn().context("could not start schemathesis")?);
    let took = started.elapsed().as_secs_f64();
    eprintln!("\nfuzz: schemathesis ran {took:.0} s against {url}");

    let exited = server.child.try_wait()?;
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    let panicked = log.contains(" panicked at ");
    if outcome.is_err() || exited.is_some() || panicked {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("\nserver log (last {} lines):", tail.len());
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
    outcome?;
    if let Some(status) = exited {
        bail!("renpy-cloud-server exited during the fuzz run ({status})");
    }
    if panicked {
        bail!("renpy-cloud-server panicked during the fuzz run (see its log above)");
    }
    eprintln!("fuzz: no server errors, no failed checks");
    Ok(())
}

/// `.venv/bin/schemathesis` at [`SCHEMATHESIS_VERSION`], installing it if needed.
pub fn setup() -> Result<PathBuf> {
    let bin = root().join(format!("{VENV}/bin"));
    let python = bin.join("python");
    if !python.exists() {
        cmd("python3", &["-m", "venv", VENV])?;
    }
    let schemathesis = bin.join("schemathesis");
    let installed = Command::new(&schemathesis)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if installed
        .trim()
        .ends_with(&format!("version {SCHEMATHESIS_VERSION}"))
    {
        eprintln!("fuzz setup: {VENV} already has schemathesis {SCHEMATHESIS_VERSION}");
        return Ok(schemathesis);
    }
    let pin = format!("schemathesis=={SCHEMATHESIS_VERSION}");
    cmd(
        &python.display().to_string(),
        &[
            "-m",
            "pip",
            "--disable-pip-version-check",
            "install",
            "--quiet",
            &pin,
        ],
    )?;
    Ok(schemathesis)
}

/// Waits for schemathesis, killing it after [`TIME_LIMIT`].
fn wait_bounded(mut child: Child) -> Result<()> {
    let deadline = Instant::now() + TIME_LIMIT;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("schemathesis reported failures ({status}; see above)");
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "schemathesis did not finish within {} s",
                TIME_LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("renpy-cloud-fuzz-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `renpy-cloud-server` on a free loopback port, its stderr in a log file; killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(scratch: &Path) -> Result<Self> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| if p.is_absolute() { p } else { root().join(p) })
            .unwrap_or_else(|| root().join("target"));
        let bin = target.join("debug").join(format!(
            "renpy-cloud-server{}",
            std::env::consts::EXE_SUFFIX
        ));
        let log = scratch.join("server.log");
        let mut child = Command::new(&bin)
            .args(["--bind", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(scratch.join("data"))
            // Far above what two fuzzing workers send: a 429 would only hide a handler.
            .args(["--rate-limit", "1000000", "--rate-burst", "1000000"])
            .args(["--login-attempts-per-minute", "1000000"])
            .args(["--pairing-claims-per-minute", "1000000"])
            .args(["--access-ttl-secs", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("could not start {}", bin.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().context("server stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        match port {
            Some(port) => Ok(Self { child, port, log }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("renpy-cloud-server's first line was {line:?}, not its address")
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs [`USERNAME`] up (`POST /v1/auth/signup`), checking the answer has a token.
fn signup(port: u16) -> Result<()> {
    let body =
        format!(r#"{{"username":"{USERNAME}","password":"{PASSWORD}","device_name":"{DEVICE}"}}"#);
    let request = format!(
        "POST /v1/auth/signup HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply.lines().next().unwrap_or_default();
    if !status.contains(" 201 ") || !reply.contains(r#""access_token":""#) {
        bail!("signup answered {status:?}, not 201 with an access token:\n{reply}");
    }
    eprintln!("fuzz: signed {USERNAME:?} up on http://127.0.0.1:{port}");
    Ok(())
}

//! The real server binary on loopback, behind a byte-counting proxy.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

/// `RENPY_CLOUD_SERVER_BIN`, else the release build in this workspace.
pub fn binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RENPY_CLOUD_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/renpy-cloud-server");
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo xtask bench` (it builds it)",
            bin.display()
        );
    }
    Ok(bin)
}

pub struct Server {
    child: Child,
    _data: tempfile::TempDir,
    /// Clients talk to this port; the proxy forwards to the server and counts bytes.
    proxy_port: u16,
    sent: Arc<AtomicU64>,
}

impl Server {
    /// Starts a server with generous limits. With `proxied`, clients reach it through a
    /// counting proxy (signed URLs point at the proxy too).
    pub fn start(bin: &Path, proxied: bool) -> Result<Self> {
        let data = tempfile::tempdir()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let proxy_port = listener.local_addr()?.port();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--bind",
            "127.0.0.1:0",
            "--rate-limit",
            "100000",
            "--rate-burst",
            "100000",
        ])
        .args([
            "--max-game-files",
            "100000",
            "--max-game-bytes",
            "17179869184",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if proxied {
            cmd.args(["--public-url", &format!("http://127.0.0.1:{proxy_port}")]);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        let sent = Arc::new(AtomicU64::new(0));
        if proxied {
            crate::net::spawn_proxy(listener, addr, sent.clone());
            Ok(Self {
                child,
                _data: data,
                proxy_port,
                sent,
            })
        } else {
            let port = addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .context("port")?;
            Ok(Self {
                child,
                _data: data,
                proxy_port: port,
                sent,
            })
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// Bytes clients sent through the proxy so far (headers and bodies).
    pub fn bytes_from_clients(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Starts a new peak-memory measurement (Linux: writing 5 to `clear_refs` resets VmHWM).
    pub fn reset_peak(&self) -> Result<()> {
        Ok(std::fs::write(
            format!("/proc/{}/clear_refs", self.child.id()),
            "5",
        )?)
    }

    /// The server process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.status_kib("VmHWM:")
    }

    /// The server process's resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// Whether the server process still runs (Linux: not gone, not a zombie).
    pub fn is_running(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).is_ok_and(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("State:"))
                .is_some_and(|state| !matches!(state.trim().chars().next(), Some('Z' | 'X')))
        })
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{field} not found"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

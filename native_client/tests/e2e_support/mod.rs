//! The real `renpy-cloud-server` on loopback and the real `renpy-cloud` binary, for
//! end-to-end tests.

#![allow(dead_code, reason = "shared by several test crates; each uses a part")]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Where the server binary is: `RENPY_CLOUD_SERVER_BIN`, or next to this workspace's other
/// binaries (`cargo build -p backend --bin renpy-cloud-server` puts it there).
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RENPY_CLOUD_SERVER_BIN") {
        return PathBuf::from(path);
    }
    // The CLI binary cargo built for this test sits in the same folder as the server's.
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_renpy-cloud"));
    let server = cli.with_file_name(format!(
        "renpy-cloud-server{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        server.exists(),
        "{} is missing: run `cargo build -p backend --bin renpy-cloud-server` first \
         (or set RENPY_CLOUD_SERVER_BIN)",
        server.display()
    );
    server
}

/// A running server with its own temporary data folder; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    _data: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts with extra server flags (e.g. short token lifetimes).
    pub fn start_with(extra: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("server data dir");
        let mut child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            // Generous limits: this test is one busy user, not an attack.
            .args(["--rate-limit", "10000", "--rate-burst", "100000"])
            .args(["--login-attempts-per-minute", "1000"])
            .args(["--pairing-claims-per-minute", "1000"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start renpy-cloud-server");
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("renpy-cloud-server did not print its address");
            }
        };
        Self {
            child,
            url,
            _data: data,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The result of one CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?} / stderr {:?}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the real `renpy-cloud` binary with `args` (no ambient server or profile).
pub fn renpy_cloud(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_renpy-cloud"))
        .args(args)
        .env_remove("RENPY_CLOUD_SERVER")
        .output()
        .expect("run renpy-cloud");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One device: its profile file, its save folder and its name.
pub struct Device {
    pub name: String,
    pub profile: PathBuf,
    pub dir: PathBuf,
    pub server: String,
}

pub const GAME: &str = "E2EGame-1700000000";

impl Device {
    pub fn new(root: &Path, name: &str, server: &str) -> Self {
        let dir = root.join(name).join("game").join("saves");
        fs::create_dir_all(&dir).expect("save dir");
        Self {
            name: name.into(),
            profile: root.join(name).join("config").join("profile.json"),
            dir,
            server: server.into(),
        }
    }

    /// Runs a command as this device; game commands get `--game` and `--dir` added.
    pub fn run(&self, args: &[&str]) -> Run {
        let profile = self.profile.to_string_lossy().into_owned();
        let dir = self.dir.to_string_lossy().into_owned();
        let mut full: Vec<&str> = vec![
            "--server",
            &self.server,
            "--profile",
            &profile,
            "--device-name",
            &self.name,
        ];
        full.extend_from_slice(args);
        let command = args.iter().find(|a| !a.starts_with("--"));
        let game_command = matches!(
            command,
            Some(&("sync" | "status" | "conflicts" | "history" | "restore" | "resolve"))
        );
        if game_command {
            full.extend_from_slice(&["--game", GAME, "--dir", &dir]);
        }
        renpy_cloud(&full)
    }

    /// Runs with `--json`, expects exit code `code`, returns the parsed output.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let run = self.run(&with_json);
        assert_eq!(
            run.code, code,
            "{} {args:?}: stdout {} stderr {}",
            self.name, run.stdout, run.stderr
        );
        run.json()
    }

    /// `sync --json` with an optional policy; expects exit 0.
    pub fn sync(&self, policy: &str) -> Value {
        self.json(&["sync", "--policy", policy], 0)
    }

    pub fn write(&self, name: &str, bytes: &[u8], mtime_ms: i64) {
        let path = self.dir.join(name);
        fs::write(&path, bytes).expect("write save");
        let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(mtime_ms).expect("positive"));
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(time))
            .expect("set mtime");
    }

    pub fn remove(&self, name: &str) {
        fs::remove_file(self.dir.join(name)).expect("remove save");
    }

    pub fn mtime_ms(&self, name: &str) -> i64 {
        let modified = fs::metadata(self.dir.join(name))
            .and_then(|m| m.modified())
            .expect("stat");
        let since = modified.duration_since(UNIX_EPOCH).expect("after 1970");
        i64::try_from(since.as_millis()).expect("fits")
    }

    /// Every file of the save folder (relative `/` path → bytes).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        collect(&self.dir, "", &mut out);
        out
    }
}

fn collect(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type().expect("type").is_dir() {
            collect(&entry.path(), &rel, out);
        } else {
            out.insert(rel, fs::read(entry.path()).expect("read"));
        }
    }
}

/// A real Ren'Py save fixture from `sync_core/tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sync_core/tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A distinct but still valid Ren'Py save: the fixture with a zip archive comment (Python's
/// `zipfile` and our reader both accept one), standing in for "the player saved again".
pub fn edited(save: &[u8], edit: &str) -> Vec<u8> {
    let eocd = save.len() - 22;
    assert_eq!(
        &save[eocd..eocd + 4],
        b"PK\x05\x06",
        "fixture ends with a bare EOCD"
    );
    let mut out = save.to_vec();
    let len = u16::try_from(edit.len()).expect("short comment");
    out[eocd + 20..eocd + 22].copy_from_slice(&len.to_le_bytes());
    out.extend_from_slice(edit.as_bytes());
    out
}

/// A clock for test writes: strictly increasing, whole-millisecond mtimes in the past.
pub struct Clock(i64);

impl Clock {
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        Self(i64::try_from(now).expect("fits") - 86_400_000)
    }
    pub fn tick(&mut self) -> i64 {
        self.0 += 1_234;
        self.0
    }
}

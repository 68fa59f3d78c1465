//! Server configuration: the command line of `renpy-cloud-server` and what the API needs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use crate::api::ratelimit::Rate;
use crate::storage::{Quota, Retention};

/// Limits that keep one user or one request from taking the server down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Total bytes of a game's current files.
    pub max_game_bytes: u64,
    /// Number of a game's current files.
    pub max_game_files: u64,
    /// Largest single blob.
    pub max_file_size: u64,
    /// Largest save metadata of one op, as JSON.
    pub max_meta_bytes: usize,
    /// Most ops in one commit.
    pub max_batch_ops: usize,
    /// Most entries in one `changes` or `manifest` answer (more follow in pages).
    pub page_entries: usize,
    /// Largest JSON request body.
    pub max_json_body: usize,
    /// Blob uploads streamed at once, server-wide; more wait for a slot.
    pub upload_slots: usize,
    /// Blob uploads one user may stream at once; more answer 429.
    pub uploads_per_user: usize,
    /// How long an upload waits for a slot before it answers 503 with `Retry-After`.
    pub upload_wait: Duration,
    /// Longest pause between two chunks of an upload's body before it answers 408.
    pub body_chunk_timeout: Duration,
    /// The history each file keeps.
    pub retention: Retention,
}

impl Limits {
    /// What a commit or a restore of one game must respect.
    pub fn quota(&self) -> Quota {
        Quota {
            max_bytes: self.max_game_bytes,
            max_files: self.max_game_files,
            retention: self.retention,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_game_bytes: 256 * 1024 * 1024,
            max_game_files: 1000,
            max_file_size: 128 * 1024 * 1024,
            // Ren'Py's own metadata is a few hundred bytes; the rest is the game's
            // `_custom` fields.
            max_meta_bytes: 16 * 1024,
            max_batch_ops: 1000,
            page_entries: 1000,
            max_json_body: 1024 * 1024,
            upload_slots: 32,
            uploads_per_user: 4,
            upload_wait: Duration::from_secs(10),
            body_chunk_timeout: Duration::from_secs(30),
            retention: Retention::default(),
        }
    }
}

/// Request rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Requests of one signed-in user (and of blob tickets of that user).
    pub per_user: Rate,
    /// Failed logins per username and client IP.
    pub failed_logins: Rate,
    /// Pairing claims per client IP.
    pub pairing_claims: Rate,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            per_user: Rate {
                per_second: 20.0,
                burst: 100,
            },
            failed_logins: Rate::per_minute(10),
            pairing_claims: Rate::per_minute(10),
        }
    }
}

/// Lifetimes of tokens, codes and signed URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    pub access: Duration,
    pub refresh: Duration,
    pub pairing: Duration,
    pub upload_url: Duration,
    pub download_url: Duration,
    /// How long after its upload URL expired an uncommitted blob is deleted.
    pub orphan_grace: Duration,
    /// A rotated refresh token replayed later than this signs its device out.
    pub refresh_replay_grace: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            access: Duration::from_secs(15 * 60),
            refresh: Duration::from_secs(90 * 24 * 3600),
            pairing: Duration::from_secs(10 * 60),
            upload_url: Duration::from_secs(5 * 60),
            download_url: Duration::from_secs(10 * 60),
            orphan_grace: Duration::from_secs(10 * 60),
            refresh_replay_grace: Duration::from_secs(30),
        }
    }
}

/// What the router needs, independent of how it is served (TCP listener or Lambda).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Base of signed blob URLs, without a trailing slash, e.g. `https://saves.example.org`.
    pub public_url: String,
    /// Origins allowed to call the API from a browser; none by default.
    pub allowed_origins: Vec<String>,
    /// Take the client IP (for rate limits) from the last `X-Forwarded-For` hop: only behind
    /// a proxy that sets it.
    pub trust_proxy: bool,
    pub limits: Limits,
    pub rates: Rates,
    pub ttls: Ttls,
}

impl ApiConfig {
    /// Defaults with this public URL.
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            allowed_origins: Vec::new(),
            trust_proxy: false,
            limits: Limits::default(),
            rates: Rates::default(),
            ttls: Ttls::default(),
        }
    }
}

/// `renpy-cloud-server`: the renpy-cloud save-sync API with embedded storage.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "renpy-cloud-server",
    version,
    about,
    after_help = "Access tokens and blob URLs are signed with RENPY_CLOUD_SECRET (at least 32 bytes) \
                  or, when it is unset, a secret generated once into <data-dir>/secret.key (mode 0600)."
)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "RENPY_CLOUD_BIND", default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Folder for the database, the blobs and the token secret.
    #[arg(
        long,
        env = "RENPY_CLOUD_DATA_DIR",
        default_value = "./renpy-cloud-data"
    )]
    pub data_dir: PathBuf,
    /// Base URL clients reach this server at (used in signed blob URLs); default
    /// `http://<bound address>`.
    #[arg(long, env = "RENPY_CLOUD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Browser origin allowed by CORS (repeatable; the env var is comma-separated).
    #[arg(
        long = "allow-origin",
        env = "RENPY_CLOUD_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,
    /// Also serve the static files of this folder (e.g. the web demo) at `/`; `/v1` stays
    /// the API. Their Content-Security-Policy allows framing by the `--allow-origin` origins.
    #[arg(long, env = "RENPY_CLOUD_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
    /// Trust the last X-Forwarded-For hop as the client IP (only behind a reverse proxy).
    #[arg(long, env = "RENPY_CLOUD_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Quota: bytes of current files per user and game.
    #[arg(long, env = "RENPY_CLOUD_MAX_GAME_BYTES", default_value_t = Limits::default().max_game_bytes)]
    pub max_game_bytes: u64,
    /// Quota: current files per user and game.
    #[arg(long, env = "RENPY_CLOUD_MAX_GAME_FILES", default_value_t = Limits::default().max_game_files)]
    pub max_game_files: u64,
    /// Largest single file (blob) in bytes.
    #[arg(long, env = "RENPY_CLOUD_MAX_FILE_SIZE", default_value_t = Limits::default().max_file_size)]
    pub max_file_size: u64,
    /// Most entries in one `changes` or `manifest` answer; more follow in pages.
    #[arg(long, env = "RENPY_CLOUD_PAGE_ENTRIES", default_value_t = Limits::default().page_entries)]
    pub page_entries: usize,
    /// Largest save metadata (JSON bytes) of one file version.
    #[arg(long, env = "RENPY_CLOUD_MAX_META_BYTES", default_value_t = Limits::default().max_meta_bytes)]
    pub max_meta_bytes: usize,
    /// Free disk space (MiB) the embedded store keeps: below it `/v1/health` fails and
    /// uploads answer 503 with `Retry-After`, so the database still has room to commit.
    #[arg(long, env = "RENPY_CLOUD_MIN_FREE_DISK_MB", default_value_t = 64)]
    pub min_free_disk_mb: u64,
    /// Seconds a connection may take to send a complete request head (also while idle
    /// between requests) before it is closed.
    #[arg(long, env = "RENPY_CLOUD_HEADER_READ_TIMEOUT_SECS", default_value_t = crate::server::HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout_secs: u64,
    /// Connections open at once (lowered to what the open-file limit leaves); more are closed
    /// as soon as they are accepted.
    #[arg(long, env = "RENPY_CLOUD_MAX_CONNECTIONS", default_value_t = crate::server::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Blob uploads the server streams at once (more wait for a slot).
    #[arg(long, env = "RENPY_CLOUD_UPLOAD_SLOTS", default_value_t = Limits::default().upload_slots)]
    pub upload_slots: usize,
    /// Blob uploads one user may stream at once (more answer 429).
    #[arg(long, env = "RENPY_CLOUD_UPLOADS_PER_USER", default_value_t = Limits::default().uploads_per_user)]
    pub uploads_per_user: usize,
    /// Seconds an upload waits for one of the server's upload slots before answering 503.
    #[arg(long, env = "RENPY_CLOUD_UPLOAD_WAIT_SECS", default_value_t = Limits::default().upload_wait.as_secs())]
    pub upload_wait_secs: u64,
    /// Seconds an upload's body may pause between two chunks before it answers 408.
    #[arg(long, env = "RENPY_CLOUD_BODY_CHUNK_TIMEOUT_SECS", default_value_t = Limits::default().body_chunk_timeout.as_secs())]
    pub body_chunk_timeout_secs: u64,
    /// Requests per second per user (sustained).
    #[arg(long, env = "RENPY_CLOUD_RATE_LIMIT", default_value_t = Rates::default().per_user.per_second)]
    pub rate_limit: f64,
    /// Requests per user allowed in a burst.
    #[arg(long, env = "RENPY_CLOUD_RATE_BURST", default_value_t = Rates::default().per_user.burst)]
    pub rate_burst: u32,
    /// Failed logins per minute per username and IP.
    #[arg(
        long,
        env = "RENPY_CLOUD_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 10
    )]
    pub login_attempts_per_minute: u32,
    /// Pairing-code claims per minute per IP.
    #[arg(
        long,
        env = "RENPY_CLOUD_PAIRING_CLAIMS_PER_MINUTE",
        default_value_t = 10
    )]
    pub pairing_claims_per_minute: u32,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "RENPY_CLOUD_ACCESS_TTL_SECS", default_value_t = Ttls::default().access.as_secs())]
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "RENPY_CLOUD_REFRESH_TTL_SECS", default_value_t = Ttls::default().refresh.as_secs())]
    pub refresh_ttl_secs: u64,
    /// Pairing-code lifetime in seconds.
    #[arg(long, env = "RENPY_CLOUD_PAIRING_TTL_SECS", default_value_t = Ttls::default().pairing.as_secs())]
    pub pairing_ttl_secs: u64,
    /// Lifetime of signed upload URLs in seconds.
    #[arg(long, env = "RENPY_CLOUD_UPLOAD_URL_TTL_SECS", default_value_t = Ttls::default().upload_url.as_secs())]
    pub upload_url_ttl_secs: u64,
    /// Lifetime of signed download URLs in seconds.
    #[arg(long, env = "RENPY_CLOUD_DOWNLOAD_URL_TTL_SECS", default_value_t = Ttls::default().download_url.as_secs())]
    pub download_url_ttl_secs: u64,
    /// Seconds after its upload URL expired that an uploaded but never committed blob is
    /// deleted (its bytes count against the game's quota until then).
    #[arg(long, env = "RENPY_CLOUD_ORPHAN_GRACE_SECS", default_value_t = Ttls::default().orphan_grace.as_secs())]
    pub orphan_grace_secs: u64,
    /// Seconds after a refresh token's rotation during which replaying it is refused without
    /// signing the device out (a client's retry); later, a replay signs the device out.
    #[arg(long, env = "RENPY_CLOUD_REFRESH_REPLAY_GRACE_SECS", default_value_t = Ttls::default().refresh_replay_grace.as_secs())]
    pub refresh_replay_grace_secs: u64,
    /// Seconds between two sweeps for uncommitted and pruned blobs.
    #[arg(long, env = "RENPY_CLOUD_GC_INTERVAL_SECS", default_value_t = 60)]
    pub gc_interval_secs: u64,
    /// Retention: versions of a file kept besides the current one, however old.
    #[arg(long, env = "RENPY_CLOUD_KEEP_VERSIONS", default_value_t = Retention::default().keep_versions)]
    pub keep_versions: u32,
    /// Retention: older versions are kept while younger than this many days...
    #[arg(long, env = "RENPY_CLOUD_KEEP_DAYS", default_value_t = Retention::default().keep_days)]
    pub keep_days: u32,
    /// ...but a file never keeps more versions than this (the current one included).
    #[arg(long, env = "RENPY_CLOUD_MAX_VERSIONS", default_value_t = Retention::default().max_versions)]
    pub max_versions: u32,
}

impl Cli {
    /// The API configuration, with the public URL derived from `bound` when not given.
    pub fn api_config(&self, bound: SocketAddr) -> ApiConfig {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        ApiConfig {
            allowed_origins: self
                .allow_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            trust_proxy: self.trust_proxy,
            limits: Limits {
                max_game_bytes: self.max_game_bytes,
                max_game_files: self.max_game_files,
                max_file_size: self.max_file_size,
                max_meta_bytes: self.max_meta_bytes,
                page_entries: self.page_entries.max(1),
                upload_slots: self.upload_slots.max(1),
                uploads_per_user: self.uploads_per_user.max(1),
                upload_wait: Duration::from_secs(self.upload_wait_secs),
                body_chunk_timeout: Duration::from_secs(self.body_chunk_timeout_secs.max(1)),
                // At least the current version and the newest other one: version numbers
                // are never reused.
                retention: Retention {
                    keep_versions: self.keep_versions.max(1),
                    keep_days: self.keep_days,
                    max_versions: self.max_versions.max(2),
                },
                ..Limits::default()
            },
            rates: Rates {
                per_user: Rate {
                    per_second: self.rate_limit,
                    burst: self.rate_burst,
                },
                failed_logins: Rate::per_minute(self.login_attempts_per_minute),
                pairing_claims: Rate::per_minute(self.pairing_claims_per_minute),
            },
            ttls: Ttls {
                access: Duration::from_secs(self.access_ttl_secs.max(1)),
                refresh: Duration::from_secs(self.refresh_ttl_secs.max(1)),
                pairing: Duration::from_secs(self.pairing_ttl_secs.max(1)),
                upload_url: Duration::from_secs(self.upload_url_ttl_secs.max(1)),
                download_url: Duration::from_secs(self.download_url_ttl_secs.max(1)),
                orphan_grace: Duration::from_secs(self.orphan_grace_secs),
                refresh_replay_grace: Duration::from_secs(self.refresh_replay_grace_secs),
            },
            ..ApiConfig::new(&public_url)
        }
    }
}

/// Env var holding the token-signing secret (any string of at least 32 bytes).
pub const SECRET_ENV: &str = "RENPY_CLOUD_SECRET";
/// File under the data dir holding the generated secret.
pub const SECRET_FILE: &str = "secret.key";

/// Why the signing secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{SECRET_ENV} must be at least 32 bytes long")]
    TooShort,
    #[error("cannot read or create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(getrandom::Error),
}

/// The token-signing secret: `from_env` if set, else `<data_dir>/secret.key`, created once
/// with random bytes and mode 0600.
pub fn load_or_create_secret(
    from_env: Option<String>,
    data_dir: &Path,
) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = from_env {
        if secret.len() < 32 {
            return Err(SecretError::TooShort);
        }
        return Ok(secret.into_bytes());
    }
    let path = data_dir.join(SECRET_FILE);
    let io = |source| SecretError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(bytes),
        Ok(_) => return Err(SecretError::TooShort),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let secret = hex_secret().map_err(SecretError::Random)?;
    write_private(&path, secret.as_bytes()).map_err(io)?;
    Ok(secret.into_bytes())
}

fn hex_secret() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

/// Creates `path` readable by its owner only; fails if it already exists (another process
/// won the race: its secret is the one to keep, so the caller errs and the next start reads it).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = load_or_create_secret(None, dir.path()).expect("created");
        let again = load_or_create_secret(None, dir.path()).expect("read back");
        assert_eq!(first, again);
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("secret file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn env_secret_wins_and_must_be_long() {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = "x".repeat(40);
        assert_eq!(
            load_or_create_secret(Some(env.clone()), dir.path()).expect("env"),
            env.into_bytes()
        );
        assert!(matches!(
            load_or_create_secret(Some("short".into()), dir.path()),
            Err(SecretError::TooShort)
        ));
        assert!(!dir.path().join(SECRET_FILE).exists());
    }

    #[test]
    fn cli_defaults_and_flags() {
        let cli = Cli::parse_from(["renpy-cloud-server", "--bind", "127.0.0.1:0"]);
        let bound: SocketAddr = "127.0.0.1:4321".parse().expect("addr");
        let config = cli.api_config(bound);
        assert_eq!(config.public_url, "http://127.0.0.1:4321");
        assert_eq!(config.limits, Limits::default());
        assert!(config.allowed_origins.is_empty());
        let cli = Cli::parse_from([
            "renpy-cloud-server",
            "--public-url",
            "https://saves.example.org/",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--max-game-files",
            "3",
        ]);
        let config = cli.api_config(bound);
        assert_eq!(config.public_url, "https://saves.example.org");
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.limits.max_game_files, 3);
    }
}

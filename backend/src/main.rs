//! `renpy-cloud-server`: the renpy-cloud API with embedded storage, over HTTP.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use backend::app::{AppState, app};
use backend::clock::{Clock, SystemClock};
use backend::config::{Cli, SECRET_ENV, load_or_create_secret};
use backend::server::{ServeOptions, serve_with, shutdown_signal};
use backend::storage::files::FileBlobStore;
use backend::storage::sqlite::SqliteMetadataStore;
use backend::storage::{BlobStore, MetadataStore};
use backend::web::with_web_root;
use clap::Parser;
use tokio::net::TcpListener;

/// mimalloc returns freed memory to the system; with glibc's malloc, each 19 MiB argon2
/// buffer raised the mmap threshold and stayed resident (about 380 MB after 20 sign-ups).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work (SQLite calls, file I/O). Tokio's default of 512 let a burst of
/// clients start hundreds of threads, each with its own stack and allocator heap.
const MAX_BLOCKING_THREADS: usize = 32;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(start()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("renpy-cloud-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Database file under the data dir (next to `blobs/` and `secret.key`).
const METADATA_FILE: &str = "metadata.sqlite3";

/// The embedded stores under `data_dir`: SQLite metadata and blob files.
fn open_stores(
    data_dir: &std::path::Path,
    min_free: u64,
) -> anyhow::Result<(Arc<dyn MetadataStore>, Arc<dyn BlobStore>)> {
    let meta = SqliteMetadataStore::open(&data_dir.join(METADATA_FILE))
        .context("cannot open the metadata database")?;
    let blobs = FileBlobStore::open(data_dir)
        .context("cannot open the blob store")?
        .with_min_free(min_free);
    Ok((Arc::new(meta), Arc::new(blobs)))
}

/// Players' saves and the signing secret are for this user alone: the data dir is 0700 and
/// everything the server creates (database, WAL, blobs, temp files) 0600 / 0700.
#[cfg(unix)]
fn keep_data_private(data_dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict data dir {}", data_dir.display()))
}

/// Every connection holds a file descriptor: the soft limit (often 1,024) goes up to the
/// hard one, so sockets run out long after memory would.
#[cfg(unix)]
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("cannot raise the open-file limit: {e}");
        }
    }
}

#[cfg(not(unix))]
fn raise_fd_limit() {}

/// File descriptors kept for the database, its WAL and the blob files being read or written.
const RESERVED_FDS: u64 = 256;

/// `wanted`, lowered so that connections cannot take the descriptors the stores need.
#[cfg(unix)]
fn max_connections(wanted: usize) -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let room = limit.map_or(u64::MAX, |l| l.saturating_sub(RESERVED_FDS).max(1));
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn max_connections(wanted: usize) -> usize {
    wanted
}

#[cfg(not(unix))]
fn keep_data_private(_data_dir: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

/// Deletes uncommitted and pruned blobs every `interval` (see `storage::collect`).
async fn sweep_periodically(
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    grace: std::time::Duration,
    interval: std::time::Duration,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let cutoff = backend::api::ago(SystemClock.now_millis(), grace);
        match backend::storage::collect::sweep(&*meta, &*blobs, cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("deleted {n} blobs nothing refers to"),
            Err(e) => tracing::warn!("sweeping unused blobs failed: {e}"),
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cli.data_dir)
        .with_context(|| format!("cannot create data dir {}", cli.data_dir.display()))?;
    keep_data_private(&cli.data_dir)?;
    raise_fd_limit();
    let secret = load_or_create_secret(std::env::var(SECRET_ENV).ok(), &cli.data_dir)?;
    let min_free = cli.min_free_disk_mb.saturating_mul(1024 * 1024);
    let (meta, blobs) = open_stores(&cli.data_dir, min_free)?;
    let listener = TcpListener::bind(cli.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cli.bind))?;
    let addr = listener.local_addr()?;
    let config = cli.api_config(addr);
    tokio::spawn(sweep_periodically(
        Arc::clone(&meta),
        Arc::clone(&blobs),
        config.ttls.orphan_grace,
        std::time::Duration::from_secs(cli.gc_interval_secs.max(1)),
    ));
    if addr.ip().is_unspecified() && cli.public_url.is_none() {
        tracing::warn!("listening on all interfaces: set --public-url so blob URLs reach clients");
    }
    tracing::info!(
        "renpy-cloud-server {} serving {} (data in {})",
        env!("CARGO_PKG_VERSION"),
        config.public_url,
        cli.data_dir.display()
    );
    let router = match &cli.web_root {
        Some(dir) => {
            if !dir.join("index.html").is_file() {
                anyhow::bail!("--web-root {}: no index.html there", dir.display());
            }
            tracing::info!("serving the files of {} at /", dir.display());
            let api = app(AppState::new(config.clone(), &secret, meta, blobs));
            with_web_root(api, dir, &config)
        }
        None => app(AppState::new(config, &secret, meta, blobs)),
    };
    // Tests wait for this line, so it goes to stdout once the socket is bound.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    let options = ServeOptions {
        header_read_timeout: std::time::Duration::from_secs(cli.header_read_timeout_secs.max(1)),
        max_connections: max_connections(cli.max_connections),
    };
    serve_with(listener, router, shutdown_signal(), options).await?;
    Ok(())
}

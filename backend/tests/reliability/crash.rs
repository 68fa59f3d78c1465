//! Crash safety: clients keep uploading and committing while the server is killed with
//! SIGKILL and restarted on the same data dir, again and again. Afterwards the database
//! passes SQLite's integrity check, every blob file hashes to its name, no commit the server
//! acknowledged is missing, and a fresh client downloads every current file intact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sync_core::ContentHash;
use sync_core::protocol::{
    BlobRef, ChangesRequest, ChangesResponse, CommitOutcome, CommitResponse, DownloadRequest,
    DownloadResponse, HistoryResponse, TokenResponse,
};

use crate::common::{Server, put_op};
use crate::net::{Answer, Base, Down, Net, Rng};
use crate::skip_on_aws;

/// No retention pruning (every acknowledged version must stay findable) and no per-user
/// request limit (the clients retry hard right after each restart).
const FLAGS: &[&str] = &[
    "--keep-versions",
    "1000000",
    "--max-versions",
    "1000000",
    "--rate-limit",
    "100000",
    "--rate-burst",
    "100000",
];
const GAME: &str = "crashgame";
const FILES: [&str; 3] = ["1-1-LT1.save", "1-2-LT1.save", "persistent"];
const CRASHES: usize = 12;
/// The metadata database under the data dir (`METADATA_FILE` in `src/main.rs`).
const DATABASE: &str = "metadata.sqlite3";

/// A commit the server answered 200 `committed` to.
#[derive(Debug, Clone)]
struct Ack {
    account: usize,
    path: &'static str,
    version: u64,
    sha256: ContentHash,
}

#[derive(Debug, Default)]
struct Tally {
    acks: Vec<Ack>,
    conflicts: usize,
    /// Connection refused / reset / timed out, or a 5xx, 429 or 503: retried.
    transient: usize,
    /// Anything a correct server should never answer here.
    unexpected: Vec<String>,
}

/// Why one sync attempt stopped.
enum Stop {
    Transient,
    Unexpected(String),
}

impl From<Down> for Stop {
    fn from(_: Down) -> Self {
        Stop::Transient
    }
}

/// A status worth retrying after a restart or under load.
fn transient(answer: &Answer) -> bool {
    answer.status == 429 || answer.status >= 500
}

fn check(answer: &Answer, want: std::ops::RangeInclusive<u16>, what: &str) -> Result<(), Stop> {
    if want.contains(&answer.status) {
        Ok(())
    } else if transient(answer) {
        Err(Stop::Transient)
    } else {
        Err(Stop::Unexpected(format!("{what}: {}", answer.describe())))
    }
}

/// One client: announce, upload, commit `bytes` at `path` expecting `expect`. Returns the
/// outcome of the commit.
fn sync_once(
    net: &Net,
    path: &'static str,
    expect: u64,
    bytes: &[u8],
) -> Result<CommitOutcome, Stop> {
    let sha256 = ContentHash::of(bytes);
    let announced = net.post(
        &format!("/v1/games/{GAME}/changes"),
        &ChangesRequest {
            since: None,
            uploads: vec![BlobRef {
                sha256,
                size: bytes.len() as u64,
            }],
        },
    )?;
    check(&announced, 200..=200, "changes")?;
    let answer: ChangesResponse = announced.json().map_err(Stop::Unexpected)?;
    let target = answer
        .uploads
        .into_iter()
        .next()
        .ok_or_else(|| Stop::Unexpected("changes answered no upload target".into()))?;
    if !target.present {
        let url = target
            .url
            .as_deref()
            .ok_or_else(|| Stop::Unexpected("upload target without a URL".into()))?;
        let put = net.put_blob(url, &target.headers, bytes)?;
        check(&put, 200..=299, "upload")?;
    }
    let committed = net.post(
        &format!("/v1/games/{GAME}/commit"),
        &sync_core::protocol::CommitRequest {
            ops: vec![put_op(path, expect, bytes)],
        },
    )?;
    check(&committed, 200..=200, "commit")?;
    let mut response: CommitResponse = committed.json().map_err(Stop::Unexpected)?;
    if response.results.len() != 1 {
        return Err(Stop::Unexpected(format!(
            "commit of one op answered {} outcomes",
            response.results.len()
        )));
    }
    Ok(response.results.remove(0))
}

/// Commits new versions of [`FILES`] until `stop`, riding out restarts.
fn run_client(net: &Net, account: usize, seed: u64, stop: &AtomicBool) -> Tally {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let mut expect = [0u64; FILES.len()];
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let file = usize::try_from(rng.range(0, FILES.len() as u64)).expect("small index");
        let path = FILES[file];
        // Unique content: who wrote it and when, then noise up to 48 KiB.
        let mut bytes = format!("seed {seed} save {n} of {path}\n").into_bytes();
        let header = bytes.len();
        bytes.resize(
            header + usize::try_from(rng.range(0, 48 * 1024)).expect("size"),
            0,
        );
        rng.fill(&mut bytes[header..]);
        match sync_once(net, path, expect[file], &bytes) {
            Ok(CommitOutcome::Committed { version, entry }) => {
                let sha256 = ContentHash::of(&bytes);
                if entry.as_ref().is_some_and(|e| e.sha256 != sha256) {
                    tally.unexpected.push(format!(
                        "commit of {path} answered another entry: {entry:?}"
                    ));
                }
                expect[file] = version;
                tally.acks.push(Ack {
                    account,
                    path,
                    version,
                    sha256,
                });
            }
            Ok(CommitOutcome::Conflict { current, .. }) => {
                // Our earlier commit whose answer was lost, or the account's other device.
                tally.conflicts += 1;
                expect[file] = current.map_or(0, |c| c.version);
            }
            Err(Stop::Transient) => {
                tally.transient += 1;
                std::thread::sleep(Duration::from_millis(15));
            }
            Err(Stop::Unexpected(what)) => {
                tally.unexpected.push(what);
                std::thread::sleep(Duration::from_millis(15));
            }
        }
    }
    tally
}

fn seed() -> u64 {
    std::env::var("RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// SQLite's own verdict on the database file (the server is not running).
fn integrity(database: &Path) -> (Vec<String>, usize) {
    let conn = rusqlite::Connection::open(database).expect("open the metadata database");
    let mut statement = conn
        .prepare("PRAGMA integrity_check")
        .expect("prepare integrity_check");
    let verdict: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("run integrity_check")
        .collect::<Result<_, _>>()
        .expect("integrity_check rows");
    let mut statement = conn
        .prepare("PRAGMA foreign_key_check")
        .expect("prepare foreign_key_check");
    let dangling = statement
        .query_map([], |_| Ok(()))
        .expect("run foreign_key_check")
        .count();
    (verdict, dangling)
}

/// Every file under `blobs/<user>/<game>/<xx>/<sha>`: hashes to its name, filed under its
/// first two hex digits. Returns how many there are; panics with the first bad one.
fn check_blob_files(blobs: &Path) -> usize {
    let mut checked = 0;
    let dirs = |dir: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| entry.expect("dir entry").path())
            .collect()
    };
    for user in dirs(blobs) {
        if user.file_name().is_some_and(|n| n == ".tmp") {
            continue;
        }
        for game in dirs(&user) {
            for prefix in dirs(&game) {
                for blob in dirs(&prefix) {
                    let name = blob
                        .file_name()
                        .and_then(|n| n.to_str())
                        .expect("UTF-8 blob name")
                        .to_owned();
                    let bytes = std::fs::read(&blob).expect("read blob file");
                    assert_eq!(
                        ContentHash::of(&bytes).to_hex(),
                        name,
                        "{} does not hash to its name",
                        blob.display()
                    );
                    let folder = prefix.file_name().and_then(|n| n.to_str());
                    assert_eq!(folder, name.get(..2), "{} misfiled", blob.display());
                    checked += 1;
                }
            }
        }
    }
    checked
}

/// Downloads `url` and checks the bytes against `sha256` and `size`.
fn download_intact(net: &Net, url: &str, sha256: ContentHash, size: Option<u64>) {
    let got = net.get(url).expect("download after the last restart");
    assert_eq!(got.status, 200, "download {sha256}: {}", got.describe());
    assert_eq!(ContentHash::of(&got.body), sha256, "downloaded bytes");
    if let Some(size) = size {
        assert_eq!(got.body.len() as u64, size, "downloaded size of {sha256}");
    }
}

#[test]
fn acknowledged_commits_survive_repeated_sigkill() {
    skip_on_aws!("kills the embedded server and reads its data dir");
    let started = Instant::now();
    let seed = seed();
    eprintln!("crash test seed {seed} (replay with RELIABILITY_SEED={seed})");
    let mut rng = Rng::new(seed);
    let server = Server::start(FLAGS);
    let base: Base = Arc::new(RwLock::new(server.base.clone()));

    // Three accounts; the first one syncs from two devices, which conflict with each other.
    let anon = server.client();
    let mut sessions: Vec<(usize, String)> = Vec::new();
    for (account, name) in ["alice", "bobby", "carol"].into_iter().enumerate() {
        let (_, tokens) = anon.signup(name);
        sessions.push((account, tokens.access_token));
    }
    let phone: TokenResponse = anon.login("alice", "correct horse").json();
    sessions.push((0, phone.access_token));
    let net = Net::new(Arc::clone(&base), Duration::from_secs(10));

    let stop = AtomicBool::new(false);
    let (tallies, mut server): (Vec<Tally>, Server) = std::thread::scope(|scope| {
        let mut server = server;
        let clients: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(i, (account, token))| {
                let net = net.with_token(token);
                let stop = &stop;
                let client_seed = seed ^ (0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(i as u64 + 1));
                scope.spawn(move || run_client(&net, *account, client_seed, stop))
            })
            .collect();
        for _ in 0..CRASHES {
            std::thread::sleep(Duration::from_millis(rng.range(150, 900)));
            // `Child::kill` is SIGKILL on Unix: no shutdown hook runs.
            server = server.restart(FLAGS);
            *base
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = server.base.clone();
        }
        // Some commits on the last server too, then stop.
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::Relaxed);
        let tallies = clients
            .into_iter()
            .map(|c| c.join().expect("client thread"))
            .collect();
        (tallies, server)
    });
    let acks: Vec<Ack> = tallies.iter().flat_map(|t| t.acks.clone()).collect();
    let unexpected: Vec<&String> = tallies.iter().flat_map(|t| &t.unexpected).collect();
    let conflicts: usize = tallies.iter().map(|t| t.conflicts).sum();
    let transient: usize = tallies.iter().map(|t| t.transient).sum();
    assert!(
        unexpected.is_empty(),
        "{} unexpected answers, first ones: {:#?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
    assert!(
        acks.len() >= 30,
        "too little progress: {} commits",
        acks.len()
    );

    // One last SIGKILL, then the files are examined with nothing running.
    let killed = std::process::Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -9 failed");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server dies on SIGKILL");
    assert!(!status.success(), "{status:?}");
    let crashes = CRASHES + 1;
    // (a) The database.
    let (verdict, dangling) = integrity(&server.data_dir.path().join(DATABASE));
    assert_eq!(verdict, vec!["ok".to_owned()], "PRAGMA integrity_check");
    assert_eq!(dangling, 0, "PRAGMA foreign_key_check rows");
    // (b) The blob files.
    let blob_files = check_blob_files(&server.data_dir.path().join("blobs"));

    // (c) Every acknowledged commit, in its file's history with its content.
    let server = server.restart(FLAGS);
    *base
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = server.base.clone();
    let mut lost = Vec::new();
    let mut newest: BTreeMap<(usize, &str), u64> = BTreeMap::new();
    let mut fresh_sessions = Vec::new();
    for (account, name) in ["alice", "bobby", "carol"].into_iter().enumerate() {
        let tokens: TokenResponse = server.client().login(name, "correct horse").json();
        let fresh = net.with_token(&tokens.access_token);
        for path in FILES {
            let answer = fresh
                .get(&format!("/v1/games/{GAME}/history?path={path}"))
                .expect("history");
            assert_eq!(answer.status, 200, "history: {}", answer.describe());
            let history: HistoryResponse = answer.json().expect("history JSON");
            let versions: BTreeMap<u64, ContentHash> = history
                .versions
                .iter()
                .map(|v| (v.version, v.sha256))
                .collect();
            assert_eq!(versions.len(), history.versions.len(), "a version twice");
            assert!(history.versions.iter().filter(|v| v.current).count() <= 1);
            for ack in acks
                .iter()
                .filter(|a| a.account == account && a.path == path)
            {
                if versions.get(&ack.version) != Some(&ack.sha256) {
                    lost.push(ack.clone());
                }
                let top = newest.entry((account, path)).or_default();
                *top = (*top).max(ack.version);
            }
        }
        fresh_sessions.push((account, fresh));
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged commits lost: {lost:#?}",
        lost.len()
    );

    // (d) A fresh device re-syncs from scratch: every current file downloads intact, and no
    // file is behind what was acknowledged; every acknowledged content is still downloadable.
    let mut current_files = 0;
    let mut downloaded = 0;
    for (account, fresh) in &fresh_sessions {
        let mut since = None;
        let mut entries = Vec::new();
        let mut downloads = BTreeMap::new();
        loop {
            let answer = fresh
                .post(
                    &format!("/v1/games/{GAME}/changes"),
                    &ChangesRequest {
                        since,
                        uploads: vec![],
                    },
                )
                .expect("changes");
            assert_eq!(answer.status, 200, "changes: {}", answer.describe());
            let page: ChangesResponse = answer.json().expect("changes JSON");
            entries.extend(page.changes);
            downloads.extend(page.downloads);
            since = Some(page.cursor);
            if !page.more {
                break;
            }
        }
        for entry in &entries {
            let acked = newest
                .get(&(*account, entry.path.as_str()))
                .copied()
                .unwrap_or(0);
            assert!(
                entry.version >= acked,
                "{} is at version {} but {acked} was acknowledged",
                entry.path,
                entry.version
            );
            assert!(!entry.deleted, "nobody deleted {}", entry.path);
            let url = downloads
                .get(&entry.sha256)
                .unwrap_or_else(|| panic!("no download URL for {}", entry.path));
            download_intact(fresh, url, entry.sha256, Some(entry.size));
            current_files += 1;
        }
        let paths: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        for (acked_account, path) in newest.keys() {
            if acked_account == account {
                assert!(paths.contains(path), "{path} is missing from the manifest");
            }
        }
        let wanted: Vec<ContentHash> = acks
            .iter()
            .filter(|a| a.account == *account)
            .map(|a| a.sha256)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // At most 1,000 hashes per request (`max_batch_ops`).
        for batch in wanted.chunks(500) {
            let answer = fresh
                .post(
                    &format!("/v1/games/{GAME}/downloads"),
                    &DownloadRequest {
                        sha256: batch.to_vec(),
                    },
                )
                .expect("downloads");
            assert_eq!(answer.status, 200, "downloads: {}", answer.describe());
            let urls: DownloadResponse = answer.json().expect("downloads JSON");
            for sha256 in batch {
                let url = urls
                    .downloads
                    .get(sha256)
                    .unwrap_or_else(|| panic!("acknowledged content {sha256} is gone"));
                download_intact(fresh, url, *sha256, None);
                downloaded += 1;
            }
        }
    }
    eprintln!(
        "crash test: {crashes} SIGKILLs, {} acknowledged commits, {conflicts} conflicts, \
         {transient} retried failures, {blob_files} blob files hash right, \
         {current_files} current files and {downloaded} acknowledged contents download intact, \
         lost = {}, in {:.1} s",
        acks.len(),
        lost.len(),
        started.elapsed().as_secs_f64()
    );
}

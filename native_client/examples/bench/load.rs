//! Benchmark 5, load: 200 clients sign up and log in at once, then each syncs in a loop
//! for `RENPY_CLOUD_BENCH_SECS` (default 30), changing one of its 5 small slots before
//! every sync. Prints errors, sync latency, the server's peak memory and sign-up/login
//! latency; asserts nothing, fails only when the server dies.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::device::Device;
use crate::net;
use crate::server::Server;

const CLIENTS: usize = 200;
const SLOTS: usize = 5;
const MIN_SLOT_BYTES: usize = 16 * 1024;
const MAX_SLOT_BYTES: usize = 64 * 1024;
const DEFAULT_SECS: u64 = 30;
/// A real client backs off after a failure; without a pause a dead server would be hammered
/// by a hot loop of instant errors.
const PAUSE_AFTER_ERROR: Duration = Duration::from_millis(100);

/// What one client measured.
#[derive(Default)]
struct ClientRun {
    signup: Option<Duration>,
    login: Option<Duration>,
    /// When each timed sync started (since the loop began) and how long it took.
    syncs: Vec<(Duration, Duration)>,
    /// Timed syncs whose report did not upload the one changed slot.
    missed_changes: usize,
    setup_errors: Vec<String>,
    sync_errors: Vec<String>,
}

/// The three moments every client and the main thread meet at, so phases do not overlap.
struct Meetings {
    signed_up: Barrier,
    logged_in: Barrier,
    prepared: Barrier,
}

pub fn load(bin: &Path) -> Result<()> {
    let duration = Duration::from_secs(bench_secs()?);
    let server = Arc::new(Server::start(bin, false)?);
    let idle = server.peak_rss_kib()?;
    let meetings = Arc::new(Meetings {
        signed_up: Barrier::new(CLIENTS + 1),
        logged_in: Barrier::new(CLIENTS + 1),
        prepared: Barrier::new(CLIENTS + 1),
    });
    // One thread per client: the transport is single-threaded by design.
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (server, meetings) = (server.clone(), meetings.clone());
            std::thread::spawn(move || run_client(&server, &meetings, i, duration))
        })
        .collect();
    let accounts_started = Instant::now();
    meetings.signed_up.wait();
    meetings.logged_in.wait();
    let accounts_time = accounts_started.elapsed();
    // The peak is reset here so the sync phase's own peak is seen apart from the sign-ups'.
    let peak_accounts = server
        .peak_rss_kib()
        .context("server memory after the logins")?;
    server.reset_peak()?;
    meetings.prepared.wait();
    let started = Instant::now();
    let runs: Vec<ClientRun> = handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| ClientRun {
                setup_errors: vec!["client thread panicked".into()],
                ..ClientRun::default()
            })
        })
        .collect();
    let sync_wall = started.elapsed();
    if !server.is_running() {
        bail!("the server died during the load benchmark");
    }
    let peak_syncs = server.peak_rss_kib()?;
    let rss_end = server.rss_kib()?;
    print_figures(
        &runs,
        duration,
        sync_wall,
        accounts_time,
        [idle, peak_accounts, peak_syncs, rss_end],
    );
    Ok(())
}

/// `RENPY_CLOUD_BENCH_SECS`: how long the clients sync (a few seconds for a quick try).
fn bench_secs() -> Result<u64> {
    match std::env::var("RENPY_CLOUD_BENCH_SECS") {
        Err(_) => Ok(DEFAULT_SECS),
        Ok(s) => s
            .trim()
            .parse()
            .with_context(|| format!("RENPY_CLOUD_BENCH_SECS must be whole seconds, got {s:?}")),
    }
}

fn run_client(server: &Server, meetings: &Meetings, i: usize, duration: Duration) -> ClientRun {
    let mut run = ClientRun::default();
    let user = format!("bench-load-{i}");
    let started = Instant::now();
    match Device::signup(server, &user) {
        Ok(_) => run.signup = Some(started.elapsed()),
        Err(e) => run.setup_errors.push(format!("{e:#}")),
    }
    // Every client meets every barrier, even after a failure, or the others would hang.
    meetings.signed_up.wait();
    let started = Instant::now();
    let device = match Device::login(server, &user) {
        Ok(device) => {
            run.login = Some(started.elapsed());
            Some(device)
        }
        Err(e) => {
            run.setup_errors.push(format!("{e:#}"));
            None
        }
    };
    meetings.logged_in.wait();
    // The first sync uploads all slots; it is setup, so the timed syncs each carry one change.
    let device = device.and_then(|mut device| {
        let first = (1..=SLOTS)
            .try_for_each(|slot| device.write(&slot_name(slot), &slot_bytes()))
            .and_then(|()| device.sync());
        match first {
            Ok(_) => Some(device),
            Err(e) => {
                run.setup_errors.push(format!("{e:#}"));
                None
            }
        }
    });
    meetings.prepared.wait();
    let Some(mut device) = device else {
        return run;
    };
    let loop_started = Instant::now();
    let mut slot = 0;
    while loop_started.elapsed() < duration {
        slot = slot % SLOTS + 1;
        if let Err(e) = device.write(&slot_name(slot), &slot_bytes()) {
            run.sync_errors.push(format!("write: {e:#}"));
            continue;
        }
        let at = loop_started.elapsed();
        let started = Instant::now();
        match device.sync() {
            Ok(report) => {
                run.syncs.push((at, started.elapsed()));
                if report.uploaded.len() != 1 {
                    run.missed_changes += 1;
                }
            }
            Err(e) => {
                run.sync_errors.push(format!("{e:#}"));
                std::thread::sleep(PAUSE_AFTER_ERROR);
            }
        }
    }
    run
}

fn slot_name(slot: usize) -> String {
    format!("1-{slot}-LT1.save")
}

/// A differently sized slot each time, so the size alone already shows the change.
fn slot_bytes() -> Vec<u8> {
    net::random_bytes(fastrand::usize(MIN_SLOT_BYTES..=MAX_SLOT_BYTES))
}

/// `[idle, peak over the sign-ups and logins, peak over the syncs, at the end]`, in KiB.
type Memory = [u64; 4];

fn print_figures(
    runs: &[ClientRun],
    duration: Duration,
    sync_wall: Duration,
    accounts_time: Duration,
    [idle, peak_accounts, peak_syncs, rss_end]: Memory,
) {
    let signups: Vec<Duration> = runs.iter().filter_map(|r| r.signup).collect();
    let logins: Vec<Duration> = runs.iter().filter_map(|r| r.login).collect();
    let syncs: Vec<(Duration, Duration)> = runs.iter().flat_map(|r| r.syncs.clone()).collect();
    let latencies: Vec<Duration> = syncs.iter().map(|(_, took)| *took).collect();
    // The first and last quarter of the loop: a latency that grows shows up here.
    let quarter = duration / 4;
    let early: Vec<Duration> = syncs
        .iter()
        .filter(|(at, _)| *at < quarter)
        .map(|(_, took)| *took)
        .collect();
    let late: Vec<Duration> = syncs
        .iter()
        .filter(|(at, _)| *at >= duration - quarter)
        .map(|(_, took)| *took)
        .collect();
    let setup_errors: usize = runs.iter().map(|r| r.setup_errors.len()).sum();
    let sync_errors: usize = runs.iter().map(|r| r.sync_errors.len()).sum();
    let missed: usize = runs.iter().map(|r| r.missed_changes).sum();
    let mut distinct: BTreeMap<&str, usize> = BTreeMap::new();
    for e in runs
        .iter()
        .flat_map(|r| r.setup_errors.iter().chain(&r.sync_errors))
    {
        *distinct.entry(e.as_str()).or_default() += 1;
    }
    let mb = |kib: u64| kib as f64 / 1024.0;

    println!(
        "5. load: {CLIENTS} clients, each changing 1 of {SLOTS} slots ({}-{} KiB) and syncing, for {} s",
        MIN_SLOT_BYTES / 1024,
        MAX_SLOT_BYTES / 1024,
        duration.as_secs()
    );
    println!(
        "   syncs           {:>10}     ({:.1}/s over {:.1} s)",
        latencies.len(),
        latencies.len() as f64 / sync_wall.as_secs_f64(),
        sync_wall.as_secs_f64()
    );
    println!(
        "   errors          {:>10}     (goal 0; {sync_errors} in syncs, {setup_errors} in sign-up/login/first sync)",
        sync_errors + setup_errors
    );
    println!("   change missed   {missed:>10}     (syncs that did not upload the changed slot)");
    println!("   sync latency    {}", percentiles(&latencies, true));
    println!(
        "   sync p50 trend  {:>10} ms in the first {:.1} s, {} ms in the last {:.1} s",
        ms(percentile(&early, 0.5)),
        quarter.as_secs_f64(),
        ms(percentile(&late, 0.5)),
        quarter.as_secs_f64()
    );
    println!(
        "   server peak RSS {:>10.1} MiB over the whole run (goal < 150 MB)",
        mb(peak_accounts.max(peak_syncs))
    );
    println!(
        "   (sign-ups and logins {:.1} MiB, syncs {:.1} MiB; idle {:.1} MiB, {:.1} MiB at the end)",
        mb(peak_accounts),
        mb(peak_syncs),
        mb(idle),
        mb(rss_end)
    );
    println!(
        "   sign-up         {}  ({} of {CLIENTS})",
        percentiles(&signups, false),
        signups.len()
    );
    println!(
        "   login           {}  ({} of {CLIENTS}; sign-ups + logins took {:.1} s)",
        percentiles(&logins, false),
        logins.len(),
        accounts_time.as_secs_f64()
    );
    for (message, count) in distinct.iter().take(5) {
        println!("   error x{count}: {message}");
    }
    if distinct.len() > 5 {
        println!("   ... and {} other distinct errors", distinct.len() - 5);
    }
}

/// `p50 … ms, p99 … ms` and, with `max`, the slowest too.
fn percentiles(samples: &[Duration], max: bool) -> String {
    let mut line = format!(
        "p50 {} ms, p99 {} ms",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99))
    );
    if max {
        line.push_str(&format!(", max {} ms", ms(samples.iter().max().copied())));
    }
    line
}

/// The nearest-rank percentile `p` (0..=1); `None` without samples.
fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1e3))
}

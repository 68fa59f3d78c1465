//! `cargo xtask bench`: figures for the sync goals, measured against the real
//! `renpy-cloud-server` (release build) on loopback. Prints figures; asserts nothing.
//!
//! 1. No-op sync of 200 slots: time, requests, files re-hashed (goal: 1 request, 0 hashed).
//! 2. One changed slot: bytes on the wire from client to server vs the slot's size (goal
//!    ≤ 1.05×) and round trips (goal ≤ 3).
//! 3. First upload of a 100 MB save vs a plain loopback HTTP PUT of the same bytes (goal
//!    ≥ 0.7× the plain throughput).
//! 4. 200 clients syncing at once: the server's peak memory (goal < 150 MB) and errors.
//! 5. Load: 200 clients syncing in a loop for 30 s (`RENPY_CLOUD_BENCH_SECS`): errors (goal
//!    0), sync latency, the server's peak memory (goal < 150 MB), sign-up and login latency.

mod device;
mod load;
mod net;
mod server;

use std::time::Instant;

use anyhow::Result;

use device::Device;
use server::Server;

const SLOT_BYTES: usize = 256 * 1024;

fn main() -> Result<()> {
    let bin = server::binary()?;
    // Optional filter: `cargo xtask bench upload` runs only the benchmarks whose name contains
    // it, or only the one named exactly so (`load` alone, not also `upload`).
    let filter = std::env::args().nth(1).unwrap_or_default();
    println!("renpy-cloud benchmarks (server: {})\n", bin.display());
    type Bench = fn(&std::path::Path) -> Result<()>;
    let benches: [(&str, Bench); 4] = [
        ("noop-and-one-change", noop_and_one_change),
        ("upload", first_upload),
        ("many-clients", many_clients),
        ("load", load::load),
    ];
    let exact = benches.iter().any(|(name, _)| *name == filter);
    let selected = |name: &str| {
        if exact {
            name == filter
        } else {
            name.contains(&filter)
        }
    };
    for (name, bench) in benches {
        if selected(name) {
            bench(&bin)?;
        }
    }
    Ok(())
}

fn noop_and_one_change(bin: &std::path::Path) -> Result<()> {
    let server = Server::start(bin, true)?;
    let mut dev = Device::signup(&server, "bench-noop")?;
    for page in 1..=34 {
        for slot in 1..=6 {
            if (page - 1) * 6 + slot <= 200 {
                dev.write(
                    &format!("{page}-{slot}-LT1.save"),
                    &net::random_bytes(SLOT_BYTES),
                )?;
            }
        }
    }
    let first = dev.sync()?;
    println!("setup: first sync uploaded {} slots", first.uploaded.len());

    let runs = 20;
    let started = Instant::now();
    let mut last = None;
    for _ in 0..runs {
        last = Some(dev.sync()?);
    }
    let per_sync = started.elapsed() / runs;
    let last = last.ok_or_else(|| anyhow::anyhow!("no runs"))?;
    println!("1. no-op sync of 200 slots");
    println!(
        "   time            {:>10.2} ms (mean of {runs})",
        per_sync.as_secs_f64() * 1e3
    );
    println!("   requests        {:>10}     (goal 1)", last.requests);
    println!("   files re-hashed {:>10}     (goal 0)", last.hashed_files);

    dev.write("7-3-LT1.save", &net::random_bytes(SLOT_BYTES))?;
    let sent_before = server.bytes_from_clients();
    let report = dev.sync()?;
    let sent = server.bytes_from_clients() - sent_before;
    println!("2. one changed slot of {} bytes", SLOT_BYTES);
    println!(
        "   bytes sent      {:>10}     = {:.3}x the slot (goal <= 1.05x)",
        sent,
        sent as f64 / SLOT_BYTES as f64
    );
    println!("   round trips     {:>10}     (goal <= 3)", report.requests);
    Ok(())
}

fn first_upload(bin: &std::path::Path) -> Result<()> {
    const SIZE: usize = 100 * 1024 * 1024;
    let bytes = net::random_bytes(SIZE);
    let plain = net::PutSink::start(false)?.time_put(&bytes)?;
    let durable = net::PutSink::start(true)?.time_put(&bytes)?;

    let server = Server::start(bin, false)?;
    let mut dev = Device::signup(&server, "bench-big")?;
    dev.write("1-1-LT1.save", &bytes)?;
    let started = Instant::now();
    let (report, phases) = dev.sync_timed()?;
    let synced = started.elapsed();
    let mb = SIZE as f64 / (1024.0 * 1024.0);
    println!(
        "3. first upload of a 100 MB save (scan + hash + upload + server verify + fsync + commit)"
    );
    println!(
        "   plain HTTP PUT  {:>10.1} MB/s ({:.2} s)",
        mb / plain.as_secs_f64(),
        plain.as_secs_f64()
    );
    println!(
        "   renpy-cloud     {:>10.1} MB/s ({:.2} s, {} requests)",
        mb / synced.as_secs_f64(),
        synced.as_secs_f64(),
        report.requests
    );
    let mut previous = started;
    let steps: Vec<String> = phases
        .iter()
        .map(|(phase, at)| {
            let step = format!("{phase:?} +{:.0} ms", (*at - previous).as_secs_f64() * 1e3);
            previous = *at;
            step
        })
        .collect();
    println!("   phase starts    {}", steps.join(", "));
    println!(
        "   ratio           {:>10.2}x vs plain, {:.2}x vs durable (goal >= 0.7x)",
        plain.as_secs_f64() / synced.as_secs_f64(),
        durable.as_secs_f64() / synced.as_secs_f64()
    );
    Ok(())
}

fn many_clients(bin: &std::path::Path) -> Result<()> {
    const CLIENTS: usize = 200;
    let server = std::sync::Arc::new(Server::start(bin, false)?);
    let idle = server.peak_rss_kib()?;
    // Each client lives on its own thread (the transport is single-threaded by design):
    // sign up, write 5 slots, then all sync at the same moment.
    let ready = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS + 1));
    let go = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS + 1));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (server, ready, go) = (server.clone(), ready.clone(), go.clone());
            std::thread::spawn(move || -> Result<usize> {
                let prepared =
                    Device::signup(&server, &format!("bench-many-{i}")).and_then(|mut dev| {
                        for slot in 1..=5 {
                            dev.write(
                                &format!("1-{slot}-LT1.save"),
                                &net::random_bytes(64 * 1024),
                            )?;
                        }
                        Ok(dev)
                    });
                ready.wait();
                go.wait();
                Ok(prepared?.sync()?.uploaded.len())
            })
        })
        .collect();
    ready.wait();
    let after_signups = server.peak_rss_kib()?;
    server.reset_peak()?;
    let started = Instant::now();
    go.wait();
    let mut errors = 0;
    let mut files = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(n)) => files += n,
            _ => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    let peak = server.peak_rss_kib()?;
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!("4. {CLIENTS} clients syncing at once (5 slots of 64 KiB each)");
    println!(
        "   wall time       {:>10.2} s, {files} files committed",
        elapsed.as_secs_f64()
    );
    println!("   errors          {:>10}     (goal 0)", errors);
    println!(
        "   server peak RSS {:>10.1} MB  during the syncs (goal < 150 MB)",
        mb(peak)
    );
    println!(
        "   (idle {:.1} MB; peak over the 200 sign-ups before: {:.1} MB)",
        mb(idle),
        mb(after_signups)
    );
    Ok(())
}

//! A flood of failed logins cannot make the server grow: 150 concurrent logins with ~1 MB
//! usernames (and passwords too long to hash) are refused fast, then 1,000 small failed
//! logins under distinct names, while the server's peak resident memory (VmHWM) is watched.
//!
//! `http_api`'s `logins_with_names_no_account_can_have_are_refused_and_kept_nowhere` sends
//! 512 KB names one at a time and looks at the resident size afterwards; this is the
//! concurrent variant with a ceiling on the peak.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::Server;
use crate::net::{Answer, Net};
use crate::skip_on_aws;

/// Peak growth allowed over the idle server (it kept about +150 MiB before the fix).
const CEILING_MIB: u64 = 40;
const BIG_LOGINS: usize = 150;
const SMALL_LOGINS: usize = 1_000;
const THREADS: usize = 6;
/// Above `max_json_body` (1 MiB) with the password: these are refused before parsing.
const OVER_LIMIT_NAME: usize = 1_100_000;
/// Under it: parsed, then refused as an invalid username.
const UNDER_LIMIT_NAME: usize = 1_000_000;

/// A `kB` field of /proc/<pid>/status, in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// One login body, serialised by hand so that no `Value` copy of the name is kept around.
fn login_body(username: &str, password: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "username": username,
        "password": password,
        "device_name": "flood",
    }))
    .expect("serialise a login")
}

/// Runs `count` requests over [`THREADS`] threads; `send(i)` makes the i-th.
fn concurrently(count: usize, send: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    send(i);
                }
            });
        }
    });
}

fn expect_json_error(answer: &Answer, statuses: &[u16], what: &str) -> String {
    assert!(
        statuses.contains(&answer.status),
        "{what}: {}",
        answer.describe()
    );
    answer
        .error_code()
        .unwrap_or_else(|| panic!("{what}: not a JSON error body: {}", answer.describe()))
}

/// [`BIG_LOGINS`] concurrent logins with unique ~1 MB names (every tenth above the body
/// limit); each must be refused quickly with a JSON error. Returns the answers by status and
/// code, and the slowest answer's time.
fn huge_logins(net: &Net, long_password: &str) -> (BTreeMap<(u16, String), usize>, Duration) {
    let slowest = std::sync::Mutex::new(Duration::ZERO);
    let codes = std::sync::Mutex::new(BTreeMap::new());
    concurrently(BIG_LOGINS, |i| {
        let len = if i % 10 == 9 {
            OVER_LIMIT_NAME
        } else {
            UNDER_LIMIT_NAME
        };
        // Unique per request: a name kept anywhere would cost a megabyte each.
        let mut username = format!("flood{i}-");
        username.extend(std::iter::repeat_n('n', len - username.len()));
        let body = login_body(&username, long_password);
        drop(username);
        let sent = Instant::now();
        let answer = net
            .post_raw("/v1/auth/login", "application/json", &body)
            .unwrap_or_else(|e| panic!("login {i} ({} bytes): {e}", body.len()));
        let took = sent.elapsed();
        let code = expect_json_error(&answer, &[400, 413], "a huge login");
        if answer.status == 400 {
            assert_eq!(code, "invalid_username", "{}", answer.describe());
        }
        let mut slowest = slowest.lock().expect("slowest lock");
        *slowest = (*slowest).max(took);
        *codes
            .lock()
            .expect("codes lock")
            .entry((answer.status, code))
            .or_default() += 1;
    });
    let slowest = slowest.into_inner().expect("slowest");
    let codes = codes.into_inner().expect("codes");
    assert!(
        slowest < Duration::from_secs(10),
        "slowest answer {slowest:?}"
    );
    (codes, slowest)
}

#[test]
fn a_login_flood_with_huge_names_stays_under_a_memory_ceiling() {
    skip_on_aws!("measures the embedded server process's own memory");
    let started = Instant::now();
    let server = Server::start(&[]);
    let pid = server.pid();
    let net = Net::new(
        Arc::new(RwLock::new(server.base.clone())),
        Duration::from_secs(30),
    );
    let long_password = "p".repeat(1025);

    // Warm up (connections, runtime threads, allocator pools) with small refused logins.
    concurrently(THREADS * 4, |i| {
        let answer = net
            .post_raw(
                "/v1/auth/login",
                "application/json",
                &login_body(&format!("warm-{i}"), &long_password),
            )
            .expect("warm-up login");
        expect_json_error(&answer, &[401], "warm-up");
    });
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = proc_kib(pid, "VmRSS:");
    let idle_hwm = proc_kib(pid, "VmHWM:");

    let (codes, slowest) = huge_logins(&net, &long_password);
    let big_rss = proc_kib(pid, "VmRSS:");
    let big_hwm = proc_kib(pid, "VmHWM:");

    // 1,000 failed logins under distinct, valid names: each one a limiter key (a digest).
    concurrently(SMALL_LOGINS, |i| {
        let answer = net
            .post_raw(
                "/v1/auth/login",
                "application/json",
                &login_body(&format!("player-{i:05}"), &long_password),
            )
            .expect("small login");
        let code = expect_json_error(&answer, &[401], "a small failed login");
        assert_eq!(code, "invalid_credentials");
    });
    let small_rss = proc_kib(pid, "VmRSS:");
    let small_hwm = proc_kib(pid, "VmHWM:");

    // The same flood again: what the first one left behind is reused, nothing piles up.
    let (again, again_slowest) = huge_logins(&net, &long_password);
    let again_rss = proc_kib(pid, "VmRSS:");
    let again_hwm = proc_kib(pid, "VmHWM:");

    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "login flood: idle RSS {:.1} MiB (peak so far {:.1}); after {BIG_LOGINS} huge logins \
         {codes:?}, slowest {slowest:?}: RSS {:.1} MiB, peak {:.1} MiB (+{:.1}); after \
         {SMALL_LOGINS} small failed ones: RSS {:.1} MiB, peak {:.1} MiB; after {BIG_LOGINS} \
         huge ones again {again:?}, slowest {again_slowest:?}: RSS {:.1} MiB, peak {:.1} MiB \
         (+{:.1}, ceiling {CEILING_MIB}); in {:.1} s",
        mib(idle_rss),
        mib(idle_hwm),
        mib(big_rss),
        mib(big_hwm),
        mib(big_hwm.saturating_sub(idle_rss)),
        mib(small_rss),
        mib(small_hwm),
        mib(again_rss),
        mib(again_hwm),
        mib(again_hwm.saturating_sub(idle_rss)),
        started.elapsed().as_secs_f64()
    );
    for (phase, peak) in [
        ("the huge logins", big_hwm),
        ("the small logins", small_hwm),
        ("the second flood", again_hwm),
    ] {
        let grown = peak.saturating_sub(idle_rss) / 1024;
        assert!(
            grown < CEILING_MIB,
            "peak resident memory grew {grown} MiB over the idle server by {phase}"
        );
    }
    // 1,000 limiter keys are digests, ~100 bytes each: no visible growth.
    let by_small = small_rss.saturating_sub(big_rss) / 1024;
    assert!(by_small < 8, "the small logins added {by_small} MiB");
}

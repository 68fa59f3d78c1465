//! Two devices syncing real Ren'Py saves through the real `renpy-cloud-server`, driven only
//! through the `renpy-cloud` binary. Needs `cargo build -p backend --bin renpy-cloud-server`.

mod e2e_support;

use std::collections::BTreeSet;

use e2e_support::{Clock, Device, Server, edited, fixture, renpy_cloud};
use serde_json::Value;
use sync_core::ContentHash;

/// Paths named in a report list (`uploaded`, `downloaded`, ...).
fn paths(report: &Value, list: &str) -> BTreeSet<String> {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} missing in {report}"))
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Everything the player ever saved, so the end can check none of it was lost.
struct Written(BTreeSet<ContentHash>);

impl Written {
    fn save(&mut self, device: &Device, name: &str, bytes: &[u8], clock: &mut Clock) {
        self.0.insert(ContentHash::of(bytes));
        device.write(name, bytes, clock.tick());
    }
}

fn history_hashes(device: &Device, path: &str) -> Vec<(String, Value)> {
    let history = device.json(&["history", path], 0);
    assert_eq!(history["path"], path);
    history["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["sha256"].as_str().expect("sha256").to_owned(), v.clone()))
        .collect()
}

#[test]
fn two_devices_sync_edit_delete_conflict_and_lose_nothing() {
    let server = Server::start();
    let root = tempfile::tempdir().expect("tempdir");
    let a = Device::new(root.path(), "laptop", &server.url);
    let b = Device::new(root.path(), "deck", &server.url);
    let mut clock = Clock::new();
    let mut written = Written(BTreeSet::new());

    // Sign up on A, pair B with a code.
    let alice = a.json(
        &["signup", "--user", "alice", "--password", "correct horse 1"],
        0,
    );
    assert_eq!(alice["username"], "alice");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a.profile)
            .expect("profile")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the profile holds tokens");
    }
    let code = a.json(&["pair"], 0)["code"]
        .as_str()
        .expect("pairing code")
        .to_owned();
    let paired = b.json(&["pair", "--code", &code], 0);
    assert_eq!(paired["user_id"], alice["user_id"]);
    assert_ne!(paired["device_id"], alice["device_id"]);

    // First syncs: A uploads its saves, B contributes one and receives the rest.
    for (name, bytes) in [
        ("1-1-LT1.save", fixture("1-1-LT1.save")),
        ("1-2-LT1.save", fixture("1-2-LT1.save")),
        ("auto-1-LT1.save", fixture("auto-1-LT1.save")),
        ("persistent", fixture("persistent")),
    ] {
        written.save(&a, name, &bytes, &mut clock);
    }
    written.save(
        &b,
        "quick-1-LT1.save",
        &fixture("quick-1-LT1.save"),
        &mut clock,
    );
    let report = a.sync("keep-both");
    assert_eq!(
        paths(&report, "uploaded"),
        set(&[
            "1-1-LT1.save",
            "1-2-LT1.save",
            "auto-1-LT1.save",
            "persistent"
        ])
    );
    let report = b.sync("keep-both");
    assert_eq!(paths(&report, "uploaded"), set(&["quick-1-LT1.save"]));
    assert_eq!(paths(&report, "downloaded").len(), 4);
    assert_eq!(
        b.mtime_ms("1-2-LT1.save"),
        a.mtime_ms("1-2-LT1.save"),
        "Ren'Py shows a slot's time from its mtime: it must travel"
    );
    a.sync("keep-both");
    assert_eq!(a.snapshot(), b.snapshot());
    let noop = a.sync("keep-both");
    assert_eq!(
        noop["requests"], 1,
        "a sync with nothing to do is one request"
    );

    // Edits on both sides and a delete, without overlap.
    written.save(
        &a,
        "1-1-LT1.save",
        &edited(&fixture("1-1-LT1.save"), "a1"),
        &mut clock,
    );
    written.save(
        &b,
        "1-2-LT1.save",
        &edited(&fixture("1-2-LT1.save"), "b1"),
        &mut clock,
    );
    b.remove("auto-1-LT1.save");
    a.sync("keep-both");
    let report = b.sync("keep-both");
    assert_eq!(paths(&report, "downloaded"), set(&["1-1-LT1.save"]));
    assert_eq!(paths(&report, "deleted_remote"), set(&["auto-1-LT1.save"]));
    let report = a.sync("keep-both");
    assert_eq!(paths(&report, "deleted_local"), set(&["auto-1-LT1.save"]));
    assert_eq!(a.snapshot(), b.snapshot());
    let status = a.json(&["status"], 0);
    assert_eq!(status["pending_uploads"], serde_json::json!([]));

    // Conflict under keep-both: the same slot saved on both devices.
    let from_a = edited(&fixture("1-1-LT1.save"), "a2");
    let from_b = edited(&fixture("1-1-LT1.save"), "b2");
    written.save(&a, "1-1-LT1.save", &from_a, &mut clock);
    written.save(&b, "1-1-LT1.save", &from_b, &mut clock);
    a.sync("keep-both");
    let report = b.sync("keep-both");
    let conflict = &report["conflicts"][0];
    assert_eq!(conflict["path"], "1-1-LT1.save", "{report}");
    let copy = conflict["kept_copy"]
        .as_str()
        .expect("keep-both makes a copy")
        .to_owned();
    a.sync("keep-both");
    b.sync("keep-both");
    for device in [&a, &b] {
        let files = device.snapshot();
        assert_eq!(files.get("1-1-LT1.save"), Some(&from_b), "{}", device.name);
        assert_eq!(
            files.get(&copy),
            Some(&from_a),
            "{}: conflict copy",
            device.name
        );
    }

    // Conflict under --policy remote: the loser is kept in the server's history.
    let from_a = edited(&fixture("1-2-LT1.save"), "a3");
    let from_b = edited(&fixture("1-2-LT1.save"), "b3");
    written.save(&a, "1-2-LT1.save", &from_a, &mut clock);
    written.save(&b, "1-2-LT1.save", &from_b, &mut clock);
    a.sync("keep-both");
    let report = b.sync("remote");
    assert_eq!(report["conflicts"][0]["winner"], "remote", "{report}");
    assert_eq!(b.snapshot().get("1-2-LT1.save"), Some(&from_a));
    let history = history_hashes(&b, "1-2-LT1.save");
    let loser = ContentHash::of(&from_b).to_hex();
    assert!(
        history
            .iter()
            .any(|(h, v)| *h == loser && v["archived"] == true),
        "the losing save is an archived version: {history:?}"
    );
    let slot_2_now = from_a;

    // Conflict under manual: exit 3 until the player decides.
    let from_a = edited(&fixture("quick-1-LT1.save"), "a4");
    let from_b = edited(&fixture("quick-1-LT1.save"), "b4");
    written.save(&a, "quick-1-LT1.save", &from_a, &mut clock);
    written.save(&b, "quick-1-LT1.save", &from_b, &mut clock);
    a.sync("keep-both");
    let waiting = b.json(&["sync", "--policy", "manual"], 3);
    assert_eq!(waiting["pending_manual"][0]["path"], "quick-1-LT1.save");
    let status = b.json(&["status"], 3);
    assert_eq!(
        status["pending_conflicts"],
        serde_json::json!(["quick-1-LT1.save"])
    );
    // What a chooser shows: both sides, the other device by name, both screenshots.
    let view = b.json(&["conflicts"], 3);
    let conflict = &view["conflicts"][0];
    assert_eq!(conflict["path"], "quick-1-LT1.save", "{view}");
    assert_eq!(conflict["local"]["device_name"], "this device");
    assert_eq!(
        conflict["local"]["sha256"],
        ContentHash::of(&from_b).to_hex()
    );
    assert_eq!(conflict["remote"]["device_name"], "laptop", "{view}");
    assert_eq!(
        conflict["remote"]["sha256"],
        ContentHash::of(&from_a).to_hex()
    );
    for side in ["local_screenshot", "remote_screenshot"] {
        let png = conflict[side].as_str().unwrap_or_default();
        assert!(
            png.starts_with("iVBORw0KGgo"),
            "{side} is a base64 PNG: {view}"
        );
    }
    b.json(&["resolve", "quick-1-LT1.save", "--keep", "local"], 0);
    let report = b.json(&["sync", "--policy", "manual"], 0);
    assert_eq!(
        b.json(&["conflicts"], 0)["conflicts"],
        serde_json::json!([])
    );
    assert!(
        paths(&report, "uploaded").contains("quick-1-LT1.save"),
        "{report}"
    );
    a.sync("keep-both");
    assert_eq!(a.snapshot().get("quick-1-LT1.save"), Some(&from_b));

    // Delete, then restore the last content from history.
    a.remove("1-2-LT1.save");
    a.sync("keep-both");
    assert_eq!(
        paths(&b.sync("keep-both"), "deleted_local"),
        set(&["1-2-LT1.save"])
    );
    let restorable = history_hashes(&b, "1-2-LT1.save")
        .into_iter()
        .find(|(h, v)| *h == ContentHash::of(&slot_2_now).to_hex() && v["deleted"] == false)
        .and_then(|(_, v)| v["version"].as_u64())
        .expect("the deleted content is in history");
    let version = restorable.to_string();
    let report = b.json(&["restore", "1-2-LT1.save", "--version", &version], 0);
    assert!(
        paths(&report, "downloaded").contains("1-2-LT1.save"),
        "{report}"
    );
    a.sync("keep-both");
    assert_eq!(a.snapshot().get("1-2-LT1.save"), Some(&slot_2_now));

    // Settle, then: identical folders, and every save ever written still exists somewhere.
    a.sync("keep-both");
    b.sync("keep-both");
    a.sync("keep-both");
    let (files_a, files_b) = (a.snapshot(), b.snapshot());
    assert_eq!(files_a, files_b);
    let mut kept: BTreeSet<String> = files_a
        .values()
        .map(|b| ContentHash::of(b).to_hex())
        .collect();
    let every_path = [
        "1-1-LT1.save",
        "1-2-LT1.save",
        "auto-1-LT1.save",
        "quick-1-LT1.save",
        "persistent",
        copy.as_str(),
    ];
    for path in every_path {
        kept.extend(history_hashes(&a, path).into_iter().map(|(h, _)| h));
    }
    for hash in &written.0 {
        assert!(kept.contains(&hash.to_hex()), "save {hash} was lost");
    }

    // Sign out B: its syncs now fail with a one-line reason.
    b.json(&["logout"], 0);
    let run = b.run(&["sync"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("error: not signed in"),
        "{}",
        run.stderr
    );
    let err = b.json(&["sync"], 1);
    assert_eq!(err["error"]["code"], "not_signed_in");
    // Scripts (the Ren'Py fallback client) branch on class and transient, not on codes.
    assert_eq!(err["error"]["class"], "auth");
    assert_eq!(err["error"]["transient"], false);
}

/// The refresh token in a device's profile.
fn refresh_token(device: &Device) -> String {
    let text = std::fs::read_to_string(&device.profile).expect("profile");
    let profile: Value = serde_json::from_str(&text).expect("profile JSON");
    profile["servers"][&device.server]["refresh_token"]
        .as_str()
        .expect("signed in")
        .to_owned()
}

/// Pretends the stored access token is fresh, so only the server's 401 reveals it is not.
fn forget_expiry(device: &Device) {
    let text = std::fs::read_to_string(&device.profile).expect("profile");
    let mut profile: Value = serde_json::from_str(&text).expect("profile JSON");
    profile["servers"][&device.server]["access_expires_at"] = i64::MAX.into();
    std::fs::write(&device.profile, profile.to_string()).expect("write profile");
}

#[test]
fn expired_tokens_are_refreshed_and_rotated_tokens_persisted_between_runs() {
    let server = Server::start_with(&["--access-ttl-secs", "1"]);
    let root = tempfile::tempdir().expect("tempdir");
    let a = Device::new(root.path(), "laptop", &server.url);
    let mut clock = Clock::new();
    a.json(
        &["signup", "--user", "carol", "--password", "correct horse 2"],
        0,
    );
    let mut seen = BTreeSet::from([refresh_token(&a)]);
    // 1: known to be expired, refreshed first. 2: believed fresh, refreshed after a 401.
    for (slot, believed_fresh) in [("1-1-LT1.save", false), ("1-2-LT1.save", true)] {
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        if believed_fresh {
            forget_expiry(&a);
        }
        a.write(slot, &fixture(slot), clock.tick());
        let report = a.sync("keep-both");
        assert_eq!(paths(&report, "uploaded"), set(&[slot]));
        let engine_calls = report["requests"].as_u64().expect("requests");
        let http = report["http_requests"].as_u64().expect("http_requests");
        let extra = if believed_fresh { 2 } else { 1 };
        assert_eq!(
            http,
            engine_calls + extra,
            "refresh (and retry) counted: {report}"
        );
        assert!(
            seen.insert(refresh_token(&a)),
            "each refresh rotates the token"
        );
    }
}

#[test]
fn usage_errors_are_one_line_or_a_json_error() {
    let run = renpy_cloud(&["status", "--game", "G", "--dir", "."]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "error: no server: pass --server URL or set RENPY_CLOUD_SERVER"
    );
    let run = renpy_cloud(&[
        "--json",
        "--server",
        "http://127.0.0.1:9",
        "sync",
        "--game",
        "G",
        "--dir",
        ".",
        "--policy",
        "nope",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["error"]["code"], "usage");
    assert_eq!(run.json()["error"]["class"], "settings");
    let message = run.json()["error"]["message"].as_str().map(str::to_owned);
    assert!(
        message.is_some_and(|m| m.contains("nope")),
        "{}",
        run.stdout
    );
    let run = renpy_cloud(&["--server", "http://127.0.0.1:9", "frobnicate"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let run = renpy_cloud(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("sync"));
}

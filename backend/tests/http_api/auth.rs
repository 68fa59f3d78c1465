//! Accounts, sessions and devices.

use std::sync::Arc;
use std::time::Duration;

use backend::clock::ManualClock;
use serde_json::json;
use sync_core::protocol::{DevicesResponse, TokenResponse};

use crate::common::Server;
use crate::common::inproc::InProcess;

#[test]
fn signup_login_refresh_logout() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (alice, tokens) = anon.signup("alice");
    assert_eq!(tokens.username, "alice");
    // 15 minutes; in Cognito mode the API's lifetime caps Cognito's (1 h).
    assert_eq!(tokens.expires_in, 15 * 60);
    alice.get("/v1/devices").expect_status(200);

    // Usernames are unique, case-insensitively.
    anon.post(
        "/v1/auth/signup",
        &json!({"username": "ALICE", "password": "another password", "device_name": "x"}),
    )
    .expect_error(409, "username_taken");

    // Wrong password and unknown user answer exactly alike.
    let wrong = anon.login("alice", "not the password");
    wrong.expect_error(401, "invalid_credentials");
    let unknown = anon.login("nobody", "not the password");
    unknown.expect_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);

    let resp = anon.login("alice", "correct horse");
    resp.expect_status(200);
    let phone: TokenResponse = resp.json();
    assert_eq!(phone.user_id, tokens.user_id);
    assert_ne!(phone.device_id, tokens.device_id);

    // Refresh rotates: the new pair works, the old refresh token is spent.
    let resp = anon.post(
        "/v1/auth/refresh",
        &json!({"refresh_token": phone.refresh_token}),
    );
    resp.expect_status(200);
    let rotated: TokenResponse = resp.json();
    assert_eq!(rotated.device_id, phone.device_id);
    assert_ne!(rotated.refresh_token, phone.refresh_token);
    anon.with_token(&rotated.access_token)
        .get("/v1/devices")
        .expect_status(200);
    anon.post(
        "/v1/auth/refresh",
        &json!({"refresh_token": phone.refresh_token}),
    )
    .expect_error(401, "invalid_refresh_token");
    anon.post("/v1/auth/refresh", &json!({"refresh_token": "made-up"}))
        .expect_error(401, "invalid_refresh_token");

    // Logout signs the device out: its access and refresh tokens stop working.
    anon.post(
        "/v1/auth/logout",
        &json!({"refresh_token": rotated.refresh_token}),
    )
    .expect_status(204);
    anon.with_token(&rotated.access_token)
        .get("/v1/devices")
        .expect_error(401, "unauthorized");
    anon.post(
        "/v1/auth/refresh",
        &json!({"refresh_token": rotated.refresh_token}),
    )
    .expect_error(401, "invalid_refresh_token");
    // A second logout is harmless; the other device is still signed in.
    anon.post(
        "/v1/auth/logout",
        &json!({"refresh_token": rotated.refresh_token}),
    )
    .expect_status(204);
    alice.get("/v1/devices").expect_status(200);
}

#[test]
fn a_replayed_refresh_token_signs_the_device_out() {
    // Without the grace a client's own retry gets, every replay counts as theft.
    let server = Server::start(&["--refresh-replay-grace-secs", "0"]);
    let anon = server.client();
    let (alice, first) = anon.signup("alice");
    let resp = anon.login("alice", "correct horse");
    resp.expect_status(200);
    let phone: TokenResponse = resp.json();
    let refresh = |token: &str| anon.post("/v1/auth/refresh", &json!({ "refresh_token": token }));
    let resp = refresh(&phone.refresh_token);
    resp.expect_status(200);
    let rotated: TokenResponse = resp.json();
    std::thread::sleep(std::time::Duration::from_millis(20));

    // Someone replays the spent token: refused, and the device it belongs to is signed out,
    // so the copy the thief may already have rotated dies too.
    refresh(&phone.refresh_token).expect_error(401, "invalid_refresh_token");
    refresh(&rotated.refresh_token).expect_error(401, "invalid_refresh_token");
    anon.with_token(&rotated.access_token)
        .get("/v1/devices")
        .expect_error(401, "unauthorized");
    // The account's other device is untouched.
    alice.get("/v1/devices").expect_status(200);
    refresh(&first.refresh_token).expect_status(200);
}

#[test]
fn signup_validates_username_password_and_device_name() {
    let server = Server::start(&[]);
    let anon = server.client();
    let cases = [
        (
            json!({"username": "ab", "password": "long enough", "device_name": "d"}),
            "invalid_username",
        ),
        (
            json!({"username": "a b c", "password": "long enough", "device_name": "d"}),
            "invalid_username",
        ),
        (
            json!({"username": "x".repeat(65), "password": "long enough", "device_name": "d"}),
            "invalid_username",
        ),
        (
            json!({"username": "bob", "password": "short", "device_name": "d"}),
            "weak_password",
        ),
        (
            json!({"username": "bob", "password": "long enough", "device_name": " "}),
            "invalid_device_name",
        ),
    ];
    for (body, code) in cases {
        anon.post("/v1/auth/signup", &body).expect_error(400, code);
    }
    // None of them created the user.
    anon.signup("bob");
}

#[test]
fn access_tokens_expire() {
    let clock = Arc::new(ManualClock::new());
    let server = InProcess::start_with(
        |c| c.ttls.access = Duration::from_secs(60),
        Arc::clone(&clock) as _,
    );
    let (alice, tokens) = server.client().signup("alice");
    assert_eq!(tokens.expires_in, 60);
    clock.advance(Duration::from_secs(59));
    alice.get("/v1/devices").expect_status(200);
    clock.advance(Duration::from_secs(2));
    alice.get("/v1/devices").expect_error(401, "unauthorized");
}

#[test]
fn failed_logins_are_rate_limited_per_username_and_ip() {
    let server = Server::start(&["--login-attempts-per-minute", "3"]);
    let anon = server.client();
    anon.signup("alice");
    anon.signup("carol");
    for _ in 0..3 {
        anon.login("alice", "wrong password")
            .expect_error(401, "invalid_credentials");
    }
    let limited = anon.login("alice", "correct horse");
    limited.expect_error(429, "rate_limited");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another username is not affected.
    anon.login("carol", "correct horse").expect_status(200);
}

/// Resident memory of a process, from /proc (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn logins_with_names_no_account_can_have_are_refused_and_kept_nowhere() {
    let server = Server::start(&[]);
    let anon = server.client();
    // Warm the server up (allocator pools, connection) before measuring.
    anon.login("nobody", "x")
        .expect_error(401, "invalid_credentials");
    let before = rss_kib(server.pid());
    // 60 distinct 512 KB names with an overlong password (which skips hashing): each one
    // was kept as a limiter key before, ~30 MiB in all.
    let long_password = "p".repeat(1025);
    for i in 0..60 {
        let name = format!("{i}{}", "n".repeat(512 * 1024));
        anon.login(&name, &long_password)
            .expect_error(400, "invalid_username");
    }
    let grown_mib = rss_kib(server.pid()).saturating_sub(before) / 1024;
    assert!(grown_mib < 12, "resident memory grew {grown_mib} MiB");
}

#[test]
fn unicode_spellings_of_a_name_neither_sign_in_nor_get_a_fresh_budget() {
    let server = Server::start(&["--login-attempts-per-minute", "2"]);
    let anon = server.client();
    anon.signup("mississippi");
    for spelling in [
        "mi\u{df}issippi",
        "m\u{131}\u{17f}\u{17f}\u{131}\u{17f}\u{17f}\u{131}ppi",
    ] {
        anon.login(spelling, "correct horse")
            .expect_error(400, "invalid_username");
    }
    for _ in 0..2 {
        anon.login("mississippi", "wrong password")
            .expect_error(401, "invalid_credentials");
    }
    // Case is one spelling: the budget is shared.
    anon.login("MISSISSIPPI", "wrong password")
        .expect_error(429, "rate_limited");
}

#[test]
fn parallel_wrong_guesses_cannot_outrun_the_login_limit() {
    let server = Server::start(&["--login-attempts-per-minute", "10"]);
    let anon = server.client();
    anon.signup("alice");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..40)
            .map(|i| {
                let anon = anon.clone();
                scope.spawn(move || anon.login("alice", &format!("guess {i}")).status)
            })
            .collect();
        guesses
            .into_iter()
            .map(|g| g.join().expect("guess thread"))
            .collect()
    });
    let tried = statuses.iter().filter(|&&s| s == 401).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((tried, refused), (10, 30), "{statuses:?}");
}

#[test]
fn correct_logins_never_spend_the_budget() {
    let server = Server::start(&["--login-attempts-per-minute", "3"]);
    let anon = server.client();
    anon.signup("alice");
    for _ in 0..8 {
        anon.login("alice", "correct horse").expect_status(200);
    }
    anon.login("alice", "wrong password")
        .expect_error(401, "invalid_credentials");
}

#[test]
fn a_signed_out_device_does_not_spend_the_accounts_request_budget() {
    let server = Server::start(&["--rate-limit", "0.01", "--rate-burst", "5"]);
    let anon = server.client();
    let (laptop, _) = anon.signup("alice");
    let phone_tokens: TokenResponse = anon.login("alice", "correct horse").json();
    let phone = anon.with_token(&phone_tokens.access_token);
    laptop
        .delete(&format!("/v1/devices/{}", phone_tokens.device_id))
        .expect_status(204);
    // The signed-out phone's access token is still well signed: it keeps being refused.
    for _ in 0..10 {
        phone.get("/v1/devices").expect_error(401, "unauthorized");
    }
    // The laptop still has its budget (1 request spent on the delete).
    for _ in 0..4 {
        laptop.get("/v1/devices").expect_status(200);
    }
    laptop.get("/v1/devices").expect_error(429, "rate_limited");
}

#[test]
fn devices_are_listed_and_deleting_one_revokes_it() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (laptop, laptop_tokens) = anon.signup("alice");
    let phone_tokens: TokenResponse = anon.login("alice", "correct horse").json();
    let phone = anon.with_token(&phone_tokens.access_token);
    let (bob, _) = anon.signup("bob");

    let devices: DevicesResponse = laptop.get("/v1/devices").json();
    let mut ids: Vec<_> = devices
        .devices
        .iter()
        .map(|d| d.device_id.clone())
        .collect();
    ids.sort();
    let mut want = vec![
        laptop_tokens.device_id.clone(),
        phone_tokens.device_id.clone(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert!(devices.devices.iter().any(|d| d.name == "phone"));

    // Bob cannot delete Alice's devices.
    bob.delete(&format!("/v1/devices/{}", phone_tokens.device_id))
        .expect_error(404, "no_such_device");
    laptop
        .delete(&format!("/v1/devices/{}", phone_tokens.device_id))
        .expect_status(204);
    phone.get("/v1/devices").expect_error(401, "unauthorized");
    anon.post(
        "/v1/auth/refresh",
        &json!({"refresh_token": phone_tokens.refresh_token}),
    )
    .expect_error(401, "invalid_refresh_token");
    let devices: DevicesResponse = laptop.get("/v1/devices").json();
    assert_eq!(devices.devices.len(), 1);
}

#[test]
fn requests_without_a_valid_token_are_unauthorized() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (alice, tokens) = anon.signup("alice");
    let routes = [
        "/v1/devices",
        "/v1/games/g/manifest",
        "/v1/games/g/history?path=a.save",
    ];
    let mut tampered = tokens.access_token.clone();
    tampered.pop();
    tampered.push(if tokens.access_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for route in routes {
        anon.get(route).expect_error(401, "unauthorized");
        anon.with_token("garbage")
            .get(route)
            .expect_error(401, "unauthorized");
        anon.with_token(&tampered)
            .get(route)
            .expect_error(401, "unauthorized");
        // A refresh token is not an access token.
        anon.with_token(&tokens.refresh_token)
            .get(route)
            .expect_error(401, "unauthorized");
        alice.get(route).expect_status(200);
    }
    anon.post("/v1/pairing", &json!({}))
        .expect_error(401, "unauthorized");
    anon.post("/v1/games/g/commit", &json!({"ops": []}))
        .expect_error(401, "unauthorized");
}

#[test]
fn devices_publish_renpy_keys_to_their_account_only() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (laptop, laptop_tokens) = anon.signup("alice");
    let phone_tokens: TokenResponse = anon.login("alice", "correct horse").json();
    let phone = anon.with_token(&phone_tokens.access_token);
    let (bob, _) = anon.signup("bob");
    // A P-256 SubjectPublicKeyInfo is 91 bytes; any 32+ byte DER-sized value is accepted.
    let key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE".to_owned() + &"A".repeat(88);

    laptop
        .put_json("/v1/device-keys", &json!({"keys": [key]}))
        .expect_status(204);
    let devices: DevicesResponse = phone.get("/v1/devices").json();
    let laptop_entry = devices
        .devices
        .iter()
        .find(|d| d.device_id == laptop_tokens.device_id)
        .expect("laptop listed");
    assert_eq!(laptop_entry.renpy_keys, vec![key.clone()]);
    // Bob sees only his own device, without Alice's keys.
    let bobs: DevicesResponse = bob.get("/v1/devices").json();
    assert!(bobs.devices.iter().all(|d| d.renpy_keys.is_empty()));

    for bad in [
        json!({"keys": ["not base64!"]}),
        json!({"keys": ["c2hvcnQ="]}),
        json!({"keys": [key, key]}),
        json!({"keys": vec![key.clone(); 17]}),
    ] {
        phone
            .put_json("/v1/device-keys", &bad)
            .expect_error(400, "invalid_device_keys");
    }
    anon.put_json("/v1/device-keys", &json!({"keys": []}))
        .expect_error(401, "unauthorized");
    // Refused requests changed nothing.
    let devices: DevicesResponse = laptop.get("/v1/devices").json();
    assert!(
        devices
            .devices
            .iter()
            .any(|d| d.device_id == laptop_tokens.device_id && d.renpy_keys == vec![key.clone()])
    );
    assert!(
        devices
            .devices
            .iter()
            .any(|d| d.device_id == phone_tokens.device_id && d.renpy_keys.is_empty())
    );
}

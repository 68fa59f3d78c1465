//! Pairing a new device with a short code.

use std::sync::Arc;
use std::time::Duration;

use backend::clock::ManualClock;
use serde_json::json;
use sync_core::protocol::{PairingCode, TokenResponse};

use crate::common::inproc::InProcess;
use crate::common::{Client, Server};

fn new_code(client: &Client) -> PairingCode {
    let resp = client.post("/v1/pairing", &json!({}));
    resp.expect_status(201);
    resp.json()
}

#[test]
fn a_code_signs_in_one_new_device_once() {
    let server = Server::start(&[]);
    let anon = server.client();
    let (alice, tokens) = anon.signup("alice");
    let code = new_code(&alice);
    assert_eq!(code.code.len(), 9);
    assert_eq!(&code.code[4..5], "-");

    // Case and the dash do not matter.
    let typed = code.code.replace('-', "").to_lowercase();
    let resp = anon.post(
        "/v1/pairing/claim",
        &json!({"code": typed, "device_name": "Steam Deck"}),
    );
    resp.expect_status(200);
    let deck: TokenResponse = resp.json();
    assert_eq!(deck.user_id, tokens.user_id);
    assert_ne!(deck.device_id, tokens.device_id);
    // The new device works like any other.
    let deck_client = anon.with_token(&deck.access_token);
    let devices: sync_core::protocol::DevicesResponse = deck_client.get("/v1/devices").json();
    assert!(devices.devices.iter().any(|d| d.name == "Steam Deck"));

    // Single use.
    anon.post(
        "/v1/pairing/claim",
        &json!({"code": code.code, "device_name": "again"}),
    )
    .expect_error(401, "invalid_pairing_code");
    // Unknown and malformed codes.
    for bad in ["ABCD-EFGH", "short", ""] {
        anon.post(
            "/v1/pairing/claim",
            &json!({"code": bad, "device_name": "x"}),
        )
        .expect_error(401, "invalid_pairing_code");
    }
}

#[test]
fn an_expired_code_is_refused() {
    let clock = Arc::new(ManualClock::new());
    let server = InProcess::start_with(
        |c| c.ttls.pairing = Duration::from_secs(600),
        Arc::clone(&clock) as _,
    );
    let anon = server.client();
    let (alice, _) = anon.signup("alice");
    let code = new_code(&alice);
    clock.advance(Duration::from_secs(601));
    anon.post(
        "/v1/pairing/claim",
        &json!({"code": code.code, "device_name": "late"}),
    )
    .expect_error(401, "invalid_pairing_code");
}

#[test]
fn claims_are_rate_limited_per_ip() {
    let server = Server::start(&["--pairing-claims-per-minute", "3"]);
    let anon = server.client();
    let (alice, _) = anon.signup("alice");
    let code = new_code(&alice);
    for _ in 0..3 {
        anon.post(
            "/v1/pairing/claim",
            &json!({"code": "WRNG-CODE", "device_name": "guess"}),
        )
        .expect_error(401, "invalid_pairing_code");
    }
    // Even the right code is refused while the budget is spent: guessing cannot continue.
    let limited = anon.post(
        "/v1/pairing/claim",
        &json!({"code": code.code, "device_name": "guess"}),
    );
    limited.expect_error(429, "rate_limited");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_ip_is_limited() {
    let server = Server::start(&["--pairing-claims-per-minute", "1", "--trust-proxy"]);
    let anon = server.client();
    let claim = |ip: &str| {
        anon.post_with(
            "/v1/pairing/claim",
            &[("x-forwarded-for", &format!("203.0.113.9, {ip}"))],
            &json!({"code": "WRNG-CODE", "device_name": "guess"}),
        )
    };
    claim("198.51.100.1").expect_error(401, "invalid_pairing_code");
    claim("198.51.100.1").expect_error(429, "rate_limited");
    // The last hop is the one the proxy saw; another client has its own budget.
    claim("198.51.100.2").expect_error(401, "invalid_pairing_code");
}

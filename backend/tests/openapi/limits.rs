//! The limits the document states are the server's. Their numbers are the code's constants
//! and the server flags' defaults; through a running server (memory stores, real HTTP on
//! 127.0.0.1) a request at each limit is accepted and one just over it answers the status
//! and code the document names for that route; and the schemas accept what the server
//! accepts. No request schema claims to refuse unknown fields: the server ignores them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use backend::clock::SystemClock;
use backend::config::{Cli, Limits, Rates, Ttls};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::CommandFactory;
use serde_json::{Value, json};
use sync_core::ContentHash;
use sync_core::client::savetokens::{KEY_BYTES, MAX_KEYS_PER_DEVICE};
use sync_core::path::{MAX_GAME_ID_BYTES, MAX_PATH_BYTES, MAX_SEGMENT_BYTES};
use sync_core::protocol::{BlobRef, ChangesRequest, MAX_COUNTER, TokenResponse};
use sync_core::savemeta::SaveMeta;

use crate::common::inproc::InProcess;
use crate::common::{Client, Resp, put_op};
use crate::examples::P256_KEY;
use crate::live::assert_documented;
use crate::{doc, documented_codes, errors_against};

// ---- reading the document ----

#[track_caller]
fn at(pointer: &str) -> Value {
    doc()
        .pointer(pointer)
        .cloned()
        .unwrap_or_else(|| panic!("{pointer} is not in the document"))
}

#[track_caller]
fn number_at(pointer: &str) -> u64 {
    at(pointer)
        .as_u64()
        .unwrap_or_else(|| panic!("{pointer} is not a number"))
}

#[track_caller]
fn text_at(pointer: &str) -> String {
    at(pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string"))
        .to_owned()
}

/// A usize limit of the document (they are all small).
#[track_caller]
fn limit_at(pointer: &str) -> usize {
    usize::try_from(number_at(pointer)).expect("limit fits usize")
}

/// Whether the schema at `pointer` (a JSON pointer into the document) accepts `value`.
fn schema_accepts(pointer: &str, value: &Value) -> bool {
    errors_against(json!({ "$ref": format!("#{pointer}") }), value).is_empty()
}

/// An error answer with the expected status and code, which the route documents.
#[track_caller]
fn assert_refused(resp: &Resp, route: &str, method: &str, status: u16, code: &str) {
    resp.expect_error(status, code);
    assert_documented(route, method, resp);
    assert!(
        documented_codes(route, method, status).contains(code),
        "{method} {route} does not document {status} `{code}`"
    );
}

// ---- talking to the server ----

static NAMES: AtomicUsize = AtomicUsize::new(0);

/// A username no other test of this process uses.
fn fresh_name() -> String {
    format!("user{}", NAMES.fetch_add(1, Ordering::Relaxed))
}

fn signup(anon: &Client) -> Client {
    let resp = anon.post(
        "/v1/auth/signup",
        &json!({"username": fresh_name(), "password": "correct horse", "device_name": "pc"}),
    );
    resp.expect_status(201);
    let tokens: TokenResponse = resp.json();
    anon.with_token(&tokens.access_token)
}

/// Any method, content type and body, optionally with a bearer token.
fn raw(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", content_type);
    let request = match token {
        Some(t) => request.header("authorization", format!("Bearer {t}")),
        None => request,
    };
    let request = request.body(body.to_vec()).expect("request");
    let mut response = agent.run(request).expect("HTTP exchange");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .expect("read body");
    Resp {
        status,
        headers,
        body,
    }
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

// ---- the numbers ----

#[test]
fn documented_limits_are_the_code_constants_and_flag_defaults() {
    let s = "/components/schemas";
    assert_eq!(limit_at(&format!("{s}/SavePath/maxLength")), MAX_PATH_BYTES);
    let save_path = text_at(&format!("{s}/SavePath/pattern"));
    assert!(save_path.contains(&format!("{{1,{MAX_SEGMENT_BYTES}}}")));
    let description = text_at(&format!("{s}/SavePath/description"));
    assert!(description.contains(&format!("{MAX_PATH_BYTES} bytes")));
    assert!(description.contains(&format!("{MAX_SEGMENT_BYTES} bytes")));
    assert_eq!(
        limit_at(&format!("{s}/GameId/maxLength")),
        MAX_GAME_ID_BYTES
    );
    let game_id = text_at(&format!("{s}/GameId/pattern"));
    assert!(game_id.ends_with(&format!("{{0,{}}}$", MAX_GAME_ID_BYTES - 1)));
    assert_eq!(number_at(&format!("{s}/Counter/maximum")), MAX_COUNTER);
    assert_eq!(
        limit_at(&format!("{s}/DeviceKeys/properties/keys/maxItems")),
        MAX_KEYS_PER_DEVICE
    );
    let key = text_at(&format!("{s}/RenpyKey/description"));
    assert!(key.contains(&format!("{}-{}-byte", KEY_BYTES.start(), KEY_BYTES.end())));
    let limits = Limits::default();
    for batch in [
        "ChangesRequest/properties/uploads",
        "CommitRequest/properties/ops",
        "DownloadRequest/properties/sha256",
    ] {
        assert_eq!(
            limit_at(&format!("{s}/{batch}/maxItems")),
            limits.max_batch_ops,
            "{batch}"
        );
    }
    let max_json = limits.max_json_body.to_string();
    assert!(text_at("/info/description").contains(&max_json));
    assert!(text_at("/components/responses/TooLarge/description").contains(&max_json));

    // Every flag the document names exists, with the default the document gives.
    let rates = Rates::default();
    let ttls = Ttls::default();
    let flags: &[(&str, &str, String)] = &[
        (
            "/components/schemas/BlobRef/properties/size/description",
            "max-file-size",
            limits.max_file_size.to_string(),
        ),
        (
            "/components/schemas/CommitOp/oneOf/0/properties/size/description",
            "max-file-size",
            limits.max_file_size.to_string(),
        ),
        (
            "/components/schemas/CommitOp/oneOf/2/properties/size/description",
            "max-file-size",
            limits.max_file_size.to_string(),
        ),
        (
            "/components/schemas/SaveMeta/description",
            "max-meta-bytes",
            limits.max_meta_bytes.to_string(),
        ),
        (
            "/components/schemas/ChangesRequest/properties/uploads/description",
            "max-game-bytes",
            limits.max_game_bytes.to_string(),
        ),
        (
            "/components/schemas/ChangesRequest/properties/uploads/description",
            "orphan-grace-secs",
            ttls.orphan_grace.as_secs().to_string(),
        ),
        (
            "/components/schemas/CommitRequest/properties/ops/description",
            "max-game-bytes",
            limits.max_game_bytes.to_string(),
        ),
        (
            "/components/schemas/CommitRequest/properties/ops/description",
            "max-game-files",
            limits.max_game_files.to_string(),
        ),
        (
            "/components/schemas/ChangesResponse/properties/more/description",
            "page-entries",
            limits.page_entries.to_string(),
        ),
        (
            "/components/schemas/ManifestResponse/properties/more/description",
            "page-entries",
            limits.page_entries.to_string(),
        ),
        (
            "/components/schemas/UploadTarget/properties/expires_at/description",
            "upload-url-ttl-secs",
            ttls.upload_url.as_secs().to_string(),
        ),
        (
            "/components/schemas/TokenResponse/properties/expires_in/description",
            "access-ttl-secs",
            ttls.access.as_secs().to_string(),
        ),
        (
            "/components/schemas/TokenResponse/properties/refresh_token/description",
            "refresh-ttl-secs",
            ttls.refresh.as_secs().to_string(),
        ),
        (
            "/components/schemas/PairingCode/properties/expires_at/description",
            "pairing-ttl-secs",
            ttls.pairing.as_secs().to_string(),
        ),
        (
            "/paths/~1v1~1auth~1refresh/post/responses/401/description",
            "refresh-replay-grace-secs",
            ttls.refresh_replay_grace.as_secs().to_string(),
        ),
        (
            "/paths/~1v1~1auth~1login/post/responses/429/description",
            "login-attempts-per-minute",
            rates.failed_logins.burst.to_string(),
        ),
        (
            "/paths/~1v1~1pairing~1claim/post/responses/429/description",
            "pairing-claims-per-minute",
            rates.pairing_claims.burst.to_string(),
        ),
        (
            "/paths/~1v1~1devices/get/responses/429/description",
            "rate-limit",
            rates.per_user.per_second.to_string(),
        ),
        (
            "/paths/~1v1~1devices/get/responses/429/description",
            "rate-burst",
            rates.per_user.burst.to_string(),
        ),
        (
            "/paths/~1v1~1blobs~1{ticket}/put/responses/408/description",
            "body-chunk-timeout-secs",
            limits.body_chunk_timeout.as_secs().to_string(),
        ),
        (
            "/paths/~1v1~1blobs~1{ticket}/put/responses/429/description",
            "uploads-per-user",
            limits.uploads_per_user.to_string(),
        ),
        (
            "/paths/~1v1~1blobs~1{ticket}/put/responses/503/description",
            "upload-slots",
            limits.upload_slots.to_string(),
        ),
        (
            "/paths/~1v1~1blobs~1{ticket}/put/responses/503/description",
            "upload-wait-secs",
            limits.upload_wait.as_secs().to_string(),
        ),
    ];
    let cli = Cli::command();
    let mut named = BTreeSet::new();
    for (pointer, flag, default) in flags {
        let text = text_at(pointer);
        let arg = cli
            .get_arguments()
            .find(|a| a.get_long() == Some(*flag))
            .unwrap_or_else(|| panic!("renpy-cloud-server has no --{flag}"));
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        assert_eq!(defaults, std::slice::from_ref(default), "--{flag}");
        let mention = format!("`--{flag}`");
        let at = text
            .find(&mention)
            .unwrap_or_else(|| panic!("{pointer} does not name {mention}"));
        // The default follows the flag (within its sentence part).
        let after: String = text[at + mention.len()..].chars().take(40).collect();
        assert!(
            after.contains(default.as_str()),
            "{pointer}: {mention} is not followed by its default {default}: {after:?}"
        );
        named.insert(*flag);
    }
    // No flag is named elsewhere that the table above does not check.
    let whole = backend::api::openapi::DOCUMENT;
    for mention in whole.split("`--").skip(1) {
        let flag = mention.split('`').next().unwrap_or_default();
        assert!(
            named.contains(flag),
            "--{flag} is named but its default is not checked"
        );
    }
}

// ---- save paths and game ids ----

/// How the server (and so the document) treats a candidate path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused,
    /// Refused for its length in bytes, which a JSON Schema (counting characters) cannot
    /// see: the schema accepts it and the description states the byte limit.
    RefusedForBytes,
}

fn path_cases() -> Vec<(String, Verdict)> {
    use Verdict::{Accepted as A, Refused as R, RefusedForBytes as B};
    // Five 200-byte segments and a last one: exactly `MAX_PATH_BYTES` with `last` 19.
    let long = |last: usize| {
        let mut segments = vec![x(200); 5];
        segments.push(x(last));
        segments.join("/")
    };
    let mut cases: Vec<(String, Verdict)> = [
        ("a", A),
        ("1-1-LT1.save", A),
        ("sync/persistent", A),
        ("a b.save", A),
        ("...", A),
        ("..a", A),
        (".hidden", A),
        ("a/.b/c", A),
        (":", A),
        ("C:x", A),
        ("x/C:", A),
        ("é:", A),
        ("\u{a0}nbsp", A),
        ("zero\u{200b}width", A),
        ("", R),
        ("/a", R),
        ("/", R),
        ("a//b", R),
        ("a/", R),
        (".", R),
        ("..", R),
        ("a/./b", R),
        ("a/..", R),
        ("../x", R),
        ("a\\b", R),
        ("C:", R),
        ("C:/x", R),
        ("::", R),
        ("a\u{0}b", R),
        ("a\nb", R),
        ("a\tb", R),
        ("a\u{1f}", R),
        ("a\u{7f}", R),
        ("a\u{85}b", R),
        ("a\u{9f}", R),
    ]
    .into_iter()
    .map(|(p, v)| (p.to_owned(), v))
    .collect();
    assert_eq!(long(19).len(), MAX_PATH_BYTES);
    cases.extend([
        (x(MAX_SEGMENT_BYTES), A),
        (format!("a/{}", x(MAX_SEGMENT_BYTES)), A),
        (long(19), A),
        (x(MAX_SEGMENT_BYTES + 1), R),
        (format!("{}/a", x(MAX_SEGMENT_BYTES + 1)), R),
        (long(20), R),
        // Two bytes a character: 254 and 255 bytes pass, 256 do not, though 128 characters
        // are under the 255 the schema can count.
        ("é".repeat(127), A),
        (format!("{}x", "é".repeat(127)), A),
        ("é".repeat(128), B),
        (format!("{}/{}", "é".repeat(255), "é".repeat(255)), B),
    ]);
    cases
}

#[test]
fn save_paths_at_and_over_the_limits() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let commit = "/v1/games/{game}/commit";
    for (path, verdict) in path_cases() {
        let accepted = verdict == Verdict::Accepted;
        let resp = alice.post(
            "/v1/games/g/commit",
            &json!({"ops": [{"path": path, "expect_version": 0, "op": "delete"}]}),
        );
        if accepted {
            resp.expect_status(200);
            assert_documented(commit, "post", &resp);
        } else {
            assert_refused(&resp, commit, "post", 400, "invalid_path");
        }
        assert_eq!(
            sync_core::SavePath::new(&path).is_ok(),
            accepted,
            "{path:?}"
        );
        let schema = schema_accepts("/components/schemas/SavePath", &json!(path));
        assert_eq!(
            schema,
            verdict != Verdict::Refused,
            "the SavePath schema {} {path:?}",
            if schema { "accepts" } else { "refuses" }
        );
    }
    // The history's `path` query parameter follows the same rules.
    let history = "/v1/games/{game}/history";
    let query = |p: &str| {
        let encoded: String = form_urlencoded::byte_serialize(p.as_bytes()).collect();
        alice.get(&format!("/v1/games/g/history?path={encoded}"))
    };
    let resp = query(&x(MAX_SEGMENT_BYTES));
    resp.expect_status(200);
    assert_documented(history, "get", &resp);
    assert_refused(
        &query(&x(MAX_SEGMENT_BYTES + 1)),
        history,
        "get",
        400,
        "invalid_path",
    );
    assert_refused(&query("a\u{7f}"), history, "get", 400, "invalid_path");
}

#[test]
fn game_ids_at_and_over_the_limits() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let manifest = "/v1/games/{game}/manifest";
    let max = limit_at("/components/schemas/GameId/maxLength");
    let cases = [
        (x(max), true),
        ("MyGame-1700000000".to_owned(), true),
        ("a.b_c-D".to_owned(), true),
        ("_x".to_owned(), true),
        (x(max + 1), false),
        (".x".to_owned(), false),
        ("a b".to_owned(), false),
        ("é".to_owned(), false),
        ("a+b".to_owned(), false),
    ];
    for (game, accepted) in cases {
        let encoded: String = form_urlencoded::byte_serialize(game.as_bytes()).collect();
        let resp = alice.get(&format!("/v1/games/{encoded}/manifest"));
        if accepted {
            resp.expect_status(200);
            assert_documented(manifest, "get", &resp);
        } else {
            assert_refused(&resp, manifest, "get", 400, "invalid_game_id");
        }
        assert_eq!(
            schema_accepts("/components/schemas/GameId", &json!(game)),
            accepted,
            "{game:?}"
        );
    }
}

// ---- accounts ----

const CLAIM_DEVICE: &str = "/components/schemas/PairingClaim/properties/device_name";

#[test]
fn account_fields_at_and_over_the_limits() {
    let server = InProcess::start();
    let anon = server.client();
    let signup_route = "/v1/auth/signup";
    let props = "/components/schemas/Credentials/properties";
    let signup_with = |username: &str, password: &str, device: &str| {
        anon.post(
            signup_route,
            &json!({"username": username, "password": password, "device_name": device}),
        )
    };
    let check_schema = |field: &str, value: &str, accepted: bool| {
        assert_eq!(
            schema_accepts(&format!("{props}/{field}"), &json!(value)),
            accepted,
            "{field} {value:?}"
        );
    };

    // Usernames: ASCII, between the documented lengths.
    let (min, name_max) = (
        limit_at(&format!("{props}/username/minLength")),
        limit_at(&format!("{props}/username/maxLength")),
    );
    let taken = fresh_name();
    let ok_names = [x(min), x(name_max), "Al.i_c-e9".to_owned(), taken.clone()];
    for name in &ok_names {
        let resp = signup_with(name, "correct horse", "pc");
        resp.expect_status(201);
        assert_documented(signup_route, "post", &resp);
        check_schema("username", name, true);
    }
    assert_refused(
        &signup_with(&taken, "correct horse", "pc"),
        signup_route,
        "post",
        409,
        "username_taken",
    );
    for name in [
        x(min - 1),
        x(name_max + 1),
        "a b".into(),
        "élan".into(),
        "a/b".into(),
    ] {
        let resp = signup_with(&name, "correct horse", "pc");
        assert_refused(&resp, signup_route, "post", 400, "invalid_username");
        check_schema("username", &name, false);
    }

    // Passwords: counted in characters, not bytes.
    let (min, password_max) = (
        limit_at(&format!("{props}/password/minLength")),
        limit_at(&format!("{props}/password/maxLength")),
    );
    for password in [
        x(min),
        "é".repeat(min),
        x(password_max),
        "é".repeat(password_max),
    ] {
        let resp = signup_with(&fresh_name(), &password, "pc");
        resp.expect_status(201);
        check_schema("password", &password, true);
    }
    let short = "é".repeat(min - 1);
    assert_refused(
        &signup_with(&fresh_name(), &short, "pc"),
        signup_route,
        "post",
        400,
        "weak_password",
    );
    check_schema("password", &short, false);
    let long = x(password_max + 1);
    assert_refused(
        &signup_with(&fresh_name(), &long, "pc"),
        signup_route,
        "post",
        400,
        "invalid_password",
    );
    check_schema("password", &long, false);

    // Device names: characters, no control characters.
    let max = limit_at(&format!("{props}/device_name/maxLength"));
    for device in [
        x(max),
        "é".repeat(max),
        "Alice's laptop (Steam Deck)".into(),
    ] {
        signup_with(&fresh_name(), "correct horse", &device).expect_status(201);
        check_schema("device_name", &device, true);
        assert!(schema_accepts(CLAIM_DEVICE, &json!(device)), "{device:?}");
    }
    let bad_devices = [
        x(max + 1),
        String::new(),
        "a\u{7}b".into(),
        "a\u{85}b".into(),
    ];
    for device in &bad_devices {
        let resp = signup_with(&fresh_name(), "correct horse", device);
        assert_refused(&resp, signup_route, "post", 400, "invalid_device_name");
        check_schema("device_name", device, false);
        assert!(!schema_accepts(CLAIM_DEVICE, &json!(device)), "{device:?}");
    }

    // Login: the same name rules; a password over the limit is not even checked.
    let login = "/v1/auth/login";
    let login_with = |username: &str, password: &str, device: &str| {
        anon.post(
            login,
            &json!({"username": username, "password": password, "device_name": device}),
        )
    };
    let resp = login_with(&taken, "correct horse", &x(max));
    resp.expect_status(200);
    assert_documented(login, "post", &resp);
    let cases = [
        (
            x(name_max + 1),
            "correct horse".to_owned(),
            "pc".to_owned(),
            400,
            "invalid_username",
        ),
        (
            taken.clone(),
            "correct horse".into(),
            x(max + 1),
            400,
            "invalid_device_name",
        ),
        (
            taken.clone(),
            x(password_max + 1),
            "pc".into(),
            401,
            "invalid_credentials",
        ),
    ];
    for (username, password, device, status, code) in cases {
        let resp = login_with(&username, &password, &device);
        assert_refused(&resp, login, "post", status, code);
    }

    // Pairing claims: the same device names; a code of another length is refused unseen.
    let claim = "/v1/pairing/claim";
    let alice = signup(&anon);
    let code = |alice: &Client| -> String {
        alice.post("/v1/pairing", &json!({})).value()["code"]
            .as_str()
            .expect("a pairing code")
            .to_owned()
    };
    let resp = anon.post(
        claim,
        &json!({"code": code(&alice).to_lowercase(), "device_name": x(max)}),
    );
    resp.expect_status(200);
    assert_documented(claim, "post", &resp);
    let resp = anon.post(
        claim,
        &json!({"code": code(&alice), "device_name": x(max + 1)}),
    );
    assert_refused(&resp, claim, "post", 400, "invalid_device_name");
    let resp = anon.post(claim, &json!({"code": "ABCD-EFGH-I", "device_name": "pc"}));
    assert_refused(&resp, claim, "post", 401, "invalid_pairing_code");
}

// ---- device keys ----

fn key_of(bytes: usize, seed: u8) -> String {
    let der: Vec<u8> = (0..bytes)
        .map(|i| seed.wrapping_add(u8::try_from(i % 251).unwrap_or_default()))
        .collect();
    STANDARD.encode(der)
}

#[test]
fn device_keys_at_and_over_the_limits() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let route = "/v1/device-keys";
    let schema = "/components/schemas/DeviceKeys";
    let max = limit_at(&format!("{schema}/properties/keys/maxItems"));
    let (least, most) = (*KEY_BYTES.start(), *KEY_BYTES.end());
    let many = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| key_of(91, u8::try_from(i).unwrap_or_default()))
            .collect()
    };
    // The character before `=` carries two bits that must be zero; `B` sets one.
    let non_canonical = {
        let mut key = key_of(least, 9);
        let at = key.len() - 2;
        key.replace_range(at..=at, "B");
        key
    };
    let cases: Vec<(Vec<String>, bool)> = vec![
        (vec![], true),
        (vec![P256_KEY.to_owned()], true),
        (many(max), true),
        (
            vec![key_of(least, 1), key_of(least + 1, 1), key_of(least + 2, 1)],
            true,
        ),
        (
            vec![key_of(most, 2), key_of(most - 1, 2), key_of(most - 2, 2)],
            true,
        ),
        (many(max + 1), false),
        (vec![P256_KEY.to_owned(), P256_KEY.to_owned()], false),
        (vec![key_of(least - 1, 3)], false),
        (vec![key_of(most + 1, 3)], false),
        (vec![key_of(most + 2, 3)], false),
        (vec!["not base64!".to_owned()], false),
        (vec![P256_KEY.trim_end_matches('=').to_owned()], false),
        (vec![non_canonical], false),
        (vec![format!(" {P256_KEY}")], false),
    ];
    for (keys, accepted) in cases {
        let body = json!({ "keys": keys });
        let resp = alice.put_json(route, &body);
        if accepted {
            resp.expect_status(204);
            assert_documented(route, "put", &resp);
        } else {
            assert_refused(&resp, route, "put", 400, "invalid_device_keys");
        }
        let lengths: Vec<usize> = keys.iter().map(String::len).collect();
        assert_eq!(
            schema_accepts(schema, &body),
            accepted,
            "the DeviceKeys schema on keys of lengths {lengths:?}"
        );
    }
}

// ---- JSON bodies ----

/// A valid JSON body for every route that takes one (`{game}` is `g`), for `alice`.
fn json_routes(
    alice: &Client,
    refresh_token: &str,
) -> Vec<(&'static str, &'static str, String, Value)> {
    let hash = ContentHash::of(b"one");
    let code = alice.post("/v1/pairing", &json!({})).value()["code"].clone();
    vec![
        (
            "/v1/auth/signup",
            "post",
            "/v1/auth/signup".into(),
            json!({"username": fresh_name(), "password": "correct horse", "device_name": "pc"}),
        ),
        (
            "/v1/auth/login",
            "post",
            "/v1/auth/login".into(),
            json!({"username": "nobody-here", "password": "correct horse", "device_name": "pc"}),
        ),
        (
            "/v1/auth/refresh",
            "post",
            "/v1/auth/refresh".into(),
            json!({"refresh_token": "unknown"}),
        ),
        (
            "/v1/auth/logout",
            "post",
            "/v1/auth/logout".into(),
            json!({"refresh_token": refresh_token}),
        ),
        (
            "/v1/device-keys",
            "put",
            "/v1/device-keys".into(),
            json!({"keys": [P256_KEY]}),
        ),
        (
            "/v1/pairing/claim",
            "post",
            "/v1/pairing/claim".into(),
            json!({"code": code, "device_name": "pc"}),
        ),
        (
            "/v1/games/{game}/changes",
            "post",
            "/v1/games/g/changes".into(),
            json!({"since": null, "uploads": [{"sha256": hash, "size": 3}]}),
        ),
        (
            "/v1/games/{game}/commit",
            "post",
            "/v1/games/g/commit".into(),
            json!({"ops": [{"path": "a.save", "expect_version": 0, "op": "delete"}]}),
        ),
        (
            "/v1/games/{game}/downloads",
            "post",
            "/v1/games/g/downloads".into(),
            json!({"sha256": [hash]}),
        ),
        (
            "/v1/games/{game}/restore",
            "post",
            "/v1/games/g/restore".into(),
            json!({"path": "a.save", "version": 1}),
        ),
    ]
}

#[test]
fn json_bodies_at_and_over_the_size_limit_or_of_another_type() {
    let server = InProcess::start();
    let anon = server.client();
    let resp = anon.post(
        "/v1/auth/signup",
        &json!({"username": fresh_name(), "password": "correct horse", "device_name": "pc"}),
    );
    let tokens: TokenResponse = resp.json();
    let alice = anon.with_token(&tokens.access_token);
    let max = Limits::default().max_json_body;
    let routes = json_routes(&alice, &tokens.refresh_token);
    // Every JSON route of the document is here.
    let doc = doc();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                documented.insert((path.clone(), method.clone()));
            }
        }
    }
    let here: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(r, m, _, _)| ((*r).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(documented, here);

    let token = Some(tokens.access_token.as_str());
    for (route, method, url, body) in &routes {
        let verb = method.to_uppercase();
        let json = serde_json::to_vec(body).expect("json");
        let resp = raw(&server.base, &verb, url, token, "text/plain", &json);
        assert_refused(&resp, route, method, 415, "unsupported_media_type");
        let resp = raw(&server.base, &verb, url, token, "application/xml", &json);
        assert_refused(&resp, route, method, 415, "unsupported_media_type");
        // Valid JSON, one byte over the limit.
        let mut padded = json.clone();
        padded.resize(max + 1, b' ');
        let resp = raw(&server.base, &verb, url, token, "application/json", &padded);
        assert_refused(&resp, route, method, 413, "body_too_large");
    }
    // At the limit, with another JSON media type the document allows.
    let mut padded =
        serde_json::to_vec(&json!({"refresh_token": tokens.refresh_token})).expect("json");
    padded.resize(max, b' ');
    let resp = raw(
        &server.base,
        "POST",
        "/v1/auth/logout",
        None,
        "application/merge-patch+json; charset=utf-8",
        &padded,
    );
    resp.expect_status(204);
    assert_documented("/v1/auth/logout", "post", &resp);
    alice.get("/v1/devices").expect_error(401, "unauthorized");
}

// ---- sync ----

#[test]
fn batches_at_and_over_the_limit() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let s = "/components/schemas";
    let hashes = |n: usize| -> Vec<ContentHash> {
        (0..n)
            .map(|i| ContentHash::of(i.to_string().as_bytes()))
            .collect()
    };

    let route = "/v1/games/{game}/downloads";
    let max = limit_at(&format!("{s}/DownloadRequest/properties/sha256/maxItems"));
    let resp = alice.post("/v1/games/g/downloads", &json!({"sha256": hashes(max)}));
    resp.expect_status(200);
    assert_documented(route, "post", &resp);
    let resp = alice.post("/v1/games/g/downloads", &json!({"sha256": hashes(max + 1)}));
    assert_refused(&resp, route, "post", 400, "batch_too_large");

    let route = "/v1/games/{game}/changes";
    let max = limit_at(&format!("{s}/ChangesRequest/properties/uploads/maxItems"));
    let uploads = |n: usize| ChangesRequest {
        since: None,
        uploads: hashes(n)
            .into_iter()
            .map(|sha256| BlobRef { sha256, size: 1 })
            .collect(),
    };
    let resp = alice.changes("g", &uploads(max));
    resp.expect_status(200);
    assert_documented(route, "post", &resp);
    let resp = alice.changes("g", &uploads(max + 1));
    assert_refused(&resp, route, "post", 400, "batch_too_large");

    let route = "/v1/games/{game}/commit";
    let max = limit_at(&format!("{s}/CommitRequest/properties/ops/maxItems"));
    let deletes = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"path": format!("f{i}"), "expect_version": 0, "op": "delete"}))
            .collect();
        json!({ "ops": ops })
    };
    let resp = alice.post("/v1/games/g/commit", &deletes(max));
    resp.expect_status(200);
    assert_documented(route, "post", &resp);
    let resp = alice.post("/v1/games/g/commit", &deletes(max + 1));
    assert_refused(&resp, route, "post", 400, "batch_too_large");
    let twice = json!({"ops": [
        {"path": "a", "expect_version": 0, "op": "delete"},
        {"path": "a", "expect_version": 0, "op": "delete"},
    ]});
    let resp = alice.post("/v1/games/g/commit", &twice);
    assert_refused(&resp, route, "post", 400, "duplicate_path");
}

#[test]
fn file_sizes_and_the_upload_budget_at_and_over_the_limits() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let limits = Limits::default();
    let changes = "/v1/games/{game}/changes";
    let announce = |seed: &str, size: u64| {
        alice.changes(
            "g",
            &ChangesRequest {
                since: None,
                uploads: vec![BlobRef {
                    sha256: ContentHash::of(seed.as_bytes()),
                    size,
                }],
            },
        )
    };
    // A commit of a size over the limit (in a game of its own: the budget is per game).
    let commit = "/v1/games/{game}/commit";
    alice.upload("other", b"one");
    let mut op = serde_json::to_value(put_op("big.save", 0, b"one")).expect("json");
    op["size"] = json!(limits.max_file_size + 1);
    let resp = alice.post("/v1/games/other/commit", &json!({ "ops": [op] }));
    assert_refused(&resp, commit, "post", 413, "file_too_large");

    let resp = announce("a", limits.max_file_size);
    resp.expect_status(200);
    assert_documented(changes, "post", &resp);
    let resp = announce("b", limits.max_file_size + 1);
    assert_refused(&resp, changes, "post", 413, "file_too_large");
    // Announced, never uploaded blobs fill the game's byte budget exactly, then no more.
    let rest = limits.max_game_bytes - limits.max_file_size;
    assert!(rest <= limits.max_file_size);
    announce("c", rest).expect_status(200);
    let resp = announce("d", 1);
    assert_refused(&resp, changes, "post", 413, "quota_exceeded");
    // Announcing again what is leased costs nothing.
    announce("a", limits.max_file_size).expect_status(200);
}

#[test]
fn the_game_quota_answers_413_as_documented() {
    let server = InProcess::start_with(
        |config| {
            config.limits.max_game_files = 2;
            config.limits.max_game_bytes = 10;
        },
        Arc::new(SystemClock),
    );
    let alice = signup(&server.client());
    let commit = "/v1/games/{game}/commit";
    let put = |path: &str, bytes: &[u8]| {
        alice.upload("g", bytes);
        alice.commit("g", vec![put_op(path, 0, bytes)])
    };
    put("a", b"12345").expect_status(200);
    put("b", b"6789").expect_status(200);
    // 9 of 10 bytes, 2 of 2 files: a third file is refused however small.
    let resp = put("c", b"x");
    assert_refused(&resp, commit, "post", 413, "quota_exceeded");
    // Growing `a` from 5 to 7 bytes would take 11 bytes.
    alice.upload("g", b"1234567");
    let resp = alice.commit("g", vec![put_op("a", 1, b"1234567")]);
    assert_refused(&resp, commit, "post", 413, "quota_exceeded");
    // Shrinking is always allowed (`x` was uploaded above).
    alice
        .commit("g", vec![put_op("a", 1, b"x")])
        .expect_status(200);
    // The upload budget is the same number of bytes: 7 are still uncommitted.
    let resp = alice.changes(
        "g",
        &ChangesRequest {
            since: None,
            uploads: vec![BlobRef {
                sha256: ContentHash::of(b"four"),
                size: 4,
            }],
        },
    );
    assert_refused(
        &resp,
        "/v1/games/{game}/changes",
        "post",
        413,
        "quota_exceeded",
    );
}

/// Save metadata whose compact JSON (as the server measures it) takes `len` bytes.
fn meta_of_len(len: usize) -> SaveMeta {
    let empty = SaveMeta {
        save_name: Some(String::new()),
        ..SaveMeta::default()
    };
    let base = serde_json::to_vec(&empty).map_or(0, |j| j.len());
    let meta = SaveMeta {
        save_name: Some(x(len.saturating_sub(base))),
        ..SaveMeta::default()
    };
    assert_eq!(serde_json::to_vec(&meta).map_or(0, |j| j.len()), len);
    meta
}

#[test]
fn save_metadata_at_and_over_the_limit() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let commit = "/v1/games/{game}/commit";
    let max = Limits::default().max_meta_bytes;
    alice.upload("g", b"one");
    let with_meta = |path: &str, meta: Value| {
        let mut op = serde_json::to_value(put_op(path, 0, b"one")).expect("json");
        op["meta"] = meta;
        alice.post("/v1/games/g/commit", &json!({ "ops": [op] }))
    };
    let at = serde_json::to_value(meta_of_len(max)).expect("json");
    let resp = with_meta("a.save", at.clone());
    resp.expect_status(200);
    assert_documented(commit, "post", &resp);
    let over = serde_json::to_value(meta_of_len(max + 1)).expect("json");
    let resp = with_meta("b.save", over);
    assert_refused(&resp, commit, "post", 413, "meta_too_large");
    // Unknown keys are dropped before the size is measured, as documented.
    let mut padded = at;
    padded["surprise"] = json!(x(2 * max));
    let resp = with_meta("c.save", padded);
    resp.expect_status(200);
    let stored = &resp.value()["results"][0]["entry"]["meta"];
    assert!(stored.get("surprise").is_none(), "{stored}");
    // `archive` ops are measured the same way.
    let mut op = serde_json::to_value(put_op("d.save", 0, b"one")).expect("json");
    op["op"] = json!("archive");
    op["meta"] = serde_json::to_value(meta_of_len(max + 1)).expect("json");
    let resp = alice.post("/v1/games/g/commit", &json!({ "ops": [op] }));
    assert_refused(&resp, commit, "post", 413, "meta_too_large");
}

#[test]
fn versions_and_cursors_at_and_over_the_limit() {
    let server = InProcess::start();
    let alice = signup(&server.client());
    let max = number_at("/components/schemas/Counter/maximum");
    let over = u128::from(max) + 1;
    let changes = "/v1/games/{game}/changes";
    let resp = alice.post("/v1/games/g/changes", &json!({ "since": max }));
    resp.expect_status(200);
    assert_documented(changes, "post", &resp);
    let resp = alice.post_raw(
        "/v1/games/g/changes",
        "application/json",
        format!(r#"{{"since":{over}}}"#).as_bytes(),
    );
    assert_refused(&resp, changes, "post", 400, "invalid_body");

    let commit = "/v1/games/{game}/commit";
    let op =
        |v: String| format!(r#"{{"ops":[{{"path":"a","expect_version":{v},"op":"delete"}}]}}"#);
    let resp = alice.post_raw(
        "/v1/games/g/commit",
        "application/json",
        op(max.to_string()).as_bytes(),
    );
    resp.expect_status(200);
    let resp = alice.post_raw(
        "/v1/games/g/commit",
        "application/json",
        op(over.to_string()).as_bytes(),
    );
    assert_refused(&resp, commit, "post", 400, "invalid_body");

    let restore = "/v1/games/{game}/restore";
    let resp = alice.post("/v1/games/g/restore", &json!({"path": "a", "version": max}));
    assert_refused(&resp, restore, "post", 404, "no_such_version");
    let resp = alice.post_raw(
        "/v1/games/g/restore",
        "application/json",
        format!(r#"{{"path":"a","version":{over}}}"#).as_bytes(),
    );
    assert_refused(&resp, restore, "post", 400, "invalid_body");
    for value in [json!(max), json!(0)] {
        assert!(schema_accepts("/components/schemas/Counter", &value));
    }
    assert!(!schema_accepts("/components/schemas/Counter", &json!(-1)));
}

#[test]
fn pages_have_the_documented_size() {
    let server = InProcess::start_with(
        |config| config.limits.page_entries = 2,
        Arc::new(SystemClock),
    );
    let alice = signup(&server.client());
    for name in ["a", "b", "c"] {
        alice.put_file("g", name, 0, name.as_bytes());
    }
    let resp = alice.get("/v1/games/g/manifest");
    assert_documented("/v1/games/{game}/manifest", "get", &resp);
    let first = resp.value();
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["more"], json!(true));
    let resp = alice.post("/v1/games/g/changes", &json!({ "since": first["cursor"] }));
    assert_documented("/v1/games/{game}/changes", "post", &resp);
    let rest = resp.value();
    assert_eq!(rest["changes"].as_array().map(Vec::len), Some(1));
    assert!(rest.get("more").is_none(), "{rest}");
}

#[test]
fn login_and_claim_budgets_answer_429_as_documented() {
    let server = InProcess::start();
    let anon = server.client();
    let rates = Rates::default();
    let login = "/v1/auth/login";
    let name = fresh_name();
    for _ in 0..rates.failed_logins.burst {
        let resp = anon.login(&name, "wrong password");
        assert_refused(&resp, login, "post", 401, "invalid_credentials");
    }
    let resp = anon.login(&name, "wrong password");
    assert_refused(&resp, login, "post", 429, "rate_limited");
    assert!(resp.header("retry-after").is_some());

    let claim = "/v1/pairing/claim";
    let wrong = json!({"code": "AAAA-AAAA", "device_name": "pc"});
    for _ in 0..rates.pairing_claims.burst {
        assert_refused(
            &anon.post(claim, &wrong),
            claim,
            "post",
            401,
            "invalid_pairing_code",
        );
    }
    let resp = anon.post(claim, &wrong);
    assert_refused(&resp, claim, "post", 429, "rate_limited");
    assert!(resp.header("retry-after").is_some());
}

// ---- unknown fields ----

/// Every schema a request body or parameter can reach, by JSON pointer.
fn request_schemas() -> BTreeSet<String> {
    fn walk(doc: &Value, pointer: String, seen: &mut BTreeSet<String>) {
        let Some(schema) = doc.pointer(&pointer) else {
            return;
        };
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let target = target.trim_start_matches('#').to_owned();
            if seen.insert(target.clone()) {
                walk(doc, target, seen);
            }
        }
        let Some(object) = schema.as_object() else {
            return;
        };
        for (key, value) in object {
            match (key.as_str(), value) {
                ("properties", Value::Object(props)) => {
                    for name in props.keys() {
                        let name = name.replace('~', "~0").replace('/', "~1");
                        walk(doc, format!("{pointer}/properties/{name}"), seen);
                    }
                }
                ("items" | "additionalProperties", Value::Object(_)) => {
                    walk(doc, format!("{pointer}/{key}"), seen);
                }
                ("oneOf" | "anyOf" | "allOf", Value::Array(list)) => {
                    for i in 0..list.len() {
                        walk(doc, format!("{pointer}/{key}/{i}"), seen);
                    }
                }
                _ => {}
            }
        }
        seen.insert(pointer);
    }
    let doc = doc();
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path = path.replace('~', "~0").replace('/', "~1");
        for (method, op) in item.as_object().expect("path item") {
            let base = format!("/paths/{path}/{method}");
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for media in content.keys() {
                    let media = media.replace('~', "~0").replace('/', "~1");
                    walk(
                        &doc,
                        format!("{base}/requestBody/content/{media}/schema"),
                        &mut seen,
                    );
                }
            }
            for i in 0..op["parameters"].as_array().map_or(0, Vec::len) {
                walk(&doc, format!("{base}/parameters/{i}/schema"), &mut seen);
            }
        }
    }
    seen
}

#[test]
fn no_request_schema_claims_to_refuse_unknown_fields() {
    // `protocol.rs` derives no `deny_unknown_fields`: the server ignores unknown fields, so a
    // schema saying `additionalProperties: false` would tell clients a lie. If a type starts
    // refusing them, document it and prove it through the server here.
    let doc = doc();
    let schemas = request_schemas();
    assert!(
        schemas.contains("/components/schemas/SaveMeta"),
        "{schemas:?}"
    );
    for pointer in &schemas {
        let schema = doc.pointer(pointer).cloned().unwrap_or_default();
        assert_ne!(
            schema.get("additionalProperties"),
            Some(&json!(false)),
            "{pointer} claims to refuse unknown fields"
        );
    }
}

#[test]
fn unknown_request_fields_are_ignored_as_documented() {
    let server = InProcess::start();
    let anon = server.client();
    let resp = anon.post(
        "/v1/auth/signup",
        &json!({"username": fresh_name(), "password": "correct horse", "device_name": "pc", "surprise": 1}),
    );
    resp.expect_status(201);
    let tokens: TokenResponse = resp.json();
    let alice = anon.with_token(&tokens.access_token);
    alice.upload("g", b"one");
    let mut put = serde_json::to_value(put_op("a.save", 0, b"one")).expect("json");
    put["surprise"] = json!({"nested": true});
    put["meta"] = json!({"save_name": "x", "surprise": 1});
    // Each body and each object nested in it carries a field no type declares.
    let cases: Vec<(&str, &str, &str, Value, u16)> = vec![
        (
            "/v1/auth/login",
            "post",
            "/v1/auth/login",
            json!({"username": "nobody-here", "password": "correct horse", "device_name": "pc", "surprise": 1}),
            401,
        ),
        (
            "/v1/auth/refresh",
            "post",
            "/v1/auth/refresh",
            json!({"refresh_token": tokens.refresh_token, "surprise": 1}),
            200,
        ),
        (
            "/v1/device-keys",
            "put",
            "/v1/device-keys",
            json!({"keys": [P256_KEY], "surprise": 1}),
            204,
        ),
        (
            "/v1/pairing/claim",
            "post",
            "/v1/pairing/claim",
            json!({"code": "AAAA-AAAA", "device_name": "pc", "surprise": 1}),
            401,
        ),
        (
            "/v1/games/{game}/changes",
            "post",
            "/v1/games/g/changes",
            json!({"uploads": [{"sha256": ContentHash::of(b"two"), "size": 3, "surprise": 1}], "surprise": 1}),
            200,
        ),
        (
            "/v1/games/{game}/commit",
            "post",
            "/v1/games/g/commit",
            json!({"ops": [put, {"path": "b", "expect_version": 0, "op": "delete", "sha256": "not even a hash"}], "surprise": 1}),
            200,
        ),
        (
            "/v1/games/{game}/downloads",
            "post",
            "/v1/games/g/downloads",
            json!({"sha256": [ContentHash::of(b"one")], "surprise": 1}),
            200,
        ),
        (
            "/v1/games/{game}/restore",
            "post",
            "/v1/games/g/restore",
            json!({"path": "a.save", "version": 1, "surprise": 1}),
            200,
        ),
    ];
    for (route, method, url, body, status) in cases {
        let verb = method.to_uppercase();
        let token = if route.starts_with("/v1/auth") || route == "/v1/pairing/claim" {
            None
        } else {
            alice.token.as_deref()
        };
        let json = serde_json::to_vec(&body).expect("json");
        let resp = raw(&server.base, &verb, url, token, "application/json", &json);
        resp.expect_status(status);
        assert_documented(route, method, &resp);
        // The document agrees: the schema accepts the body too.
        let schema = at(&format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            route.replace('~', "~0").replace('/', "~1")
        ));
        let errs = errors_against(schema, &body);
        assert!(errs.is_empty(), "{method} {route}: {errs:?}");
    }
    let manifest = alice.manifest("g");
    let restored = manifest
        .entries
        .iter()
        .find(|e| e.path.as_str() == "a.save")
        .expect("a.save");
    assert_eq!(
        restored.meta.as_ref().and_then(|m| m.save_name.as_deref()),
        Some("x")
    );
}

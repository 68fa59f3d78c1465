//! HttpTransport's mapping of HTTP answers and network failures, against a scripted peer on
//! loopback (the real server is exercised by `cli_end_to_end`).

mod fake_peer;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fake_peer::{FakePeer, Reply};
use futures::executor::block_on;
use native_client::http::{HttpTransport, Timeouts};
use native_client::session::{Session, now_millis};
use sync_core::protocol::{ChangesRequest, UploadTarget};
use sync_core::transport::{Transport, TransportError, TransportErrorKind};
use sync_core::{ContentHash, GameId, SavePath};

const EMPTY_CHANGES: &str = r#"{"cursor":0,"changes":[]}"#;

fn game() -> GameId {
    GameId::new("MyGame-1700000000").expect("game id")
}

fn session(access: &str, refresh: &str, expires_at: i64) -> Session {
    Session {
        username: "alice".into(),
        user_id: "u1".into(),
        device_id: "d1".into(),
        access_token: access.into(),
        access_expires_at: expires_at,
        access_obtained_at: 0,
        refresh_token: refresh.into(),
    }
}

fn transport(peer: &FakePeer) -> HttpTransport {
    HttpTransport::new(&peer.url, Timeouts::default())
        .expect("valid url")
        .with_session(Some(session("old", "r1", now_millis() + 3_600_000)))
}

fn changes(t: &HttpTransport) -> Result<sync_core::protocol::ChangesResponse, TransportError> {
    block_on(t.changes(&game(), &ChangesRequest::default()))
}

#[test]
fn server_errors_map_to_server_and_are_transient() {
    let peer =
        FakePeer::start(|_| Reply::json(500, r#"{"error":{"code":"internal","message":"boom"}}"#));
    let err = changes(&transport(&peer)).expect_err("500");
    assert_eq!(err.kind, TransportErrorKind::Server { status: 500 });
    assert!(err.is_transient());
    let peer = FakePeer::start(|_| Reply::bytes(503, b"").with_header("Retry-After", "12"));
    let err = changes(&transport(&peer)).expect_err("503");
    assert_eq!(err.kind, TransportErrorKind::Server { status: 503 });
    assert_eq!(err.retry_after, Some(12));
}

#[test]
fn a_silent_server_times_out() {
    let peer = FakePeer::start(|_| Reply::Hang(Duration::from_secs(5)));
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        stall: Duration::from_millis(300),
        request: Duration::from_millis(600),
        min_bytes_per_sec: 1 << 20,
    };
    let t = HttpTransport::new(&peer.url, timeouts).expect("url");
    let started = Instant::now();
    let err = changes(&t).expect_err("hang");
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let err = block_on(t.download(&format!("{}/blob", peer.url))).expect_err("hang");
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
}

#[test]
fn quota_and_rate_limits_carry_retry_after() {
    let peer = FakePeer::start(|r| {
        if r.target.contains("commit") {
            Reply::json(
                413,
                r#"{"error":{"code":"quota_exceeded","message":"full"}}"#,
            )
        } else {
            Reply::json(
                429,
                r#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
            )
            .with_header("Retry-After", "7")
        }
    });
    let t = transport(&peer);
    let err = changes(&t).expect_err("429");
    assert_eq!(err.kind, TransportErrorKind::Quota);
    assert_eq!(err.retry_after, Some(7));
    assert!(err.is_transient());
    let err = block_on(t.commit(&game(), &Default::default())).expect_err("413");
    assert_eq!(err.kind, TransportErrorKind::Quota);
    assert_eq!(err.retry_after, None);
    assert!(err.message.contains("full"), "{}", err.message);
}

#[test]
fn other_client_errors_are_rejected_with_the_server_code() {
    let peer = FakePeer::start(|r| {
        if r.target.contains("commit") {
            Reply::bytes(404, b"not json")
        } else {
            Reply::json(
                400,
                r#"{"error":{"code":"invalid_path","message":"bad path"}}"#,
            )
        }
    });
    let t = transport(&peer);
    let err = changes(&t).expect_err("400");
    assert_eq!(
        err.kind,
        TransportErrorKind::Rejected {
            status: 400,
            code: "invalid_path".into()
        }
    );
    assert!(!err.is_transient());
    let err = block_on(t.commit(&game(), &Default::default())).expect_err("404");
    assert_eq!(
        err.kind,
        TransportErrorKind::Rejected {
            status: 404,
            code: "http_404".into()
        }
    );
}

#[test]
fn an_unreachable_server_is_offline() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let t =
        HttpTransport::new(&format!("http://127.0.0.1:{port}"), Timeouts::default()).expect("url");
    let err = changes(&t).expect_err("refused");
    assert_eq!(err.kind, TransportErrorKind::Offline, "{err}");
}

#[test]
fn a_malformed_answer_is_corrupt() {
    let peer = FakePeer::start(|_| Reply::json(200, r#"{"cursor":"nope"}"#));
    let err = changes(&transport(&peer)).expect_err("bad json");
    assert_eq!(err.kind, TransportErrorKind::Corrupt);
}

fn refreshing_peer() -> FakePeer {
    FakePeer::start(|r| {
        if r.target == "/v1/auth/refresh" {
            let body = String::from_utf8_lossy(&r.body);
            return if body.contains("\"r1\"") {
                Reply::json(
                    200,
                    r#"{"user_id":"u1","username":"alice","device_id":"d1",
                        "access_token":"new","expires_in":900,"refresh_token":"r2"}"#,
                )
            } else {
                Reply::json(
                    401,
                    r#"{"error":{"code":"unauthorized","message":"revoked"}}"#,
                )
            };
        }
        match r.header("authorization") {
            Some("Bearer new") => Reply::json(200, EMPTY_CHANGES),
            _ => Reply::json(
                401,
                r#"{"error":{"code":"unauthorized","message":"expired"}}"#,
            ),
        }
    })
}

#[test]
fn a_401_refreshes_once_persists_the_new_tokens_and_retries() {
    let peer = refreshing_peer();
    let saved: Rc<RefCell<Vec<Session>>> = Rc::default();
    let sink = saved.clone();
    let t = transport(&peer)
        .with_session_listener(Box::new(move |s| sink.borrow_mut().push(s.clone())));
    changes(&t).expect("retried with the new token");
    let seen: Vec<_> = peer.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        seen,
        [
            "/v1/games/MyGame-1700000000/changes",
            "/v1/auth/refresh",
            "/v1/games/MyGame-1700000000/changes"
        ]
    );
    assert_eq!(t.requests(), 3);
    let saved = saved.borrow();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].access_token, "new");
    assert_eq!(saved[0].refresh_token, "r2");
    assert_eq!(t.session().map(|s| s.refresh_token), Some("r2".into()));
}

#[test]
fn a_refused_refresh_means_unauthorized_without_looping() {
    let peer = refreshing_peer();
    let t = HttpTransport::new(&peer.url, Timeouts::default())
        .expect("url")
        .with_session(Some(session("old", "revoked", now_millis() + 3_600_000)));
    let err = changes(&t).expect_err("must sign in again");
    assert_eq!(err.kind, TransportErrorKind::Unauthorized);
    assert_eq!(t.requests(), 2);
}

#[test]
fn an_expired_token_is_refreshed_before_the_call() {
    let peer = refreshing_peer();
    let t = HttpTransport::new(&peer.url, Timeouts::default())
        .expect("url")
        .with_session(Some(session("old", "r1", now_millis() - 1)));
    changes(&t).expect("ok");
    let seen: Vec<_> = peer.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        seen,
        ["/v1/auth/refresh", "/v1/games/MyGame-1700000000/changes"]
    );
}

#[test]
fn upload_sends_the_exact_bytes_method_and_headers() {
    let own = FakePeer::start(|_| Reply::bytes(200, b""));
    let storage = FakePeer::start(|_| Reply::bytes(200, b""));
    let t = transport(&own);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let hash = ContentHash::of(&bytes);
    let target = |url: String| UploadTarget {
        sha256: hash,
        size: bytes.len() as u64,
        present: false,
        url: Some(url),
        method: "PUT".into(),
        headers: BTreeMap::from([("x-amz-checksum-sha256".into(), "abc=".into())]),
        expires_at: 0,
    };
    block_on(t.upload(&target(format!("/v1/blobs/{hash}?sig=1")), &bytes)).expect("upload");
    block_on(t.upload(
        &target(format!("{}/bucket/key?X-Sig=2", storage.url)),
        &bytes,
    ))
    .expect("upload to storage");

    let sent = &own.requests()[0];
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.target, format!("/v1/blobs/{hash}?sig=1"));
    assert_eq!(sent.body, bytes);
    assert_eq!(sent.header("content-length"), Some("70000"));
    assert_eq!(sent.header("x-amz-checksum-sha256"), Some("abc="));
    assert_eq!(sent.header("authorization"), Some("Bearer old"));
    let sent = &storage.requests()[0];
    assert_eq!(sent.body, bytes);
    assert_eq!(
        sent.header("authorization"),
        None,
        "no token to a storage service"
    );

    let present = UploadTarget {
        present: true,
        url: None,
        ..target(String::new())
    };
    block_on(t.upload(&present, &bytes)).expect("nothing to send");
    assert_eq!(t.requests(), 2);
}

#[test]
fn downloads_are_verified_against_the_advertised_hash() {
    let good = b"the real save".to_vec();
    let hash = ContentHash::of(&good);
    let body = format!(
        r#"{{"cursor":1,"changes":[],"downloads":{{"{hash}":"/v1/blobs/ok","{other}":"/v1/blobs/bad"}}}}"#,
        other = ContentHash::of(b"other")
    );
    let served = good.clone();
    let peer = FakePeer::start(move |r| match r.target.as_str() {
        "/v1/blobs/ok" => Reply::bytes(200, &served),
        "/v1/blobs/bad" => Reply::bytes(200, b"flipped bits"),
        _ => Reply::json(200, &body),
    });
    let t = transport(&peer);
    changes(&t).expect("changes");
    assert_eq!(
        block_on(t.download("/v1/blobs/ok")).expect("good blob"),
        good
    );
    let err = block_on(t.download("/v1/blobs/bad")).expect_err("corrupt blob");
    assert_eq!(err.kind, TransportErrorKind::Corrupt);
}

#[test]
fn history_sends_the_path_as_an_encoded_query() {
    let peer = FakePeer::start(|_| Reply::json(200, r#"{"path":"sync/a b.save","versions":[]}"#));
    let t = transport(&peer);
    let path = SavePath::new("sync/a b.save").expect("path");
    let answer = block_on(t.history(&game(), &path)).expect("history");
    assert_eq!(answer.path, path);
    assert_eq!(
        peer.requests()[0].target,
        "/v1/games/MyGame-1700000000/history?path=sync%2Fa%20b.save"
    );
}

#[test]
fn relative_urls_join_the_server_url_including_its_prefix() {
    let t = HttpTransport::new("https://example.invalid/api/", Timeouts::default()).expect("url");
    assert_eq!(t.resolve_url("/v1/x"), "https://example.invalid/api/v1/x");
    assert_eq!(
        t.resolve_url("https://s3.invalid/k"),
        "https://s3.invalid/k"
    );
    assert!(HttpTransport::new("example.invalid", Timeouts::default()).is_err());
}

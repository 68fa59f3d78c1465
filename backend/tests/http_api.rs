//! The HTTP API end to end: the real server binary on 127.0.0.1, a blocking client, one
//! server (with its own temporary data dir) per test. Runs against the embedded backend, or
//! with `RENPY_CLOUD_TEST_BACKEND=aws` (and `--features aws`) against `renpy-cloud-lambda`
//! on moto (see `common`); the few tests that do not apply there say why and return.

mod common;

#[path = "http_api/auth.rs"]
mod auth;
#[path = "http_api/bad_input.rs"]
mod bad_input;
#[path = "http_api/cors.rs"]
mod cors;
#[path = "http_api/garbage.rs"]
mod garbage;
#[path = "http_api/history_limits.rs"]
mod history_limits;
#[path = "http_api/isolation.rs"]
mod isolation;
#[path = "http_api/limits.rs"]
mod limits;
#[path = "http_api/pairing.rs"]
mod pairing;
#[path = "http_api/race.rs"]
mod race;
#[path = "http_api/sync.rs"]
mod sync;
#[path = "http_api/uploads.rs"]
mod uploads;

use std::time::Duration;

use common::Server;
use sync_core::protocol::Health;

#[test]
fn health_answers_ok_with_version() {
    let server = Server::start(&[]);
    let resp = server.client().get("/v1/health");
    resp.expect_status(200);
    let health: Health = resp.json();
    assert_eq!(health.status, "ok");
    assert_eq!(health.storage, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_full_disk_fails_health_and_refuses_uploads_for_later() {
    skip_on_aws!("the embedded store's disk; S3 does not fill up");
    // Keeping more free than any disk has: the real disk, measured, counts as full.
    let server = Server::start(&["--min-free-disk-mb", "1000000000000"]);
    let client = server.client();
    let health = client.get("/v1/health");
    health.expect_error(503, "storage_unavailable");
    let (alice, _) = client.signup("alice");
    let bytes = b"a save that waits for room";
    let target = alice.upload_target("g", bytes);
    let refused = alice.put_target(&target, bytes);
    refused.expect_error(503, "storage_unavailable");
    assert!(refused.header("retry-after").is_some());
    assert!(alice.manifest("g").entries.is_empty());
}

#[test]
fn idle_and_slow_connections_are_closed_and_sockets_are_plentiful() {
    use std::io::{Read, Write};
    skip_on_aws!("the embedded server's flags; the Lambda host serves with the same loop");
    let server = Server::start(&["--header-read-timeout-secs", "1"]);
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut idle: Vec<std::net::TcpStream> = (0..50)
        .map(|_| std::net::TcpStream::connect(&host).expect("connect"))
        .collect();
    let mut slow = std::net::TcpStream::connect(&host).expect("connect");
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHo")
        .expect("half a header");
    idle.push(slow);
    // A client that finished a request and keeps the connection open, idle.
    let mut kept = std::net::TcpStream::connect(&host).expect("connect");
    kept.write_all(format!("GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .expect("request");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).expect("answer");
    assert_eq!(&first[9..12], b"200");
    idle.push(kept);
    let started = std::time::Instant::now();
    for socket in &mut idle {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut rest = Vec::new();
        // Closed by the server: end of stream (after what was answered), or a reset.
        match socket.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    server.client().get("/v1/health").expect_status(200);
    // The soft open-file limit was raised to the hard one.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).expect("limits");
    let files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let numbers: Vec<&str> = files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "{files}");
}

#[test]
fn connections_above_the_cap_are_closed_and_the_rest_are_served() {
    use std::io::{Read, Write};
    skip_on_aws!("the embedded server's flags; the Lambda host serves with the same loop");
    let server = Server::start(&[
        "--max-connections",
        "20",
        "--header-read-timeout-secs",
        "30",
    ]);
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut held: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(&host).expect("connect"))
        .collect();
    // Let the server accept all twenty before the next one knocks.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = std::net::TcpStream::connect(&host).expect("the kernel still accepts");
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    match extra.read_to_end(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the 21st connection got an answer"),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
    }
    // A connection the server holds is served.
    let socket = &mut held[0];
    socket
        .write_all(format!("GET /v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .expect("request");
    let mut first = [0u8; 12];
    socket.read_exact(&mut first).expect("answer");
    assert_eq!(&first[9..12], b"200");
    // Once they go, new connections are welcome again.
    drop(held);
    std::thread::sleep(Duration::from_millis(500));
    server.client().get("/v1/health").expect_status(200);
}

#[test]
fn openapi_document_is_served() {
    let server = Server::start(&[]);
    let resp = server.client().get("/v1/openapi.json");
    resp.expect_status(200);
    assert_eq!(
        resp.value(),
        serde_json::from_str::<serde_json::Value>(backend::api::openapi::DOCUMENT)
            .expect("document is JSON")
    );
}

#[test]
fn unknown_routes_and_methods_answer_json_errors() {
    let server = Server::start(&[]);
    let client = server.client();
    client.get("/v1/nope").expect_error(404, "not_found");
    client
        .delete("/v1/health")
        .expect_error(405, "method_not_allowed");
}

#[test]
fn the_data_dir_and_everything_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    skip_on_aws!("the embedded data dir; S3 and DynamoDB have their own access control");
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    alice.put_file("g", "1-1-LT1.save", 0, b"a private save");
    let mut seen = 0;
    let mut stack = vec![server.data_dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = std::fs::metadata(&path).expect("file").permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is {:o}", path.display(), mode & 0o777);
                seen += 1;
            }
        }
    }
    // The database, its WAL, the secret and the blob at least.
    assert!(seen >= 4, "{seen} files");
}

#[test]
fn accounts_saves_and_sessions_survive_a_restart() {
    skip_on_aws!("durability of the embedded data dir; DynamoDB and S3 keep nothing locally");
    let server = Server::start(&[]);
    let (alice, tokens) = server.client().signup("alice");
    alice.put_file("g", "1-1-LT1.save", 0, b"saved before the restart");
    let before = alice.manifest("g");
    let secret = server.data_dir.path().join("secret.key");
    let mode = std::fs::metadata(&secret)
        .expect("secret.key")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    let server = server.restart(&[]);
    // The access token is still valid (same secret), the manifest and blobs are still there.
    let alice = server.client().with_token(&tokens.access_token);
    assert_eq!(alice.manifest("g"), before);
    let changes: sync_core::protocol::ChangesResponse =
        alice.changes("g", &Default::default()).json();
    let url = changes.downloads.values().next().expect("download URL");
    assert_eq!(server.client().get(url).body, b"saved before the restart");
    server
        .client()
        .login("alice", "correct horse")
        .expect_status(200);
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let mut server = Server::start(&[]);
    server.client().get("/v1/health").expect_status(200);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits after SIGTERM");
    assert!(exit.success(), "exit status {exit:?}");
}

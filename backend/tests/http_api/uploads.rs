//! Upload verification: bytes must match the declared SHA-256 and size, or nothing is stored.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sync_core::ContentHash;
use sync_core::protocol::{BlobRef, ChangesRequest};

use crate::common::{Server, put_op};
use crate::skip_on_aws;

#[test]
fn mismatched_uploads_are_refused_and_store_nothing() {
    skip_on_aws!(
        "the API's own /v1/blobs endpoint; S3 presigned uploads with wrong bytes are refused \
         in aws_storage::presigned_upload_with_wrong_bytes_is_refused_by_s3"
    );
    let server = Server::start(&["--max-file-size", "1000"]);
    let (alice, _) = server.client().signup("alice");
    let bytes = b"the real save bytes";
    let target = alice.upload_target("g", bytes);
    let url = target.url.expect("upload URL");

    // Same length, other content.
    alice
        .put_bytes(&url, b"the fake save bytes")
        .expect_error(400, "hash_mismatch");
    // Short and long bodies, with and without a content length.
    alice
        .put_bytes(&url, &bytes[..5])
        .expect_error(400, "size_mismatch");
    alice
        .put_bytes(&url, &[&bytes[..], b"extra"].concat())
        .expect_error(400, "size_mismatch");
    alice
        .put_chunked(&url, &bytes[..5])
        .expect_error(400, "size_mismatch");
    alice
        .put_chunked(&url, &[&bytes[..], b"extra"].concat())
        .expect_error(400, "size_mismatch");
    alice
        .put_chunked(&url, b"the fake save bytes")
        .expect_error(400, "hash_mismatch");

    // Nothing was stored: the blob is still missing and cannot be committed.
    assert!(!alice.upload_target("g", bytes).present);
    alice
        .commit("g", vec![put_op("a.save", 0, bytes)])
        .expect_error(400, "blob_missing");
    assert!(alice.manifest("g").entries.is_empty());

    // The right bytes, chunked, are accepted.
    alice.put_chunked(&url, bytes).expect_status(204);
    assert!(alice.upload_target("g", bytes).present);
}

#[test]
fn oversize_files_are_refused_with_413() {
    let server = Server::start(&["--max-file-size", "10"]);
    let (alice, _) = server.client().signup("alice");
    let big = b"eleven byte";
    alice
        .changes(
            "g",
            &ChangesRequest {
                since: None,
                uploads: vec![BlobRef {
                    sha256: ContentHash::of(big),
                    size: 11,
                }],
            },
        )
        .expect_error(413, "file_too_large");
    alice
        .commit("g", vec![put_op("a.save", 0, big)])
        .expect_error(413, "file_too_large");
    assert!(alice.manifest("g").entries.is_empty());
}

#[test]
fn large_blobs_stream_in_and_out() {
    skip_on_aws!(
        "chunked uploads to the API's own /v1/blobs endpoint; S3 presigned PUTs sign the \
         content length, and the bytes never pass through the API"
    );
    // Larger than the 1 MiB JSON body limit, which must not apply to blob uploads.
    let server = Server::start(&[]);
    let (alice, _) = server.client().signup("alice");
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let target = alice.upload_target("g", &big);
    let url = target.url.expect("upload URL");
    alice.put_chunked(&url, &big).expect_status(204);
    alice
        .commit("g", vec![put_op("big.save", 0, &big)])
        .expect_status(200);
    let changes: sync_core::protocol::ChangesResponse =
        alice.changes("g", &ChangesRequest::default()).json();
    let got = server
        .client()
        .get(&changes.downloads[&ContentHash::of(&big)]);
    got.expect_status(200);
    assert_eq!(got.body.len(), big.len());
    assert!(got.body == big, "downloaded bytes differ");
}

/// A `PUT` of `target` that sends its headers and `sent` of the body, then stalls: what a
/// slow-loris client does. The socket stays open until dropped.
fn stalled_upload(
    base: &str,
    target: &sync_core::protocol::UploadTarget,
    sent: &[u8],
) -> TcpStream {
    let url = target.url.as_deref().expect("upload URL");
    let path = url.strip_prefix(base).unwrap_or(url);
    let host = base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(host).expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        target.size
    );
    socket.write_all(head.as_bytes()).expect("headers");
    socket.write_all(sent).expect("part of the body");
    socket
}

/// The status line's code of the answer on `socket`, waiting up to `wait`.
fn answer_status(socket: &mut TcpStream, wait: Duration) -> Option<u16> {
    socket.set_read_timeout(Some(wait)).expect("timeout");
    let mut reply = [0u8; 12];
    socket.read_exact(&mut reply).ok()?;
    std::str::from_utf8(&reply[9..12]).ok()?.parse().ok()
}

#[test]
fn stalled_uploads_of_one_account_neither_block_others_nor_last() {
    skip_on_aws!("the API's own /v1/blobs endpoint; S3 serves presigned uploads on AWS");
    let server = Server::start(&["--uploads-per-user", "2", "--body-chunk-timeout-secs", "2"]);
    let (alice, _) = server.client().signup("alice");
    let (bob, _) = server.client().signup("bob");
    let saves: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("alice's save {i}").into_bytes())
        .collect();
    let targets: Vec<_> = saves.iter().map(|s| alice.upload_target("g", s)).collect();
    let mut stalled: Vec<TcpStream> = targets[..2]
        .iter()
        .zip(&saves)
        .map(|(t, s)| stalled_upload(&server.base, t, &s[..3]))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Her third upload is refused at once, with a wait; Bob uploads as if nothing happened.
    let third = alice.put_target(&targets[2], &saves[2]);
    third.expect_error(429, "rate_limited");
    assert!(third.header("retry-after").is_some());
    let bobs = b"bob's save";
    bob.put_target(&bob.upload_target("g", bobs), bobs)
        .expect_status(204);
    // The stalled bodies are cut off after 2 s without a chunk: 408, nothing stored.
    for socket in &mut stalled {
        assert_eq!(answer_status(socket, Duration::from_secs(10)), Some(408));
    }
    assert!(!alice.upload_target("g", &saves[0]).present);
    // Her places are back.
    alice.put_target(&targets[2], &saves[2]).expect_status(204);
}

#[test]
fn an_upload_waits_for_a_slot_only_so_long() {
    skip_on_aws!("the API's own /v1/blobs endpoint; S3 serves presigned uploads on AWS");
    let server = Server::start(&[
        "--upload-slots",
        "1",
        "--upload-wait-secs",
        "1",
        "--body-chunk-timeout-secs",
        "30",
    ]);
    let (alice, _) = server.client().signup("alice");
    let (bob, _) = server.client().signup("bob");
    let slow = b"alice's slow save";
    let _stalled = stalled_upload(&server.base, &alice.upload_target("g", slow), &slow[..2]);
    std::thread::sleep(Duration::from_millis(300));
    let bobs = b"bob's save";
    let started = std::time::Instant::now();
    let busy = bob.put_target(&bob.upload_target("g", bobs), bobs);
    busy.expect_error(503, "server_busy");
    assert_eq!(busy.header("retry-after").as_deref(), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_trickled_json_body_is_cut_off_with_408() {
    skip_on_aws!("the embedded server's flags; Lambda receives whole bodies");
    let server = Server::start(&["--body-chunk-timeout-secs", "1"]);
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&host).expect("connect");
    socket
        .write_all(
            format!(
                "POST /v1/auth/login HTTP/1.1\r\nHost: {host}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user"
            )
            .as_bytes(),
        )
        .expect("the head and a few bytes");
    // The rest never comes: the whole body is given the body-chunk timeout.
    let started = std::time::Instant::now();
    assert_eq!(
        answer_status(&mut socket, Duration::from_secs(10)),
        Some(408)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

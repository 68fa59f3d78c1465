//! Upload verification: bytes must match the declared SHA-256 and size, or nothing is stored.

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

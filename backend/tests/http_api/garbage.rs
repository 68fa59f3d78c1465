//! Uploads never committed: they count against the game's quota while their upload URL
//! lives, and their blobs are deleted once it has expired (issue 11, item 2).

use std::path::Path;
use std::time::{Duration, Instant};

use sync_core::ContentHash;
use sync_core::protocol::{BlobRef, ChangesRequest, ChangesResponse};

use crate::common::{Server, on_aws, put_op};

fn announce(bytes: &[u8]) -> ChangesRequest {
    ChangesRequest {
        since: None,
        uploads: vec![BlobRef {
            sha256: ContentHash::of(bytes),
            size: bytes.len() as u64,
        }],
    }
}

/// Bytes of every blob file under the embedded store's data dir.
fn blob_bytes(dir: &Path) -> u64 {
    fn walk(dir: &Path, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, total);
            } else if let Ok(meta) = entry.metadata() {
                *total += meta.len();
            }
        }
    }
    let mut total = 0;
    walk(&dir.join("blobs"), &mut total);
    total
}

#[test]
fn uncommitted_uploads_count_against_the_quota_and_are_collected() {
    let server = Server::start(&[
        "--max-game-bytes",
        "1000",
        "--upload-url-ttl-secs",
        "1",
        "--orphan-grace-secs",
        "1",
        "--gc-interval-secs",
        "1",
    ]);
    let (alice, _) = server.client().signup("alice");
    // The attack of the issue: 30 uploads of 600 B under a 1,000 B quota, never committed.
    let blobs: Vec<Vec<u8>> = (0..30)
        .map(|i| format!("{i:03}").repeat(200).into_bytes())
        .collect();
    let mut uploaded = 0;
    for bytes in &blobs {
        let resp = alice.changes("g", &announce(bytes));
        if resp.status == 200 {
            let answer: ChangesResponse = resp.json();
            alice.put_target(&answer.uploads[0], bytes).expect_success();
            uploaded += 1;
        } else {
            resp.expect_error(413, "quota_exceeded");
        }
    }
    assert_eq!(
        uploaded, 1,
        "only what fits in the quota gets an upload URL"
    );
    if !on_aws() {
        assert!(blob_bytes(server.data_dir.path()) <= 1000);
    }

    // The URL expires after 1 s, the blob is collected 1 s later.
    std::thread::sleep(Duration::from_millis(2_500));
    if !on_aws() {
        // The server's own sweep (every second) deletes it without any request.
        let deadline = Instant::now() + Duration::from_secs(10);
        while blob_bytes(server.data_dir.path()) > 0 {
            assert!(
                Instant::now() < deadline,
                "the orphan blob was never deleted"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // On both stores the next announcement finds it gone (it collects the game first).
    let target = alice.upload_target("g", &blobs[0]);
    assert!(!target.present, "the collected blob must be uploaded again");
    alice.put_target(&target, &blobs[0]).expect_success();
    alice
        .commit("g", vec![put_op("1-1-LT1.save", 0, &blobs[0])])
        .expect_status(200);

    // Saving as a player does is unaffected: each commit frees the budget at once.
    alice.put_file("g", "1-1-LT1.save", 1, &blobs[1]);
    alice.put_file("g", "1-1-LT1.save", 2, &blobs[2]);
    assert_eq!(alice.manifest("g").entries.len(), 1);
}

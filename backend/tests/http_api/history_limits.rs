//! History, metadata and answers cannot grow without bound (issue 11, item 3): a retention policy set
//! by flags prunes old versions, and oversized save metadata is refused.

use std::collections::BTreeMap;

use sync_core::protocol::{ChangesRequest, ChangesResponse, CommitAction, HistoryResponse};
use sync_core::savemeta::SaveMeta;

use crate::common::{Server, put_op};

#[test]
fn retention_keeps_the_configured_versions() {
    // keep-days 0: only the current version and the newest other one count.
    let server = Server::start(&["--keep-versions", "2", "--keep-days", "0"]);
    let (alice, _) = server.client().signup("alice");
    for version in 0..8u64 {
        alice.put_file(
            "g",
            "1-1-LT1.save",
            version,
            format!("save number {version}").as_bytes(),
        );
    }
    let history: HistoryResponse = alice.get("/v1/games/g/history?path=1-1-LT1.save").json();
    let versions: Vec<u64> = history.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![8, 7, 6], "the current version and two more");
    // The next version still gets the next number, and a kept one can be restored.
    alice.put_file("g", "1-1-LT1.save", 8, b"save number 8");
    let history: HistoryResponse = alice.get("/v1/games/g/history?path=1-1-LT1.save").json();
    assert_eq!(history.versions[0].version, 9);
}

#[test]
fn oversized_save_metadata_is_refused_with_413() {
    let server = Server::start(&["--max-meta-bytes", "2048"]);
    let (alice, _) = server.client().signup("alice");
    let bytes = b"a save";
    alice.upload("g", bytes);
    let with_meta = |extra_len: usize| {
        let mut op = put_op("1-1-LT1.save", 0, bytes);
        if let CommitAction::Put { meta, .. } = &mut op.action {
            let mut extra = BTreeMap::new();
            extra.insert(
                "_custom".to_owned(),
                serde_json::json!("x".repeat(extra_len)),
            );
            *meta = Some(SaveMeta {
                save_name: Some("Chapter 1".into()),
                extra,
                ..SaveMeta::default()
            });
        }
        op
    };
    alice
        .commit("g", vec![with_meta(4096)])
        .expect_error(413, "meta_too_large");
    assert!(alice.manifest("g").entries.is_empty(), "nothing stored");
    alice.commit("g", vec![with_meta(100)]).expect_status(200);
}

#[test]
fn long_change_feeds_come_in_pages() {
    let server = Server::start(&["--page-entries", "2"]);
    let (alice, _) = server.client().signup("alice");
    for i in 0..5 {
        alice.put_file(
            "g",
            &format!("{i}-1-LT1.save"),
            0,
            format!("save {i}").as_bytes(),
        );
    }
    let mut since = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let resp = alice.changes(
            "g",
            &ChangesRequest {
                since,
                uploads: Vec::new(),
            },
        );
        resp.expect_status(200);
        let page: ChangesResponse = resp.json();
        assert!(page.changes.len() <= 2, "a page holds at most 2 entries");
        seen.extend(page.changes.iter().map(|e| e.seq));
        pages += 1;
        since = Some(page.cursor);
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5], "every change once, in order");
    assert_eq!(pages, 3);
    let manifest = alice.manifest("g");
    assert_eq!((manifest.entries.len(), manifest.more), (2, true));
}

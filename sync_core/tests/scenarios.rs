//! Deterministic engine scenarios on the simulator: each policy, keep-both copies, manual
//! decisions, modify-vs-delete, interrupted syncs, the game saving during a sync, mtimes,
//! `persistent`, restore and the cost of a no-op sync.

mod sim;

use sim::{Device, Fault, Server, device, slot, sync};
use sync_core::engine::Progress;
use sync_core::policy::{ConflictPolicy, Resolution, Side};
use sync_core::{ContentHash, SavePath};

fn path(s: &str) -> SavePath {
    SavePath::new(s).expect("valid path")
}

fn hash(s: &str) -> ContentHash {
    ContentHash::of(s.as_bytes())
}

/// Two devices that share slot 1 at content "base", then both change it.
fn conflicted(policy: ConflictPolicy) -> (Server, Device, Device) {
    let server = Server::default();
    let mut a = device(&server, "A", policy);
    let mut b = device(&server, "B", policy);
    a.store().game_write(&slot(1), b"base");
    sync(&mut a).expect("a");
    sync(&mut b).expect("b");
    a.store().game_write(&slot(1), b"from A");
    b.store().game_write(&slot(1), b"from B");
    sync(&mut a).expect("a uploads first");
    (server, a, b)
}

#[test]
fn keep_both_keeps_local_in_place_and_remote_as_a_slot_on_the_conflict_page() {
    let (server, mut a, mut b) = conflicted(ConflictPolicy::KeepBoth);
    let report = sync(&mut b).expect("b");
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].winner, Side::Local);
    assert_eq!(report.conflicts[0].kept_copy, Some(path("10-1-LT1.save")));
    let files = b.store().contents();
    assert_eq!(files[&slot(1)], hash("from B"));
    assert_eq!(files[&path("10-1-LT1.save")], hash("from A"));
    // The copy was uploaded in the same sync (its bytes were already on the server).
    assert_eq!(server.live_files()[&path("10-1-LT1.save")], hash("from A"));
    sync(&mut a).expect("a");
    assert_eq!(a.store().contents(), b.store().contents());
}

#[test]
fn every_winner_policy_keeps_the_loser_in_history() {
    for (policy, winner) in [
        (ConflictPolicy::Local, "from B"),
        (ConflictPolicy::Remote, "from A"),
        // No save metadata on either side: the local save (reaching the server last) wins.
        (ConflictPolicy::Newest, "from B"),
        (ConflictPolicy::MostProgress, "from B"),
    ] {
        let (server, mut a, mut b) = conflicted(policy);
        let report = sync(&mut b).expect("b");
        assert_eq!(report.conflicts.len(), 1, "{policy}");
        assert_eq!(b.store().contents()[&slot(1)], hash(winner), "{policy}");
        sync(&mut a).expect("a");
        assert_eq!(a.store().contents(), b.store().contents(), "{policy}");
        let kept = server.all_versions();
        assert!(
            kept.contains(&hash("from A")) && kept.contains(&hash("from B")),
            "{policy}"
        );
        if policy == ConflictPolicy::Remote {
            let history = futures::executor::block_on(b.history(&slot(1))).expect("history");
            assert!(
                history
                    .versions
                    .iter()
                    .any(|v| v.archived && v.sha256 == hash("from B"))
            );
        }
    }
}

#[test]
fn manual_policy_waits_for_a_decision_then_applies_it() {
    for (choice, expect_at_slot, copies) in [
        (Resolution::KeepLocal, "from B", 0),
        (Resolution::KeepRemote, "from A", 0),
        (Resolution::KeepBoth, "from B", 1),
    ] {
        let (server, _a, mut b) = conflicted(ConflictPolicy::Manual);
        let report = sync(&mut b).expect("b");
        assert_eq!(report.pending_manual.len(), 1);
        assert!(report.conflicts.is_empty());
        assert_eq!(
            b.store().contents()[&slot(1)],
            hash("from B"),
            "untouched while waiting"
        );
        let pending = futures::executor::block_on(b.pending_conflicts()).expect("pending");
        assert_eq!(
            pending[0].remote.as_ref().map(|r| r.sha256),
            Some(hash("from A"))
        );
        assert_eq!(
            pending[0].local.as_ref().map(|l| l.sha256),
            Some(hash("from B"))
        );
        // Waiting again changes nothing.
        assert_eq!(sync(&mut b).expect("again").pending_manual.len(), 1);
        futures::executor::block_on(b.resolve(&slot(1), choice)).expect("resolve");
        let report = sync(&mut b).expect("resolved");
        assert!(report.pending_manual.is_empty(), "{choice:?}");
        assert_eq!(
            b.store().contents()[&slot(1)],
            hash(expect_at_slot),
            "{choice:?}"
        );
        assert_eq!(b.store().contents().len(), 1 + copies, "{choice:?}");
        assert!(
            server.all_versions().contains(&hash("from B")),
            "{choice:?}"
        );
        assert!(
            futures::executor::block_on(b.pending_conflicts())
                .expect("none")
                .is_empty()
        );
    }
}

#[test]
fn modification_wins_over_deletion_on_either_side() {
    let (_, mut a, mut b) = conflicted(ConflictPolicy::KeepBoth);
    // A changed slot 1 (already uploaded); B deletes it: A's modification comes back.
    b.store().game_delete(&slot(1));
    sync(&mut b).expect("b");
    assert_eq!(b.store().contents()[&slot(1)], hash("from A"));
    // Now B modifies and A deletes: B's modification survives.
    b.store().game_write(&slot(1), b"B again");
    sync(&mut a).expect("a");
    a.store().game_delete(&slot(1));
    sync(&mut b).expect("b uploads");
    sync(&mut a).expect("a");
    assert_eq!(a.store().contents()[&slot(1)], hash("B again"));
}

#[test]
fn deletes_propagate_as_tombstones_and_stay_in_history() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = device(&server, "B", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(2), b"doomed");
    sync(&mut a).expect("a");
    sync(&mut b).expect("b");
    b.store().game_delete(&slot(2));
    let report = sync(&mut b).expect("b");
    assert_eq!(report.deleted_remote, vec![slot(2)]);
    let report = sync(&mut a).expect("a");
    assert_eq!(report.deleted_local, vec![slot(2)]);
    assert!(a.store().contents().is_empty());
    let history = futures::executor::block_on(a.history(&slot(2))).expect("history");
    assert!(history.versions[0].deleted);
    assert_eq!(history.versions[1].sha256, hash("doomed"));
    // Restore brings it back everywhere.
    futures::executor::block_on(a.restore(&slot(2), history.versions[1].version)).expect("restore");
    assert_eq!(a.store().contents()[&slot(2)], hash("doomed"));
    sync(&mut b).expect("b");
    assert_eq!(b.store().contents()[&slot(2)], hash("doomed"));
}

#[test]
fn a_save_made_during_a_sync_is_never_overwritten() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = device(&server, "B", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(1), b"remote");
    sync(&mut a).expect("a");
    sync(&mut b).expect("b");
    a.store().game_write(&slot(1), b"remote 2");
    sync(&mut a).expect("a");
    // B's sync scans slot 1 as "remote", plans a download, and the game saves slot 1 just
    // before the download is written.
    *b.store().race.borrow_mut() = Some((slot(1), b"played!!".to_vec()));
    let report = sync(&mut b).expect("b");
    assert_eq!(report.deferred, vec![slot(1)]);
    assert_eq!(b.store().contents()[&slot(1)], hash("played!!"));
    // The next sync sees both changes: a conflict, both kept.
    let report = sync(&mut b).expect("b again");
    assert_eq!(report.conflicts.len(), 1);
    let files = b.store().contents();
    assert_eq!(files[&slot(1)], hash("played!!"));
    assert!(files.values().any(|h| *h == hash("remote 2")));
}

#[test]
fn an_answer_lost_after_commit_does_not_duplicate_or_lose_anything() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(1), b"v1");
    // Requests: 0 changes, 1 upload, 2 commit (applied, answer lost).
    a.transport().fault.set(Some((2, Fault::After)));
    assert!(sync(&mut a).is_err());
    a.transport().fault.set(None);
    let report = sync(&mut a).expect("resume");
    assert!(
        report.uploaded.is_empty() && report.bytes_up == 0,
        "{report:?}"
    );
    let history = futures::executor::block_on(a.history(&slot(1))).expect("history");
    assert_eq!(history.versions.len(), 1);
    a.transport().requests.set(0);
    let report = sync(&mut a).expect("noop");
    assert_eq!((report.requests, report.is_noop()), (1, true));
}

#[test]
fn downloads_keep_the_original_mtime_except_persistent() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = device(&server, "B", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(1), b"slot");
    a.store().game_write(&path("persistent"), b"pers");
    let a_mtime = a.store().files.borrow()[&slot(1)].1;
    sync(&mut a).expect("a");
    b.store().clock.set(1_000);
    sync(&mut b).expect("b");
    assert_eq!(b.store().files.borrow()[&slot(1)].1, a_mtime);
    assert!(b.store().files.borrow()[&path("persistent")].1 > 1_000);
}

/// B's sync uploads its `persistent`; A's then hands it to A's game to merge (in
/// `sync/persistent`) and leaves A's own `"A fields"` as it was.
fn b_uploads_and_a_is_handed(b: &mut Device, a: &mut Device, sent: &str, policy: ConflictPolicy) {
    assert_eq!(
        sync(b).expect("b uploads").uploaded,
        [path("persistent")],
        "{policy}"
    );
    let report = sync(a).expect("a");
    assert_eq!(report.merged, [path("persistent")], "{policy}");
    assert_eq!(a.store().contents()[&path("persistent")], hash("A fields"));
    assert_eq!(a.store().contents()[&path("sync/persistent")], hash(sent));
}

#[test]
fn persistent_is_merged_never_a_conflict_and_never_replaced() {
    for policy in ConflictPolicy::ALL {
        let server = Server::default();
        let mut a = device(&server, "A", policy);
        let mut b = device(&server, "B", policy);
        a.store().game_write(&path("persistent"), b"A fields");
        b.store().game_write(&path("persistent"), b"B fields");
        sync(&mut a).expect("a");
        let report = sync(&mut b).expect("b");
        assert!(
            report.conflicts.is_empty() && report.pending_manual.is_empty(),
            "{policy}: {report:?}"
        );
        assert_eq!(report.merged, [path("persistent")], "{policy}");
        // B's own fields are safe in history at once; A's stay current for now.
        assert!(report.uploaded.is_empty(), "{policy}: {report:?}");
        assert!(server.all_versions().contains(&hash("B fields")));
        assert_eq!(server.live_files()[&path("persistent")], hash("A fields"));
        let files = b.store().contents();
        assert_eq!(files[&path("persistent")], hash("B fields"));
        // Delivered where Ren'Py 8.1+ merges it (a plain store has no other location).
        assert_eq!(files[&path("sync/persistent")], hash("A fields"));
        assert!(!server.live_files().contains_key(&path("sync/persistent")));
        // B's next sync sends B's fields even when its game's merge adds nothing to them
        // (it may hold everything A has): they must not stay on B alone. A, which has a
        // persistent of its own, is handed them to merge, never overwritten by them.
        b_uploads_and_a_is_handed(&mut b, &mut a, "B fields", policy);

        // B's game merges and saves; that result becomes current, and A is handed it.
        b.store()
            .game_write(&path("persistent"), b"A fields + B fields");
        b_uploads_and_a_is_handed(&mut b, &mut a, "A fields + B fields", policy);
        for dev in [&mut a, &mut b] {
            let report = sync(dev).expect("settled");
            assert!(report.is_noop(), "{policy}: {report:?}");
        }
    }
}

#[test]
fn a_noop_sync_of_200_slots_is_one_request_and_hashes_nothing() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    for page in 1..=34u8 {
        for n in 1..=6u8 {
            let p = path(&format!("{page}-{n}-LT1.save"));
            a.store()
                .game_write(&p, format!("save {page}-{n}").as_bytes());
        }
    }
    let first = sync(&mut a).expect("first");
    assert_eq!(first.uploaded.len(), 204);
    assert_eq!(first.hashed_files, 204);
    a.transport().requests.set(0);
    let again = sync(&mut a).expect("noop");
    assert_eq!(
        (again.requests, again.hashed_files, again.is_noop()),
        (1, 0, true)
    );
    assert_eq!(a.transport().requests.get(), 1);
}

#[test]
fn progress_reports_bytes_and_files() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(1), &[7u8; 1000]);
    a.store().game_write(&slot(2), &[8u8; 500]);
    let mut events: Vec<Progress> = Vec::new();
    futures::executor::block_on(a.sync(&mut |p| events.push(*p))).expect("sync");
    let last_upload = events
        .iter()
        .rfind(|p| p.phase == sync_core::engine::Phase::Uploading)
        .copied()
        .expect("upload progress");
    assert_eq!((last_upload.files_done, last_upload.files_total), (2, 2));
    assert_eq!(
        (last_upload.bytes_done, last_upload.bytes_total),
        (1500, 1500)
    );
    assert_eq!(
        events.last().map(|p| p.phase),
        Some(sync_core::engine::Phase::Done)
    );
}

#[test]
fn a_failed_disk_write_keeps_the_base_so_the_next_sync_finishes_the_job() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = device(&server, "B", ConflictPolicy::KeepBoth);
    a.store().game_write(&slot(1), b"one");
    a.store().game_write(&slot(2), b"two");
    sync(&mut a).expect("a");
    b.store().fail_write.set(Some(0));
    assert!(sync(&mut b).is_err());
    b.store().fail_write.set(None);
    sync(&mut b).expect("b resumes");
    assert_eq!(a.store().contents(), b.store().contents());
}

#[test]
fn files_outside_the_rules_are_never_touched() {
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    for name in [
        "1-1-LT1.save.new",
        "persistent.new",
        "sync/persistent",
        "notes.txt",
        "tokens/security_keys.txt",
    ] {
        a.store().game_write(&path(name), b"local only");
    }
    let report = sync(&mut a).expect("a");
    assert!(report.uploaded.is_empty());
    assert!(server.live_files().is_empty());
}

#[test]
fn a_waiting_conflict_shows_both_sides_with_metadata_and_screenshots() {
    use sync_core::client::conflicts::{PreviewCache, name_devices, previews};
    use sync_core::savemeta::read_save;
    let mine = include_bytes!("fixtures/1-1-LT1.save").as_slice();
    let theirs = include_bytes!("fixtures/1-2-LT1.save").as_slice();
    let server = Server::default();
    let mut a = device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = device(&server, "B", ConflictPolicy::Manual);
    a.store().game_write(&slot(1), theirs);
    sync(&mut a).expect("a");
    b.store().game_write(&slot(1), mine);
    assert_eq!(sync(&mut b).expect("b").pending_manual.len(), 1);

    let mut cache = PreviewCache::default();
    let mut shown = futures::executor::block_on(previews(&mut b, &mut cache)).expect("previews");
    let names = [("A".to_owned(), "A's laptop".to_owned())]
        .into_iter()
        .collect();
    name_devices(&mut shown, &names);
    let [p] = shown.as_slice() else {
        panic!("one conflict: {shown:?}")
    };
    let (mine_info, theirs_info) = (
        read_save(mine).expect("mine"),
        read_save(theirs).expect("theirs"),
    );
    let local = p.view.local.as_ref().expect("local side");
    let remote = p.view.remote.as_ref().expect("remote side");
    assert_eq!(local.meta.as_ref(), Some(&mine_info.meta));
    assert_eq!(remote.meta.as_ref(), Some(&theirs_info.meta));
    assert_eq!(remote.device_name.as_deref(), Some("A's laptop"));
    assert_eq!(p.local_screenshot, mine_info.screenshot);
    assert_eq!(p.remote_screenshot, theirs_info.screenshot);
    assert!(p.remote_screenshot.is_some());
    // The second look comes from the cache: no download.
    b.transport().requests.set(0);
    futures::executor::block_on(previews(&mut b, &mut cache)).expect("again");
    assert_eq!(b.transport().requests.get(), 0);
}

#[test]
fn the_simulator_store_passes_the_store_suite() {
    futures::executor::block_on(sync_core::testing::store_suite::run(|| async {
        sim::MemStore::default()
    }))
    .expect("MemStore conforms");
}

#[test]
fn the_locations_wrapper_passes_the_store_suite() {
    futures::executor::block_on(sync_core::testing::store_suite::run(|| async {
        sync_core::locations::Locations::new(
            sim::MemStore::default(),
            vec![sim::MemMirror::default(), sim::MemMirror::default()],
        )
    }))
    .expect("Locations conforms");
}

//! Ren'Py's several save locations: what the engine writes and deletes must be what the
//! game then shows (it shows the newest copy of a slot over all locations), and a remote
//! `persistent` is merged, never replaced.

mod sim;

use sim::{Server, game_save, renpy_device, shown, slot, sync_renpy};
use sync_core::policy::ConflictPolicy;
use sync_core::{ContentHash, SavePath};

fn hash(s: &str) -> ContentHash {
    ContentHash::of(s.as_bytes())
}

fn persistent() -> SavePath {
    SavePath::new("persistent").expect("valid")
}

#[test]
fn an_older_download_is_what_the_game_shows() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::Remote);
    let mut b = renpy_device(&server, "B", ConflictPolicy::Remote);
    // A saves first (older mtime), B saves the same slot later without having synced.
    game_save(&a, &slot(1), b"A's save");
    game_save(&b, &slot(1), b"B's newer save");
    sync_renpy(&mut a).expect("a");
    // Policy remote: A's older save wins on B. Every location must hold it, or Ren'Py keeps
    // showing B's newer-mtime copies from <game>/saves and sync/.
    let report = sync_renpy(&mut b).expect("b");
    assert_eq!(report.downloaded, [slot(1)], "{report:?}");
    assert_eq!(shown(&b, &slot(1)), Some(hash("A's save")));
    for mirror in b.store().mirrors() {
        assert_eq!(mirror.contents()[&slot(1)], hash("A's save"));
    }
}

#[test]
fn a_slot_deleted_elsewhere_disappears_from_every_location() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = renpy_device(&server, "B", ConflictPolicy::KeepBoth);
    game_save(&b, &slot(1), b"B's save");
    sync_renpy(&mut b).expect("b");
    sync_renpy(&mut a).expect("a gets it");
    assert_eq!(shown(&a, &slot(1)), Some(hash("B's save")));
    // A deletes it in the game: Ren'Py unlinks every copy.
    a.store().primary().game_delete(&slot(1));
    for mirror in a.store().mirrors() {
        mirror.files.borrow_mut().remove(&slot(1));
    }
    sync_renpy(&mut a).expect("a deletes");
    let report = sync_renpy(&mut b).expect("b");
    assert_eq!(report.deleted_local, [slot(1)]);
    assert_eq!(
        shown(&b, &slot(1)),
        None,
        "the slot came back from a mirror"
    );
    // And it stays gone.
    let report = sync_renpy(&mut b).expect("b again");
    assert!(report.is_noop(), "{report:?}");
    assert_eq!(shown(&b, &slot(1)), None);
}

#[test]
fn a_save_made_during_the_sync_keeps_all_its_copies() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = renpy_device(&server, "B", ConflictPolicy::KeepBoth);
    game_save(&a, &slot(1), b"A v1");
    sync_renpy(&mut a).expect("a");
    // B saves the slot between its scan and the download (the race the Expect guard exists
    // for): nothing of B's save may be overwritten in any location.
    *b.store().primary().race.borrow_mut() = Some((slot(1), b"B racing".to_vec()));
    let report = sync_renpy(&mut b).expect("b");
    assert_eq!(report.deferred, [slot(1)], "{report:?}");
    assert_eq!(b.store().primary().contents()[&slot(1)], hash("B racing"));
    // The mirrors may hold A's save with its older mtime: the game still shows its own.
    assert_eq!(shown(&b, &slot(1)), Some(hash("B racing")));
    // The next sync keeps both: B's in its slot, A's on the conflict page.
    let report = sync_renpy(&mut b).expect("b again");
    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    assert_eq!(shown(&b, &slot(1)), Some(hash("B racing")));
    let copy = report.conflicts[0].kept_copy.clone().expect("a copy");
    assert_eq!(shown(&b, &copy), Some(hash("A v1")));
}

#[test]
fn a_crash_between_mirrors_and_savedir_is_repaired_by_the_next_sync() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = renpy_device(&server, "B", ConflictPolicy::KeepBoth);
    game_save(&b, &slot(1), b"B old");
    sync_renpy(&mut b).expect("b");
    sync_renpy(&mut a).expect("a");
    game_save(&a, &slot(1), b"A new");
    sync_renpy(&mut a).expect("a uploads");
    // B's savedir write fails after the mirrors were written (disk full, power cut).
    b.store().primary().writes.set(0);
    b.store().primary().fail_write.set(Some(0));
    assert!(sync_renpy(&mut b).is_err());
    b.store().primary().fail_write.set(None);
    let report = sync_renpy(&mut b).expect("b retries");
    assert_eq!(report.downloaded, [slot(1)], "{report:?}");
    assert_eq!(shown(&b, &slot(1)), Some(hash("A new")));
    assert_eq!(b.store().primary().contents()[&slot(1)], hash("A new"));
}

#[test]
fn persistent_is_delivered_to_the_first_mirror_and_never_mirrored() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = renpy_device(&server, "B", ConflictPolicy::KeepBoth);
    game_save(&a, &persistent(), b"A fields");
    game_save(&b, &persistent(), b"B fields");
    sync_renpy(&mut a).expect("a");
    let report = sync_renpy(&mut b).expect("b");
    assert_eq!(report.merged, [persistent()]);
    let locations = b.store();
    assert_eq!(
        locations.primary().contents()[&persistent()],
        hash("B fields")
    );
    // <game>/saves (read by every Ren'Py version) gets A's for the game to merge …
    assert_eq!(
        locations.mirrors()[0].contents()[&persistent()],
        hash("A fields")
    );
    // … and the other locations keep what Ren'Py wrote there.
    assert_eq!(
        locations.mirrors()[1].contents()[&persistent()],
        hash("B fields")
    );
    assert!(
        !locations
            .primary()
            .contents()
            .contains_key(&SavePath::new("sync/persistent").expect("valid"))
    );
}

#[test]
fn a_fresh_device_takes_the_remote_persistent_as_its_own() {
    let server = Server::default();
    let mut a = renpy_device(&server, "A", ConflictPolicy::KeepBoth);
    let mut b = renpy_device(&server, "B", ConflictPolicy::KeepBoth);
    game_save(&a, &persistent(), b"A fields");
    sync_renpy(&mut a).expect("a");
    let report = sync_renpy(&mut b).expect("b");
    assert_eq!(report.downloaded, [persistent()]);
    assert!(report.merged.is_empty());
    assert_eq!(
        b.store().primary().contents()[&persistent()],
        hash("A fields")
    );
}

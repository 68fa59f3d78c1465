//! FsSaveStore against real files in temp folders.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures::executor::block_on;
use native_client::fs_store::{FsSaveStore, TEMP_MARKER, mtime_millis};
use sync_core::SavePath;
use sync_core::rules::SyncRules;
use sync_core::store::{Expect, SaveStore, StoreErrorKind};

fn path(raw: &str) -> SavePath {
    SavePath::new(raw).expect("valid test path")
}

fn store_in(root: &Path) -> FsSaveStore {
    let saves = root.join("saves");
    fs::create_dir_all(&saves).expect("create save dir");
    FsSaveStore::new(saves, root.join("state").join("state.json"))
}

fn names(store: &FsSaveStore) -> Vec<String> {
    block_on(store.list())
        .expect("list")
        .into_iter()
        .map(|f| f.path.to_string())
        .collect()
}

#[test]
fn write_creates_parents_and_sets_the_exact_mtime_on_the_final_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    let mtime = 1_700_000_123_457; // odd milliseconds on purpose
    block_on(store.write(
        &path("sync/persistent"),
        b"persistent bytes",
        Some(mtime),
        Expect::Absent,
    ))
    .expect("write");

    let on_disk = store.save_dir().join("sync").join("persistent");
    assert_eq!(fs::read(&on_disk).expect("read back"), b"persistent bytes");
    assert_eq!(mtime_millis(&fs::metadata(&on_disk).expect("stat")), mtime);
    let listed = block_on(store.list()).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, path("sync/persistent"));
    assert_eq!(listed[0].size, 16);
    assert_eq!(listed[0].mtime, mtime);
    assert_eq!(
        block_on(store.read(&path("sync/persistent"))).expect("read"),
        b"persistent bytes"
    );
}

#[test]
fn mtime_before_1970_round_trips() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    block_on(store.write(&path("old.save"), b"x", Some(-86_400_500), Expect::Any)).expect("write");
    assert_eq!(block_on(store.list()).expect("list")[0].mtime, -86_400_500);
}

#[test]
fn expect_unchanged_refuses_when_the_game_saved_meanwhile() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    let slot = path("1-1-LT1.save");
    block_on(store.write(&slot, b"version one", Some(1_000_000), Expect::Absent)).expect("write");
    let scanned = block_on(store.list()).expect("list").remove(0);

    // The game rewrites the slot: same size, new time.
    let on_disk = store.save_dir().join("1-1-LT1.save");
    fs::write(&on_disk, b"version two").expect("game write");
    let expect = Expect::Unchanged {
        size: scanned.size,
        mtime: scanned.mtime,
    };
    let err = block_on(store.write(&slot, b"from the cloud", Some(5), expect))
        .expect_err("must refuse a changed file");
    assert_eq!(err.kind, StoreErrorKind::Changed);
    let err = block_on(store.delete(&slot, expect)).expect_err("delete must refuse too");
    assert_eq!(err.kind, StoreErrorKind::Changed);
    assert_eq!(fs::read(&on_disk).expect("read"), b"version two");
    assert_eq!(names(&store), ["1-1-LT1.save"], "no temp file left behind");

    // With the fresh stat it goes through.
    let fresh = block_on(store.list()).expect("list").remove(0);
    let expect = Expect::Unchanged {
        size: fresh.size,
        mtime: fresh.mtime,
    };
    block_on(store.write(&slot, b"from the cloud", Some(5), expect)).expect("write");
    assert_eq!(fs::read(&on_disk).expect("read"), b"from the cloud");
}

#[test]
fn expect_absent_and_delete_semantics() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    let slot = path("2-1-LT1.save");
    block_on(store.write(&slot, b"a", None, Expect::Absent)).expect("first write");
    let err = block_on(store.write(&slot, b"b", None, Expect::Absent)).expect_err("exists");
    assert_eq!(err.kind, StoreErrorKind::Changed);
    assert_eq!(
        block_on(store.delete(&slot, Expect::Absent))
            .expect_err("exists")
            .kind,
        StoreErrorKind::Changed
    );
    block_on(store.delete(&slot, Expect::Any)).expect("delete");
    assert!(names(&store).is_empty());
    block_on(store.delete(&slot, Expect::Any)).expect("deleting a missing file succeeds");
    let err = block_on(store.read(&slot)).expect_err("gone");
    assert_eq!(err.kind, StoreErrorKind::NotFound);
}

#[test]
fn readers_never_see_a_partial_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    let slot = path("auto-1-LT1.save");
    let small = vec![b's'; 10];
    let large = vec![b'L'; 1 << 20];
    block_on(store.write(&slot, &small, None, Expect::Any)).expect("write");
    let on_disk = store.save_dir().join("auto-1-LT1.save");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, small, large) = (stop.clone(), small.clone(), large.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let seen = fs::read(&on_disk).expect("the file always exists");
                assert!(
                    seen == small || seen == large,
                    "torn read of {} bytes",
                    seen.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for i in 0..40 {
        let bytes = if i % 2 == 0 { &large } else { &small };
        block_on(store.write(&slot, bytes, Some(1_000 * i), Expect::Any)).expect("write");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().expect("reader thread") > 0);
}

#[test]
fn temp_files_are_not_listed_and_stale_ones_are_removed() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    block_on(store.write(&path("1-2-LT1.save"), b"x", None, Expect::Any)).expect("write");
    let fresh = store
        .save_dir()
        .join(format!(".1-3-LT1.save{TEMP_MARKER}0123"));
    let stale = store
        .save_dir()
        .join(format!(".1-4-LT1.save{TEMP_MARKER}4567"));
    fs::write(&fresh, b"in flight").expect("fresh temp");
    fs::write(&stale, b"crashed").expect("stale temp");
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .expect("age the stale temp file");

    assert_eq!(names(&store), ["1-2-LT1.save"]);
    assert!(fresh.exists(), "a temp file in use is left alone");
    assert!(!stale.exists(), "a stale temp file is cleaned up");
}

#[test]
fn state_lives_outside_the_save_folder() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    assert_eq!(block_on(store.load_state()).expect("load"), None);
    block_on(store.save_state(b"{\"cursor\":3}")).expect("save state");
    assert_eq!(
        block_on(store.load_state()).expect("load"),
        Some(b"{\"cursor\":3}".to_vec())
    );
    assert!(names(&store).is_empty(), "state is not a synced file");
    assert!(!store.state_file().starts_with(store.save_dir()));

    let saves = store.save_dir().to_path_buf();
    for inside in [saves.join("state.json"), saves.join("x/../sub/state.json")] {
        let bad = FsSaveStore::new(saves.clone(), inside);
        assert_eq!(
            block_on(bad.save_state(b"{}")).expect_err("inside").kind,
            StoreErrorKind::Io
        );
        assert!(block_on(bad.load_state()).is_err());
    }
    assert!(names(&store).is_empty());
}

#[test]
fn list_skips_symlinks_and_names_that_are_not_save_paths() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    let dir = store.save_dir();
    fs::write(dir.join("1-1-LT1.save"), b"ok").expect("write");
    fs::write(dir.join("bad\\name.save"), b"backslash").expect("write");
    fs::write(dir.join("bad\nname.save"), b"control").expect("write");
    #[cfg(unix)]
    {
        let outside = root.path().join("outside");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join("secret.save"), b"not ours").expect("write");
        std::os::unix::fs::symlink(&outside, dir.join("linked-dir")).expect("symlink");
        std::os::unix::fs::symlink(outside.join("secret.save"), dir.join("link.save"))
            .expect("symlink");
    }
    assert_eq!(names(&store), ["1-1-LT1.save"]);
}

#[test]
fn a_missing_save_folder_is_an_error_not_an_empty_folder() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = FsSaveStore::new(root.path().join("unmounted"), root.path().join("s.json"));
    let err = block_on(store.list()).expect_err("missing folder");
    assert_eq!(err.kind, StoreErrorKind::NotFound);
}

#[test]
fn temp_file_names_never_match_the_default_sync_rules() {
    let rules = SyncRules::renpy_default();
    for target in ["1-1-LT1.save", "persistent", "auto-3-LT1.save"] {
        let temp = format!(".{target}{TEMP_MARKER}00ff00ff00ff00ff");
        assert!(rules.is_synced(&path(target)), "{target} itself syncs");
        assert!(!rules.is_synced(&path(&temp)), "{temp} must never sync");
    }
    // And a real write leaves nothing but the target behind.
    let root = tempfile::tempdir().expect("tempdir");
    let store = store_in(root.path());
    block_on(store.write(&path("1-1-LT1.save"), b"x", None, Expect::Any)).expect("write");
    let entries: Vec<_> = fs::read_dir(store.save_dir())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(entries, ["1-1-LT1.save"]);
}

#[test]
fn the_folder_store_and_the_desktop_locations_pass_the_store_suite() {
    use native_client::fs_store::FsMirror;
    use sync_core::locations::Locations;
    use sync_core::testing::store_suite;

    let roots = std::cell::RefCell::new(Vec::new());
    let fresh_root = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        roots.borrow_mut().push(dir);
        path
    };
    block_on(store_suite::run(|| async { store_in(&fresh_root()) })).expect("FsSaveStore conforms");
    block_on(store_suite::run(|| async {
        let root = fresh_root();
        let mirrors = ["game/saves", "saves/sync"].map(|m| {
            fs::create_dir_all(root.join(m)).expect("mirror");
            FsMirror::new(root.join(m))
        });
        Locations::new(store_in(&root), mirrors.into())
    }))
    .expect("the desktop locations conform");
}

//! The IDBFS save store in a real browser (headless Chromium): the records it writes are
//! byte-for-byte what Emscripten's IDBFS writes, it reads whatever Emscripten stored, and it
//! never touches another game's records; with Ren'Py's second save location (`sync/`) it
//! changes both copies of a slot. Records are inspected with raw IndexedDB calls, not with
//! the store's own code.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Date, Int8Array, Object, Uint8Array};
use sync_core::SavePath;
use sync_core::locations::{Locations, SaveMirror};
use sync_core::store::{Expect, SaveStore, StoreErrorKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use wasm_client::idbfs::{IdbfsMirror, IdbfsStore, MODE_DIR, MODE_FILE};
use wasm_client::statedb::{ClientDb, StateSlot};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
function open(name) {
  return new Promise((res, rej) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}
function done(r) {
  return new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
}
export async function rawGet(name, key) {
  const db = await open(name);
  try { return await done(db.transaction("FILE_DATA").objectStore("FILE_DATA").get(key)); }
  finally { db.close(); }
}
export async function rawPut(name, key, value) {
  const db = await open(name);
  try {
    const tx = db.transaction("FILE_DATA", "readwrite");
    tx.objectStore("FILE_DATA").put(value, key);
    await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
  } finally { db.close(); }
}
export async function rawKeys(name) {
  const db = await open(name);
  try { return await done(db.transaction("FILE_DATA").objectStore("FILE_DATA").getAllKeys()); }
  finally { db.close(); }
}
export async function schema(name) {
  const db = await open(name);
  try {
    const store = db.transaction("FILE_DATA").objectStore("FILE_DATA");
    return [db.version, store.keyPath, store.autoIncrement, Array.from(store.indexNames)];
  } finally { db.close(); }
}
export function isDate(v) { return v instanceof Date; }
export function typeName(v) { return Object.prototype.toString.call(v); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = rawGet)]
    fn raw_get(name: &str, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = rawPut)]
    fn raw_put(name: &str, key: &str, value: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = rawKeys)]
    fn raw_keys(name: &str) -> js_sys::Promise;
    fn schema(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = isDate)]
    fn is_date(v: &JsValue) -> bool;
    #[wasm_bindgen(js_name = typeName)]
    fn type_name(v: &JsValue) -> String;
}

fn path(p: &str) -> SavePath {
    SavePath::new(p).expect("valid test path")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

fn get(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(k)).expect("object")
}

async fn wait(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.expect("raw IndexedDB call")
}

struct Fixture {
    mount: String,
    store: IdbfsStore,
    booted: Rc<Cell<bool>>,
}

async fn fixture(save_dir: &str) -> Fixture {
    let mount = format!("/{}/.renpy", unique("test"));
    let db = ClientDb::open(&unique("client")).await.expect("client db");
    let state = StateSlot {
        db,
        key: "state".into(),
    };
    let booted = Rc::new(Cell::new(false));
    let store = IdbfsStore::open(&mount, &path(save_dir), state, booted.clone())
        .await
        .expect("open IDBFS");
    Fixture {
        mount,
        store,
        booted,
    }
}

fn file_value(contents: &JsValue, mtime: f64, timestamp_as_date: bool) -> JsValue {
    let o = Object::new();
    let ts = if timestamp_as_date {
        Date::new(&JsValue::from_f64(mtime)).into()
    } else {
        JsValue::from_f64(mtime)
    };
    js_sys::Reflect::set(&o, &"timestamp".into(), &ts).expect("set");
    js_sys::Reflect::set(&o, &"mode".into(), &JsValue::from(33206)).expect("set");
    js_sys::Reflect::set(&o, &"contents".into(), contents).expect("set");
    o.into()
}

#[wasm_bindgen_test]
async fn a_new_database_has_emscriptens_schema() {
    let f = fixture("Game-1").await;
    let s = Array::from(&wait(schema(&f.mount)).await);
    assert_eq!(s.get(0).as_f64(), Some(21.0), "IDBFS.DB_VERSION");
    assert!(s.get(1).is_null(), "no keyPath");
    assert_eq!(s.get(2).as_bool(), Some(false), "no autoIncrement");
    let indexes = Array::from(&s.get(3));
    assert_eq!(indexes.length(), 1);
    assert_eq!(indexes.get(0).as_string().as_deref(), Some("timestamp"));
}

#[wasm_bindgen_test]
async fn written_files_are_emscripten_records_with_parent_directories() {
    let f = fixture("Game-1").await;
    let bytes = b"save bytes \x00\xff";
    f.store
        .write(
            &path("sync/1-1-LT1.save"),
            bytes,
            Some(1_700_000_000_123),
            Expect::Absent,
        )
        .await
        .expect("write");

    let key = format!("{}/Game-1/sync/1-1-LT1.save", f.mount);
    let rec = wait(raw_get(&f.mount, &key)).await;
    let ts = get(&rec, "timestamp");
    assert!(
        is_date(&ts),
        "timestamp must be a Date, got {}",
        type_name(&ts)
    );
    assert_eq!(ts.unchecked_ref::<Date>().get_time(), 1_700_000_000_123.0);
    assert_eq!(get(&rec, "mode").as_f64(), Some(f64::from(MODE_FILE)));
    assert_eq!(MODE_FILE, 33206);
    let contents = get(&rec, "contents");
    assert_eq!(type_name(&contents), "[object Uint8Array]");
    assert_eq!(contents.unchecked_ref::<Uint8Array>().to_vec(), bytes);

    for dir in ["Game-1", "Game-1/sync"] {
        let rec = wait(raw_get(&f.mount, &format!("{}/{dir}", f.mount))).await;
        assert!(!rec.is_undefined(), "directory record {dir} missing");
        assert_eq!(get(&rec, "mode").as_f64(), Some(f64::from(MODE_DIR)));
        assert_eq!(MODE_DIR, 16895);
        assert!(is_date(&get(&rec, "timestamp")));
        assert!(get(&rec, "contents").is_undefined());
    }
    let keys = Array::from(&wait(raw_keys(&f.mount)).await);
    assert!(
        !keys.includes(&JsValue::from_str(&f.mount), 0),
        "no record for the mount point itself"
    );
    assert_eq!(keys.length(), 3);
}

#[wasm_bindgen_test]
async fn int8_uint8_and_offset_views_are_all_read() {
    let f = fixture("Game-1").await;
    let root = format!("{}/Game-1", f.mount);
    let dir = Object::new();
    js_sys::Reflect::set(&dir, &"timestamp".into(), &Date::new_0()).expect("set");
    js_sys::Reflect::set(&dir, &"mode".into(), &JsValue::from(16895)).expect("set");
    wait(raw_put(&f.mount, &root, &dir)).await;

    let signed = Int8Array::from(&[-1i8, 0, 1, 127][..]);
    wait(raw_put(
        &f.mount,
        &format!("{root}/a.save"),
        &file_value(&signed, 1000.0, true),
    ))
    .await;
    let plain = Uint8Array::from(&[9u8, 8, 7][..]);
    wait(raw_put(
        &f.mount,
        &format!("{root}/b.save"),
        &file_value(&plain, 2000.0, true),
    ))
    .await;
    // A view into the middle of a larger buffer.
    let big = Uint8Array::from(&[0u8, 0, 5, 6, 0][..]);
    let view = Uint8Array::new_with_byte_offset_and_length(&big.buffer(), 2, 2);
    wait(raw_put(
        &f.mount,
        &format!("{root}/c.save"),
        &file_value(&view, 3000.0, true),
    ))
    .await;

    let mut listed = f.store.list().await.expect("list");
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    let summary: Vec<(String, u64, i64)> = listed
        .iter()
        .map(|l| (l.path.to_string(), l.size, l.mtime))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a.save".into(), 4, 1000),
            ("b.save".into(), 3, 2000),
            ("c.save".into(), 2, 3000)
        ]
    );
    assert_eq!(
        f.store.read(&path("a.save")).await.expect("read"),
        vec![255, 0, 1, 127]
    );
    assert_eq!(
        f.store.read(&path("b.save")).await.expect("read"),
        vec![9, 8, 7]
    );
    assert_eq!(
        f.store.read(&path("c.save")).await.expect("read"),
        vec![5, 6]
    );
    let missing = f.store.read(&path("none.save")).await.expect_err("missing");
    assert_eq!(missing.kind, StoreErrorKind::NotFound);
}

#[wasm_bindgen_test]
async fn other_games_and_the_token_folder_are_never_touched() {
    let f = fixture("Game-1").await;
    // Neighbours whose keys share the prefix "Game-1".
    let others = [
        "Game-10/1-1-LT1.save",
        "Game-1x/persistent",
        "Game-1.old/persistent",
        "tokens/security_keys.txt",
    ];
    for (i, o) in others.iter().enumerate() {
        let bytes = Uint8Array::from(o.as_bytes());
        let v = file_value(&bytes, 500.0 + i as f64, true);
        wait(raw_put(&f.mount, &format!("{}/{o}", f.mount), &v)).await;
    }
    f.store
        .write(&path("persistent"), b"mine", Some(42), Expect::Any)
        .await
        .expect("write");
    let listed = f.store.list().await.expect("list");
    assert_eq!(listed.len(), 1, "only this game's file: {listed:?}");
    f.store
        .delete(&path("persistent"), Expect::Any)
        .await
        .expect("delete");
    assert!(f.store.list().await.expect("list").is_empty());

    for (i, o) in others.iter().enumerate() {
        let rec = wait(raw_get(&f.mount, &format!("{}/{o}", f.mount))).await;
        assert_eq!(
            get(&rec, "contents").unchecked_ref::<Uint8Array>().to_vec(),
            o.as_bytes(),
            "{o} changed"
        );
        assert_eq!(
            get(&rec, "timestamp").unchecked_ref::<Date>().get_time(),
            500.0 + i as f64
        );
    }
}

#[wasm_bindgen_test]
async fn expectations_guard_writes_and_deletes() {
    let f = fixture("Game-1").await;
    let p = path("1-1-LT1.save");
    f.store
        .write(&p, b"v1", Some(10), Expect::Absent)
        .await
        .expect("create");
    let again = f.store.write(&p, b"v2", Some(11), Expect::Absent).await;
    assert_eq!(again.expect_err("exists").kind, StoreErrorKind::Changed);
    let stale = Expect::Unchanged { size: 2, mtime: 9 };
    let e = f
        .store
        .write(&p, b"v2", Some(11), stale)
        .await
        .expect_err("stale");
    assert_eq!(e.kind, StoreErrorKind::Changed);
    let e = f.store.delete(&p, stale).await.expect_err("stale");
    assert_eq!(e.kind, StoreErrorKind::Changed);
    assert_eq!(f.store.read(&p).await.expect("read"), b"v1");

    let fresh = Expect::Unchanged { size: 2, mtime: 10 };
    f.store
        .write(&p, b"v2!", Some(12), fresh)
        .await
        .expect("replace");
    f.store
        .delete(&p, Expect::Unchanged { size: 3, mtime: 12 })
        .await
        .expect("delete");
    assert!(f.store.list().await.expect("list").is_empty());
    // Deleting a missing file succeeds.
    f.store
        .delete(&p, Expect::Absent)
        .await
        .expect("idempotent delete");
}

#[wasm_bindgen_test]
async fn a_number_timestamp_left_by_someone_else_is_read_not_repaired() {
    let f = fixture("Game-1").await;
    let root = format!("{}/Game-1", f.mount);
    let bytes = Uint8Array::from(&b"x"[..]);
    wait(raw_put(
        &f.mount,
        &format!("{root}/n.save"),
        &file_value(&bytes, 77.0, false),
    ))
    .await;
    let listed = f.store.list().await.expect("list");
    assert_eq!(listed[0].mtime, 77);
    // Our own rewrite of it stores a Date again.
    f.store
        .write(
            &path("n.save"),
            b"y",
            Some(78),
            Expect::Unchanged { size: 1, mtime: 77 },
        )
        .await
        .expect("rewrite");
    let rec = wait(raw_get(&f.mount, &format!("{root}/n.save"))).await;
    assert!(is_date(&get(&rec, "timestamp")));
}

#[wasm_bindgen_test]
async fn engine_state_lives_in_the_client_database_not_in_idbfs() {
    let f = fixture("Game-1").await;
    assert_eq!(f.store.load_state().await.expect("load"), None);
    f.store.save_state(br#"{"format":1}"#).await.expect("save");
    assert_eq!(
        f.store.load_state().await.expect("load").as_deref(),
        Some(&br#"{"format":1}"#[..])
    );
    let keys = Array::from(&wait(raw_keys(&f.mount)).await);
    assert_eq!(keys.length(), 0, "IDBFS untouched by state");
}

#[wasm_bindgen_test]
async fn updating_the_token_file_creates_its_folder_record() {
    let f = fixture("Game-1").await;
    let key_file = path("tokens/security_keys.txt");
    let wrote = f
        .store
        .update_text_file(&key_file, |t| {
            assert_eq!(t, None);
            Some("signing-key a b\n".into())
        })
        .await
        .expect("update");
    assert!(wrote);
    let dir = wait(raw_get(&f.mount, &format!("{}/tokens", f.mount))).await;
    assert_eq!(get(&dir, "mode").as_f64(), Some(16895.0));
    let unchanged = f
        .store
        .update_text_file(&key_file, |t| {
            assert_eq!(t, Some("signing-key a b\n"));
            None
        })
        .await
        .expect("read");
    assert!(!unchanged);
}

#[wasm_bindgen_test]
async fn once_the_game_boots_direct_writes_are_refused() {
    let f = fixture("Game-1").await;
    f.store
        .write(&path("a.save"), b"1", Some(1), Expect::Absent)
        .await
        .expect("write before boot");
    f.booted.set(true);
    let e = f
        .store
        .write(&path("b.save"), b"2", Some(2), Expect::Absent)
        .await
        .expect_err("after boot");
    assert_eq!(e.kind, StoreErrorKind::Io);
    f.store
        .delete(&path("a.save"), Expect::Any)
        .await
        .expect_err("after boot");
    // Reading still works (a status check may run late).
    assert_eq!(f.store.list().await.expect("list").len(), 1);
}

/// Ren'Py's `sync/` folder as Ren'Py's own start leaves it: a directory record (and the
/// savedir's record above it).
async fn make_sync_folder(mount: &str) {
    for dir in ["Game-1", "Game-1/sync"] {
        let record = Object::new();
        js_sys::Reflect::set(&record, &"timestamp".into(), &Date::new_0()).expect("set");
        js_sys::Reflect::set(&record, &"mode".into(), &JsValue::from(16895)).expect("set");
        wait(raw_put(mount, &format!("{mount}/{dir}"), &record)).await;
    }
}

/// A file record put by "Ren'Py" (raw), with `text` and `mtime`.
async fn renpy_file(mount: &str, relative: &str, text: &str, mtime: f64) {
    let bytes = Uint8Array::from(text.as_bytes());
    let key = format!("{mount}/Game-1/{relative}");
    wait(raw_put(mount, &key, &file_value(&bytes, mtime, true))).await;
}

/// `(text, mtime)` of a record, `None` when absent; checks it is an Emscripten file record.
async fn raw_file(mount: &str, relative: &str) -> Option<(String, f64)> {
    let rec = wait(raw_get(mount, &format!("{mount}/Game-1/{relative}"))).await;
    if rec.is_undefined() {
        return None;
    }
    let ts = get(&rec, "timestamp");
    assert!(is_date(&ts), "{relative}: timestamp is {}", type_name(&ts));
    assert_eq!(get(&rec, "mode").as_f64(), Some(f64::from(MODE_FILE)));
    let bytes = get(&rec, "contents").unchecked_ref::<Uint8Array>().to_vec();
    Some((
        String::from_utf8(bytes).expect("text"),
        ts.unchecked_ref::<Date>().get_time(),
    ))
}

/// The fixture's store with the mirrors that exist now, as the engine gets it.
async fn locations(f: Fixture) -> (String, Locations<IdbfsStore, IdbfsMirror>) {
    let mirrors = f.store.mirrors().await.expect("mirrors");
    (f.mount, Locations::new(f.store, mirrors))
}

#[wasm_bindgen_test]
async fn the_sync_folder_is_a_mirror_only_once_ren_py_made_it() {
    let f = fixture("Game-1").await;
    assert!(f.store.mirrors().await.expect("mirrors").is_empty());
    // A file record named like the folder is not a folder.
    renpy_file(&f.mount, "sync", "not a folder", 1.0).await;
    assert!(f.store.mirrors().await.expect("mirrors").is_empty());
    make_sync_folder(&f.mount).await;
    let mirrors = f.store.mirrors().await.expect("mirrors");
    assert_eq!(mirrors.len(), 1);
    assert_eq!(
        mirrors[0].key(&path("1-1-LT1.save")),
        format!("{}/Game-1/sync/1-1-LT1.save", f.mount)
    );
}

#[wasm_bindgen_test]
async fn a_download_replaces_both_copies_so_the_newest_mtime_is_the_download() {
    let f = fixture("Game-1").await;
    make_sync_folder(&f.mount).await;
    let slot = path("1-1-LT1.save");
    // Ren'Py saved the slot in both locations at t=2000.
    renpy_file(&f.mount, "1-1-LT1.save", "local", 2000.0).await;
    renpy_file(&f.mount, "sync/1-1-LT1.save", "local", 2000.0).await;
    let (mount, both) = locations(f).await;
    // The remote version is older (another device's clock, a restore, keep-remote).
    both.write(
        &slot,
        b"remote",
        Some(1000),
        Expect::Unchanged {
            size: 5,
            mtime: 2000,
        },
    )
    .await
    .expect("write");
    assert_eq!(
        raw_file(&mount, "1-1-LT1.save").await,
        Some(("remote".into(), 1000.0))
    );
    assert_eq!(
        raw_file(&mount, "sync/1-1-LT1.save").await,
        Some(("remote".into(), 1000.0))
    );
    // Only the save folder is scanned; sync/ is not a second copy to sync.
    let listed: Vec<String> = both
        .list()
        .await
        .expect("list")
        .iter()
        .filter(|l| !l.path.as_str().starts_with("sync/"))
        .map(|l| l.path.to_string())
        .collect();
    assert_eq!(listed, ["1-1-LT1.save"]);
}

#[wasm_bindgen_test]
async fn a_save_made_since_the_scan_keeps_all_its_copies() {
    let f = fixture("Game-1").await;
    make_sync_folder(&f.mount).await;
    renpy_file(&f.mount, "1-1-LT1.save", "played on", 3000.0).await;
    renpy_file(&f.mount, "sync/1-1-LT1.save", "played on", 3000.0).await;
    let (mount, both) = locations(f).await;
    let scanned = Expect::Unchanged {
        size: 5,
        mtime: 2000,
    };
    let e = both
        .write(&path("1-1-LT1.save"), b"remote", Some(1000), scanned)
        .await
        .expect_err("changed since the scan");
    assert_eq!(e.kind, StoreErrorKind::Changed);
    let e = both
        .delete(&path("1-1-LT1.save"), scanned)
        .await
        .expect_err("changed since the scan");
    assert_eq!(e.kind, StoreErrorKind::Changed);
    for at in ["1-1-LT1.save", "sync/1-1-LT1.save"] {
        assert_eq!(
            raw_file(&mount, at).await,
            Some(("played on".into(), 3000.0)),
            "{at}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_deletion_removes_both_copies_and_keeps_the_folder() {
    let f = fixture("Game-1").await;
    make_sync_folder(&f.mount).await;
    renpy_file(&f.mount, "2-1-LT1.save", "gone", 500.0).await;
    renpy_file(&f.mount, "sync/2-1-LT1.save", "gone", 500.0).await;
    let (mount, both) = locations(f).await;
    both.delete(
        &path("2-1-LT1.save"),
        Expect::Unchanged {
            size: 4,
            mtime: 500,
        },
    )
    .await
    .expect("delete");
    assert_eq!(raw_file(&mount, "2-1-LT1.save").await, None);
    assert_eq!(raw_file(&mount, "sync/2-1-LT1.save").await, None);
    let folder = wait(raw_get(&mount, &format!("{mount}/Game-1/sync"))).await;
    assert_eq!(get(&folder, "mode").as_f64(), Some(f64::from(MODE_DIR)));
}

#[wasm_bindgen_test]
async fn a_remote_persistent_goes_to_sync_and_the_local_one_is_untouched() {
    let f = fixture("Game-1").await;
    make_sync_folder(&f.mount).await;
    renpy_file(&f.mount, "persistent", "mine", 700.0).await;
    let (mount, both) = locations(f).await;
    let before = js_sys::Date::now();
    both.deliver_for_merge(&path("persistent"), b"theirs")
        .await
        .expect("deliver");
    assert_eq!(
        raw_file(&mount, "persistent").await,
        Some(("mine".into(), 700.0))
    );
    let (text, mtime) = raw_file(&mount, "sync/persistent")
        .await
        .expect("delivered");
    assert_eq!(text, "theirs");
    assert!(mtime >= before, "mtime now, newer than what Ren'Py loaded");
    // Writing persistent itself (a fresh device's first download) touches no mirror.
    both.write(&path("persistent"), b"new", Some(800), Expect::Any)
        .await
        .expect("write");
    assert_eq!(
        raw_file(&mount, "sync/persistent").await.map(|(t, _)| t),
        Some("theirs".into())
    );
}

#[wasm_bindgen_test]
async fn without_a_sync_folder_a_persistent_is_delivered_with_its_folder_record() {
    let f = fixture("Game-1").await;
    renpy_file(&f.mount, "persistent", "mine", 700.0).await;
    let (mount, alone) = locations(f).await;
    assert!(alone.mirrors().is_empty());
    alone
        .deliver_for_merge(&path("persistent"), b"theirs")
        .await
        .expect("deliver");
    assert_eq!(
        raw_file(&mount, "sync/persistent").await.map(|(t, _)| t),
        Some("theirs".into())
    );
    let folder = wait(raw_get(&mount, &format!("{mount}/Game-1/sync"))).await;
    assert_eq!(
        get(&folder, "mode").as_f64(),
        Some(f64::from(MODE_DIR)),
        "parent record"
    );
}

#[wasm_bindgen_test]
async fn after_boot_the_mirror_refuses_writes_too() {
    let f = fixture("Game-1").await;
    make_sync_folder(&f.mount).await;
    renpy_file(&f.mount, "sync/3-1-LT1.save", "kept", 900.0).await;
    let mirror = f.store.mirrors().await.expect("mirrors").remove(0);
    f.booted.set(true);
    let e = mirror
        .write(&path("3-1-LT1.save"), b"late", Some(1))
        .await
        .expect_err("after boot");
    assert_eq!(e.kind, StoreErrorKind::Io);
    mirror
        .delete(&path("3-1-LT1.save"))
        .await
        .expect_err("after boot");
    assert_eq!(
        raw_file(&f.mount, "sync/3-1-LT1.save").await,
        Some(("kept".into(), 900.0))
    );
}

//! Emscripten IDBFS, read and written directly in IndexedDB — only before the game boots.
//!
//! Ren'Py web mounts IDBFS at `/home/web_user/.renpy`. Emscripten keeps one database named
//! after the mount point (version 21), object store `FILE_DATA`, key = absolute path, and
//! one record per file **and per directory** below the mount (none for the mount point):
//! file `{timestamp: Date, mode: 33206, contents: Uint8Array}`, directory
//! `{timestamp: Date, mode: 16895}`. Two details are load-bearing (seen on the real
//! implementation): a number timestamp makes every later `FS.syncfs(false)` throw, and a
//! file without its parent directory records fails the boot load, after which the next
//! syncfs deletes valid saves. [`file_record`] and [`IdbfsStore::write`] get both right.
//!
//! The store touches only keys under the game's own `save_directory` (other games on the
//! same origin share this database), plus, through [`IdbfsStore::update_text_file`], the
//! shared save-token file. Ren'Py 8.1+ keeps a second copy of every slot in
//! `<save_directory>/sync` and shows the copy with the newest mtime; [`IdbfsMirror`] keeps
//! that copy in step (the engine runs on `sync_core::locations::Locations`).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Date, Object, Uint8Array};
use sync_core::SavePath;
use sync_core::locations::{SYNC_FOLDER, SaveMirror};
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbObjectStore, IdbTransactionMode};

use crate::js;
use crate::statedb::StateSlot;

/// Where Ren'Py web mounts IDBFS (and so the database name).
pub const RENPY_MOUNT: &str = "/home/web_user/.renpy";
/// `IDBFS.DB_VERSION`.
pub const DB_VERSION: u32 = 21;
/// `IDBFS.DB_STORE_NAME`.
pub const STORE: &str = "FILE_DATA";
/// A regular file, rw for everyone (Emscripten's default for new files, 0o100666).
pub const MODE_FILE: u32 = 0o100_666;
/// A directory, rwx for everyone (Emscripten's default for `mkdir`, 0o40777).
pub const MODE_DIR: u32 = 0o40_777;
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// What kind of entry an IDBFS record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    File,
    Directory,
    /// A symlink or anything else: left alone.
    Other,
}

/// The facts of one IDBFS record the store needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    pub kind: RecordKind,
    /// Bytes of `contents` (0 for directories).
    pub size: u64,
    /// `timestamp` in Unix milliseconds (`None` when it is neither a Date nor a number).
    pub mtime: Option<UnixMillis>,
}

/// A file record exactly as Emscripten writes it.
pub fn file_record(bytes: &[u8], mtime: UnixMillis) -> Object {
    let record = Object::new();
    js::set(&record, "timestamp", &date(mtime));
    js::set(&record, "mode", &JsValue::from(MODE_FILE));
    js::set(&record, "contents", &Uint8Array::from(bytes));
    record
}

/// A directory record exactly as Emscripten writes it.
pub fn dir_record(mtime: UnixMillis) -> Object {
    let record = Object::new();
    js::set(&record, "timestamp", &date(mtime));
    js::set(&record, "mode", &JsValue::from(MODE_DIR));
    record
}

fn date(mtime: UnixMillis) -> Date {
    // Millisecond times fit f64 exactly for any realistic date.
    Date::new(&JsValue::from_f64(mtime as f64))
}

/// Reads kind, size and time of a stored record; `None` if it is not an IDBFS record.
pub fn inspect(value: &JsValue) -> Option<RecordInfo> {
    let mode = js::get(value, "mode").as_f64()? as u32;
    let kind = match mode & S_IFMT {
        S_IFREG => RecordKind::File,
        S_IFDIR => RecordKind::Directory,
        _ => RecordKind::Other,
    };
    let timestamp = js::get(value, "timestamp");
    let mtime = match timestamp.dyn_ref::<Date>() {
        Some(d) => Some(d.get_time()),
        None => timestamp.as_f64(),
    }
    .filter(|t| t.is_finite())
    .map(|t| t as UnixMillis);
    let size = match kind {
        RecordKind::File => contents_view(value).map_or(0, |c| c.length().into()),
        _ => 0,
    };
    Some(RecordInfo { kind, size, mtime })
}

/// A file record's bytes. `contents` may be any typed-array view (Emscripten stores an
/// `Int8Array` or a `Uint8Array` depending on how the file was written).
pub fn contents(value: &JsValue) -> Option<Vec<u8>> {
    contents_view(value).map(|c| c.to_vec())
}

fn contents_view(value: &JsValue) -> Option<Uint8Array> {
    let contents = js::get(value, "contents");
    if !ArrayBuffer::is_view(&contents) {
        return None;
    }
    let buffer = js::get(&contents, "buffer")
        .dyn_into::<ArrayBuffer>()
        .ok()?;
    let offset = js::get(&contents, "byteOffset").as_f64()? as u32;
    let length = js::get(&contents, "byteLength").as_f64()? as u32;
    Some(Uint8Array::new_with_byte_offset_and_length(
        &buffer, offset, length,
    ))
}

/// One open IDBFS database, shared by a store and its mirrors.
struct Database {
    db: IdbDatabase,
    mount: String,
    /// Set when the game's boot-time `FS.syncfs(true)` starts: from then on a direct write
    /// would be wiped by the game's next syncfs (and then look like a local deletion), so
    /// every write fails. Checked in the same turn as the write's transaction is created;
    /// IndexedDB runs the game's later load transaction after ours.
    booted: Rc<Cell<bool>>,
}

impl Database {
    fn writable(&self) -> Result<(), StoreError> {
        if self.booted.get() {
            return Err(StoreError::io(
                "the game has booted: its files change only through FS now",
            ));
        }
        Ok(())
    }

    fn store(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbObjectStore, js_sys::Promise), JsValue> {
        let tx = self.db.transaction_with_str_and_mode(STORE, mode)?;
        let done = js::tx_done(&tx);
        Ok((tx.object_store(STORE)?, done))
    }

    /// The record stored under `key` (`undefined` if none).
    async fn get(&self, key: &str) -> Result<JsValue, StoreError> {
        let run = async {
            let (store, _) = self.store(IdbTransactionMode::Readonly)?;
            js::request(store.get(&JsValue::from_str(key))).await
        };
        run.await.map_err(|e| io(&format!("read {key}"), &e))
    }

    /// Writes a file record (and any missing parent directory record) in one transaction,
    /// if `expect` holds for the record there now.
    async fn put_file(
        &self,
        path: &SavePath,
        key: &str,
        bytes: &[u8],
        mtime: UnixMillis,
        expect: Expect,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let run = async {
            let (store, done) = self.store(IdbTransactionMode::Readwrite)?;
            let current = js::request(store.get(&JsValue::from_str(key))).await?;
            if let Err(e) = expect.check(path, observed(&current)) {
                JsFuture::from(done).await?;
                return Ok(Err(e));
            }
            put_parents(&store, &self.mount, key, js::now_ms() as UnixMillis).await?;
            store.put_with_key(&file_record(bytes, mtime), &JsValue::from_str(key))?;
            JsFuture::from(done).await?;
            Ok(Ok(()))
        };
        run.await
            .map_err(|e: JsValue| io(&format!("write {key}"), &e))?
    }

    /// Deletes a file record, if `expect` holds for it now; a missing file is fine.
    async fn delete_file(
        &self,
        path: &SavePath,
        key: &str,
        expect: Expect,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let run = async {
            let (store, done) = self.store(IdbTransactionMode::Readwrite)?;
            let current = js::request(store.get(&JsValue::from_str(key))).await?;
            if let Err(e) = expect.check(path, observed(&current)) {
                JsFuture::from(done).await?;
                return Ok(Err(e));
            }
            if inspect(&current).is_some_and(|i| i.kind == RecordKind::File) {
                store.delete(&JsValue::from_str(key))?;
            }
            JsFuture::from(done).await?;
            Ok(Ok(()))
        };
        run.await
            .map_err(|e: JsValue| io(&format!("delete {key}"), &e))?
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // An open connection would block Emscripten only on a version change (it never
        // makes one), but there is no reason to keep it.
        self.db.close();
    }
}

/// What [`Expect::check`] compares for the record at a key: a file's size and mtime. Any
/// other record there (a directory) is present but matches no scanned file.
fn observed(record: &JsValue) -> Option<(u64, UnixMillis)> {
    let info = inspect(record)?;
    Some(match info.kind {
        RecordKind::File => (info.size, info.mtime.unwrap_or(0)),
        RecordKind::Directory | RecordKind::Other => (u64::MAX, UnixMillis::MIN),
    })
}

/// The save folder of one game inside IDBFS, plus the engine state in the client database.
pub struct IdbfsStore {
    database: Rc<Database>,
    /// `<mount>/<save_directory>`: every key this store reads or writes starts with it.
    root: String,
    state: StateSlot,
}

impl IdbfsStore {
    /// Opens the IDBFS database of `mount` (creating it exactly as Emscripten would when the
    /// game never ran in this browser) for the folder `save_directory`.
    pub async fn open(
        mount: &str,
        save_directory: &SavePath,
        state: StateSlot,
        booted: Rc<Cell<bool>>,
    ) -> Result<Self, StoreError> {
        let db = js::open_db(mount, DB_VERSION, "idbfs")
            .await
            .map_err(|e| io(&format!("open IndexedDB {mount}"), &e))?;
        Ok(Self {
            database: Rc::new(Database {
                db,
                mount: mount.to_owned(),
                booted,
            }),
            root: format!("{mount}/{save_directory}"),
            state,
        })
    }

    /// The IDBFS key of a file of this game.
    pub fn key(&self, path: &SavePath) -> String {
        format!("{}/{path}", self.root)
    }

    /// Ren'Py's other save locations of this game that exist in IDBFS now: `<savedir>/sync`
    /// (Ren'Py 8.1+ creates it at every start), when its directory record is there. A
    /// missing folder holds no copies that could shadow a download, and a file record
    /// without its directory record would fail the game's boot load.
    pub async fn mirrors(&self) -> Result<Vec<IdbfsMirror>, StoreError> {
        let root = format!("{}/{SYNC_FOLDER}", self.root);
        let record = self.database.get(&root).await?;
        Ok(match inspect(&record) {
            Some(info) if info.kind == RecordKind::Directory => vec![IdbfsMirror {
                database: self.database.clone(),
                root,
            }],
            _ => Vec::new(),
        })
    }

    /// The text of `<mount>/<relative>` (any file of the mount, e.g.
    /// `tokens/security_keys.txt`), `None` when it does not exist.
    pub async fn read_text_file(&self, relative: &SavePath) -> Result<Option<String>, StoreError> {
        let key = format!("{}/{relative}", self.database.mount);
        let record = self.database.get(&key).await?;
        Ok(match inspect(&record) {
            Some(info) if info.kind == RecordKind::File => {
                contents(&record).map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            _ => None,
        })
    }

    /// Reads `<mount>/<relative>` (any file of the mount, e.g. `tokens/security_keys.txt`),
    /// lets `update` compute a new text from the current one (`None`: file absent), and
    /// writes the result in the same transaction, so a concurrent writer cannot be lost.
    /// `update` returning `None` leaves the file untouched. Returns whether it wrote.
    pub async fn update_text_file(
        &self,
        relative: &SavePath,
        update: impl FnOnce(Option<&str>) -> Option<String>,
    ) -> Result<bool, StoreError> {
        let db = &self.database;
        let key = format!("{}/{relative}", db.mount);
        db.writable()?;
        let run = async {
            let (store, done) = db.store(IdbTransactionMode::Readwrite)?;
            let current = js::request(store.get(&JsValue::from_str(&key))).await?;
            let text = match inspect(&current) {
                Some(info) if info.kind == RecordKind::File => {
                    contents(&current).map(|b| String::from_utf8_lossy(&b).into_owned())
                }
                _ => None,
            };
            let Some(new_text) = update(text.as_deref()) else {
                JsFuture::from(done).await?;
                return Ok(false);
            };
            let now = js::now_ms() as UnixMillis;
            put_parents(&store, &db.mount, &key, now).await?;
            store.put_with_key(
                &file_record(new_text.as_bytes(), now),
                &JsValue::from_str(&key),
            )?;
            JsFuture::from(done).await?;
            Ok(true)
        };
        run.await
            .map_err(|e: JsValue| io(&format!("update {key}"), &e))
    }
}

/// Another IDBFS folder Ren'Py keeps a copy of each save in (`<savedir>/sync`); written only
/// before the game boots, like the store (see [`sync_core::locations`]).
pub struct IdbfsMirror {
    database: Rc<Database>,
    /// `<mount>/<save_directory>/sync`.
    root: String,
}

impl IdbfsMirror {
    /// The IDBFS key of a file in this folder.
    pub fn key(&self, path: &SavePath) -> String {
        format!("{}/{path}", self.root)
    }
}

impl SaveMirror for IdbfsMirror {
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let mtime = mtime.unwrap_or_else(|| js::now_ms() as UnixMillis);
        self.database
            .put_file(path, &self.key(path), bytes, mtime, Expect::Any)
            .await
    }

    async fn delete(&self, path: &SavePath) -> Result<(), StoreError> {
        self.database
            .delete_file(path, &self.key(path), Expect::Any)
            .await
    }
}

/// Puts a directory record for every missing ancestor of `key` strictly below `mount`.
async fn put_parents(
    store: &IdbObjectStore,
    mount: &str,
    key: &str,
    now: UnixMillis,
) -> Result<(), JsValue> {
    let Some(below) = key.strip_prefix(mount).and_then(|r| r.strip_prefix('/')) else {
        return Err(JsValue::from_str("key outside the mount"));
    };
    let segments: Vec<&str> = below.split('/').collect();
    let mut dir = mount.to_owned();
    for segment in segments.iter().take(segments.len().saturating_sub(1)) {
        dir = format!("{dir}/{segment}");
        let existing = js::request(store.get(&JsValue::from_str(&dir))).await?;
        if existing.is_undefined() {
            store.put_with_key(&dir_record(now), &JsValue::from_str(&dir))?;
        }
    }
    Ok(())
}

fn io(what: &str, e: &JsValue) -> StoreError {
    StoreError::io(format!("{what}: {}", js::describe(e)))
}

impl SaveStore for IdbfsStore {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        let db = &self.database;
        let run = async {
            let (store, done) = db.store(IdbTransactionMode::Readonly)?;
            // Every key that starts with "<root>/": '0' is the character after '/'.
            let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
                &JsValue::from_str(&format!("{}/", self.root)),
                &JsValue::from_str(&format!("{}0", self.root)),
                false,
                true,
            )?;
            let keys = js::request(store.get_all_keys_with_key(&range)).await?;
            let values = js::request(store.get_all_with_key(&range)).await?;
            JsFuture::from(done).await?;
            Ok::<_, JsValue>((js_sys::Array::from(&keys), js_sys::Array::from(&values)))
        };
        let (keys, values) = run.await.map_err(|e| io("list IDBFS", &e))?;
        let prefix = format!("{}/", self.root);
        let mut files = Vec::new();
        for (key, value) in keys.iter().zip(values.iter()) {
            let Some(key) = key.as_string() else { continue };
            let Some(info) = inspect(&value) else {
                continue;
            };
            if info.kind != RecordKind::File {
                continue;
            }
            // Names that are not valid save paths (odd characters) are not synced.
            let Some(Ok(path)) = key.strip_prefix(&prefix).map(SavePath::new) else {
                continue;
            };
            files.push(LocalFile {
                path,
                size: info.size,
                mtime: info.mtime.unwrap_or(0),
            });
        }
        Ok(files)
    }

    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        let key = self.key(path);
        let value = self.database.get(&key).await?;
        match inspect(&value) {
            Some(info) if info.kind == RecordKind::File => {
                contents(&value).ok_or_else(|| StoreError::io(format!("{key} has no contents")))
            }
            _ => Err(StoreError::not_found(path)),
        }
    }

    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
        expect: Expect,
    ) -> Result<(), StoreError> {
        let mtime = mtime.unwrap_or_else(|| js::now_ms() as UnixMillis);
        self.database
            .put_file(path, &self.key(path), bytes, mtime, expect)
            .await
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        self.database
            .delete_file(path, &self.key(path), expect)
            .await
    }

    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        if expect == Expect::Any {
            return Ok(());
        }
        let current = self.database.get(&self.key(path)).await?;
        expect.check(path, observed(&current))
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.load().await.map_err(StoreError::io)
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.state.save(state).await.map_err(StoreError::io)
    }
}

//! The save folder of a running game, through the page's Emscripten `FS` (MEMFS over IDBFS).
//!
//! While the game runs, IndexedDB is only a mirror that the game's next `FS.syncfs(false)`
//! makes equal to MEMFS, deleting whatever MEMFS lacks; so a running game's files are
//! changed only here. The caller then persists them with `FS.syncfs(false)` and asks Ren'Py
//! to rescan (`renpy.loadsave.location.scan()`); the glue script does both.
//!
//! Every FS call is synchronous and the check of an [`Expect`] happens in the same turn as
//! the write, so the game cannot save in between.

use sync_core::SavePath;
use sync_core::locations::{SYNC_FOLDER, SaveMirror};
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError};
use wasm_bindgen::JsValue;

use crate::js;
use crate::statedb::StateSlot;

/// What `FS.stat` says about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File {
        size: u64,
        mtime: UnixMillis,
    },
    Directory,
    /// A symlink target or a device: present, never one of our files.
    Other,
}

impl Entry {
    /// What [`Expect::check`] compares: a file's size and mtime; anything else is present
    /// but matches no scanned file.
    fn observed(entry: Option<Self>) -> Option<(u64, UnixMillis)> {
        entry.map(|e| match e {
            Entry::File { size, mtime } => (size, mtime),
            Entry::Directory | Entry::Other => (u64::MAX, UnixMillis::MIN),
        })
    }
}

fn stat(fs: &JsValue, full: &str) -> Result<Option<Entry>, StoreError> {
    let st = js::fs_stat(fs, full).map_err(|e| fs_error("stat", full, &e))?;
    if st.is_null() || st.is_undefined() {
        return Ok(None);
    }
    let a = js_sys::Array::from(&st);
    Ok(Some(if a.get(0).is_truthy() {
        Entry::File {
            size: a.get(1).as_f64().unwrap_or(0.0) as u64,
            mtime: a.get(2).as_f64().unwrap_or(0.0) as UnixMillis,
        }
    } else if a.get(3).is_truthy() {
        Entry::Directory
    } else {
        Entry::Other
    }))
}

/// Writes `full` (parents created below `root`) with `mtime`, now if none.
fn write_file(
    fs: &JsValue,
    root: &str,
    full: &str,
    bytes: &[u8],
    mtime: Option<UnixMillis>,
) -> Result<(), StoreError> {
    let mtime = mtime.unwrap_or_else(|| js::now_ms() as UnixMillis);
    js::fs_write(fs, root, full, bytes, mtime as f64).map_err(|e| fs_error("write", full, &e))
}

/// Deletes `full` if it is a file; a missing file is fine.
fn delete_file(fs: &JsValue, full: &str, entry: Option<Entry>) -> Result<(), StoreError> {
    match entry {
        Some(Entry::File { .. }) => {
            js::fs_unlink(fs, full).map_err(|e| fs_error("unlink", full, &e))
        }
        _ => Ok(()),
    }
}

/// One game's save folder in a running game's Emscripten file system.
pub struct FsStore {
    fs: JsValue,
    /// `<mount>/<save_directory>`.
    root: String,
    state: StateSlot,
}

impl FsStore {
    /// `fs` is the page's `FS` object (`Module.FS`).
    pub fn new(fs: JsValue, mount: &str, save_directory: &SavePath, state: StateSlot) -> Self {
        Self {
            fs,
            root: format!("{mount}/{save_directory}"),
            state,
        }
    }

    fn path(&self, path: &SavePath) -> String {
        format!("{}/{path}", self.root)
    }

    /// Ren'Py's other save locations of this game that exist now: `<savedir>/sync` (Ren'Py
    /// 8.1+ creates it at every start), when it is a directory.
    pub fn mirrors(&self) -> Result<Vec<FsMirror>, StoreError> {
        let root = format!("{}/{SYNC_FOLDER}", self.root);
        Ok(match stat(&self.fs, &root)? {
            Some(Entry::Directory) => vec![FsMirror {
                fs: self.fs.clone(),
                root,
            }],
            _ => Vec::new(),
        })
    }
}

fn fs_error(op: &str, path: &str, e: &JsValue) -> StoreError {
    StoreError::io(format!("FS {op} {path}: {}", js::describe(e)))
}

impl SaveStore for FsStore {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        let rows =
            js::fs_list(&self.fs, &self.root).map_err(|e| fs_error("list", &self.root, &e))?;
        let mut files = Vec::new();
        for row in rows.iter() {
            let row = js_sys::Array::from(&row);
            let Some(Ok(path)) = row.get(0).as_string().map(|p| SavePath::new(&p)) else {
                continue;
            };
            files.push(LocalFile {
                path,
                size: row.get(1).as_f64().unwrap_or(0.0) as u64,
                mtime: row.get(2).as_f64().unwrap_or(0.0) as UnixMillis,
            });
        }
        Ok(files)
    }

    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        let full = self.path(path);
        match stat(&self.fs, &full)? {
            Some(Entry::File { .. }) => js::fs_read(&self.fs, &full)
                .map(|b| b.to_vec())
                .map_err(|e| fs_error("read", &full, &e)),
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
        let full = self.path(path);
        expect.check(path, Entry::observed(stat(&self.fs, &full)?))?;
        write_file(&self.fs, &self.root, &full, bytes, mtime)
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        let full = self.path(path);
        let entry = stat(&self.fs, &full)?;
        expect.check(path, Entry::observed(entry))?;
        delete_file(&self.fs, &full, entry)
    }

    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        let full = self.path(path);
        expect.check(path, Entry::observed(stat(&self.fs, &full)?))
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.load().await.map_err(StoreError::io)
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.state.save(state).await.map_err(StoreError::io)
    }
}

/// Another folder of the running game's FS that Ren'Py keeps a copy of each save in
/// (`<savedir>/sync`; see [`sync_core::locations`]). Persisted with the store's changes by
/// the caller's `FS.syncfs(false)`.
pub struct FsMirror {
    fs: JsValue,
    /// `<mount>/<save_directory>/sync`.
    root: String,
}

impl SaveMirror for FsMirror {
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let full = format!("{}/{path}", self.root);
        write_file(&self.fs, &self.root, &full, bytes, mtime)
    }

    async fn delete(&self, path: &SavePath) -> Result<(), StoreError> {
        let full = format!("{}/{path}", self.root);
        let entry = stat(&self.fs, &full)?;
        delete_file(&self.fs, &full, entry)
    }
}

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
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError, StoreErrorKind};
use wasm_bindgen::JsValue;

use crate::js;
use crate::statedb::StateSlot;

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

    /// `(is_file, size, mtime)` of a path, `None` when absent.
    fn stat(&self, full: &str) -> Result<Option<(bool, u64, UnixMillis)>, StoreError> {
        let st = js::fs_stat(&self.fs, full).map_err(|e| fs_error("stat", full, &e))?;
        if st.is_null() || st.is_undefined() {
            return Ok(None);
        }
        let a = js_sys::Array::from(&st);
        Ok(Some((
            a.get(0).is_truthy(),
            a.get(1).as_f64().unwrap_or(0.0) as u64,
            a.get(2).as_f64().unwrap_or(0.0) as UnixMillis,
        )))
    }

    fn check(&self, path: &SavePath, full: &str, expect: Expect) -> Result<(), StoreError> {
        let st = self.stat(full)?;
        let ok = match (expect, st) {
            (Expect::Any, _) | (Expect::Absent, None) => true,
            (Expect::Unchanged { size, mtime }, Some((true, s, m))) => s == size && m == mtime,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::new(
                StoreErrorKind::Changed,
                format!("{path} changed since it was scanned"),
            ))
        }
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
        match self.stat(&full)? {
            Some((true, _, _)) => js::fs_read(&self.fs, &full)
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
        self.check(path, &full, expect)?;
        let mtime = mtime.unwrap_or_else(|| js::now_ms() as UnixMillis);
        js::fs_write(&self.fs, &self.root, &full, bytes, mtime as f64)
            .map_err(|e| fs_error("write", &full, &e))
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        let full = self.path(path);
        self.check(path, &full, expect)?;
        match self.stat(&full)? {
            Some((true, _, _)) => {
                js::fs_unlink(&self.fs, &full).map_err(|e| fs_error("unlink", &full, &e))
            }
            _ => Ok(()),
        }
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.load().await.map_err(StoreError::io)
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.state.save(state).await.map_err(StoreError::io)
    }
}

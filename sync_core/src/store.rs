//! The local side of a sync: where a device keeps its save files and its sync state.
//!
//! Implemented by the file system (`native_client`), Emscripten IDBFS (`wasm_client`) and
//! an in-memory store (tests). No `Send` bound: the browser is single-threaded.

use crate::path::SavePath;
use crate::protocol::UnixMillis;

/// One file found by [`SaveStore::list`]. Cheap to produce: no content is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: SavePath,
    pub size: u64,
    /// Modification time; with `size`, decides whether a file must be re-hashed.
    pub mtime: UnixMillis,
}

/// Why a local store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The file does not exist (any more).
    NotFound,
    /// The file changed since it was listed (the game saved meanwhile); try again later.
    Changed,
    /// Anything else: permissions, full disk, a broken database.
    Io,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Io, message)
    }
    pub fn not_found(path: &SavePath) -> Self {
        Self::new(StoreErrorKind::NotFound, format!("{path} does not exist"))
    }
}

/// What the local file is expected to be right before the engine replaces or deletes it.
/// Guards a save the game wrote after the scan from being overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No check (used only for files the engine itself just created).
    Any,
    /// The file must not exist.
    Absent,
    /// The file must still have this size and modification time.
    Unchanged { size: u64, mtime: UnixMillis },
}

impl Expect {
    /// Whether the file found now (`observed`: size and mtime, `None` when absent) is what
    /// was expected. The one place every store takes this decision, with one message.
    pub fn check(
        self,
        path: &SavePath,
        observed: Option<(u64, UnixMillis)>,
    ) -> Result<(), StoreError> {
        let holds = match (self, observed) {
            (Expect::Any, _) => true,
            (Expect::Absent, observed) => observed.is_none(),
            (Expect::Unchanged { .. }, None) => false,
            (Expect::Unchanged { size, mtime }, Some(now)) => now == (size, mtime),
        };
        if holds {
            Ok(())
        } else {
            Err(StoreError::new(
                StoreErrorKind::Changed,
                format!("{path} changed since it was scanned (the game saved meanwhile)"),
            ))
        }
    }
}

/// Where [`SaveStore::deliver_for_merge`] puts a file by default: `sync/<path>`.
pub fn merge_inbox_path(path: &SavePath) -> Result<SavePath, StoreError> {
    SavePath::new(&format!("{}/{path}", crate::locations::SYNC_FOLDER))
        .map_err(|e| StoreError::io(format!("no merge location for {path}: {e}")))
}

/// A device's save folder plus its private sync state.
#[allow(
    async_fn_in_trait,
    reason = "no Send bound on purpose: the engine also runs in a browser"
)]
pub trait SaveStore {
    /// Every file under the save folder (all of them; the engine applies the sync rules).
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError>;
    /// The whole content of one file.
    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError>;
    /// Atomically replace (or create) a file, parents included, and set its modification
    /// time to `mtime` when given. Fails with [`StoreErrorKind::Changed`] if `expect` no
    /// longer holds. Readers see the old or the new content, never a mix.
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
        expect: Expect,
    ) -> Result<(), StoreError>;
    /// Delete a file; deleting a missing file succeeds. Checks `expect` like `write`.
    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError>;
    /// Fails with [`StoreErrorKind::Changed`] if `expect` does not hold for `path` now.
    /// The default lists the folder; stores with a cheap `stat` override it.
    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        if expect == Expect::Any {
            return Ok(());
        }
        let observed = self
            .list()
            .await?
            .into_iter()
            .find(|f| f.path == *path)
            .map(|f| (f.size, f.mtime));
        expect.check(path, observed)
    }
    /// Hands `bytes` to the game to merge into the file at `path` without touching that
    /// file: Ren'Py merges `persistent` field by field from every save location whose copy
    /// is newer than the one it loaded. The default writes `sync/<path>` (mtime now), the
    /// location Ren'Py 8.1+ adds; [`crate::locations::Locations`] picks a location every
    /// Ren'Py version reads.
    async fn deliver_for_merge(&self, path: &SavePath, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(&merge_inbox_path(path)?, bytes, None, Expect::Any)
            .await
    }
    /// The engine's persisted state (base, cursor, scan cache, pending decisions), or `None`.
    /// Must live outside the synced files.
    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Atomically replace the persisted state.
    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError>;
}

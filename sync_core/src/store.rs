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
    /// The engine's persisted state (base, cursor, scan cache, pending decisions), or `None`.
    /// Must live outside the synced files.
    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Atomically replace the persisted state.
    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError>;
}

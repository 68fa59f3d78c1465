//! Either local side of a web game, behind one [`SaveStore`]: IndexedDB before boot, the
//! Emscripten `FS` while the game runs.

use sync_core::SavePath;
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError};

use crate::emfs::FsStore;
use crate::idbfs::IdbfsStore;

/// The save folder as seen at this moment of the page's life.
pub enum GameFiles {
    /// Before the game's boot-time `FS.syncfs(true)`: IndexedDB directly.
    BeforeBoot(IdbfsStore),
    /// While the game runs: the Emscripten file system.
    Running(FsStore),
}

impl SaveStore for GameFiles {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        match self {
            Self::BeforeBoot(s) => s.list().await,
            Self::Running(s) => s.list().await,
        }
    }
    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        match self {
            Self::BeforeBoot(s) => s.read(path).await,
            Self::Running(s) => s.read(path).await,
        }
    }
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
        expect: Expect,
    ) -> Result<(), StoreError> {
        match self {
            Self::BeforeBoot(s) => s.write(path, bytes, mtime, expect).await,
            Self::Running(s) => s.write(path, bytes, mtime, expect).await,
        }
    }
    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        match self {
            Self::BeforeBoot(s) => s.delete(path, expect).await,
            Self::Running(s) => s.delete(path, expect).await,
        }
    }
    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Self::BeforeBoot(s) => s.load_state().await,
            Self::Running(s) => s.load_state().await,
        }
    }
    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        match self {
            Self::BeforeBoot(s) => s.save_state(state).await,
            Self::Running(s) => s.save_state(state).await,
        }
    }
}

//! Either local side of a web game, behind one [`SaveStore`]: IndexedDB before boot, the
//! Emscripten `FS` while the game runs. Each is the game's save folder plus Ren'Py's other
//! save location (`<savedir>/sync`, when it exists), kept in step by
//! [`sync_core::locations::Locations`]: a downloaded, restored or deleted slot changes both
//! copies, so the newest-mtime copy Ren'Py shows is the synced one.

use sync_core::SavePath;
use sync_core::locations::Locations;
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError};

use crate::emfs::{FsMirror, FsStore};
use crate::idbfs::{IdbfsMirror, IdbfsStore};

/// The save folder as seen at this moment of the page's life.
pub enum GameFiles {
    /// Before the game's boot-time `FS.syncfs(true)`: IndexedDB directly.
    BeforeBoot(Locations<IdbfsStore, IdbfsMirror>),
    /// While the game runs: the Emscripten file system.
    Running(Locations<FsStore, FsMirror>),
}

impl GameFiles {
    /// The IDBFS records before boot, with the mirrors that exist now.
    pub async fn before_boot(store: IdbfsStore) -> Result<Self, StoreError> {
        let mirrors = store.mirrors().await?;
        Ok(Self::BeforeBoot(Locations::new(store, mirrors)))
    }

    /// The running game's FS, with the mirrors that exist now.
    pub fn running(store: FsStore) -> Result<Self, StoreError> {
        let mirrors = store.mirrors()?;
        Ok(Self::Running(Locations::new(store, mirrors)))
    }
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
    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        match self {
            Self::BeforeBoot(s) => s.verify(path, expect).await,
            Self::Running(s) => s.verify(path, expect).await,
        }
    }
    async fn deliver_for_merge(&self, path: &SavePath, bytes: &[u8]) -> Result<(), StoreError> {
        match self {
            Self::BeforeBoot(s) => s.deliver_for_merge(path, bytes).await,
            Self::Running(s) => s.deliver_for_merge(path, bytes).await,
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

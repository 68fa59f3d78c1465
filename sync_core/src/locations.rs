//! Ren'Py's save locations: one save folder as the game sees it.
//!
//! Ren'Py writes every save slot to each of its save locations and, when it reads a slot,
//! shows the copy with the **newest mtime** (`MultiLocation.newest`). On desktop the
//! locations are `config.savedir`, `<game>/saves` and, from 8.1, `<savedir>/sync`; on the
//! web, the savedir and its `sync/`. A tool that writes or deletes a slot in the savedir
//! only is shadowed by the other copies: an older download stays invisible (the player then
//! overwrites it) and a deleted slot comes back.
//!
//! [`Locations`] wraps the device's save folder (the primary [`SaveStore`], which is
//! scanned and synced) and the other locations ([`SaveMirror`]s): every slot the engine
//! writes or deletes is written to or deleted from each mirror **first**, then the primary.
//! Until the primary changes the engine's state does not move, so a crash in between is
//! repaired by the next sync, which repeats the whole operation.
//!
//! `persistent` is never mirrored: Ren'Py merges it field by field from every location, so
//! the copies in the mirrors are merge sources, not shadows. A remote `persistent` is
//! delivered to the first mirror (`<game>/saves`, which every Ren'Py version reads; else
//! `sync/`, read from 8.1) — see [`SaveStore::deliver_for_merge`].
//!
//! Mirrors are given in Ren'Py's order and only when their folder exists (Ren'Py creates
//! each location when the game starts; a missing one holds no stale copies). A mirror that
//! is the primary folder itself (a game without `save_directory` saves in `<game>/saves`)
//! must not be given.

use crate::path::SavePath;
use crate::protocol::UnixMillis;
use crate::savemeta::is_save_file;
use crate::store::{Expect, LocalFile, SaveStore, StoreError};

/// The subfolder of the savedir that Ren'Py 8.1+ adds as a save location (also where
/// Ren'Py Sync downloads land).
pub const SYNC_FOLDER: &str = "sync";
/// The subfolder of the game folder (`config.gamedir`) that desktop Ren'Py uses as a
/// second save location.
pub const GAME_SAVES_FOLDER: &str = "saves";

/// Another folder Ren'Py keeps a copy of each save in. Paths are relative to it.
#[allow(
    async_fn_in_trait,
    reason = "no Send bound on purpose: the engine also runs in a browser"
)]
pub trait SaveMirror {
    /// Atomically replaces (or creates) the file, with `mtime` when given.
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
    ) -> Result<(), StoreError>;
    /// Deletes the file; a missing file is fine.
    async fn delete(&self, path: &SavePath) -> Result<(), StoreError>;
}

/// Whether Ren'Py keeps copies of `path` in every location: top-level slot files.
pub fn is_mirrored(path: &SavePath) -> bool {
    is_save_file(path) && !path.as_str().contains('/')
}

/// A save folder plus the other locations Ren'Py reads the same saves from.
#[derive(Debug, Clone)]
pub struct Locations<S, M> {
    primary: S,
    mirrors: Vec<M>,
}

impl<S: SaveStore, M: SaveMirror> Locations<S, M> {
    /// `mirrors` in Ren'Py's order (`<game>/saves`, then `<savedir>/sync`), existing only.
    pub fn new(primary: S, mirrors: Vec<M>) -> Self {
        Self { primary, mirrors }
    }

    pub fn primary(&self) -> &S {
        &self.primary
    }

    pub fn mirrors(&self) -> &[M] {
        &self.mirrors
    }
}

impl<S: SaveStore, M: SaveMirror> SaveStore for Locations<S, M> {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        self.primary.list().await
    }

    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        self.primary.read(path).await
    }

    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
        expect: Expect,
    ) -> Result<(), StoreError> {
        if is_mirrored(path) && !self.mirrors.is_empty() {
            // A save the game made since the scan keeps all its copies.
            self.primary.verify(path, expect).await?;
            for mirror in &self.mirrors {
                mirror.write(path, bytes, mtime).await?;
            }
        }
        self.primary.write(path, bytes, mtime, expect).await
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        if is_mirrored(path) && !self.mirrors.is_empty() {
            self.primary.verify(path, expect).await?;
            for mirror in &self.mirrors {
                mirror.delete(path).await?;
            }
        }
        self.primary.delete(path, expect).await
    }

    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        self.primary.verify(path, expect).await
    }

    async fn deliver_for_merge(&self, path: &SavePath, bytes: &[u8]) -> Result<(), StoreError> {
        match self.mirrors.first() {
            Some(first) => first.write(path, bytes, None).await,
            None => self.primary.deliver_for_merge(path, bytes).await,
        }
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.primary.load_state().await
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.primary.save_state(state).await
    }
}

/// A store with no mirrors, for places that need a `Locations` type but have no other
/// location (tests, a plain folder synced by the CLI without `--game-dir`).
#[derive(Debug, Clone, Copy)]
pub enum NoMirror {}

impl SaveMirror for NoMirror {
    async fn write(&self, _: &SavePath, _: &[u8], _: Option<UnixMillis>) -> Result<(), StoreError> {
        match *self {}
    }
    async fn delete(&self, _: &SavePath) -> Result<(), StoreError> {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_slots_are_mirrored() {
        let p = |s: &str| SavePath::new(s).expect("valid");
        assert!(is_mirrored(&p("1-1-LT1.save")));
        assert!(is_mirrored(&p("auto-3-LT1.save")));
        assert!(!is_mirrored(&p("persistent")));
        assert!(!is_mirrored(&p("sync/1-1-LT1.save")));
        assert!(!is_mirrored(&p("notes.txt")));
    }
}

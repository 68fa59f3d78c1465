//! Temp files and their durable publication under a blob's final name.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::io_err;
use crate::storage::ids::new_id;
use crate::storage::{StorageError, StorageResult};

/// An upload in progress. Removed on drop unless it was published.
pub struct TempFile {
    pub path: PathBuf,
    pub file: tokio::fs::File,
    published: bool,
}

impl TempFile {
    /// Creates a new, uniquely named temp file in `dir`.
    pub async fn create(dir: &Path) -> StorageResult<Self> {
        let path = dir.join(format!("{}.part", new_id()?));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| io_err("cannot create", &path, e))?;
        Ok(Self {
            path,
            file,
            published: false,
        })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.published {
            // Best effort; a leftover is removed at the next open once it is stale.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Moves a flushed temp file to `final_path` (under `root`) so that it survives a crash:
/// missing folders are created with their parents synced, then the rename is synced.
pub async fn publish(mut temp: TempFile, root: PathBuf, final_path: PathBuf) -> StorageResult<()> {
    let from = temp.path.clone();
    let done = tokio::task::spawn_blocking(move || -> StorageResult<()> {
        let dir = final_path
            .parent()
            .ok_or_else(|| StorageError::Unavailable("blob path has no folder".into()))?;
        create_dir_durably(&root, dir)?;
        std::fs::rename(&from, &final_path)
            .map_err(|e| io_err("cannot publish", &final_path, e))?;
        sync_dir(dir)
    })
    .await
    .map_err(|e| StorageError::Unavailable(format!("blob publish task failed: {e}")))?;
    if done.is_ok() {
        temp.published = true;
    }
    done
}

/// Creates `dir` and any missing ancestors below `root`, syncing each new folder's parent
/// so the new entry itself is durable.
fn create_dir_durably(root: &Path, dir: &Path) -> StorageResult<()> {
    if dir == root || dir.is_dir() {
        return Ok(());
    }
    let parent = dir
        .parent()
        .filter(|p| p.starts_with(root))
        .ok_or_else(|| {
            StorageError::Unavailable(format!("{} is outside the store", dir.display()))
        })?;
    create_dir_durably(root, parent)?;
    match std::fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        // Another upload created it at the same moment (and syncs it).
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err("cannot create", dir, e)),
    }
}

/// Flushes a folder's entries (new names, renames) to disk.
fn sync_dir(dir: &Path) -> StorageResult<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("cannot sync", dir, e))
    }
    #[cfg(not(unix))]
    {
        // Folders cannot be opened as files here; the rename is as durable as the OS makes it.
        let _ = dir;
        Ok(())
    }
}

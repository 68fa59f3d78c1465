//! The embedded blob store: content-addressed files on the local disk.
//!
//! Layout under the data directory: `blobs/<user_id>/<game>/<sha[0..2]>/<sha>`, and
//! `blobs/.tmp/<random>.part` for uploads in progress (a name no user id or game id can
//! take, on the same file system so publishing is an atomic rename). Game ids differ only
//! in case on a case-insensitive file system would share a folder; servers run on Linux.

mod publish;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use sync_core::ContentHash;
use sync_core::hash::Hasher;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use self::publish::{TempFile, publish};
use super::ids::is_safe_id;
use super::{BlobStore, ByteStream, Scope, StorageError, StorageResult};

/// Temp files untouched this long are leftovers of a crash (an upload in progress writes at
/// least once per body-chunk timeout): removed at open and by every sweep.
const STALE_TEMP: Duration = Duration::from_secs(10 * 60);
/// Read size when streaming a blob out.
const READ_CHUNK: usize = 64 * 1024;

/// File-system [`BlobStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    /// `<data_dir>/blobs`
    blobs: PathBuf,
    /// `<data_dir>/blobs/.tmp`
    tmp: PathBuf,
    /// Below this many free bytes on the disk, health fails and uploads are refused (503,
    /// retried later) while SQLite still has room to commit.
    min_free: u64,
}

/// The default of [`FileBlobStore::with_min_free`]: 64 MiB.
pub const DEFAULT_MIN_FREE: u64 = 64 * 1024 * 1024;

/// Bytes an unprivileged process may still write on the disk holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> StorageResult<u64> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| io_err("cannot measure", dir, e.into()))?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> StorageResult<u64> {
    Ok(u64::MAX)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Unavailable(format!("{what} {}: {e}", path.display()))
}

impl FileBlobStore {
    /// Opens (creating if needed) the blob folders under the data directory `root` and
    /// removes temp files a crash left behind.
    pub fn open(root: &Path) -> Result<Self, StorageError> {
        let blobs = root.join("blobs");
        let tmp = blobs.join(".tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        remove_temps_older_than(&tmp, STALE_TEMP)?;
        Ok(Self {
            blobs,
            tmp,
            min_free: DEFAULT_MIN_FREE,
        })
    }

    /// The free space below which the store counts the disk as full.
    pub fn with_min_free(self, min_free: u64) -> Self {
        Self { min_free, ..self }
    }

    /// `Unavailable` when writing `extra` bytes would leave less than the minimum free.
    fn ensure_room(&self, extra: u64) -> StorageResult<()> {
        let free = free_bytes(&self.blobs)?;
        if free < self.min_free.saturating_add(extra) {
            return Err(StorageError::Unavailable(format!(
                "the disk is full: {} MiB free, {} MiB kept free",
                free / (1024 * 1024),
                self.min_free / (1024 * 1024)
            )));
        }
        Ok(())
    }

    /// Where a blob lives. Refuses a user id that is not a plain identifier: ids are
    /// server-generated, so this only fires on a bug, but it keeps paths inside `blobs`.
    fn blob_path(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<PathBuf> {
        if !is_safe_id(&scope.user_id) {
            return Err(StorageError::Unavailable(format!(
                "refusing unsafe user id {:?} in a blob path",
                scope.user_id
            )));
        }
        // `GameId` is validated: ASCII letters, digits, `.`, `_`, `-`, never starting with '.'.
        let hex = sha256.to_hex();
        Ok(self
            .blobs
            .join(&scope.user_id)
            .join(scope.game.as_str())
            .join(&hex[..2])
            .join(hex))
    }
}

fn remove_temps_older_than(tmp: &Path, age: Duration) -> StorageResult<()> {
    let entries = std::fs::read_dir(tmp).map_err(|e| io_err("cannot list", tmp, e))?;
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= age);
        if stale && path.extension().is_some_and(|x| x == "part") {
            // Best effort: a leftover we cannot remove is only wasted space.
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Reads the whole body, hashing it and writing it to `sink` if given. Fails with
/// `Mismatch` as soon as the body is longer than `size`, and at the end if it is shorter
/// or hashes to something else.
/// Bytes gathered before each write to the temp file.
const WRITE_BUFFER: usize = 256 << 10;

async fn receive(
    mut body: ByteStream,
    sha256: &ContentHash,
    size: u64,
    sink: Option<&mut TempFile>,
) -> StorageResult<()> {
    let mut hasher = Hasher::new();
    let mut received: u64 = 0;
    // Large writes: every tokio file write is a hop to the blocking pool, and body chunks
    // are small, so unbuffered writes would cap uploads far below disk speed.
    let mut sink = sink.map(|t| {
        (
            tokio::io::BufWriter::with_capacity(
                WRITE_BUFFER
                    .min(usize::try_from(size).unwrap_or(WRITE_BUFFER))
                    .max(1),
                &mut t.file,
            ),
            &t.path,
        )
    });
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| StorageError::Mismatch(format!("the upload was cut off: {e}")))?;
        received = received.saturating_add(chunk.len() as u64);
        if received > size {
            return Err(StorageError::Mismatch(format!(
                "the body is longer than the declared {size} bytes"
            )));
        }
        hasher.update(&chunk);
        if let Some((writer, path)) = sink.as_mut() {
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| io_err("cannot write", path, e))?;
        }
    }
    if let Some((writer, path)) = sink.as_mut() {
        writer
            .flush()
            .await
            .map_err(|e| io_err("cannot write", path, e))?;
    }
    if received != size {
        return Err(StorageError::Mismatch(format!(
            "the body has {received} bytes, not the declared {size}"
        )));
    }
    let got = hasher.finish();
    if got != *sha256 {
        return Err(StorageError::Mismatch(format!(
            "the body hashes to {got}, not {sha256}"
        )));
    }
    Ok(())
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn health(&self) -> StorageResult<()> {
        for dir in [&self.blobs, &self.tmp] {
            let meta = tokio::fs::metadata(dir)
                .await
                .map_err(|e| io_err("cannot reach", dir, e))?;
            if !meta.is_dir() {
                return Err(StorageError::Unavailable(format!(
                    "{} is not a folder",
                    dir.display()
                )));
            }
        }
        self.ensure_room(0)
    }

    async fn exists(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
        let path = self.blob_path(scope, sha256)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("cannot check", &path, e)),
        }
    }

    async fn put(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        size: u64,
        body: ByteStream,
    ) -> StorageResult<()> {
        let final_path = self.blob_path(scope, sha256)?;
        if self.exists(scope, sha256).await? {
            // Content-addressed: the stored bytes are already right. The body is still
            // verified, so a bad upload is reported the same way either way.
            return receive(body, sha256, size, None).await;
        }
        self.ensure_room(size)?;
        // The guard removes the temp file on every early return and on cancellation.
        let mut temp = TempFile::create(&self.tmp).await?;
        receive(body, sha256, size, Some(&mut temp)).await?;
        temp.file
            .sync_all()
            .await
            .map_err(|e| io_err("cannot flush", &temp.path, e))?;
        publish(temp, self.blobs.clone(), final_path).await
    }

    async fn remove_stale_uploads(&self) -> StorageResult<()> {
        let tmp = self.tmp.clone();
        tokio::task::spawn_blocking(move || remove_temps_older_than(&tmp, STALE_TEMP))
            .await
            .map_err(|e| StorageError::Unavailable(format!("temp sweep failed: {e}")))?
    }

    async fn delete(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        let path = self.blob_path(scope, sha256)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot delete", &path, e)),
        }
    }

    async fn get(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
    ) -> StorageResult<Option<(u64, ByteStream)>> {
        let path = self.blob_path(scope, sha256)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot open", &path, e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|e| io_err("cannot stat", &path, e))?
            .len();
        let stream: ByteStream = Box::pin(ReaderStream::with_capacity(file, READ_CHUNK));
        Ok(Some((size, stream)))
    }
}

//! The embedded metadata store: one SQLite database file in WAL mode.
//!
//! SQLite calls block, so every call runs on tokio's blocking pool. Writes go through one
//! writer connection (SQLite allows one writer at a time anyway, and serializing
//! in-process avoids busy retries); reads use a few reader connections, which WAL lets run
//! concurrently with each other and with the writer. Callers wait for a connection on an
//! async mutex, so hundreds of waiting clients hold no blocking-pool threads.

mod accounts;
mod leases;
mod manifest;
mod rows;
pub mod schema;
mod store;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use self::rows::db_err;
use super::{StorageError, StorageResult};

/// How many read connections to keep. Reads are short point or range queries; a few
/// connections keep both cores busy without holding many file handles.
const READERS: usize = 4;

/// SQLite-backed [`super::MetadataStore`]. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteMetadataStore {
    pool: Arc<Pool>,
}

struct Pool {
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

impl Pool {
    /// A free reader if there is one, else the next one in turn once it is free.
    async fn reader(&self) -> OwnedMutexGuard<Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = Arc::clone(&self.readers[(start + i) % n]).try_lock_owned() {
                return guard;
            }
        }
        Arc::clone(&self.readers[start % n]).lock_owned().await
    }
}

impl SqliteMetadataStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL mode and
    /// migrates its schema to the current version.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut writer = Connection::open(path).map_err(db_err)?;
        schema::configure(&writer)?;
        schema::enable_wal(&writer)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_reader(path).map(|c| Arc::new(Mutex::new(c))))
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Self {
            pool: Arc::new(Pool {
                writer: Arc::new(Mutex::new(writer)),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// The schema version recorded in the database file.
    pub async fn schema_version(&self) -> StorageResult<i64> {
        self.read(|conn| schema::schema_version(conn)).await
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StorageResult<T> + Send + 'static,
    {
        let mut conn = self.pool.reader().await;
        run_blocking(move || f(&mut conn)).await
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StorageResult<T> + Send + 'static,
    {
        let mut conn = Arc::clone(&self.pool.writer).lock_owned().await;
        run_blocking(move || f(&mut conn)).await
    }
}

fn open_reader(path: &Path) -> StorageResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err)?;
    schema::configure(&conn)?;
    // A reader must never write: a bug that tries fails loudly instead of racing the writer.
    conn.pragma_update(None, "query_only", "ON")
        .map_err(db_err)?;
    Ok(conn)
}

async fn run_blocking<T, F>(f: F) -> StorageResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StorageResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Unavailable(format!("database task failed: {e}")))?
}

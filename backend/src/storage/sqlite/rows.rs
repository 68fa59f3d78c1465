//! Conversions between SQLite rows and our types.

use rusqlite::Row;
use rusqlite::types::Type;
use sync_core::protocol::{Entry, HistoryVersion};
use sync_core::savemeta::SaveMeta;
use sync_core::{ContentHash, SavePath};

use crate::storage::StorageError;

/// Every SQLite failure, a corrupt row included, is the backing service failing (the
/// uniqueness rules callers see are expressed with `ON CONFLICT` and checked explicitly).
pub fn db_err(e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(format!("sqlite: {e}"))
}

fn bad_column(index: usize, ty: Type, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, ty, why.into())
}

/// Reads a 32-byte SHA-256 column.
pub fn hash_at(row: &Row<'_>, index: usize) -> rusqlite::Result<ContentHash> {
    let bytes: Vec<u8> = row.get(index)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        bad_column(index, Type::Blob, format!("sha256 of {} bytes", b.len()))
    })?;
    Ok(ContentHash(bytes))
}

fn path_at(row: &Row<'_>, index: usize) -> rusqlite::Result<SavePath> {
    let raw: String = row.get(index)?;
    SavePath::new(&raw).map_err(|e| bad_column(index, Type::Text, format!("{raw:?}: {e}")))
}

fn meta_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<SaveMeta>> {
    let raw: Option<String> = row.get(index)?;
    raw.map(|json| {
        serde_json::from_str(&json).map_err(|e| bad_column(index, Type::Text, e.to_string()))
    })
    .transpose()
}

/// Save metadata as stored (JSON text, `NULL` when absent).
pub fn meta_json(meta: Option<&SaveMeta>) -> Result<Option<String>, StorageError> {
    meta.map(|m| {
        serde_json::to_string(m)
            .map_err(|e| StorageError::Unavailable(format!("cannot encode save metadata: {e}")))
    })
    .transpose()
}

/// Columns [`entry_from_row`] reads, in order.
pub const ENTRY_COLUMNS: &str =
    "path, sha256, size, version, seq, device_id, deleted, mtime, committed_at, meta";

pub fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        path: path_at(row, 0)?,
        sha256: hash_at(row, 1)?,
        size: row.get(2)?,
        version: row.get(3)?,
        seq: row.get(4)?,
        device_id: row.get(5)?,
        deleted: row.get(6)?,
        mtime: row.get(7)?,
        committed_at: row.get(8)?,
        meta: meta_at(row, 9)?,
    })
}

/// Columns [`version_from_row`] reads, in order.
pub const VERSION_COLUMNS: &str =
    "version, sha256, size, device_id, deleted, archived, mtime, committed_at, meta";

/// A history version; `current` says whether it is the file's current version.
pub fn version_from_row(
    row: &Row<'_>,
    current_version: Option<u64>,
) -> rusqlite::Result<HistoryVersion> {
    let version: u64 = row.get(0)?;
    Ok(HistoryVersion {
        version,
        sha256: hash_at(row, 1)?,
        size: row.get(2)?,
        device_id: row.get(3)?,
        deleted: row.get(4)?,
        archived: row.get(5)?,
        current: current_version == Some(version),
        mtime: row.get(6)?,
        committed_at: row.get(7)?,
        meta: meta_at(row, 8)?,
    })
}

//! Connection settings and schema migrations (numbered by `PRAGMA user_version`).

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::rows::db_err;
use crate::storage::{StorageError, StorageResult};

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only: never edit a
/// migration that has shipped.
const MIGRATIONS: &[&str] = &[
    V1_INITIAL,
    V2_DEVICE_KEYS,
    V3_BLOB_LEASES,
    V4_SPENT_REFRESH_TOKENS,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

const V1_INITIAL: &str = r#"
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    -- case-folded username (ids::username_key): uniqueness ignores letter case
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    device_id    TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER
) STRICT;
CREATE INDEX devices_by_user ON devices(user_id, created_at);

-- Only SHA-256 digests of tokens and codes are stored: a leaked database signs nobody in.
CREATE TABLE refresh_tokens (
    token_sha256 BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    device_id    TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_tokens_by_device ON refresh_tokens(device_id);

CREATE TABLE pairing_codes (
    code_sha256 BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
) STRICT;

-- One row per user and game: the change-feed cursor and the live usage the quota checks.
CREATE TABLE scopes (
    user_id    TEXT NOT NULL,
    game       TEXT NOT NULL,
    cursor     INTEGER NOT NULL,
    live_bytes INTEGER NOT NULL,
    live_files INTEGER NOT NULL,
    PRIMARY KEY (user_id, game)
) STRICT, WITHOUT ROWID;

-- The current entry of every file (tombstones included).
CREATE TABLE files (
    user_id      TEXT NOT NULL,
    game         TEXT NOT NULL,
    path         TEXT NOT NULL,
    sha256       BLOB NOT NULL,
    size         INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    device_id    TEXT NOT NULL,
    deleted      INTEGER NOT NULL,
    mtime        INTEGER,
    committed_at INTEGER NOT NULL,
    meta         TEXT,
    PRIMARY KEY (user_id, game, path)
) STRICT;
-- Feed order; unique because every change of a current entry takes the next seq.
CREATE UNIQUE INDEX files_by_seq ON files(user_id, game, seq);

-- Every version of every file, archived conflict losers and tombstones included.
CREATE TABLE versions (
    user_id      TEXT NOT NULL,
    game         TEXT NOT NULL,
    path         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    sha256       BLOB NOT NULL,
    size         INTEGER NOT NULL,
    device_id    TEXT NOT NULL,
    deleted      INTEGER NOT NULL,
    archived     INTEGER NOT NULL,
    mtime        INTEGER,
    committed_at INTEGER NOT NULL,
    meta         TEXT,
    PRIMARY KEY (user_id, game, path, version)
) STRICT;
"#;

/// Each device's Ren'Py save-token verifying keys, a JSON array of base64 strings.
const V2_DEVICE_KEYS: &str = r#"
ALTER TABLE devices ADD COLUMN renpy_keys TEXT NOT NULL DEFAULT '[]';
"#;

/// Leases keep uploaded blobs from the garbage collector until a version refers to them
/// (see `storage::BlobLease`); the index on versions answers "does anything refer to it".
const V3_BLOB_LEASES: &str = r#"
CREATE TABLE blob_leases (
    user_id    TEXT NOT NULL,
    game       TEXT NOT NULL,
    sha256     BLOB NOT NULL,
    size       INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- 1 until a commit refers to the blob: counted against the pending-upload budget
    pending    INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    -- 1 once the collector took it over: the blob is being deleted
    collecting INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, game, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_leases_by_expiry ON blob_leases(expires_at);
CREATE INDEX versions_by_blob ON versions(user_id, game, sha256);
"#;

/// Rotated refresh tokens, kept for a while so that a replay (a stolen token used after
/// its owner, or the other way round) signs the device out.
const V4_SPENT_REFRESH_TOKENS: &str = r#"
CREATE TABLE spent_refresh_tokens (
    token_sha256 BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    device_id    TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    spent_at     INTEGER NOT NULL,
    keep_until   INTEGER NOT NULL
) STRICT;
CREATE INDEX spent_refresh_tokens_by_device ON spent_refresh_tokens(device_id, keep_until);
"#;

/// Settings every connection needs.
///
/// `synchronous=FULL`: in WAL mode `NORMAL` may lose the last commits on power loss. A
/// commit we acknowledged must survive, like the fsynced blob it points to; otherwise a
/// client would hold a base version the server no longer has. The cost is one WAL fsync
/// per commit, small next to the upload that precedes it.
pub fn configure(conn: &Connection) -> StorageResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.pragma_update(None, "trusted_schema", "OFF")
        .map_err(db_err)?;
    Ok(())
}

/// Switches the database to write-ahead logging (persistent in the file): readers then
/// never block the writer nor each other.
pub fn enable_wal(conn: &Connection) -> StorageResult<()> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(db_err)?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StorageError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )))
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction; a no-op when it is current.
/// Refuses a database written by a newer server.
pub fn migrate(conn: &mut Connection) -> StorageResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db_err)?;
    let found = usize::try_from(found).unwrap_or(usize::MAX);
    if found > SCHEMA_VERSION {
        return Err(StorageError::Unavailable(format!(
            "database schema version {found} is newer than this server's {SCHEMA_VERSION}"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

/// The schema version recorded in the database.
pub fn schema_version(conn: &Connection) -> StorageResult<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db_err)
}

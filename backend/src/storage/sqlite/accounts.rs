//! Users, devices, refresh tokens and pairing codes (blocking calls on one connection).

use rusqlite::{Connection, OptionalExtension, Row, params};
use sync_core::ContentHash;
use sync_core::protocol::UnixMillis;

use super::rows::db_err;
use crate::storage::ids::{new_id, username_key};
use crate::storage::{DeviceRecord, RefreshRecord, StorageError, StorageResult, UserRecord};

const USER_COLUMNS: &str = "user_id, username, password_hash, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        user_id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        created_at: row.get(3)?,
    })
}

pub fn create_user(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    now: UnixMillis,
) -> StorageResult<UserRecord> {
    let user = UserRecord {
        user_id: new_id()?,
        username: username.to_owned(),
        password_hash: password_hash.to_owned(),
        created_at: now,
    };
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (user_id, username, username_key, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username_key) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                user.user_id,
                user.username,
                username_key(username),
                user.password_hash,
                user.created_at
            ])
        })
        .map_err(db_err)?;
    if inserted == 0 {
        return Err(StorageError::AlreadyExists(format!(
            "the username {username:?} is taken"
        )));
    }
    Ok(user)
}

pub fn user_by_name(conn: &Connection, username: &str) -> StorageResult<Option<UserRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username_key = ?1"
    ))
    .and_then(|mut s| {
        s.query_row([username_key(username)], user_from_row)
            .optional()
    })
    .map_err(db_err)
}

pub fn user_by_id(conn: &Connection, user_id: &str) -> StorageResult<Option<UserRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"
    ))
    .and_then(|mut s| s.query_row([user_id], user_from_row).optional())
    .map_err(db_err)
}

const DEVICE_COLUMNS: &str = "device_id, user_id, name, created_at, last_seen_at, renpy_keys";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        device_id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        created_at: row.get(3)?,
        last_seen_at: row.get(4)?,
        renpy_keys: {
            let raw: String = row.get(5)?;
            // Written only by `set_device_keys` as a JSON array; anything else reads as none.
            serde_json::from_str(&raw).unwrap_or_default()
        },
    })
}

pub fn create_device(
    conn: &Connection,
    user_id: &str,
    name: &str,
    now: UnixMillis,
) -> StorageResult<DeviceRecord> {
    let device = DeviceRecord::new(user_id, name, now)?;
    conn.prepare_cached(
        "INSERT INTO devices (device_id, user_id, name, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, NULL)",
    )
    .and_then(|mut s| {
        s.execute(params![
            device.device_id,
            device.user_id,
            device.name,
            device.created_at
        ])
    })
    .map_err(db_err)?;
    Ok(device)
}

pub fn device(conn: &Connection, device_id: &str) -> StorageResult<Option<DeviceRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = ?1"
    ))
    .and_then(|mut s| s.query_row([device_id], device_from_row).optional())
    .map_err(db_err)
}

pub fn list_devices(conn: &Connection, user_id: &str) -> StorageResult<Vec<DeviceRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = ?1 ORDER BY created_at, device_id"
    ))
    .and_then(|mut s| {
        s.query_map([user_id], device_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db_err)
}

pub fn touch_device(conn: &Connection, device_id: &str, now: UnixMillis) -> StorageResult<()> {
    conn.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE device_id = ?1")
        .and_then(|mut s| s.execute(params![device_id, now]))
        .map_err(db_err)?;
    Ok(())
}

pub fn set_device_keys(
    conn: &Connection,
    user_id: &str,
    device_id: &str,
    keys: &[String],
) -> StorageResult<bool> {
    let json = serde_json::to_string(keys).map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let updated = conn
        .prepare_cached("UPDATE devices SET renpy_keys = ?3 WHERE device_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.execute(params![device_id, user_id, json]))
        .map_err(db_err)?;
    Ok(updated > 0)
}

/// Deletes the device if it belongs to `user_id`; its refresh tokens go with it
/// (`ON DELETE CASCADE`, foreign keys are on for every connection).
pub fn delete_device(conn: &Connection, user_id: &str, device_id: &str) -> StorageResult<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM devices WHERE device_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.execute(params![device_id, user_id]))
        .map_err(db_err)?;
    Ok(deleted > 0)
}

pub fn put_refresh_token(
    conn: &Connection,
    token_sha256: &ContentHash,
    record: &RefreshRecord,
) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_sha256, user_id, device_id, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            token_sha256.0,
            record.user_id,
            record.device_id,
            record.expires_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

/// Deletes and returns in one statement, so two refreshes racing with the same token cannot
/// both get it.
pub fn take_refresh_token(
    conn: &Connection,
    token_sha256: &ContentHash,
) -> StorageResult<Option<RefreshRecord>> {
    conn.prepare_cached(
        "DELETE FROM refresh_tokens WHERE token_sha256 = ?1
         RETURNING user_id, device_id, expires_at",
    )
    .and_then(|mut s| {
        s.query_row([token_sha256.0], |row| {
            Ok(RefreshRecord {
                user_id: row.get(0)?,
                device_id: row.get(1)?,
                expires_at: row.get(2)?,
            })
        })
        .optional()
    })
    .map_err(db_err)
}

pub fn put_spent_refresh_token(
    conn: &Connection,
    token_sha256: &ContentHash,
    record: &RefreshRecord,
    spent_at: UnixMillis,
) -> StorageResult<()> {
    // The device's forgotten ones go first: at most one row per rotation in the window.
    conn.prepare_cached(
        "DELETE FROM spent_refresh_tokens WHERE device_id = ?1 AND keep_until < ?2",
    )
    .and_then(|mut s| s.execute(params![record.device_id, spent_at]))
    .map_err(db_err)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO spent_refresh_tokens
             (token_sha256, user_id, device_id, spent_at, keep_until)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = ?3)",
    )
    .and_then(|mut s| {
        s.execute(params![
            token_sha256.0,
            record.user_id,
            record.device_id,
            spent_at,
            record.expires_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub fn spent_refresh_token(
    conn: &Connection,
    token_sha256: &ContentHash,
    now: UnixMillis,
) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
    conn.prepare_cached(
        "SELECT user_id, device_id, keep_until, spent_at FROM spent_refresh_tokens
         WHERE token_sha256 = ?1 AND keep_until >= ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![token_sha256.0, now], |row| {
            Ok((
                RefreshRecord {
                    user_id: row.get(0)?,
                    device_id: row.get(1)?,
                    expires_at: row.get(2)?,
                },
                row.get(3)?,
            ))
        })
        .optional()
    })
    .map_err(db_err)
}

pub fn put_pairing_code(
    conn: &Connection,
    code_sha256: &ContentHash,
    user_id: &str,
    expires_at: UnixMillis,
) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT INTO pairing_codes (code_sha256, user_id, expires_at) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![code_sha256.0, user_id, expires_at]))
    .map_err(db_err)?;
    Ok(())
}

/// Consumes a live code in one statement (single use even under concurrent claims), then
/// drops every code that expired by `now` (they can never be claimed).
pub fn claim_pairing_code(
    conn: &Connection,
    code_sha256: &ContentHash,
    now: UnixMillis,
) -> StorageResult<Option<String>> {
    let user_id = conn
        .prepare_cached(
            "DELETE FROM pairing_codes WHERE code_sha256 = ?1 AND expires_at > ?2
             RETURNING user_id",
        )
        .and_then(|mut s| {
            s.query_row(params![code_sha256.0, now], |row| row.get(0))
                .optional()
        })
        .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM pairing_codes WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .map_err(db_err)?;
    Ok(user_id)
}

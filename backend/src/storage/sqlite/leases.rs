//! Blob leases: what protects uploaded blobs from the garbage collector (see
//! `storage::BlobLease`). Blocking calls; each write is one `BEGIN IMMEDIATE` transaction or
//! part of the commit's.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sync_core::protocol::UnixMillis;
use sync_core::{ContentHash, GameId};

use super::rows::{db_err, hash_at};
use crate::storage::commit_plan::check_pending;
use crate::storage::{BlobLease, LeaseRequest, Scope, StorageError, StorageResult};

/// Bytes of the scope's pending leases whose expiry is not older than `since`.
fn pending_bytes(tx: &Transaction<'_>, scope: &Scope, since: UnixMillis) -> StorageResult<u64> {
    tx.prepare_cached(
        "SELECT COALESCE(SUM(size), 0) FROM blob_leases
         WHERE user_id = ?1 AND game = ?2 AND pending = 1 AND collecting = 0
             AND expires_at >= ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![scope.user_id, scope.game.as_str(), since], |r| {
            r.get(0)
        })
    })
    .map_err(db_err)
}

/// Whether the collector holds the lease of `sha256`.
fn is_collecting(tx: &Transaction<'_>, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
    let found: Option<bool> = tx
        .prepare_cached(
            "SELECT collecting FROM blob_leases WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![scope.user_id, scope.game.as_str(), sha256.0], |r| {
                r.get(0)
            })
            .optional()
        })
        .map_err(db_err)?;
    Ok(found.unwrap_or(false))
}

pub fn lease_blobs(
    conn: &mut Connection,
    scope: &Scope,
    blobs: &[LeaseRequest],
    expires_at: UnixMillis,
    max_pending: u64,
    pending_since: UnixMillis,
) -> StorageResult<Vec<ContentHash>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let before = pending_bytes(&tx, scope, pending_since)?;
    let mut collecting = Vec::new();
    for blob in blobs {
        if is_collecting(&tx, scope, &blob.sha256)? {
            collecting.push(blob.sha256);
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO blob_leases (user_id, game, sha256, size, expires_at, pending,
                 generation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
             ON CONFLICT (user_id, game, sha256) DO UPDATE SET
                 expires_at = MAX(expires_at, excluded.expires_at),
                 generation = generation + 1",
        )
        .and_then(|mut s| {
            s.execute(params![
                scope.user_id,
                scope.game.as_str(),
                blob.sha256.0,
                blob.size,
                expires_at,
                !blob.stored
            ])
        })
        .map_err(db_err)?;
    }
    let after = pending_bytes(&tx, scope, pending_since)?;
    // Refused: the transaction rolls back on drop and nothing was leased.
    check_pending(before, after, max_pending)?;
    tx.commit().map_err(db_err)?;
    Ok(collecting)
}

/// Renews the leases of blobs a commit's new versions refer to, in the commit's
/// transaction; `BlobMissing` for a blob without a lease or whose lease the collector holds.
pub fn renew_for_commit<'a>(
    tx: &Transaction<'_>,
    scope: &Scope,
    blobs: impl IntoIterator<Item = &'a ContentHash>,
    now: UnixMillis,
) -> StorageResult<()> {
    let mut renew = tx
        .prepare_cached(
            "UPDATE blob_leases SET expires_at = MAX(expires_at, ?4), pending = 0,
                 generation = generation + 1
             WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3 AND collecting = 0",
        )
        .map_err(db_err)?;
    for sha256 in blobs {
        let renewed = renew
            .execute(params![scope.user_id, scope.game.as_str(), sha256.0, now])
            .map_err(db_err)?;
        if renewed == 0 {
            return Err(StorageError::BlobMissing(*sha256));
        }
    }
    Ok(())
}

/// Leases a blob whose version was pruned, expiring at `now`, so the collector looks at it
/// (an existing lease is left as it is).
pub fn lease_for_collection(
    tx: &Transaction<'_>,
    scope: &Scope,
    sha256: &ContentHash,
    size: u64,
    now: UnixMillis,
) -> StorageResult<()> {
    tx.prepare_cached(
        "INSERT INTO blob_leases (user_id, game, sha256, size, expires_at, pending, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 1)
         ON CONFLICT (user_id, game, sha256) DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            scope.user_id,
            scope.game.as_str(),
            sha256.0,
            size,
            now
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub fn expired_leases(
    conn: &Connection,
    scope: &Scope,
    cutoff: UnixMillis,
    limit: usize,
) -> StorageResult<Vec<BlobLease>> {
    conn.prepare_cached(
        "SELECT sha256, size, expires_at, generation, collecting FROM blob_leases
         WHERE user_id = ?1 AND game = ?2 AND expires_at < ?3 ORDER BY expires_at LIMIT ?4",
    )
    .and_then(|mut s| {
        s.query_map(
            params![scope.user_id, scope.game.as_str(), cutoff, limit as i64],
            |row| {
                Ok(BlobLease {
                    sha256: hash_at(row, 0)?,
                    size: row.get(1)?,
                    expires_at: row.get(2)?,
                    generation: row.get(3)?,
                    collecting: row.get(4)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db_err)
}

pub fn scopes_with_expired_leases(
    conn: &Connection,
    cutoff: UnixMillis,
    limit: usize,
) -> StorageResult<Vec<Scope>> {
    let rows: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT DISTINCT user_id, game FROM blob_leases WHERE expires_at < ?1 LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![cutoff, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(user_id, game)| {
            let game = GameId::new(&game).map_err(|e| {
                StorageError::Unavailable(format!("corrupt game id {game:?} in a lease: {e}"))
            })?;
            Ok(Scope { user_id, game })
        })
        .collect()
}

pub fn start_collecting(
    conn: &mut Connection,
    scope: &Scope,
    lease: &BlobLease,
) -> StorageResult<bool> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let key = params![
        scope.user_id,
        scope.game.as_str(),
        lease.sha256.0,
        lease.generation
    ];
    let referenced: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM versions
                 WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3)",
        )
        .and_then(|mut s| {
            s.query_row(
                params![scope.user_id, scope.game.as_str(), lease.sha256.0],
                |r| r.get(0),
            )
        })
        .map_err(db_err)?;
    let sql = if referenced {
        "DELETE FROM blob_leases
         WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3 AND generation = ?4"
    } else {
        "UPDATE blob_leases SET collecting = 1
         WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3 AND generation = ?4"
    };
    let taken = tx
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(key))
        .map_err(db_err)?;
    tx.commit().map_err(db_err)?;
    Ok(taken > 0 && !referenced)
}

pub fn finish_collecting(
    conn: &mut Connection,
    scope: &Scope,
    sha256: &ContentHash,
) -> StorageResult<()> {
    conn.prepare_cached(
        "DELETE FROM blob_leases
         WHERE user_id = ?1 AND game = ?2 AND sha256 = ?3 AND collecting = 1",
    )
    .and_then(|mut s| s.execute(params![scope.user_id, scope.game.as_str(), sha256.0]))
    .map_err(db_err)?;
    Ok(())
}

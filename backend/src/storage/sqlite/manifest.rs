//! Manifests, history, commits and restores (blocking calls on one connection).
//!
//! Commits and restores run in one `BEGIN IMMEDIATE` transaction: the write lock is taken
//! before anything is read, so the state [`plan_commit`] decides on cannot change before
//! the plan is written.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sync_core::SavePath;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};

use super::leases::{lease_for_collection, renew_for_commit};
use super::rows::{
    ENTRY_COLUMNS, VERSION_COLUMNS, db_err, entry_from_row, meta_json, version_from_row,
};
use crate::storage::commit_plan::{
    CommitPlan, FileState, check_quota, plan_commit, restore_op, restored_entry, versions_to_prune,
};
use crate::storage::{Quota, Retention, Scope, StorageResult, Usage, page_of};

/// The scope's cursor and live usage (zero for a scope never written).
fn scope_row(conn: &Connection, scope: &Scope) -> StorageResult<(Seq, Usage)> {
    let row = conn
        .prepare_cached(
            "SELECT cursor, live_bytes, live_files FROM scopes WHERE user_id = ?1 AND game = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![scope.user_id, scope.game.as_str()], |row| {
                Ok((
                    row.get(0)?,
                    Usage {
                        bytes: row.get(1)?,
                        files: row.get(2)?,
                    },
                ))
            })
            .optional()
        })
        .map_err(db_err)?;
    Ok(row.unwrap_or_default())
}

fn current_entry(
    conn: &Connection,
    scope: &Scope,
    path: &SavePath,
) -> StorageResult<Option<Entry>> {
    conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM files WHERE user_id = ?1 AND game = ?2 AND path = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(
            params![scope.user_id, scope.game.as_str(), path.as_str()],
            entry_from_row,
        )
        .optional()
    })
    .map_err(db_err)
}

fn file_state(conn: &Connection, scope: &Scope, path: &SavePath) -> StorageResult<FileState> {
    let max_version: Version = conn
        .prepare_cached(
            "SELECT COALESCE(MAX(version), 0) FROM versions
             WHERE user_id = ?1 AND game = ?2 AND path = ?3",
        )
        .and_then(|mut s| {
            s.query_row(
                params![scope.user_id, scope.game.as_str(), path.as_str()],
                |r| r.get(0),
            )
        })
        .map_err(db_err)?;
    Ok(FileState {
        current: current_entry(conn, scope, path)?,
        max_version,
    })
}

pub fn changes_since(
    conn: &mut Connection,
    scope: &Scope,
    since: Option<Seq>,
) -> StorageResult<(Seq, Vec<Entry>)> {
    let (cursor, entries, _) = changes_page(conn, scope, since, usize::MAX)?;
    Ok((cursor, entries))
}

/// At most `limit` changes (one more is read to know whether more follow).
pub fn changes_page(
    conn: &mut Connection,
    scope: &Scope,
    since: Option<Seq>,
    limit: usize,
) -> StorageResult<(Seq, Vec<Entry>, bool)> {
    // One read transaction: the cursor and the entries come from the same snapshot.
    let tx = conn.transaction().map_err(db_err)?;
    let (cursor, _) = scope_row(&tx, scope)?;
    let entries = tx
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM files
             WHERE user_id = ?1 AND game = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4"
        ))
        .and_then(|mut s| {
            s.query_map(
                params![
                    scope.user_id,
                    scope.game.as_str(),
                    since.unwrap_or(0),
                    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
                ],
                entry_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    tx.finish().map_err(db_err)?;
    Ok(page_of(cursor, entries, limit))
}

pub fn usage(conn: &Connection, scope: &Scope) -> StorageResult<Usage> {
    Ok(scope_row(conn, scope)?.1)
}

pub fn history(
    conn: &mut Connection,
    scope: &Scope,
    path: &SavePath,
) -> StorageResult<Vec<HistoryVersion>> {
    let tx = conn.transaction().map_err(db_err)?;
    let (_, versions) = versions_of(&tx, scope, path)?;
    tx.finish().map_err(db_err)?;
    Ok(versions)
}

/// A file's current version and every version it has, newest first.
fn versions_of(
    conn: &Connection,
    scope: &Scope,
    path: &SavePath,
) -> StorageResult<(Option<Version>, Vec<HistoryVersion>)> {
    let current = current_entry(conn, scope, path)?.map(|e| e.version);
    let versions = conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions
             WHERE user_id = ?1 AND game = ?2 AND path = ?3 ORDER BY version DESC"
        ))
        .and_then(|mut s| {
            s.query_map(
                params![scope.user_id, scope.game.as_str(), path.as_str()],
                |row| version_from_row(row, current),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    Ok((current, versions))
}

/// Drops the versions `retention` does not keep from the history of `paths`, leasing their
/// blobs for the collector.
fn prune(
    tx: &Transaction<'_>,
    scope: &Scope,
    paths: impl IntoIterator<Item = SavePath>,
    retention: Retention,
    now: UnixMillis,
) -> StorageResult<()> {
    for path in paths {
        let (current, versions) = versions_of(tx, scope, &path)?;
        for old in versions_to_prune(&versions, current, retention, now) {
            lease_for_collection(tx, scope, &old.sha256, old.size, now)?;
            tx.prepare_cached(
                "DELETE FROM versions
                 WHERE user_id = ?1 AND game = ?2 AND path = ?3 AND version = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    scope.user_id,
                    scope.game.as_str(),
                    path.as_str(),
                    old.version
                ])
            })
            .map_err(db_err)?;
        }
    }
    Ok(())
}

pub fn commit(
    conn: &mut Connection,
    scope: &Scope,
    device_id: &str,
    ops: &[CommitOp],
    quota: Quota,
    now: UnixMillis,
) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let (cursor, before) = scope_row(&tx, scope)?;
    let plan = plan_commit(cursor, before, ops, device_id, now, |path| {
        file_state(&tx, scope, path)
    })?;
    // Refused: the transaction rolls back on drop and nothing was written.
    check_quota(before, plan.usage, quota)?;
    renew_for_commit(&tx, scope, &plan.leased_blobs(), now)?;
    write_plan(&tx, scope, &plan)?;
    prune(&tx, scope, plan.touched_paths(), quota.retention, now)?;
    tx.commit().map_err(db_err)?;
    Ok((plan.cursor, plan.outcomes))
}

pub fn restore(
    conn: &mut Connection,
    scope: &Scope,
    path: &SavePath,
    version: Version,
    device_id: &str,
    quota: Quota,
    now: UnixMillis,
) -> StorageResult<Option<(Seq, Entry)>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let old = tx
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions
             WHERE user_id = ?1 AND game = ?2 AND path = ?3 AND version = ?4"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![scope.user_id, scope.game.as_str(), path.as_str(), version],
                |row| version_from_row(row, None),
            )
            .optional()
        })
        .map_err(db_err)?;
    let Some(old) = old else {
        return Ok(None);
    };
    let (cursor, usage) = scope_row(&tx, scope)?;
    let state = file_state(&tx, scope, path)?;
    let op = restore_op(path, &old, state.current.as_ref());
    let plan = plan_commit(cursor, usage, &[op], device_id, now, |_| Ok(state.clone()))?;
    check_quota(usage, plan.usage, quota)?;
    write_plan(&tx, scope, &plan)?;
    prune(&tx, scope, plan.touched_paths(), quota.retention, now)?;
    tx.commit().map_err(db_err)?;
    Ok(restored_entry(&plan).map(|entry| (plan.cursor, entry)))
}

/// Inserts the plan's versions, upserts its current entries and the scope row.
fn write_plan(tx: &Transaction<'_>, scope: &Scope, plan: &CommitPlan) -> StorageResult<()> {
    if plan.writes_nothing() {
        return Ok(());
    }
    let (user, game) = (scope.user_id.as_str(), scope.game.as_str());
    let mut insert_version = tx
        .prepare_cached(
            "INSERT INTO versions (user_id, game, path, version, sha256, size, device_id,
                 deleted, archived, mtime, committed_at, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(db_err)?;
    for (path, v) in &plan.new_versions {
        insert_version
            .execute(params![
                user,
                game,
                path.as_str(),
                v.version,
                v.sha256.0,
                v.size,
                v.device_id,
                v.deleted,
                v.archived,
                v.mtime,
                v.committed_at,
                meta_json(v.meta.as_ref())?
            ])
            .map_err(db_err)?;
    }
    let mut upsert_file = tx
        .prepare_cached(
            "INSERT INTO files (user_id, game, path, sha256, size, version, seq, device_id,
                 deleted, mtime, committed_at, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (user_id, game, path) DO UPDATE SET
                 sha256 = excluded.sha256, size = excluded.size, version = excluded.version,
                 seq = excluded.seq, device_id = excluded.device_id,
                 deleted = excluded.deleted, mtime = excluded.mtime,
                 committed_at = excluded.committed_at, meta = excluded.meta",
        )
        .map_err(db_err)?;
    for (path, e) in &plan.changed_current {
        upsert_file
            .execute(params![
                user,
                game,
                path.as_str(),
                e.sha256.0,
                e.size,
                e.version,
                e.seq,
                e.device_id,
                e.deleted,
                e.mtime,
                e.committed_at,
                meta_json(e.meta.as_ref())?
            ])
            .map_err(db_err)?;
    }
    tx.prepare_cached(
        "INSERT INTO scopes (user_id, game, cursor, live_bytes, live_files)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id, game) DO UPDATE SET cursor = excluded.cursor,
             live_bytes = excluded.live_bytes, live_files = excluded.live_files",
    )
    .and_then(|mut s| {
        s.execute(params![
            user,
            game,
            plan.cursor,
            plan.usage.bytes,
            plan.usage.files
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

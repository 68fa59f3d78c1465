//! A commit worked out in memory before anything is written.
//!
//! Every backend runs [`plan_commit`] inside its own atomic section: it loads the touched
//! files lazily, applies [`sync_core::ledger::decide`] op by op exactly as
//! [`sync_core::ledger::MemoryLedger`] does, and yields the outcomes, the rows to write and
//! the scope's usage afterwards. The backend checks [`check_quota`] on that usage and only
//! then writes the plan, so a refused commit leaves no trace.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, BTreeSet};

use sync_core::ledger;
use sync_core::protocol::{
    CommitAction, CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};
use sync_core::{ContentHash, SavePath};

use super::{Quota, Retention, StorageError, StorageResult, Usage};

/// What a backend knows about one file before the commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileState {
    pub current: Option<Entry>,
    /// Highest version the file ever had, archived versions included; `0` if none.
    pub max_version: Version,
}

/// The result of planning a batch of ops.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitPlan {
    /// The scope's cursor after the commit.
    pub cursor: Seq,
    /// The scope's usage after the commit.
    pub usage: Usage,
    /// One outcome per op, in op order.
    pub outcomes: Vec<CommitOutcome>,
    /// History versions to insert, in the order they were created. Their `current` flag is
    /// only valid at creation; readers derive it from the current entry.
    pub new_versions: Vec<(SavePath, HistoryVersion)>,
    /// The final current entry of every file whose current entry changed.
    pub changed_current: BTreeMap<SavePath, Entry>,
}

impl CommitPlan {
    /// Nothing needs to be written (only conflicts and no-ops).
    pub fn writes_nothing(&self) -> bool {
        self.new_versions.is_empty()
    }

    /// The blobs the new versions bring in, each once: each must hold a lease, which the
    /// commit renews (tombstones refer to content an older version already holds).
    pub fn leased_blobs(&self) -> BTreeSet<ContentHash> {
        self.new_versions
            .iter()
            .filter(|(_, v)| !v.deleted)
            .map(|(_, v)| v.sha256)
            .collect()
    }

    /// The files that got a new version, each once: their history is pruned after the
    /// commit.
    pub fn touched_paths(&self) -> BTreeSet<SavePath> {
        self.new_versions.iter().map(|(p, _)| p.clone()).collect()
    }
}

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// The versions of one file that `retention` drops at `now`, given its history newest
/// first and its current version (always kept). The newest version is never dropped
/// either (`keep_versions` is at least 1), so version numbers are never reused.
pub fn versions_to_prune(
    history: &[HistoryVersion],
    current: Option<Version>,
    retention: Retention,
    now: UnixMillis,
) -> Vec<HistoryVersion> {
    let max_age = i64::from(retention.keep_days).saturating_mul(DAY_MILLIS);
    let mut kept: u32 = u32::from(current.is_some());
    let mut others: u32 = 0;
    let mut dropped = Vec::new();
    for v in history {
        if Some(v.version) == current {
            continue;
        }
        let newest = others < retention.keep_versions.max(1);
        let young = now.saturating_sub(v.committed_at) < max_age;
        others = others.saturating_add(1);
        if (newest || young) && kept < retention.max_versions.max(2) {
            kept += 1;
        } else {
            dropped.push(v.clone());
        }
    }
    dropped
}

/// Plans `ops` against a scope at `cursor` with `usage`. `load` returns a file's state and is
/// called at most once per path.
pub fn plan_commit<L>(
    cursor: Seq,
    usage: Usage,
    ops: &[CommitOp],
    device_id: &str,
    now: UnixMillis,
    mut load: L,
) -> StorageResult<CommitPlan>
where
    L: FnMut(&SavePath) -> StorageResult<FileState>,
{
    let mut files: BTreeMap<SavePath, FileState> = BTreeMap::new();
    let mut plan = CommitPlan {
        cursor,
        usage,
        outcomes: Vec::with_capacity(ops.len()),
        new_versions: Vec::new(),
        changed_current: BTreeMap::new(),
    };
    for op in ops {
        let state = match files.entry(op.path.clone()) {
            MapEntry::Occupied(o) => o.into_mut(),
            MapEntry::Vacant(v) => v.insert(load(&op.path)?),
        };
        let outcome = plan_op(&mut plan, state, op, device_id, now);
        plan.outcomes.push(outcome);
    }
    Ok(plan)
}

/// One op, with the same rule as `MemoryLedger::apply` (`ledger::apply_op`).
fn plan_op(
    plan: &mut CommitPlan,
    state: &mut FileState,
    op: &CommitOp,
    device_id: &str,
    now: UnixMillis,
) -> CommitOutcome {
    let current = state.current.clone();
    let applied = ledger::apply_op(
        current.as_ref(),
        state.max_version,
        op,
        device_id,
        now,
        plan.cursor + 1,
    );
    if let Some(record) = applied.record {
        state.max_version = record.version;
        plan.new_versions.push((op.path.clone(), record));
    }
    if let Some(entry) = applied.new_current {
        plan.cursor = entry.seq;
        plan.usage = replace_usage(plan.usage, current.as_ref(), Some(&entry));
        state.current = Some(entry.clone());
        plan.changed_current.insert(op.path.clone(), entry);
    }
    applied.outcome
}

/// What a current entry contributes to usage: its size and one file, unless a tombstone.
pub fn live_usage(entry: Option<&Entry>) -> Usage {
    match entry {
        Some(e) if !e.deleted => Usage {
            bytes: e.size,
            files: 1,
        },
        _ => Usage::default(),
    }
}

/// `usage` after the current entry `old` of a file is replaced by `new`.
pub fn replace_usage(usage: Usage, old: Option<&Entry>, new: Option<&Entry>) -> Usage {
    let (old, new) = (live_usage(old), live_usage(new));
    Usage {
        bytes: usage
            .bytes
            .saturating_sub(old.bytes)
            .saturating_add(new.bytes),
        files: usage
            .files
            .saturating_sub(old.files)
            .saturating_add(new.files),
    }
}

/// Whether a commit taking usage from `before` to `after` respects `quota`.
///
/// A limit is broken only when the commit ends above it **and** grows that measure: a user
/// already over a (lowered) quota can still delete or shrink files to get back under it.
pub fn check_quota(before: Usage, after: Usage, quota: Quota) -> StorageResult<()> {
    if after.bytes > quota.max_bytes && after.bytes > before.bytes {
        return Err(StorageError::QuotaExceeded(format!(
            "the game's saves would take {} bytes, the limit is {}",
            after.bytes, quota.max_bytes
        )));
    }
    if after.files > quota.max_files && after.files > before.files {
        return Err(StorageError::QuotaExceeded(format!(
            "the game would have {} files, the limit is {}",
            after.files, quota.max_files
        )));
    }
    Ok(())
}

/// The pending-upload budget of [`super::MetadataStore::lease_blobs`], with the quota's
/// rule: refused only when the pending bytes end above the limit and grew.
pub fn check_pending(before: u64, after: u64, max_pending: u64) -> StorageResult<()> {
    if after > max_pending && after > before {
        return Err(StorageError::QuotaExceeded(format!(
            "uploads not yet committed would take {after} bytes, the limit is {max_pending}; \
             commit them or wait for unused upload URLs to expire"
        )));
    }
    Ok(())
}

/// The op that restores history version `old` over `current`, as `MemoryLedger::restore`
/// builds it: a put (or a delete, for a tombstone) expecting the current version.
pub fn restore_op(path: &SavePath, old: &HistoryVersion, current: Option<&Entry>) -> CommitOp {
    CommitOp {
        path: path.clone(),
        expect_version: ledger::current_version(current),
        action: if old.deleted {
            CommitAction::Delete
        } else {
            CommitAction::Put {
                sha256: old.sha256,
                size: old.size,
                mtime: old.mtime,
                meta: old.meta.clone(),
            }
        },
    }
}

/// The current entry a one-op restore plan leaves, as `MemoryLedger::restore` returns it.
pub fn restored_entry(plan: &CommitPlan) -> Option<Entry> {
    match plan.outcomes.first()? {
        CommitOutcome::Committed { entry, .. } => entry.clone(),
        CommitOutcome::Conflict { .. } => None,
    }
}

#[cfg(test)]
mod tests;

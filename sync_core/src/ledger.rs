//! The server-side rule of a conditional commit, written once for every backend.
//!
//! [`decide`] says what one [`CommitOp`] does to a file, given the file's current entry and
//! its highest version so far. Storage implementations run it inside their own atomic
//! section (an SQLite transaction, a DynamoDB condition) so two committers can never both
//! win. [`MemoryLedger`] is a complete in-memory game manifest built on it, used as the
//! reference in tests.

use std::collections::BTreeMap;

use crate::hash::ContentHash;
use crate::path::SavePath;
use crate::protocol::{
    CommitAction, CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};

/// What applying one op means for the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Store a new version. `make_current`: it also becomes the current entry (and takes the
    /// next feed position); otherwise it is an archived history version only.
    NewVersion {
        version: Version,
        make_current: bool,
        deleted: bool,
    },
    /// Nothing to store; report success with the current state (deleting what is already
    /// gone, or putting the exact content that is already current at the expected version).
    NoChange,
    /// The expected version is not the current one.
    Conflict,
}

/// The current version number of a file, `0` if it has no entry.
pub fn current_version(current: Option<&Entry>) -> Version {
    current.map_or(0, |e| e.version)
}

/// Decides one op. `max_version` is the highest version the file ever had (archived
/// versions included), `0` if none.
pub fn decide(current: Option<&Entry>, max_version: Version, op: &CommitOp) -> Decision {
    let next = max_version.max(current_version(current)) + 1;
    match &op.action {
        // An archive keeps the losing side of a conflict with a file the server has: on a
        // path it never had, it would only let history grow outside every quota.
        CommitAction::Archive { .. } if current.is_none() && max_version == 0 => Decision::Conflict,
        CommitAction::Archive { .. } => Decision::NewVersion {
            version: next,
            make_current: false,
            deleted: false,
        },
        CommitAction::Put { .. } | CommitAction::Delete
            if op.expect_version != current_version(current) =>
        {
            Decision::Conflict
        }
        CommitAction::Delete => match current {
            Some(e) if !e.deleted => Decision::NewVersion {
                version: next,
                make_current: true,
                deleted: true,
            },
            _ => Decision::NoChange,
        },
        CommitAction::Put { sha256, .. } => match current {
            Some(e) if !e.deleted && e.sha256 == *sha256 => Decision::NoChange,
            _ => Decision::NewVersion {
                version: next,
                make_current: true,
                deleted: false,
            },
        },
    }
}

/// The content an op writes (for `Delete`: the deleted content, taken from `current`).
pub fn op_content(op: &CommitOp, current: Option<&Entry>) -> Option<(ContentHash, u64)> {
    match &op.action {
        CommitAction::Put { sha256, size, .. } | CommitAction::Archive { sha256, size, .. } => {
            Some((*sha256, *size))
        }
        CommitAction::Delete => current.map(|e| (e.sha256, e.size)),
    }
}

/// Builds the history record an op's [`Decision::NewVersion`] stores.
pub fn new_history_version(
    op: &CommitOp,
    current: Option<&Entry>,
    version: Version,
    device_id: &str,
    now: UnixMillis,
) -> Option<HistoryVersion> {
    let (sha256, size) = op_content(op, current)?;
    let (mtime, meta, deleted, archived) = match &op.action {
        CommitAction::Put { mtime, meta, .. } => (*mtime, meta.clone(), false, false),
        CommitAction::Archive { mtime, meta, .. } => (*mtime, meta.clone(), false, true),
        CommitAction::Delete => (None, current.and_then(|e| e.meta.clone()), true, false),
    };
    Some(HistoryVersion {
        version,
        sha256,
        size,
        device_id: device_id.to_owned(),
        deleted,
        archived,
        current: !archived,
        mtime,
        committed_at: now,
        meta,
    })
}

/// The entry a current history version becomes at feed position `seq`.
pub fn entry_from_version(path: &SavePath, v: &HistoryVersion, seq: Seq) -> Entry {
    Entry {
        path: path.clone(),
        sha256: v.sha256,
        size: v.size,
        version: v.version,
        seq,
        device_id: v.device_id.clone(),
        deleted: v.deleted,
        mtime: v.mtime,
        committed_at: v.committed_at,
        meta: v.meta.clone(),
    }
}

/// What one op does, ready to store: the answer for the client, the history version to add
/// (if any) and, when that version becomes current, the new current entry at `next_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: CommitOutcome,
    pub record: Option<HistoryVersion>,
    pub new_current: Option<Entry>,
}

/// Applies [`decide`] to one op: the single place that turns a decision into records, used
/// by [`MemoryLedger`] and every backend's commit.
pub fn apply_op(
    current: Option<&Entry>,
    max_version: Version,
    op: &CommitOp,
    device_id: &str,
    now: UnixMillis,
    next_seq: Seq,
) -> Applied {
    let unchanged = |outcome| Applied {
        outcome,
        record: None,
        new_current: None,
    };
    match decide(current, max_version, op) {
        Decision::Conflict => unchanged(CommitOutcome::Conflict {
            current: current.cloned(),
            download_url: None,
        }),
        Decision::NoChange => unchanged(CommitOutcome::Committed {
            version: current_version(current),
            entry: current.cloned(),
        }),
        Decision::NewVersion {
            version,
            make_current,
            ..
        } => {
            let Some(record) = new_history_version(op, current, version, device_id, now) else {
                return unchanged(CommitOutcome::Committed {
                    version: 0,
                    entry: current.cloned(),
                });
            };
            let new_current = make_current.then(|| entry_from_version(&op.path, &record, next_seq));
            let entry = new_current.clone().or_else(|| current.cloned());
            Applied {
                outcome: CommitOutcome::Committed { version, entry },
                record: Some(record),
                new_current,
            }
        }
    }
}

/// One game's manifest and history, in memory: the reference semantics of a backend.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    pub cursor: Seq,
    pub current: BTreeMap<SavePath, Entry>,
    /// Every version of every file, oldest first.
    pub history: BTreeMap<SavePath, Vec<HistoryVersion>>,
}

impl MemoryLedger {
    /// Current entries with `seq > since`, ordered by `seq`.
    pub fn changes_since(&self, since: Option<Seq>) -> Vec<Entry> {
        let since = since.unwrap_or(0);
        let mut out: Vec<Entry> = self
            .current
            .values()
            .filter(|e| e.seq > since)
            .cloned()
            .collect();
        out.sort_by_key(|e| e.seq);
        out
    }

    /// Applies one op atomically.
    pub fn apply(&mut self, op: &CommitOp, device_id: &str, now: UnixMillis) -> CommitOutcome {
        let current = self.current.get(&op.path).cloned();
        let versions = self.history.entry(op.path.clone()).or_default();
        let max_version = versions.last().map_or(0, |v| v.version);
        let applied = apply_op(
            current.as_ref(),
            max_version,
            op,
            device_id,
            now,
            self.cursor + 1,
        );
        if let Some(record) = applied.record {
            if let Some(entry) = applied.new_current {
                for v in versions.iter_mut() {
                    v.current = false;
                }
                self.cursor = entry.seq;
                self.current.insert(op.path.clone(), entry);
            }
            versions.push(record);
        }
        applied.outcome
    }

    /// Makes an old version current again as a new version. `None` if it does not exist.
    pub fn restore(
        &mut self,
        path: &SavePath,
        version: Version,
        device_id: &str,
        now: UnixMillis,
    ) -> Option<Entry> {
        let old = self
            .history
            .get(path)?
            .iter()
            .find(|v| v.version == version)?
            .clone();
        let current = self.current.get(path);
        let op = CommitOp {
            path: path.clone(),
            expect_version: current_version(current),
            action: if old.deleted {
                CommitAction::Delete
            } else {
                CommitAction::Put {
                    sha256: old.sha256,
                    size: old.size,
                    mtime: old.mtime,
                    meta: old.meta,
                }
            },
        };
        match self.apply(&op, device_id, now) {
            CommitOutcome::Committed { entry, .. } => entry,
            CommitOutcome::Conflict { .. } => None,
        }
    }

    /// All versions of a file, newest first.
    pub fn history_of(&self, path: &SavePath) -> Vec<HistoryVersion> {
        let mut v = self.history.get(path).cloned().unwrap_or_default();
        v.reverse();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> SavePath {
        SavePath::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn put(p: &str, expect: Version, content: &[u8]) -> CommitOp {
        CommitOp {
            path: path(p),
            expect_version: expect,
            action: CommitAction::Put {
                sha256: ContentHash::of(content),
                size: content.len() as u64,
                mtime: Some(1),
                meta: None,
            },
        }
    }

    #[test]
    fn first_put_then_conditional_updates() {
        let mut l = MemoryLedger::default();
        let r = l.apply(&put("a.save", 0, b"one"), "dev1", 10);
        assert!(matches!(r, CommitOutcome::Committed { version: 1, .. }));
        // A stale expectation conflicts and reports the current entry.
        let r = l.apply(&put("a.save", 0, b"two"), "dev2", 11);
        match r {
            CommitOutcome::Conflict { current, .. } => {
                assert_eq!(current.map(|c| c.version), Some(1))
            }
            other => panic!("expected conflict, got {other:?}"),
        }
        let r = l.apply(&put("a.save", 1, b"two"), "dev2", 12);
        assert!(matches!(r, CommitOutcome::Committed { version: 2, .. }));
        assert_eq!(l.cursor, 2);
        assert_eq!(l.changes_since(Some(1)).len(), 1);
        assert_eq!(l.changes_since(Some(2)).len(), 0);
    }

    #[test]
    fn archive_keeps_history_without_moving_current_or_cursor() {
        let mut l = MemoryLedger::default();
        l.apply(&put("a.save", 0, b"one"), "d", 1);
        let mut archive = put("a.save", 0, b"loser");
        if let CommitAction::Put {
            sha256,
            size,
            mtime,
            meta,
        } = archive.action.clone()
        {
            archive.action = CommitAction::Archive {
                sha256,
                size,
                mtime,
                meta,
            };
        }
        let r = l.apply(&archive, "d2", 2);
        assert!(matches!(r, CommitOutcome::Committed { version: 2, .. }));
        assert_eq!(l.cursor, 1);
        assert_eq!(l.current[&path("a.save")].version, 1);
        // The next put must expect the current version (1) and gets version 3.
        let r = l.apply(&put("a.save", 1, b"three"), "d", 3);
        assert!(matches!(r, CommitOutcome::Committed { version: 3, .. }));
        let hist = l.history_of(&path("a.save"));
        assert_eq!(
            hist.iter().map(|v| v.version).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        assert!(hist[1].archived && !hist[1].current && hist[0].current);
    }

    #[test]
    fn delete_makes_tombstone_and_restore_brings_content_back() {
        let mut l = MemoryLedger::default();
        l.apply(&put("a.save", 0, b"one"), "d", 1);
        let del = CommitOp {
            path: path("a.save"),
            expect_version: 1,
            action: CommitAction::Delete,
        };
        assert!(matches!(
            l.apply(&del, "d", 2),
            CommitOutcome::Committed { version: 2, .. }
        ));
        assert!(l.current[&path("a.save")].deleted);
        // Deleting again is a no-op success.
        let del2 = CommitOp {
            expect_version: 2,
            ..del
        };
        assert!(matches!(
            l.apply(&del2, "d", 3),
            CommitOutcome::Committed { version: 2, .. }
        ));
        let restored = l
            .restore(&path("a.save"), 1, "d", 4)
            .unwrap_or_else(|| panic!("restore"));
        assert_eq!(restored.version, 3);
        assert!(!restored.deleted);
        assert_eq!(restored.sha256, ContentHash::of(b"one"));
    }

    #[test]
    fn identical_put_is_a_no_op() {
        let mut l = MemoryLedger::default();
        l.apply(&put("a.save", 0, b"one"), "d", 1);
        let r = l.apply(&put("a.save", 1, b"one"), "d", 2);
        assert!(matches!(r, CommitOutcome::Committed { version: 1, .. }));
        assert_eq!(l.cursor, 1);
    }
}

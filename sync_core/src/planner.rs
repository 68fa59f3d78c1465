//! The three-way planner: for one file, compares the local content, the base (agreed at
//! the last sync) and the remote entry, and says what to do. Pure and total: every
//! combination has exactly one answer, and none of them uses a clock.
//!
//! | local vs base | remote vs base | result                                   |
//! |---------------|----------------|------------------------------------------|
//! | same          | same           | nothing                                  |
//! | changed       | same           | upload (or delete remotely)              |
//! | same          | changed        | download (or delete locally)             |
//! | changed       | changed        | same content: adopt; deleted vs modified:|
//! |               |                | the modification wins; else a conflict   |
//!
//! A file the game merges itself (`persistent`, see [`crate::rules::is_merged`]) is never
//! replaced while it exists locally and is never a conflict: a remote change is delivered
//! for the game to merge ([`Action::MergeIn`]), and when both changed the local content is
//! also uploaded ([`Settlement::Merge`]).

use crate::hash::ContentHash;
use crate::policy::{ConflictPolicy, Resolution, Settlement, settle};
use crate::protocol::{Entry, Version};
use crate::state::{BaseEntry, LocalVersion};

/// What to do with one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Both sides agree with the base.
    Nothing,
    /// Both sides already hold the same content (or both deleted it): record `Some(entry)` as
    /// the new base, or forget the file (`None`: it exists nowhere).
    Adopt(Option<Entry>),
    /// Put the local content, expecting the server to be at `expect`.
    Upload { expect: Version },
    /// Tombstone the file on the server, expecting `expect`.
    DeleteRemote { expect: Version },
    /// Write the remote content locally.
    Download(Entry),
    /// Deliver the remote content for the game to merge into the local file, which stays
    /// as it is (and agreed with the server as of `entry.version`).
    MergeIn(Entry),
    /// The remote deleted the file: delete it locally.
    DeleteLocal(Entry),
    /// Both sides changed the content differently; `settlement` says how it ends.
    Conflict {
        remote: Entry,
        settlement: Settlement,
    },
}

/// Plans one file. `remote` is the newest entry known from the server's feed.
pub fn plan_file(
    local: Option<&LocalVersion>,
    base: Option<&BaseEntry>,
    remote: Option<&Entry>,
    policy: ConflictPolicy,
    decision: Option<Resolution>,
    merged: bool,
) -> Action {
    let local_content: Option<ContentHash> = local.map(|l| l.sha256);
    let base_content = base.and_then(BaseEntry::content);
    let remote_content = remote.filter(|r| !r.deleted).map(|r| r.sha256);
    let local_changed = local_content != base_content;
    let remote_changed = match (remote, base) {
        (Some(r), Some(b)) => r.version != b.version,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let expect = remote.map_or(0, |r| r.version);

    match (local_changed, remote_changed) {
        (false, false) => Action::Nothing,
        (true, false) => match local_content {
            Some(_) => Action::Upload { expect },
            // Created and deleted locally without the server ever holding it.
            None if remote_content.is_none() => Action::Adopt(remote.cloned()),
            None => Action::DeleteRemote { expect },
        },
        (false, true) => {
            let Some(r) = remote else {
                return Action::Nothing;
            };
            match (remote_content, local_content) {
                (Some(rc), Some(lc)) if rc == lc => Action::Adopt(Some(r.clone())),
                (Some(_), Some(_)) if merged => Action::MergeIn(r.clone()),
                (Some(_), _) => Action::Download(r.clone()),
                (None, Some(_)) => Action::DeleteLocal(r.clone()),
                (None, None) => Action::Adopt(Some(r.clone())),
            }
        }
        (true, true) => {
            let Some(r) = remote else {
                return Action::Nothing;
            };
            match (local_content, remote_content) {
                (l, rc) if l == rc => Action::Adopt(Some(r.clone())),
                // Modify beats delete, on either side.
                (None, Some(_)) => Action::Download(r.clone()),
                (Some(_), None) => Action::Upload { expect },
                _ if merged => Action::Conflict {
                    remote: r.clone(),
                    settlement: Settlement::Merge,
                },
                _ => Action::Conflict {
                    remote: r.clone(),
                    settlement: settle(
                        policy,
                        decision,
                        local.and_then(|l| l.meta.as_ref()),
                        r.meta.as_ref(),
                    ),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::SavePath;
    use crate::policy::Side;

    fn h(s: &str) -> ContentHash {
        ContentHash::of(s.as_bytes())
    }
    fn local(s: &str) -> LocalVersion {
        LocalVersion {
            sha256: h(s),
            size: s.len() as u64,
            mtime: 0,
            meta: None,
        }
    }
    fn base(v: Version, s: &str) -> BaseEntry {
        BaseEntry {
            version: v,
            sha256: h(s),
            deleted: false,
        }
    }
    fn remote(v: Version, s: &str, deleted: bool) -> Entry {
        Entry {
            path: SavePath::new("1-1-LT1.save").expect("valid"),
            sha256: h(s),
            size: s.len() as u64,
            version: v,
            seq: v,
            device_id: "d".into(),
            deleted,
            mtime: None,
            committed_at: 0,
            meta: None,
        }
    }
    fn plan(
        l: Option<&str>,
        b: Option<(Version, &str)>,
        r: Option<(Version, &str, bool)>,
    ) -> Action {
        let l = l.map(local);
        let b = b.map(|(v, s)| base(v, s));
        let r = r.map(|(v, s, d)| remote(v, s, d));
        plan_file(
            l.as_ref(),
            b.as_ref(),
            r.as_ref(),
            ConflictPolicy::KeepBoth,
            None,
            false,
        )
    }

    #[test]
    fn unchanged_does_nothing() {
        assert_eq!(
            plan(Some("a"), Some((1, "a")), Some((1, "a", false))),
            Action::Nothing
        );
        assert_eq!(plan(None, None, None), Action::Nothing);
    }

    #[test]
    fn local_only_changes_upload_or_delete() {
        assert_eq!(
            plan(Some("b"), Some((1, "a")), Some((1, "a", false))),
            Action::Upload { expect: 1 }
        );
        assert_eq!(plan(Some("new"), None, None), Action::Upload { expect: 0 });
        assert_eq!(
            plan(None, Some((1, "a")), Some((1, "a", false))),
            Action::DeleteRemote { expect: 1 }
        );
    }

    #[test]
    fn remote_only_changes_download_or_delete() {
        let r = remote(2, "b", false);
        assert_eq!(
            plan(Some("a"), Some((1, "a")), Some((2, "b", false))),
            Action::Download(r)
        );
        let t = remote(2, "a", true);
        assert_eq!(
            plan(Some("a"), Some((1, "a")), Some((2, "a", true))),
            Action::DeleteLocal(t)
        );
        // First sync of a fresh device.
        assert!(matches!(
            plan(None, None, Some((3, "x", false))),
            Action::Download(_)
        ));
        assert!(matches!(
            plan(None, None, Some((3, "x", true))),
            Action::Adopt(Some(_))
        ));
    }

    #[test]
    fn same_change_on_both_sides_transfers_nothing() {
        assert!(matches!(
            plan(Some("b"), Some((1, "a")), Some((2, "b", false))),
            Action::Adopt(Some(_))
        ));
        assert!(matches!(
            plan(None, Some((1, "a")), Some((2, "a", true))),
            Action::Adopt(Some(_))
        ));
        assert!(matches!(
            plan(Some("x"), None, Some((1, "x", false))),
            Action::Adopt(Some(_))
        ));
    }

    #[test]
    fn modification_beats_deletion() {
        assert!(matches!(
            plan(None, Some((1, "a")), Some((2, "b", false))),
            Action::Download(_)
        ));
        assert_eq!(
            plan(Some("b"), Some((1, "a")), Some((2, "a", true))),
            Action::Upload { expect: 2 }
        );
    }

    #[test]
    fn both_modified_is_a_conflict_settled_by_policy() {
        let l = local("mine");
        let b = base(1, "a");
        let r = remote(2, "theirs", false);
        for (policy, want) in [
            (ConflictPolicy::KeepBoth, Settlement::KeepBoth),
            (ConflictPolicy::Local, Settlement::Winner(Side::Local)),
            (ConflictPolicy::Remote, Settlement::Winner(Side::Remote)),
            (ConflictPolicy::Manual, Settlement::Wait),
        ] {
            assert_eq!(
                plan_file(Some(&l), Some(&b), Some(&r), policy, None, false),
                Action::Conflict {
                    remote: r.clone(),
                    settlement: want
                }
            );
        }
        // First sync with different content on both sides is a conflict too.
        assert!(matches!(
            plan(Some("x"), None, Some((1, "y", false))),
            Action::Conflict { .. }
        ));
    }

    #[test]
    fn created_and_deleted_locally_is_forgotten() {
        assert_eq!(plan(None, Some((1, "a")), None), Action::Adopt(None));
        let tomb = BaseEntry {
            version: 2,
            sha256: h("a"),
            deleted: true,
        };
        let r = remote(2, "a", true);
        assert_eq!(
            plan_file(
                None,
                Some(&tomb),
                Some(&r),
                ConflictPolicy::KeepBoth,
                None,
                false
            ),
            Action::Nothing
        );
    }

    #[test]
    fn a_merged_file_is_delivered_for_merging_never_replaced_or_a_conflict() {
        let merged =
            |l: Option<&str>, b: Option<(Version, &str)>, r: (Version, &str, bool), policy| {
                let l = l.map(local);
                let b = b.map(|(v, s)| base(v, s));
                let r = remote(r.0, r.1, r.2);
                plan_file(l.as_ref(), b.as_ref(), Some(&r), policy, None, true)
            };
        let theirs = remote(2, "theirs", false);
        // The device has its own persistent: the remote one is merged into it.
        assert_eq!(
            merged(
                Some("mine"),
                Some((1, "mine")),
                (2, "theirs", false),
                ConflictPolicy::KeepBoth
            ),
            Action::MergeIn(theirs.clone())
        );
        assert_eq!(
            merged(
                Some("mine"),
                None,
                (2, "theirs", false),
                ConflictPolicy::Remote
            ),
            Action::Conflict {
                remote: theirs.clone(),
                settlement: Settlement::Merge
            }
        );
        // Every policy, manual included: merging loses nothing and needs no decision.
        for policy in ConflictPolicy::ALL {
            assert_eq!(
                merged(
                    Some("mine2"),
                    Some((1, "mine")),
                    (2, "theirs", false),
                    policy
                ),
                Action::Conflict {
                    remote: theirs.clone(),
                    settlement: Settlement::Merge
                }
            );
        }
        // A fresh device simply takes it.
        assert_eq!(
            merged(None, None, (2, "theirs", false), ConflictPolicy::KeepBoth),
            Action::Download(theirs)
        );
        // Local-only changes upload as for any file.
        assert_eq!(
            merged(
                Some("mine2"),
                Some((2, "x")),
                (2, "x", false),
                ConflictPolicy::KeepBoth
            ),
            Action::Upload { expect: 2 }
        );
    }
}

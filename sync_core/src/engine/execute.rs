//! Carrying out a plan: upload blobs, commit one conditional batch, then download and apply.
//!
//! Order matters for safety: bytes are uploaded before the commit that references them, a
//! local file is only replaced after the server holds whatever it is replaced with (or the
//! local content was committed/archived), and every base entry moves only after its action
//! completed.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::ContentHash;
use crate::path::SavePath;
use crate::planner::Action;
use crate::policy::{Settlement, Side};
use crate::protocol::{
    ChangesResponse, CommitAction, CommitOp, CommitOutcome, CommitRequest, DownloadRequest, Entry,
    Seq, UnixMillis, Version,
};
use crate::state::{BaseEntry, LocalVersion, ScanRecord, SyncState};
use crate::store::{Expect, SaveStore, StoreErrorKind};
use crate::transport::{Transport, TransportError, TransportErrorKind};

use super::EngineConfig;
use super::report::{ConflictReport, Phase, Progress, SyncError, SyncReport};
use super::scan::{LocalFiles, expect_as_scanned};

/// One remote write the plan asks for, with what follows it once committed.
struct RemoteOp {
    path: SavePath,
    expect: Version,
    kind: RemoteKind,
}

enum RemoteKind {
    Put {
        then: AfterPut,
    },
    Delete,
    /// Archive the local loser, then download the remote winner.
    ArchiveThenDownload(Box<Entry>),
    /// A merged file changed on both sides: archive the local content (safe in history,
    /// never over the remote one, which may hold fields this device lacks) and deliver the
    /// remote content for the game to merge; the game's merged result uploads next.
    ArchiveThenMerge(Box<Entry>),
}

enum AfterPut {
    Nothing,
    /// Local won a conflict (policy or decision).
    ReportWin,
    /// Keep-both: also write the remote content to a conflict copy.
    CopyRemote(Box<Entry>),
}

/// A download and where it goes.
struct Fetch {
    path: SavePath,
    entry: Entry,
    target: FetchTarget,
}

enum FetchTarget {
    /// Replace the file at `path` (a remote change, or the remote won a conflict).
    Path { conflict_lost: bool },
    /// Keep-both: write the remote content beside the local file.
    Copy,
    /// A merged file: hand the remote content to the game ([`SaveStore::deliver_for_merge`]);
    /// the local file stays, and `base` becomes its base content at the remote version.
    /// After a remote-only change that is the local content as scanned: it uploads once
    /// the game's merge changed it. When both sides changed it is the remote content, so
    /// the local file uploads at the next sync even if the game's merge adds nothing to it
    /// (the local side held fields the server's current lacks).
    Merge { base: ContentHash },
}

pub(super) struct Execution<'a, S, T> {
    pub store: &'a S,
    pub transport: &'a T,
    pub config: &'a EngineConfig,
    pub local: &'a LocalFiles,
    pub changes: &'a ChangesResponse,
    pub progress: &'a mut dyn FnMut(&Progress),
}

impl<S: SaveStore, T: Transport> Execution<'_, S, T> {
    /// Runs the plan; `Ok(true)` asks for another pass (commit conflicts, new copies).
    pub async fn run(
        mut self,
        plan: Vec<(SavePath, Action)>,
        state: &mut SyncState,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        let mut remote_ops = Vec::new();
        let mut fetches = Vec::new();
        let mut local_deletes = Vec::new();
        for (path, action) in plan {
            match action {
                Action::Nothing => {}
                Action::Adopt(Some(entry)) => {
                    state.base.insert(path, BaseEntry::of(&entry));
                }
                Action::Adopt(None) => {
                    state.base.remove(&path);
                }
                Action::Upload { expect } => remote_ops.push(RemoteOp {
                    path,
                    expect,
                    kind: RemoteKind::Put {
                        then: AfterPut::Nothing,
                    },
                }),
                Action::DeleteRemote { expect } => remote_ops.push(RemoteOp {
                    path,
                    expect,
                    kind: RemoteKind::Delete,
                }),
                Action::Download(entry) => fetches.push(Fetch {
                    path,
                    entry,
                    target: FetchTarget::Path {
                        conflict_lost: false,
                    },
                }),
                Action::MergeIn(entry) => {
                    if let Some(local) = self.local.get(&path).map(|l| l.sha256) {
                        fetches.push(Fetch {
                            path,
                            entry,
                            target: FetchTarget::Merge { base: local },
                        })
                    }
                }
                Action::DeleteLocal(entry) => local_deletes.push((path, entry)),
                Action::Conflict { remote, settlement } => {
                    let expect = remote.version;
                    let kind = match settlement {
                        Settlement::Winner(Side::Local) => RemoteKind::Put {
                            then: AfterPut::ReportWin,
                        },
                        Settlement::KeepBoth => RemoteKind::Put {
                            then: AfterPut::CopyRemote(Box::new(remote)),
                        },
                        Settlement::Merge => RemoteKind::ArchiveThenMerge(Box::new(remote)),
                        Settlement::Winner(Side::Remote) => {
                            RemoteKind::ArchiveThenDownload(Box::new(remote))
                        }
                        // Waiting conflicts are never planned.
                        Settlement::Wait => continue,
                    };
                    remote_ops.push(RemoteOp { path, expect, kind });
                }
            }
        }

        let mut again = false;
        let ready = self.upload(remote_ops, report).await?;
        let committed = self.commit(ready, state, report, &mut again).await?;
        fetches.extend(committed);
        self.download(fetches, state, report, &mut again).await?;
        for (path, entry) in local_deletes {
            match self
                .store
                .delete(&path, expect_as_scanned(self.local.get(&path)))
                .await
            {
                Ok(()) => {
                    state.base.insert(path.clone(), BaseEntry::of(&entry));
                    report.deleted_local.push(path);
                }
                Err(e) if e.kind == StoreErrorKind::Changed => report.deferred.push(path),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(again)
    }

    /// Uploads the blobs the remote ops need. Ops whose local file changed since the scan
    /// are deferred to the next sync.
    async fn upload(
        &mut self,
        ops: Vec<RemoteOp>,
        report: &mut SyncReport,
    ) -> Result<Vec<RemoteOp>, SyncError> {
        let targets: BTreeMap<ContentHash, _> =
            self.changes.uploads.iter().map(|t| (t.sha256, t)).collect();
        let needed: Vec<(&SavePath, &LocalVersion)> = ops
            .iter()
            .filter(|op| !matches!(op.kind, RemoteKind::Delete))
            .filter_map(|op| self.local.get(&op.path).map(|l| (&op.path, l)))
            .filter(|(_, l)| targets.get(&l.sha256).is_some_and(|t| !t.present))
            .collect();
        let bytes_total: u64 = needed.iter().map(|(_, l)| l.size).sum();
        let files_total = needed.len() as u32;
        let mut done: BTreeSet<ContentHash> = BTreeSet::new();
        let mut failed: BTreeSet<SavePath> = BTreeSet::new();
        let mut bytes_done = 0;
        for (path, l) in needed {
            if done.contains(&l.sha256) {
                continue;
            }
            let bytes = match self.store.read(path).await {
                Ok(b) if ContentHash::of(&b) == l.sha256 => b,
                // Changed or gone since the scan: the next sync picks up the new content.
                Ok(_) => {
                    failed.insert(path.clone());
                    continue;
                }
                Err(e) if matches!(e.kind, StoreErrorKind::NotFound | StoreErrorKind::Changed) => {
                    failed.insert(path.clone());
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(target) = targets.get(&l.sha256) {
                self.transport.upload(target, &bytes).await?;
                report.requests += 1;
                report.bytes_up += bytes.len() as u64;
                bytes_done += bytes.len() as u64;
                done.insert(l.sha256);
                (self.progress)(&Progress {
                    phase: Phase::Uploading,
                    files_done: done.len() as u32,
                    files_total,
                    bytes_done,
                    bytes_total,
                });
            }
        }
        let mut ready = Vec::new();
        for op in ops {
            let has_target = match op.kind {
                RemoteKind::Delete => true,
                _ => self
                    .local
                    .get(&op.path)
                    .is_some_and(|l| targets.contains_key(&l.sha256)),
            };
            if failed.contains(&op.path) || !has_target {
                report.deferred.push(op.path);
            } else {
                ready.push(op);
            }
        }
        Ok(ready)
    }

    /// Commits the ops in one batch; returns the downloads that follow committed ops.
    async fn commit(
        &mut self,
        ops: Vec<RemoteOp>,
        state: &mut SyncState,
        report: &mut SyncReport,
        again: &mut bool,
    ) -> Result<Vec<Fetch>, SyncError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        (self.progress)(&Progress {
            phase: Phase::Committing,
            files_done: 0,
            files_total: ops.len() as u32,
            bytes_done: 0,
            bytes_total: 0,
        });
        let request = CommitRequest {
            ops: ops.iter().filter_map(|op| self.commit_op(op)).collect(),
        };
        let response = self.transport.commit(&self.config.game, &request).await?;
        report.requests += 1;
        if response.results.len() != ops.len() {
            return Err(TransportError::new(
                TransportErrorKind::Corrupt,
                format!(
                    "commit answered {} results for {} ops",
                    response.results.len(),
                    ops.len()
                ),
            )
            .into());
        }
        let cursor_before = state.cursor;
        let mut new_seqs: Vec<Seq> = Vec::new();
        let mut fetches = Vec::new();
        for (op, outcome) in ops.into_iter().zip(response.results) {
            match outcome {
                CommitOutcome::Conflict { current, .. } => {
                    // The server moved on since our feed read: re-plan this file next pass.
                    match current {
                        Some(entry) => state.remote.insert(op.path.clone(), entry),
                        None => state.remote.remove(&op.path),
                    };
                    *again = true;
                }
                CommitOutcome::Committed { entry, .. } => {
                    let path = op.path.clone();
                    match op.kind {
                        RemoteKind::ArchiveThenDownload(remote) => {
                            fetches.push(Fetch {
                                path,
                                entry: *remote,
                                target: FetchTarget::Path {
                                    conflict_lost: true,
                                },
                            });
                        }
                        RemoteKind::ArchiveThenMerge(remote) => {
                            if self.local.contains_key(&path) {
                                let base = remote.sha256;
                                fetches.push(Fetch {
                                    path,
                                    entry: *remote,
                                    target: FetchTarget::Merge { base },
                                });
                            }
                        }
                        RemoteKind::Delete | RemoteKind::Put { .. } => {
                            match &entry {
                                Some(e) => {
                                    if cursor_before.is_none_or(|c| e.seq > c) {
                                        new_seqs.push(e.seq);
                                    }
                                    state.remote.insert(path.clone(), e.clone());
                                    state.base.insert(path.clone(), BaseEntry::of(e));
                                }
                                None => {
                                    state.base.remove(&path);
                                }
                            }
                            state.decisions.remove(&path);
                            state.pending.remove(&path);
                            match op.kind {
                                RemoteKind::Delete => report.deleted_remote.push(path),
                                RemoteKind::Put { then } => {
                                    report.uploaded.push(path.clone());
                                    match then {
                                        AfterPut::Nothing => {}
                                        AfterPut::ReportWin => {
                                            report.conflicts.push(ConflictReport {
                                                path,
                                                policy: self.config.policy,
                                                winner: Side::Local,
                                                kept_copy: None,
                                            })
                                        }
                                        AfterPut::CopyRemote(remote) => fetches.push(Fetch {
                                            path,
                                            entry: *remote,
                                            target: FetchTarget::Copy,
                                        }),
                                    }
                                }
                                RemoteKind::ArchiveThenDownload(_)
                                | RemoteKind::ArchiveThenMerge(_) => {}
                            }
                        }
                    }
                }
            }
        }
        // Advance the cursor over our own commits only if nobody else's change hides between.
        new_seqs.sort_unstable();
        let start = cursor_before.unwrap_or(0);
        let contiguous = new_seqs
            .iter()
            .enumerate()
            .all(|(i, s)| *s == start + 1 + i as u64);
        if contiguous && new_seqs.last() == Some(&response.cursor) {
            state.cursor = Some(response.cursor);
        }
        Ok(fetches)
    }

    fn commit_op(&self, op: &RemoteOp) -> Option<CommitOp> {
        let content = |l: &LocalVersion| (l.sha256, l.size, Some(l.mtime), l.meta.clone());
        let action = match &op.kind {
            RemoteKind::Delete => CommitAction::Delete,
            RemoteKind::Put { .. } => {
                let (sha256, size, mtime, meta) = content(self.local.get(&op.path)?);
                CommitAction::Put {
                    sha256,
                    size,
                    mtime,
                    meta,
                }
            }
            RemoteKind::ArchiveThenDownload(_) | RemoteKind::ArchiveThenMerge(_) => {
                let (sha256, size, mtime, meta) = content(self.local.get(&op.path)?);
                CommitAction::Archive {
                    sha256,
                    size,
                    mtime,
                    meta,
                }
            }
        };
        Some(CommitOp {
            path: op.path.clone(),
            expect_version: op.expect,
            action,
        })
    }

    /// Downloads and writes remote content.
    async fn download(
        &mut self,
        fetches: Vec<Fetch>,
        state: &mut SyncState,
        report: &mut SyncReport,
        again: &mut bool,
    ) -> Result<(), SyncError> {
        if fetches.is_empty() {
            return Ok(());
        }
        let mut urls = self.changes.downloads.clone();
        let missing: BTreeSet<ContentHash> = fetches
            .iter()
            .map(|f| f.entry.sha256)
            .filter(|h| !urls.contains_key(h))
            .collect();
        if !missing.is_empty() {
            let req = DownloadRequest {
                sha256: missing.into_iter().collect(),
            };
            let resp = self
                .transport
                .download_urls(&self.config.game, &req)
                .await?;
            report.requests += 1;
            urls.extend(resp.downloads);
        }
        let bytes_total: u64 = fetches.iter().map(|f| f.entry.size).sum();
        let files_total = fetches.len() as u32;
        let mut bytes_done = 0;
        let mut copies_taken: BTreeSet<SavePath> = BTreeSet::new();
        for (i, fetch) in fetches.into_iter().enumerate() {
            let url = urls.get(&fetch.entry.sha256).ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Corrupt,
                    format!("the server offered no download for {}", fetch.path),
                )
            })?;
            let bytes = self.transport.download(url).await?;
            report.requests += 1;
            if ContentHash::of(&bytes) != fetch.entry.sha256 {
                return Err(TransportError::new(
                    TransportErrorKind::Corrupt,
                    format!(
                        "downloaded bytes of {} do not match their SHA-256",
                        fetch.path
                    ),
                )
                .into());
            }
            report.bytes_down += bytes.len() as u64;
            bytes_done += bytes.len() as u64;
            match fetch.target {
                FetchTarget::Path { conflict_lost } => {
                    let mtime = kept_mtime(&fetch.path, &fetch.entry);
                    let expect = expect_as_scanned(self.local.get(&fetch.path));
                    match self.store.write(&fetch.path, &bytes, mtime, expect).await {
                        Ok(()) => {
                            record_written(state, &fetch.path, &fetch.entry, mtime);
                            state
                                .base
                                .insert(fetch.path.clone(), BaseEntry::of(&fetch.entry));
                            if conflict_lost {
                                state.decisions.remove(&fetch.path);
                                state.pending.remove(&fetch.path);
                                report.conflicts.push(ConflictReport {
                                    path: fetch.path.clone(),
                                    policy: self.config.policy,
                                    winner: Side::Remote,
                                    kept_copy: None,
                                });
                            }
                            report.downloaded.push(fetch.path);
                        }
                        Err(e) if e.kind == StoreErrorKind::Changed => {
                            report.deferred.push(fetch.path)
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                FetchTarget::Merge { base } => {
                    match self.store.deliver_for_merge(&fetch.path, &bytes).await {
                        Ok(()) => {
                            state.base.insert(
                                fetch.path.clone(),
                                BaseEntry {
                                    version: fetch.entry.version,
                                    sha256: base,
                                    deleted: false,
                                },
                            );
                            state.decisions.remove(&fetch.path);
                            state.pending.remove(&fetch.path);
                            report.merged.push(fetch.path);
                        }
                        Err(e) if e.kind == StoreErrorKind::Changed => {
                            report.deferred.push(fetch.path)
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                FetchTarget::Copy => {
                    let copy = self.copy_path(&fetch.path, state, &copies_taken);
                    let Some(copy) = copy else {
                        // No free name: the remote content stays safe in server history.
                        report
                            .conflicts
                            .push(self.keep_both_report(&fetch.path, None));
                        continue;
                    };
                    let synced = self.config.rules.is_synced(&copy);
                    let (mtime, expect) = if synced {
                        (fetch.entry.mtime, Expect::Absent)
                    } else {
                        (None, Expect::Any)
                    };
                    match self.store.write(&copy, &bytes, mtime, expect).await {
                        Ok(()) => {
                            copies_taken.insert(copy.clone());
                            // A synced copy is a new local file: upload it in another pass.
                            *again |= synced;
                            report
                                .conflicts
                                .push(self.keep_both_report(&fetch.path, Some(copy)));
                        }
                        Err(e) if e.kind == StoreErrorKind::Changed => {
                            report
                                .conflicts
                                .push(self.keep_both_report(&fetch.path, None));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            (self.progress)(&Progress {
                phase: Phase::Downloading,
                files_done: i as u32 + 1,
                files_total,
                bytes_done,
                bytes_total,
            });
        }
        Ok(())
    }

    fn copy_path(
        &self,
        path: &SavePath,
        state: &SyncState,
        taken_now: &BTreeSet<SavePath>,
    ) -> Option<SavePath> {
        let taken = |p: &SavePath| {
            self.local.contains_key(p)
                || state.remote.get(p).is_some_and(|e| !e.deleted)
                || state.base.get(p).is_some_and(|b| !b.deleted)
                || taken_now.contains(p)
        };
        self.config.copies.copy_path(path, &taken)
    }

    fn keep_both_report(&self, path: &SavePath, copy: Option<SavePath>) -> ConflictReport {
        ConflictReport {
            path: path.clone(),
            policy: self.config.policy,
            winner: Side::Local,
            kept_copy: copy,
        }
    }
}

/// The modification time a downloaded file gets: the original one, because Ren'Py shows a
/// slot's time from it. `persistent` gets "now" instead, so a running Ren'Py sees it as
/// newer than its own and merges it.
fn kept_mtime(path: &SavePath, entry: &Entry) -> Option<UnixMillis> {
    if path.file_name() == "persistent" {
        None
    } else {
        entry.mtime
    }
}

/// Remembers a file the engine wrote, so the next scan does not re-hash it.
fn record_written(
    state: &mut SyncState,
    path: &SavePath,
    entry: &Entry,
    mtime: Option<UnixMillis>,
) {
    match mtime {
        Some(mtime) => {
            state.scan.insert(
                path.clone(),
                ScanRecord {
                    size: entry.size,
                    mtime,
                    sha256: entry.sha256,
                    meta: entry.meta.clone(),
                },
            );
        }
        None => {
            state.scan.remove(path);
        }
    }
}

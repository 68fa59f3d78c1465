//! What a sync reports to its caller: the outcome, progress events and errors.

use serde::Serialize;

use crate::path::SavePath;
use crate::policy::{ConflictPolicy, Side};
use crate::protocol::Seq;
use crate::state::{PendingConflict, StateError};
use crate::store::StoreError;
use crate::transport::TransportError;

/// How one conflict ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictReport {
    pub path: SavePath,
    pub policy: ConflictPolicy,
    /// Who kept the path.
    pub winner: Side,
    /// Where the other side's content was also written locally (keep-both).
    pub kept_copy: Option<SavePath>,
}

/// The outcome of one sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    pub uploaded: Vec<SavePath>,
    pub downloaded: Vec<SavePath>,
    /// Remote content handed to the game to merge into a local file it keeps (`persistent`):
    /// a running game should merge it now (Ren'Py does at its next start anyway).
    pub merged: Vec<SavePath>,
    pub deleted_local: Vec<SavePath>,
    pub deleted_remote: Vec<SavePath>,
    pub conflicts: Vec<ConflictReport>,
    /// Conflicts waiting for the player (policy `manual`).
    pub pending_manual: Vec<PendingConflict>,
    /// Files skipped because the game changed them during the sync; they go next time.
    pub deferred: Vec<SavePath>,
    /// HTTP requests made.
    pub requests: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Files read and hashed because their size or mtime changed.
    pub hashed_files: u32,
}

impl SyncReport {
    /// Nothing was transferred or changed on either side.
    pub fn is_noop(&self) -> bool {
        self.uploaded.is_empty()
            && self.downloaded.is_empty()
            && self.merged.is_empty()
            && self.deleted_local.is_empty()
            && self.deleted_remote.is_empty()
            && self.conflicts.is_empty()
            && self.bytes_up == 0
            && self.bytes_down == 0
    }
}

/// Where a sync is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Scanning,
    Checking,
    Uploading,
    Committing,
    Downloading,
    Done,
}

/// A progress event: files and bytes done out of the totals known so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub files_done: u32,
    pub files_total: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What the device knows without the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalStatus {
    /// Local changes not yet on the server.
    pub pending_uploads: Vec<SavePath>,
    /// Feed position of the last sync (`None`: never synced).
    pub cursor: Option<Seq>,
    pub pending_conflicts: usize,
}

/// Why a sync stopped. Whatever was completed before stays recorded; the next sync resumes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("local save store: {0}")]
    Store(#[from] StoreError),
    #[error("server: {0}")]
    Transport(#[from] TransportError),
    #[error(transparent)]
    State(#[from] StateError),
}

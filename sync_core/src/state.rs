//! What a device remembers between syncs, persisted through `SaveStore::save_state`.
//!
//! - `base`: per file, the state both sides agreed on at the last sync (the third side of the
//!   three-way comparison).
//! - `remote`: a mirror of the server's manifest as far as the feed has been read, with the
//!   feed `cursor`. A remote change that could not be applied yet stays visible here.
//! - `scan`: size, mtime and hash of each file at the last scan, so unchanged files are not
//!   re-hashed.
//! - `decisions` / `pending`: manual conflicts and the player's decisions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;
use crate::path::{GameId, SavePath};
use crate::policy::Resolution;
use crate::protocol::{Entry, Seq, UnixMillis, Version};
use crate::savemeta::SaveMeta;

/// Bumped when the persisted shape changes incompatibly.
pub const STATE_FORMAT: u32 = 1;

/// The agreed state of one file at the last sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseEntry {
    /// The server version both sides held.
    pub version: Version,
    /// The content both sides held; meaningless when `deleted`.
    pub sha256: ContentHash,
    /// Both sides agreed the file does not exist (a server tombstone).
    pub deleted: bool,
}

impl BaseEntry {
    pub fn of(entry: &Entry) -> Self {
        Self {
            version: entry.version,
            sha256: entry.sha256,
            deleted: entry.deleted,
        }
    }

    /// The content this base says the file has, `None` when deleted.
    pub fn content(&self) -> Option<ContentHash> {
        (!self.deleted).then_some(self.sha256)
    }
}

/// A local file as last hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub size: u64,
    pub mtime: UnixMillis,
    pub sha256: ContentHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SaveMeta>,
}

/// The local side of a conflict waiting for the player.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalVersion {
    pub sha256: ContentHash,
    pub size: u64,
    pub mtime: UnixMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SaveMeta>,
}

/// A conflict left for the player by the `manual` policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingConflict {
    pub path: SavePath,
    /// `None`: deleted locally.
    pub local: Option<LocalVersion>,
    /// `None`: no remote entry.
    pub remote: Option<Entry>,
}

/// Everything the engine persists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub format: u32,
    pub game: Option<GameId>,
    pub cursor: Option<Seq>,
    pub base: BTreeMap<SavePath, BaseEntry>,
    pub remote: BTreeMap<SavePath, Entry>,
    pub scan: BTreeMap<SavePath, ScanRecord>,
    pub decisions: BTreeMap<SavePath, Resolution>,
    pub pending: BTreeMap<SavePath, PendingConflict>,
}

/// The persisted state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("sync state is unreadable: {0}")]
    Corrupt(String),
    #[error("sync state has format {0}, newer than this client understands ({STATE_FORMAT})")]
    TooNew(u32),
    #[error("sync state belongs to game {found:?}, not {expected:?}")]
    OtherGame { expected: String, found: String },
}

impl SyncState {
    /// A fresh state for `game`.
    pub fn new(game: &GameId) -> Self {
        Self {
            format: STATE_FORMAT,
            game: Some(game.clone()),
            ..Self::default()
        }
    }

    /// Parses persisted bytes and checks they belong to `game`.
    pub fn decode(bytes: &[u8], game: &GameId) -> Result<Self, StateError> {
        let state: Self =
            serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
        if state.format > STATE_FORMAT {
            return Err(StateError::TooNew(state.format));
        }
        match &state.game {
            Some(found) if found != game => Err(StateError::OtherGame {
                expected: game.to_string(),
                found: found.to_string(),
            }),
            _ => Ok(state),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain maps of owned data cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

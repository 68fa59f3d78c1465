//! The profile: one JSON file with the signed-in session per server, and beside it a folder
//! `<profile>.d/` with one engine state file per (server, game, save folder).
//!
//! The profile holds refresh tokens, so it is written atomically and readable by its owner
//! only (0600 on unix). Engine state never lives inside a save folder: it would be synced.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sync_core::{ContentHash, GameId};

use crate::fs_store::atomic_write;
use crate::session::Session;

/// Why the profile could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no config folder for this user; pass --profile PATH")]
    NoConfigDir,
    #[error("cannot read profile {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write profile {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// On-disk shape of the profile file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileData {
    /// Format version of this file.
    #[serde(default = "format_version")]
    pub format: u32,
    /// Signed-in session per normalized server URL.
    #[serde(default)]
    pub servers: BTreeMap<String, Session>,
}

fn format_version() -> u32 {
    1
}

/// A profile file at a known path.
#[derive(Debug, Clone)]
pub struct Profile {
    path: PathBuf,
}

impl Profile {
    /// The profile at `path`, or at `<config dir>/renpy-cloud/profile.json` when `None`.
    pub fn open(path: Option<PathBuf>) -> Result<Self, ProfileError> {
        let path = match path {
            Some(p) => p,
            None => dirs::config_dir()
                .ok_or(ProfileError::NoConfigDir)?
                .join("renpy-cloud")
                .join("profile.json"),
        };
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file; a missing file is an empty profile.
    pub fn load(&self) -> Result<ProfileData, ProfileError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ProfileData {
                    format: format_version(),
                    ..ProfileData::default()
                });
            }
            Err(e) => return Err(self.read_error(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| self.read_error(e))
    }

    /// The session stored for `server`, if signed in there.
    pub fn session(&self, server: &str) -> Result<Option<Session>, ProfileError> {
        Ok(self.load()?.servers.remove(&normalize_server(server)))
    }

    /// Stores (or with `None` removes) the session of `server`. Re-reads the file first so
    /// sessions of other servers written meanwhile are kept.
    pub fn set_session(&self, server: &str, session: Option<&Session>) -> Result<(), ProfileError> {
        let mut data = self.load()?;
        let key = normalize_server(server);
        match session {
            Some(s) => data.servers.insert(key, s.clone()),
            None => data.servers.remove(&key),
        };
        self.save(&data)
    }

    fn save(&self, data: &ProfileData) -> Result<(), ProfileError> {
        let write_error = |reason: String| ProfileError::Write {
            path: self.path.clone(),
            reason,
        };
        let bytes = serde_json::to_vec_pretty(data).map_err(|e| write_error(e.to_string()))?;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| write_error(e.to_string()))?;
        }
        atomic_write(&self.path, &bytes, true).map_err(|e| write_error(e.message))
    }

    /// Where the engine keeps its state for this server, game and save folder:
    /// `<profile>.d/state-<first 16 hex of sha256(server, game, canonical folder)>.json`.
    pub fn state_file(&self, server: &str, game: &GameId, save_dir: &Path) -> PathBuf {
        let canonical = fs::canonicalize(save_dir)
            .or_else(|_| std::path::absolute(save_dir))
            .unwrap_or_else(|_| save_dir.to_path_buf());
        let key = format!(
            "{}\n{}\n{}",
            normalize_server(server),
            game,
            canonical.display()
        );
        let digest = ContentHash::of(key.as_bytes()).to_hex();
        let mut dir = self.path.clone().into_os_string();
        dir.push(".d");
        PathBuf::from(dir).join(format!("state-{}.json", &digest[..16]))
    }

    fn read_error(&self, e: impl ToString) -> ProfileError {
        ProfileError::Read {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }
}

/// The form of a server URL used as a key and as the base of API paths: no trailing `/`.
pub fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_owned()
}

//! What the game shows about syncing, kept in memory so `status()` never blocks a frame:
//! the worker and the foreground calls update it, readers copy it.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sync_core::engine::{Progress, SyncReport};

use crate::error::OpError;

/// Finished syncs kept for `take_results` (the game reads them every few frames).
const MAX_RESULTS: usize = 32;

/// A snapshot for the game.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub signed_in: bool,
    pub username: Option<String>,
    pub device_id: Option<String>,
    /// The background worker is running.
    pub running: bool,
    /// A sync is in progress.
    pub syncing: bool,
    pub progress: Option<Progress>,
    /// Unix seconds of the last successful sync.
    pub last_sync: Option<f64>,
    /// Unix seconds of the last attempt, successful or not.
    pub last_attempt: Option<f64>,
    /// Why the last attempt failed (cleared by a success).
    pub last_error: Option<OpError>,
    /// The last attempt could not reach the server; changes wait on disk.
    pub offline: bool,
    /// Seconds until the worker tries again (backoff after failures).
    pub next_sync_in: Option<f64>,
    /// Local changes not yet on the server (as of the last attempt).
    pub pending_uploads: Vec<String>,
    /// Paths of conflicts waiting for the player.
    pub pending_conflicts: Vec<String>,
    /// Successful syncs since this client was created.
    pub syncs: u64,
    /// Keys of the account's other devices learnt so far (base64), for the game to trust.
    pub peer_keys: Vec<String>,
    /// Why the last device-key exchange failed, if it did (syncing is unaffected).
    pub keys_error: Option<OpError>,
    /// The server has answered this client at least once (any HTTP answer; filled in
    /// when read). Start-up waits for its first pull only from a server that answers.
    pub reached_server: bool,
}

/// The outcome of one sync, as handed to the game.
#[derive(Debug, Clone, Serialize)]
pub struct SyncResult {
    pub ok: bool,
    /// Unix seconds when it finished.
    pub finished_at: f64,
    pub report: Option<SyncReport>,
    pub error: Option<OpError>,
}

/// The shared status plus the finished results not yet taken.
#[derive(Debug, Default)]
pub struct Board {
    pub status: Status,
    pub results: VecDeque<SyncResult>,
}

impl Board {
    /// Records a finished attempt.
    pub fn finish(&mut self, outcome: &Result<SyncReport, OpError>) -> SyncResult {
        let now = unix_now();
        let s = &mut self.status;
        s.syncing = false;
        s.progress = None;
        s.last_attempt = Some(now);
        let result = match outcome {
            Ok(report) => {
                s.last_sync = Some(now);
                s.last_error = None;
                s.offline = false;
                s.syncs += 1;
                SyncResult {
                    ok: true,
                    finished_at: now,
                    report: Some(report.clone()),
                    error: None,
                }
            }
            Err(e) => {
                s.offline = e.transient;
                s.last_error = Some(e.clone());
                SyncResult {
                    ok: false,
                    finished_at: now,
                    report: None,
                    error: Some(e.clone()),
                }
            }
        };
        if self.results.len() >= MAX_RESULTS {
            self.results.pop_front();
        }
        self.results.push_back(result.clone());
        result
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

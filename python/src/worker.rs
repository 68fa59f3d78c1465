//! The shared client state and the background worker thread.
//!
//! The worker never touches Python: it syncs on a timer or when woken, records every
//! outcome in the [`Board`], and backs off after failures (1 s, 2 s, 4 s … up to the sync
//! interval). Nothing it does can raise into the game; even a panic becomes a status error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sync_core::engine::SyncReport;

use crate::conflicts::{self, RemoteCache};
use crate::error::{ErrorClass, OpError};
use crate::keys;
use crate::ops::Ops;
use crate::status::{Board, SyncResult};

/// First wait after a failed sync; doubles per failure up to the sync interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// How often device keys are re-published and re-read.
const KEYS_EVERY: Duration = Duration::from_secs(600);

/// This device's save-token keys and where Ren'Py keeps the trusted ones.
#[derive(Debug, Clone, Default)]
pub struct KeySettings {
    pub own: Vec<String>,
    pub tokens_dir: Option<PathBuf>,
    pub last_exchange: Option<Instant>,
}

#[derive(Debug, Default)]
struct Signal {
    stop: bool,
    wake: bool,
}

/// Everything the Python object, the worker and foreground calls share.
pub struct Shared {
    pub ops: Ops,
    board: Mutex<Board>,
    pub cache: RemoteCache,
    pub keys: Mutex<KeySettings>,
    signal: Mutex<Signal>,
    bell: Condvar,
}

impl Shared {
    pub fn new(ops: Ops) -> Self {
        let shared = Self {
            ops,
            board: Mutex::default(),
            cache: RemoteCache::default(),
            keys: Mutex::default(),
            signal: Mutex::default(),
            bell: Condvar::new(),
        };
        shared.refresh_session();
        shared
    }

    pub fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the worker for a sync as soon as it is free.
    pub fn wake(&self) {
        self.signal().wake = true;
        self.bell.notify_all();
    }

    /// Copies who is signed in from the profile into the status.
    pub fn refresh_session(&self) {
        let session = self.ops.session().ok().flatten();
        let mut board = self.board();
        board.status.signed_in = session.is_some();
        board.status.username = session.as_ref().map(|s| s.username.clone());
        board.status.device_id = session.map(|s| s.device_id);
    }

    /// One sync with everything around it: progress in the status, the local status
    /// afterwards, conflict previews fetched ahead, device keys exchanged when due.
    /// Never panics outward and never fails: the outcome is in the result and the status.
    pub fn sync_once(&self) -> SyncResult {
        {
            let mut board = self.board();
            board.status.syncing = true;
            board.status.progress = None;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| self.sync_inner())).unwrap_or_else(|_| {
            Err(OpError::new(
                ErrorClass::Local,
                "internal",
                "the sync failed unexpectedly (a bug); it will be retried",
            ))
        });
        self.refresh_session();
        self.after_sync(outcome.is_ok());
        self.board().finish(&outcome)
    }

    fn sync_inner(&self) -> Result<SyncReport, OpError> {
        if self.ops.session()?.is_none() {
            return Err(OpError::not_signed_in(&self.ops.settings.server));
        }
        self.ops.sync(&mut |p| {
            self.board().status.progress = Some(*p);
        })
    }

    /// Local facts for the status; they are worth having even after a failed sync.
    fn after_sync(&self, synced: bool) {
        if let Ok(local) = self.ops.local_status() {
            let mut board = self.board();
            board.status.pending_uploads = local
                .pending_uploads
                .iter()
                .map(ToString::to_string)
                .collect();
        }
        let conflicts = self
            .ops
            .engine(|e| conflicts::previews(e, &self.cache))
            .unwrap_or_default();
        self.board().status.pending_conflicts =
            conflicts.iter().map(|c| c.view.path.to_string()).collect();
        if synced {
            self.exchange_keys_if_due();
        }
    }

    fn exchange_keys_if_due(&self) {
        let settings = {
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            let due = keys.last_exchange.is_none_or(|t| t.elapsed() >= KEYS_EVERY);
            if keys.own.is_empty() || !due {
                return;
            }
            keys.clone()
        };
        let outcome = self.exchange_keys(&settings.own, settings.tokens_dir.as_deref());
        if let Ok(mut keys) = self.keys.lock() {
            keys.last_exchange = Some(Instant::now());
        }
        let mut board = self.board();
        match outcome {
            Ok(peers) => {
                board.status.keys_error = None;
                for k in peers {
                    if !board.status.peer_keys.contains(&k) {
                        board.status.peer_keys.push(k);
                    }
                }
            }
            Err(e) => board.status.keys_error = Some(e),
        }
    }

    /// Publishes `own`, learns the other devices' keys and trusts them in `tokens_dir`.
    pub fn exchange_keys(
        &self,
        own: &[String],
        tokens_dir: Option<&std::path::Path>,
    ) -> Result<Vec<String>, OpError> {
        let transport = self.ops.transport()?;
        let peers = keys::exchange(&transport, own)?;
        if let Some(dir) = tokens_dir {
            keys::merge_security_keys(dir, &peers)?;
        }
        Ok(peers)
    }
}

/// The background thread; stopping joins it.
pub struct Worker {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(shared: Arc<Shared>) -> Result<Self, OpError> {
        {
            let mut signal = shared.signal();
            signal.stop = false;
            signal.wake = true; // sync at once: the game just started
        }
        shared.board().status.running = true;
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("renpy-cloud-sync".into())
            .spawn(move || run(&for_thread))
            .map_err(|e| {
                shared.board().status.running = false;
                OpError::new(
                    ErrorClass::Local,
                    "internal",
                    format!("cannot start the sync thread: {e}"),
                )
            })?;
        Ok(Self {
            shared,
            handle: Some(handle),
        })
    }

    /// Stops after the current sync (if any) and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.signal().stop = true;
        self.shared.bell.notify_all();
        if let Some(handle) = self.handle.take() {
            // The thread catches its own panics; a join error leaves nothing to clean up.
            let _ = handle.join();
        }
        let mut board = self.shared.board();
        board.status.running = false;
        board.status.next_sync_in = None;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(shared: &Shared) {
    let interval = shared.ops.settings.interval;
    let mut failures: u32 = 0;
    let mut next = Instant::now();
    loop {
        {
            let mut signal = shared.signal();
            loop {
                if signal.stop {
                    return;
                }
                if signal.wake || Instant::now() >= next {
                    signal.wake = false;
                    break;
                }
                let wait = next.saturating_duration_since(Instant::now());
                shared.board().status.next_sync_in = Some(wait.as_secs_f64());
                signal = shared
                    .bell
                    .wait_timeout(signal, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        }
        shared.board().status.next_sync_in = None;
        let result = shared.sync_once();
        let delay = match &result.error {
            None => {
                failures = 0;
                interval
            }
            Some(e) if e.transient => {
                failures = failures.saturating_add(1);
                backoff(failures, interval)
            }
            // Signed out or refused: retrying soon would not help; the player acts, and
            // sign-in wakes the worker.
            Some(_) => interval,
        };
        next = Instant::now() + delay;
    }
}

/// 1 s, 2 s, 4 s … capped at `interval`.
fn backoff(failures: u32, interval: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    FIRST_RETRY.saturating_mul(factor).min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        let minute = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n, minute).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX, minute), minute);
    }
}

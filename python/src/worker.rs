//! The shared client state and the background worker thread.
//!
//! The worker never touches Python. It runs `sync_core`'s [`Scheduler`] on its own clock:
//! a sync at start, one after each save it notices (it looks at the save folder every
//! [`WATCH_EVERY`]), one every `interval`, backoff after failures (honouring `Retry-After`).
//! Every outcome lands in the [`Board`]. Nothing it does can raise into the game; even a
//! panic becomes a status error. Stopping never waits for a sync in flight unless asked
//! to, so quitting the game is never held up by a silent server.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use native_client::fs_store::mtime_millis;
use sync_core::client::ErrorCode;
use sync_core::client::scheduler::{Event, Next, Outcome, Scheduler, SchedulerConfig};
use sync_core::engine::SyncReport;

use crate::conflicts::{self, RemoteCache};
use crate::error::{ErrorClass, OpError};
use crate::ops::Ops;
use crate::status::{Board, SyncResult};

/// How often the worker looks at the save folder for new saves (a directory listing).
pub const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How often device keys are re-published and re-read (also before the first sync).
const KEYS_EVERY: Duration = Duration::from_secs(600);

/// What the save folder looked like: names, sizes and mtimes of its top-level files.
type FolderSignature = Vec<(String, u64, i64)>;

#[derive(Debug)]
struct Control {
    scheduler: Scheduler,
    stop: bool,
    /// The save folder as of the last sync's start (or the last look).
    seen: Option<FolderSignature>,
}

/// Everything the Python object, the worker and foreground calls share.
pub struct Shared {
    pub ops: Ops,
    board: Mutex<Board>,
    pub cache: RemoteCache,
    last_key_exchange: Mutex<Option<Instant>>,
    control: Mutex<Control>,
    bell: Condvar,
    epoch: Instant,
}

impl Shared {
    pub fn new(ops: Ops) -> Self {
        let interval = ops.settings.interval;
        let config = SchedulerConfig {
            interval: millis(interval),
            max_backoff: millis(interval),
            ..SchedulerConfig::default()
        };
        let shared = Self {
            ops,
            board: Mutex::default(),
            cache: RemoteCache::default(),
            last_key_exchange: Mutex::new(None),
            control: Mutex::new(Control {
                scheduler: Scheduler::new(config, 0),
                stop: false,
                seen: None,
            }),
            bell: Condvar::new(),
            epoch: Instant::now(),
        };
        shared.refresh_session();
        shared
    }

    pub fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// Tells the worker's scheduler about `event` and wakes it.
    pub fn notify(&self, event: Event) {
        let now = self.now();
        self.control().scheduler.on(event, now);
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

    /// One sync with everything around it: device keys first when due (a synced
    /// `persistent` signed by an untrusted key would be ignored), progress in the status,
    /// the local status and conflict previews afterwards. Never panics outward and never
    /// fails: the outcome is in the result and the status.
    pub fn sync_once(&self) -> SyncResult {
        {
            let mut board = self.board();
            board.status.syncing = true;
            board.status.progress = None;
        }
        self.control().seen = folder_signature(&self.ops.settings.save_dir);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let exchanged = self.exchange_keys(false);
            let report = self.sync_inner();
            // Something arrived from another device: make sure its key is trusted before
            // the game sees the result (it may come from a device new since the last look).
            if !exchanged
                && report
                    .as_ref()
                    .is_ok_and(|r| !r.downloaded.is_empty() || !r.merged.is_empty())
            {
                self.exchange_keys(true);
            }
            report
        }))
        .unwrap_or_else(|_| {
            Err(OpError::new(
                ErrorClass::Local,
                ErrorCode::Internal,
                "the sync failed unexpectedly (a bug); it will be retried",
            ))
        });
        self.refresh_session();
        self.after_sync();
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
    fn after_sync(&self) {
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
    }

    /// Exchanges device keys when due, or at once with `now` (two small requests, after a
    /// sync brought something from another device); returns whether it ran. Failures show
    /// in the status only.
    fn exchange_keys(&self, now: bool) -> bool {
        {
            let mut last = self
                .last_key_exchange
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = now || last.is_none_or(|t| t.elapsed() >= KEYS_EVERY);
            if !due || !self.board().status.signed_in {
                return false;
            }
            *last = Some(Instant::now());
        }
        let outcome = self.ops.exchange_keys();
        let mut board = self.board();
        match outcome {
            Ok(done) => {
                board.status.keys_error = None;
                for k in done.map(|d| d.peers).unwrap_or_default() {
                    if !board.status.peer_keys.contains(&k) {
                        board.status.peer_keys.push(k);
                    }
                }
            }
            Err(e) => {
                board.status.keys_error = Some(e);
                drop(board);
                // Try again at the next sync rather than in ten minutes.
                *self
                    .last_key_exchange
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
        true
    }

    /// A sync is running (worker, foreground or shutdown).
    pub fn is_syncing(&self) -> bool {
        self.board().status.syncing
    }
}

/// The background thread. Dropping it stops it without waiting.
pub struct Worker {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(shared: Arc<Shared>) -> Result<Self, OpError> {
        {
            let now = shared.now();
            let mut control = shared.control();
            control.stop = false;
            // Sync at once: the game just started.
            control.scheduler.on(Event::Requested, now);
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
                    ErrorCode::Internal,
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
        self.signal_stop();
        if let Some(handle) = self.handle.take() {
            // The thread catches its own panics; a join error leaves nothing to clean up.
            let _ = handle.join();
        }
    }

    fn signal_stop(&mut self) {
        self.shared.control().stop = true;
        self.shared.bell.notify_all();
        let mut board = self.shared.board();
        board.status.running = false;
        board.status.next_sync_in = None;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Never join here: this runs when the game quits, and a sync in flight against a
        // silent server must not hold the window. An interrupted sync is safe (commit after
        // upload; every local write is atomic) and resumes at the next start.
        self.signal_stop();
    }
}

fn run(shared: &Shared) {
    let mut next_look = Instant::now() + WATCH_EVERY;
    loop {
        let now = shared.now();
        let next = {
            let mut control = shared.control();
            if control.stop {
                return;
            }
            let next = control.scheduler.poll(now);
            if next == Next::SyncNow {
                control.scheduler.on(Event::Started, now);
            }
            next
        };
        match next {
            Next::SyncNow => {
                shared.board().status.next_sync_in = None;
                let result = shared.sync_once();
                shared.notify(Event::Finished(Outcome::of(result.error.as_ref())));
            }
            Next::WaitUntil(_) | Next::Running => {
                let until = match next {
                    Next::WaitUntil(t) => Some(t),
                    _ => None,
                };
                let wait = until
                    .map(|t| Duration::from_millis(t.saturating_sub(now)))
                    .unwrap_or(WATCH_EVERY)
                    .min(next_look.saturating_duration_since(Instant::now()));
                shared.board().status.next_sync_in =
                    until.map(|t| t.saturating_sub(now) as f64 / 1000.0);
                {
                    let control = shared.control();
                    if control.stop {
                        return;
                    }
                    let _ = shared
                        .bell
                        .wait_timeout(control, wait)
                        .unwrap_or_else(|p| p.into_inner());
                }
                if Instant::now() >= next_look {
                    next_look = Instant::now() + WATCH_EVERY;
                    look_for_saves(shared);
                }
            }
        }
    }
}

/// Compares the save folder with how it looked at the last sync; a difference is a save.
fn look_for_saves(shared: &Shared) {
    let now_seen = folder_signature(&shared.ops.settings.save_dir);
    let changed = {
        let mut control = shared.control();
        let changed = now_seen.is_some() && control.seen.is_some() && control.seen != now_seen;
        if now_seen.is_some() {
            control.seen = now_seen;
        }
        changed
    };
    if changed {
        shared.notify(Event::Saved);
    }
}

/// The top-level files of the save folder (where Ren'Py writes slots and `persistent`),
/// or `None` if it cannot be listed.
fn folder_signature(dir: &std::path::Path) -> Option<FolderSignature> {
    let mut out: FolderSignature = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    meta.len(),
                    mtime_millis(&meta),
                )
            })
        })
        .collect();
    out.sort();
    Some(out)
}

/// Runs one last sync for quitting: waits for a running one to end, then syncs, all within
/// `deadline`. Returns whether a sync finished in time. Skipped when signed out or when
/// the last attempt found the server unreachable (it would only use up the deadline).
pub fn final_sync(shared: &Arc<Shared>, deadline: Duration) -> bool {
    let start = Instant::now();
    {
        let board = shared.board();
        if !board.status.signed_in || board.status.offline {
            return false;
        }
    }
    while shared.is_syncing() {
        if start.elapsed() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (tx, rx) = mpsc::channel();
    let for_thread = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("renpy-cloud-final-sync".into())
        .spawn(move || {
            let result = for_thread.sync_once();
            let _ = tx.send(result.ok);
        });
    if spawned.is_err() {
        return false;
    }
    rx.recv_timeout(deadline.saturating_sub(start.elapsed()))
        .unwrap_or(false)
}

/// Waits up to `wait` for `shared.board().status.syncs` or attempts to move past `before`.
pub fn wait_for_attempt(shared: &Shared, before: Option<f64>, wait: Duration) -> bool {
    let start = Instant::now();
    loop {
        let attempt = shared.board().status.last_attempt;
        if attempt.is_some() && attempt != before && !shared.is_syncing() {
            return true;
        }
        if start.elapsed() >= wait {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

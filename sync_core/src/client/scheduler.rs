//! When to sync: one policy for every client surface, driven by events and the time the
//! driver passes in (milliseconds on any monotonic clock). The driver runs its own timer —
//! a thread, `setTimeout` — and asks [`Scheduler::poll`] what to do next.
//!
//! - A save (`Saved`) syncs after a short quiet period, and bursts are debounced: a sync a
//!   save asked for starts at least `min_gap` after the previous one started. Ren'Py 8.3.1+
//!   on the web saves `persistent` at almost every click; this turns that into at most one
//!   sync per `min_gap`.
//! - At most one sync runs; requests during it coalesce into one follow-up.
//! - Otherwise a sync every `interval` after the last success.
//! - After a transient failure: backoff 1 s, 2 s, 4 s … capped at `max_backoff`, never
//!   sooner than the server's `Retry-After`. A refusal that waiting cannot fix (signed out,
//!   bad request) waits for `interval` or for the player to sign in.
//! - Coming online, signing in or the page being hidden (flush before the tab closes) sync
//!   at once.

use super::errors::ClientError;

/// Milliseconds on the driver's monotonic clock.
pub type Millis = u64;

/// Timing of a [`Scheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Between syncs when nothing asks for one sooner.
    pub interval: Millis,
    /// Quiet time after a save before its sync starts (Ren'Py writes a save in several
    /// steps, and a save often comes with a `persistent` write).
    pub debounce: Millis,
    /// Least time between the starts of two save-triggered syncs.
    pub min_gap: Millis,
    /// First wait after a transient failure; doubles per failure.
    pub first_retry: Millis,
    /// Longest backoff wait.
    pub max_backoff: Millis,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            interval: 60_000,
            debounce: 1_000,
            min_gap: 5_000,
            first_retry: 1_000,
            max_backoff: 60_000,
        }
    }
}

/// What happened, as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The game wrote a save or `persistent`.
    Saved,
    /// The network came back (browser `online`).
    Online,
    /// The page is being hidden or closed: sync what is pending now.
    Hidden,
    /// The player signed in or paired: sync now.
    SignedIn,
    /// Someone asked for a sync now (a "Sync now" button).
    Requested,
    /// The driver started the sync [`Scheduler::poll`] asked for.
    Started,
    /// The running sync ended.
    Finished(Outcome),
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Failed; `transient` errors are retried with backoff, at the earliest after
    /// `retry_after` (the server's `Retry-After`, in ms).
    Failed {
        transient: bool,
        retry_after: Option<Millis>,
    },
}

impl Outcome {
    /// How a sync ended, from its error (`None`: it succeeded), so `Retry-After` (seconds
    /// on the error) reaches the backoff in ms. The Rust drivers and the simulator use it.
    pub fn of(error: Option<&ClientError>) -> Self {
        match error {
            None => Self::Ok,
            Some(e) => Self::Failed {
                transient: e.transient,
                retry_after: e.retry_after.map(|s| s.saturating_mul(1000)),
            },
        }
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start a sync (then report [`Event::Started`]).
    SyncNow,
    /// Nothing before this time (ask again then, or on the next event).
    WaitUntil(Millis),
    /// A sync is running; wait for it to finish.
    Running,
}

/// The sync schedule of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduler {
    config: SchedulerConfig,
    running: bool,
    /// When the next sync is due.
    due: Millis,
    /// A save (or request) arrived while a sync ran: sync again after it.
    follow_up: bool,
    last_start: Option<Millis>,
    failures: u32,
}

impl Scheduler {
    /// A scheduler whose first sync is due at once (a game just started).
    pub fn new(config: SchedulerConfig, now: Millis) -> Self {
        Self {
            config,
            running: false,
            due: now,
            follow_up: false,
            last_start: None,
            failures: 0,
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Consecutive transient failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records an event.
    pub fn on(&mut self, event: Event, now: Millis) {
        match event {
            Event::Saved => {
                if self.running {
                    self.follow_up = true;
                } else if self.failures == 0 {
                    // After a quiet moment, but not sooner than `min_gap` after the last
                    // start; a sync already due earlier stays earlier. A backoff wait is
                    // not cut short by saves.
                    let wanted = now.saturating_add(self.config.debounce).max(self.gap_end());
                    self.due = self.due.min(wanted);
                }
            }
            Event::Online | Event::SignedIn => {
                self.failures = 0;
                self.soon(now);
            }
            Event::Hidden | Event::Requested => self.soon(now),
            Event::Started => {
                self.running = true;
                self.follow_up = false;
                self.last_start = Some(now);
                // Whatever was due is being done; the periodic sync follows this one.
                self.due = now.saturating_add(self.config.interval);
            }
            Event::Finished(outcome) => {
                self.running = false;
                match outcome {
                    Outcome::Ok => {
                        self.failures = 0;
                        self.due = now.saturating_add(self.config.interval);
                    }
                    Outcome::Failed {
                        transient: true,
                        retry_after,
                    } => {
                        self.failures = self.failures.saturating_add(1);
                        let wait = self.backoff().max(retry_after.unwrap_or(0));
                        self.due = now.saturating_add(wait);
                    }
                    Outcome::Failed {
                        transient: false, ..
                    } => {
                        self.due = now.saturating_add(self.config.interval);
                    }
                }
                if self.follow_up && self.failures == 0 {
                    self.follow_up = false;
                    self.due = self.due.min(now.max(self.gap_end()));
                }
            }
        }
    }

    /// What to do at `now`.
    pub fn poll(&self, now: Millis) -> Next {
        if self.running {
            Next::Running
        } else if now >= self.due {
            Next::SyncNow
        } else {
            Next::WaitUntil(self.due)
        }
    }

    /// Due as soon as possible (a running sync gets a follow-up instead).
    fn soon(&mut self, now: Millis) {
        if self.running {
            self.follow_up = true;
        } else {
            self.due = now;
        }
    }

    /// The earliest start a save may ask for: `min_gap` after the last start.
    fn gap_end(&self) -> Millis {
        self.last_start
            .map_or(0, |t| t.saturating_add(self.config.min_gap))
    }

    /// The wait after the current number of consecutive failures.
    fn backoff(&self) -> Millis {
        let doublings = self.failures.saturating_sub(1).min(20);
        self.config
            .first_retry
            .saturating_mul(1u64 << doublings)
            .min(self.config.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SchedulerConfig {
        SchedulerConfig::default()
    }

    /// Drives a scheduler like a driver would: every sync takes `sync_ms` and ends with
    /// `outcome`; returns the start times of the syncs in `[0, until)`.
    fn run(
        s: &mut Scheduler,
        events: &[(Millis, Event)],
        until: Millis,
        sync_ms: Millis,
    ) -> Vec<Millis> {
        let mut starts = Vec::new();
        let mut pending = events.to_vec();
        pending.sort_by_key(|(t, _)| *t);
        let mut finish_at: Option<Millis> = None;
        for now in (0..until).step_by(10) {
            while pending.first().is_some_and(|(t, _)| *t <= now) {
                let (_, e) = pending.remove(0);
                s.on(e, now);
            }
            if finish_at.is_some_and(|t| now >= t) {
                finish_at = None;
                s.on(Event::Finished(Outcome::Ok), now);
            }
            if s.poll(now) == Next::SyncNow {
                s.on(Event::Started, now);
                starts.push(now);
                finish_at = Some(now + sync_ms);
            }
        }
        starts
    }

    #[test]
    fn the_first_sync_is_at_once_then_every_interval() {
        let mut s = Scheduler::new(config(), 0);
        let starts = run(&mut s, &[], 130_000, 200);
        assert_eq!(starts, [0, 60_200, 120_400]);
    }

    #[test]
    fn a_save_syncs_after_the_quiet_time() {
        let mut s = Scheduler::new(config(), 0);
        let starts = run(&mut s, &[(20_000, Event::Saved)], 30_000, 200);
        assert_eq!(starts, [0, 21_000]);
    }

    #[test]
    fn a_burst_of_saves_is_at_most_one_sync_per_min_gap() {
        let mut s = Scheduler::new(config(), 0);
        // A save every 300 ms for 30 s, as Ren'Py 8.3 web saves persistent per click.
        let events: Vec<(Millis, Event)> =
            (0..100).map(|i| (10_000 + i * 300, Event::Saved)).collect();
        let starts = run(&mut s, &events, 50_000, 400);
        let in_burst: Vec<_> = starts.iter().filter(|t| **t >= 10_000).collect();
        for pair in in_burst.windows(2) {
            assert!(pair[1] - pair[0] >= 5_000, "{starts:?}");
        }
        // The last save is synced soon after the burst ends.
        assert!(
            in_burst
                .last()
                .is_some_and(|t| **t >= 39_700 && **t <= 45_000),
            "{starts:?}"
        );
        assert!(in_burst.len() <= 7, "{starts:?}");
    }

    #[test]
    fn saves_during_a_sync_coalesce_into_one_follow_up() {
        let mut s = Scheduler::new(config(), 0);
        s.on(Event::Started, 0);
        for t in [100, 200, 300] {
            s.on(Event::Saved, t);
        }
        s.on(Event::Finished(Outcome::Ok), 1_000);
        assert_eq!(
            s.poll(1_000),
            Next::WaitUntil(5_000),
            "min gap after the last start"
        );
        assert_eq!(s.poll(5_000), Next::SyncNow);
        s.on(Event::Started, 5_000);
        s.on(Event::Finished(Outcome::Ok), 5_500);
        assert_eq!(s.poll(5_500), Next::WaitUntil(65_500), "only one follow-up");
    }

    #[test]
    fn transient_failures_back_off_and_honour_retry_after() {
        let mut s = Scheduler::new(config(), 0);
        let mut waits = Vec::new();
        let mut now = 0;
        for retry_after in [None, None, Some(30_000), None, None, None, None, None] {
            s.on(Event::Started, now);
            s.on(
                Event::Finished(Outcome::Failed {
                    transient: true,
                    retry_after,
                }),
                now,
            );
            let Next::WaitUntil(t) = s.poll(now) else {
                panic!("waits")
            };
            waits.push(t - now);
            now = t;
        }
        assert_eq!(
            waits,
            [1_000, 2_000, 30_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        // Saves do not cut a backoff short; coming online does.
        s.on(Event::Started, now);
        s.on(
            Event::Finished(Outcome::Failed {
                transient: true,
                retry_after: None,
            }),
            now,
        );
        s.on(Event::Saved, now + 100);
        assert_eq!(s.poll(now + 1_500), Next::WaitUntil(now + 60_000));
        s.on(Event::Online, now + 2_000);
        assert_eq!(s.poll(now + 2_000), Next::SyncNow);
        s.on(Event::Started, now + 2_000);
        s.on(Event::Finished(Outcome::Ok), now + 2_100);
        assert_eq!(s.failures(), 0);
    }

    #[test]
    fn a_refusal_waits_for_the_interval_or_a_sign_in() {
        let mut s = Scheduler::new(config(), 0);
        s.on(Event::Started, 0);
        s.on(
            Event::Finished(Outcome::Failed {
                transient: false,
                retry_after: None,
            }),
            100,
        );
        assert_eq!(s.poll(200), Next::WaitUntil(60_100));
        s.on(Event::SignedIn, 300);
        assert_eq!(s.poll(300), Next::SyncNow);
    }

    #[test]
    fn hiding_the_page_flushes_at_once() {
        let mut s = Scheduler::new(config(), 0);
        s.on(Event::Started, 0);
        s.on(Event::Finished(Outcome::Ok), 100);
        s.on(Event::Saved, 200);
        s.on(Event::Hidden, 300);
        assert_eq!(s.poll(300), Next::SyncNow);
    }
}

//! `SyncScheduler` in JS: the core's [`Scheduler`] (when to sync: debounced saves, one
//! running sync plus one follow-up, backoff honouring `Retry-After`, the periodic sync),
//! unchanged. The glue's timer loop reports events with the time from `performance.now()`
//! and asks [`SyncScheduler::poll`] what to do.

use sync_core::client::scheduler::{Event, Millis, Next, Outcome, Scheduler, SchedulerConfig};
use wasm_bindgen::prelude::*;

use crate::js;

/// Whole milliseconds of a moment something happened (`performance.now()` has fractions),
/// rounded up, while [`poll`](SyncScheduler::poll) rounds "now" down: a wait the core
/// computes from an event (the 5 s between two syncs) then lasts at least that long in
/// real time, not up to 1 ms less. Negative and NaN become 0; `Infinity` (also for the
/// options: "never") the largest time, where the scheduler's additions saturate.
fn millis(ms: f64) -> Millis {
    ms.ceil() as Millis
}

/// "Now" for [`SyncScheduler::poll`], rounded down (see [`millis`]).
fn millis_now(ms: f64) -> Millis {
    ms.floor() as Millis
}

/// When to sync, for one client.
#[wasm_bindgen]
pub struct SyncScheduler {
    inner: Scheduler,
}

#[wasm_bindgen]
impl SyncScheduler {
    /// `options`: `{intervalMs?, debounceMs?, minGapMs?, firstRetryMs?, maxBackoffMs?}`
    /// (the core's defaults for what is missing; `intervalMs: Infinity` turns the periodic
    /// sync off). The first sync is due at once.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, now: f64) -> SyncScheduler {
        let mut config = SchedulerConfig::default();
        let fields: [(&str, &mut Millis); 5] = [
            ("intervalMs", &mut config.interval),
            ("debounceMs", &mut config.debounce),
            ("minGapMs", &mut config.min_gap),
            ("firstRetryMs", &mut config.first_retry),
            ("maxBackoffMs", &mut config.max_backoff),
        ];
        for (name, field) in fields {
            if let Some(ms) = js::get(&options, name).as_f64() {
                *field = millis(ms);
            }
        }
        SyncScheduler {
            inner: Scheduler::new(config, millis(now)),
        }
    }

    /// The game wrote a save or `persistent` (after its `FS.syncfs(false)`).
    pub fn saved(&mut self, now: f64) {
        self.inner.on(Event::Saved, millis(now));
    }

    /// The browser came back online.
    pub fn online(&mut self, now: f64) {
        self.inner.on(Event::Online, millis(now));
    }

    /// The page is being hidden or closed.
    pub fn hidden(&mut self, now: f64) {
        self.inner.on(Event::Hidden, millis(now));
    }

    /// The player signed in or paired this browser.
    #[wasm_bindgen(js_name = signedIn)]
    pub fn signed_in(&mut self, now: f64) {
        self.inner.on(Event::SignedIn, millis(now));
    }

    /// Someone asked for a sync now.
    pub fn requested(&mut self, now: f64) {
        self.inner.on(Event::Requested, millis(now));
    }

    /// The sync `poll` asked for has started.
    pub fn started(&mut self, now: f64) {
        self.inner.on(Event::Started, millis(now));
    }

    /// The running sync succeeded.
    #[wasm_bindgen(js_name = finishedOk)]
    pub fn finished_ok(&mut self, now: f64) {
        self.inner.on(Event::Finished(Outcome::Ok), millis(now));
    }

    /// The running sync failed; `transient` and `retryAfter` (seconds) as on the error.
    #[wasm_bindgen(js_name = finishedFailed)]
    pub fn finished_failed(&mut self, now: f64, transient: bool, retry_after: Option<f64>) {
        let retry_after = retry_after.map(|s| millis(s * 1000.0));
        self.inner.on(
            Event::Finished(Outcome::Failed {
                transient,
                retry_after,
            }),
            millis(now),
        );
    }

    /// What to do at `now`: `{sync: true}` (start one, then call `started`),
    /// `{waitUntil: ms}` (nothing before then, or before the next event) or
    /// `{running: true}` (wait for the running sync).
    pub fn poll(&self, now: f64) -> JsValue {
        let out = js_sys::Object::new();
        match self.inner.poll(millis_now(now)) {
            Next::SyncNow => js::set(&out, "sync", &JsValue::TRUE),
            Next::WaitUntil(t) => js::set(&out, "waitUntil", &JsValue::from_f64(t as f64)),
            Next::Running => js::set(&out, "running", &JsValue::TRUE),
        }
        out.into()
    }

    /// Consecutive transient failures so far.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.inner.failures()
    }
}

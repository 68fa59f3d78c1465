//! The core's scheduler driving simulated devices in simulated time, as every client
//! surface drives it on its own timer: games save in bursts, the network goes away or the
//! server answers 503 with `Retry-After`, and the schedule decides when each device syncs.
//!
//! Properties: saves never cause two syncs on one device less than `min_gap` apart; a
//! retry never comes before the server's `Retry-After`; whatever a device had when one of
//! its syncs succeeded stays on the server; and once the network is back, every device
//! converges without anyone asking, within the scheduler's own waits.

mod sim;

use std::collections::BTreeSet;

use proptest::prelude::*;
use sim::{Device, Outage, Server, device, slot, sync};
use sync_core::ContentHash;
use sync_core::client::errors::ClientError;
use sync_core::client::scheduler::{Event, Millis, Next, Outcome, Scheduler, SchedulerConfig};
use sync_core::policy::ConflictPolicy;

/// The simulation's time step: a driver's timer tick.
const TICK: Millis = 100;

#[derive(Debug, Clone)]
enum Step {
    /// The game on `dev` saves slot `slot` (new content).
    Save { dev: usize, slot: u8 },
    /// Time passes with nothing happening.
    Idle { ms: Millis },
    /// The network changes for everyone: `None` is healthy.
    Network(Option<Outage>),
}

fn step_strategy(devices: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..devices, 1..4u8).prop_map(|(dev, slot)| Step::Save { dev, slot }),
        3 => (1..40u64).prop_map(|n| Step::Idle { ms: n * TICK }),
        1 => prop_oneof![
            Just(None),
            Just(Some(Outage::Offline)),
            (1..20u64).prop_map(|s| Some(Outage::Busy { retry_after: s })),
        ]
        .prop_map(Step::Network),
    ]
}

/// One device and the scheduler its client runs, with what the run recorded.
struct Client {
    engine: Device,
    schedule: Scheduler,
    /// Sync starts: (time, whether something other than saves asked for it: the previous
    /// sync failed, or the client signed in or came online since).
    starts: Vec<(Millis, bool)>,
    /// Signed in or came online since the last start.
    forced: bool,
    /// The end time and `Retry-After` (ms) of the last failure, if the last sync failed.
    last_failure: Option<(Millis, Option<Millis>)>,
}

struct World {
    server: Server,
    clients: Vec<Client>,
    now: Millis,
    writes: u32,
    /// Every content present on a device when one of its syncs succeeded.
    observed: BTreeSet<ContentHash>,
    config: SchedulerConfig,
}

impl World {
    fn new(devices: usize) -> Self {
        let server = Server::default();
        let config = SchedulerConfig::default();
        let mut clients: Vec<Client> = (0..devices)
            .map(|i| Client {
                engine: device(&server, &format!("dev{i}"), ConflictPolicy::KeepBoth),
                schedule: Scheduler::new(config, 0),
                starts: Vec::new(),
                forced: true,
                last_failure: None,
            })
            .collect();
        for c in &mut clients {
            c.schedule.on(Event::SignedIn, 0);
        }
        Self {
            server,
            clients,
            now: 0,
            writes: 0,
            observed: BTreeSet::new(),
            config,
        }
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Save { dev, slot: s } => {
                self.writes += 1;
                let content = format!("dev{dev}-save{}", self.writes);
                let client = &mut self.clients[dev];
                client
                    .engine
                    .store()
                    .game_write(&slot(s), content.as_bytes());
                client.schedule.on(Event::Saved, self.now);
                self.tick();
            }
            Step::Idle { ms } => {
                for _ in 0..ms / TICK {
                    self.tick();
                }
            }
            Step::Network(outage) => {
                let was_offline =
                    self.clients[0].engine.transport().outage.get() == Some(Outage::Offline);
                for c in &self.clients {
                    c.engine.transport().outage.set(outage);
                }
                if outage.is_none() && was_offline {
                    // The browser's `online` event (a busy server is not offline).
                    for c in &mut self.clients {
                        c.schedule.on(Event::Online, self.now);
                        c.forced = true;
                    }
                }
                self.tick();
            }
        }
    }

    /// One timer tick: every device whose schedule says so syncs (a simulated sync takes
    /// no time), then the clock moves on.
    fn tick(&mut self) {
        for c in &mut self.clients {
            if c.schedule.poll(self.now) != Next::SyncNow {
                continue;
            }
            c.schedule.on(Event::Started, self.now);
            if let (false, Some((failed_at, Some(retry_after)))) = (c.forced, c.last_failure) {
                assert!(
                    self.now >= failed_at + retry_after,
                    "a retry at {} ms came before Retry-After ({} ms after {failed_at})",
                    self.now,
                    retry_after
                );
            }
            c.starts
                .push((self.now, c.last_failure.is_some() || c.forced));
            c.forced = false;
            let before: BTreeSet<ContentHash> = c.engine.store().contents().into_values().collect();
            let result = sync(&mut c.engine).map_err(ClientError::from);
            let outcome = Outcome::of(result.as_ref().err());
            c.last_failure = match outcome {
                Outcome::Ok => {
                    self.observed.extend(before);
                    None
                }
                Outcome::Failed { retry_after, .. } => Some((self.now, retry_after)),
            };
            c.schedule.on(Event::Finished(outcome), self.now);
        }
        self.now += TICK;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    #[test]
    fn scheduled_devices_debounce_honour_retry_after_and_converge(
        devices in 2..4usize,
        steps in prop::collection::vec(step_strategy(3), 1..60),
    ) {
        let mut world = World::new(devices);
        for step in &steps {
            let step = match *step {
                Step::Save { dev, slot } => Step::Save { dev: dev % devices, slot },
                ref other => other.clone(),
            };
            world.apply(&step);
        }
        // The network comes back; nobody asks for anything. Within a backoff cap and two
        // intervals every device has synced what the others had.
        world.apply(&Step::Network(None));
        let settle = world.config.max_backoff + 2 * world.config.interval + 10 * TICK;
        world.apply(&Step::Idle { ms: settle });

        let min_gap = world.config.min_gap;
        for (i, c) in world.clients.iter().enumerate() {
            for pair in c.starts.windows(2) {
                let ((a, _), (b, forced)) = (pair[0], pair[1]);
                // Saves alone never start syncs closer than min_gap; a retry after a
                // failure, signing in and coming online may.
                if !forced {
                    prop_assert!(
                        b - a >= min_gap,
                        "dev{i}: syncs at {a} and {b} ms are closer than {min_gap} ms"
                    );
                }
            }
        }
        let on_server = world.server.all_versions();
        for content in &world.observed {
            prop_assert!(on_server.contains(content), "content {content:?} was lost");
        }
        let first = world.clients[0].engine.store().contents();
        for c in &world.clients[1..] {
            prop_assert_eq!(&c.engine.store().contents(), &first, "devices did not converge");
        }
        prop_assert_eq!(world.server.live_files(), first);
    }
}

/// A burst of saves, one every 200 ms for 30 s, syncs at most once per `min_gap`.
#[test]
fn a_burst_of_saves_syncs_once_per_min_gap() {
    let mut world = World::new(2);
    world.apply(&Step::Idle { ms: 2_000 });
    let before = world.clients[0].starts.len();
    for _ in 0..150 {
        world.apply(&Step::Save { dev: 0, slot: 1 });
        world.apply(&Step::Idle { ms: 100 });
    }
    let syncs = world.clients[0].starts.len() - before;
    let most = 30_000 / world.config.min_gap + 1;
    assert!(
        (5..=most as usize).contains(&syncs),
        "{syncs} syncs for a 30 s burst (at most {most})"
    );
}

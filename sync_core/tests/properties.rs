//! Property tests over the simulator: random writes, deletes and syncs on 2-3 devices in
//! random interleavings, with syncs interrupted at every step (network faults before and
//! after the server applies a request, and local disk faults).

mod sim;

use std::collections::BTreeSet;

use proptest::prelude::*;
use sim::{Device, Fault, Server, device, slot, sync};
use sync_core::ContentHash;
use sync_core::policy::ConflictPolicy;

#[derive(Debug, Clone)]
enum Op {
    /// The game on `dev` saves `slot` with new content (or a shared value, to create
    /// identical changes on two devices).
    Write {
        dev: usize,
        slot: u8,
        shared: Option<u8>,
    },
    Delete {
        dev: usize,
        slot: u8,
    },
    /// `dev` syncs; optionally request `n` fails, or the `n`-th local write fails, or the
    /// game saves slot `race` between the engine's scan and its first local write.
    Sync {
        dev: usize,
        net_fault: Option<(u32, bool)>,
        disk_fault: Option<u32>,
        race: Option<u8>,
    },
}

fn op_strategy(devices: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..devices, 1..5u8, prop::option::weighted(0.2, 0..3u8))
            .prop_map(|(dev, slot, shared)| Op::Write { dev, slot, shared }),
        1 => (0..devices, 1..5u8).prop_map(|(dev, slot)| Op::Delete { dev, slot }),
        4 => (
            0..devices,
            prop::option::weighted(0.35, (0..8u32, any::<bool>())),
            prop::option::weighted(0.15, 0..6u32),
            prop::option::weighted(0.15, 1..5u8),
        )
            .prop_map(|(dev, net_fault, disk_fault, race)| Op::Sync { dev, net_fault, disk_fault, race }),
    ]
}

fn policy_strategy() -> impl Strategy<Value = ConflictPolicy> {
    prop_oneof![
        Just(ConflictPolicy::KeepBoth),
        Just(ConflictPolicy::Newest),
        Just(ConflictPolicy::MostProgress),
        Just(ConflictPolicy::Local),
        Just(ConflictPolicy::Remote),
    ]
}

struct World {
    server: Server,
    devices: Vec<Device>,
    writes: u32,
    /// Every content present in a device's folder when one of its syncs succeeded.
    observed: BTreeSet<ContentHash>,
}

impl World {
    fn new(n: usize, policy: ConflictPolicy) -> Self {
        let server = Server::default();
        let devices = (0..n)
            .map(|i| device(&server, &format!("dev{i}"), policy))
            .collect();
        Self {
            server,
            devices,
            writes: 0,
            observed: BTreeSet::new(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Write {
                dev,
                slot: s,
                shared,
            } => {
                self.writes += 1;
                let content = match shared {
                    Some(v) => format!("shared-{s}-{v}"),
                    None => format!("dev{dev}-write{}", self.writes),
                };
                self.devices[dev]
                    .store()
                    .game_write(&slot(s), content.as_bytes());
            }
            Op::Delete { dev, slot: s } => self.devices[dev].store().game_delete(&slot(s)),
            Op::Sync {
                dev,
                net_fault,
                disk_fault,
                race,
            } => {
                self.writes += 1;
                let d = &mut self.devices[dev];
                *d.store().race.borrow_mut() = race.map(|s| {
                    (
                        slot(s),
                        format!("dev{dev}-race{}", self.writes).into_bytes(),
                    )
                });
                let before: BTreeSet<ContentHash> = d.store().contents().into_values().collect();
                d.transport().requests.set(0);
                d.transport().fault.set(
                    net_fault
                        .map(|(n, after)| (n, if after { Fault::After } else { Fault::Before })),
                );
                d.store().writes.set(0);
                d.store().fail_write.set(disk_fault);
                let result = sync(d);
                d.transport().fault.set(None);
                d.store().fail_write.set(None);
                // A race that did not strike (no local write happened) is a normal game save.
                if let Some((path, bytes)) = d.store().race.borrow_mut().take() {
                    d.store().game_write(&path, &bytes);
                }
                if result.is_ok() {
                    self.observed.extend(before);
                }
            }
        }
    }

    fn settle(&mut self) {
        for _round in 0..2 {
            for d in &mut self.devices {
                sync(d).expect("a fault-free sync succeeds");
            }
        }
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=20000 for a deeper search.
    /// (1) convergence, (2) no lost versions, (3) a sync after a sync is one request and
    /// transfers nothing.
    #[test]
    fn devices_converge_and_nothing_is_lost(
        n in 2..=3usize,
        policy in policy_strategy(),
        ops in prop::collection::vec(op_strategy(3), 1..40),
    ) {
        let mut world = World::new(n, policy);
        for op in ops.iter().filter(|op| match op {
            Op::Write { dev, .. } | Op::Delete { dev, .. } | Op::Sync { dev, .. } => *dev < n,
        }) {
            world.apply(op);
        }
        let written_before_settle: BTreeSet<ContentHash> = world
            .devices
            .iter()
            .flat_map(|d| d.store().contents().into_values())
            .collect();
        world.settle();

        // (1) Everyone holds identical files, equal to the server's live files.
        let server_files = world.server.live_files();
        for d in &world.devices {
            prop_assert_eq!(&d.store().contents(), &server_files);
        }

        // (2) Every content a successful sync saw, and every content still on a device before
        // settling, is in the server's history (current, older, archived or a conflict copy).
        let kept = world.server.all_versions();
        for h in world.observed.iter().chain(&written_before_settle) {
            prop_assert!(kept.contains(h), "content {h:?} was lost");
        }

        // (3) A sync right after a sync: exactly one request, nothing transferred or hashed.
        for d in &mut world.devices {
            d.transport().requests.set(0);
            let report = sync(d).expect("no-op sync");
            prop_assert!(report.is_noop(), "not a no-op: {report:?}");
            prop_assert_eq!(report.requests, 1);
            prop_assert_eq!(d.transport().requests.get(), 1);
            prop_assert_eq!(report.hashed_files, 0);
        }
    }
}

/// `persistent` as a set of fields, the way Ren'Py merges it: a device's game adds fields,
/// and at start it merges every location's copy into its own (a union here; Ren'Py keeps
/// the newest value per field, which for a set registered with `register_persistent` is the
/// union too).
mod persistent_merge {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use sync_core::SavePath;
    use sync_core::policy::ConflictPolicy;

    use super::sim::{Fault, RenpyDevice, Server, game_save, renpy_device, sync_renpy};

    fn persistent() -> SavePath {
        SavePath::new("persistent").expect("valid")
    }

    fn fields(bytes: Option<&Vec<u8>>) -> BTreeSet<String> {
        bytes
            .map(|b| {
                String::from_utf8_lossy(b)
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn encode(set: &BTreeSet<String>) -> Vec<u8> {
        set.iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes()
    }

    /// The fields the game on `dev` has in effect: its savedir copy.
    fn own(dev: &RenpyDevice) -> BTreeSet<String> {
        fields(
            dev.store()
                .primary()
                .files
                .borrow()
                .get(&persistent())
                .map(|(b, _)| b),
        )
    }

    /// What Ren'Py's `persistent.update()` has in effect: its own copy merged with every
    /// location's (it merges before it saves, at start and at every interaction).
    fn merged_view(dev: &RenpyDevice) -> BTreeSet<String> {
        let mut set = own(dev);
        for mirror in dev.store().mirrors() {
            set.extend(fields(
                mirror.files.borrow().get(&persistent()).map(|(b, _)| b),
            ));
        }
        set
    }

    fn game_add(dev: &RenpyDevice, field: String) {
        let mut set = merged_view(dev);
        set.insert(field);
        game_save(dev, &persistent(), &encode(&set));
    }

    /// Ren'Py starting: merges every location's persistent, saves if that changed anything.
    fn game_start(dev: &RenpyDevice) {
        let set = merged_view(dev);
        if set != own(dev) {
            game_save(dev, &persistent(), &encode(&set));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add {
            dev: usize,
            field: u8,
        },
        Start {
            dev: usize,
        },
        Sync {
            dev: usize,
            fault: Option<(u32, bool)>,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..3usize, 0..20u8).prop_map(|(dev, field)| Op::Add { dev, field }),
            2 => (0..3usize).prop_map(|dev| Op::Start { dev }),
            4 => (0..3usize, prop::option::weighted(0.3, (0..6u32, any::<bool>())))
                .prop_map(|(dev, fault)| Op::Sync { dev, fault }),
        ]
    }

    proptest! {
        /// Every field any device ever added ends up in effect on every device, under every
        /// policy, with interrupted syncs; and then syncing is a no-op.
        #[test]
        fn no_persistent_field_is_ever_lost(
            policy in prop_oneof![Just(ConflictPolicy::KeepBoth), Just(ConflictPolicy::Remote), Just(ConflictPolicy::Local), Just(ConflictPolicy::Manual)],
            ops in prop::collection::vec(op(), 1..40),
        ) {
            let server = Server::default();
            let mut devices: Vec<RenpyDevice> =
                (0..3).map(|i| renpy_device(&server, &format!("dev{i}"), policy)).collect();
            let mut added = BTreeSet::new();
            for op in &ops {
                match *op {
                    Op::Add { dev, field } => {
                        let field = format!("d{dev}f{field}");
                        added.insert(field.clone());
                        game_add(&devices[dev], field);
                    }
                    Op::Start { dev } => game_start(&devices[dev]),
                    Op::Sync { dev, fault } => {
                        let d = &mut devices[dev];
                        d.transport().fault.set(fault.map(|(n, after)| (n, if after { Fault::After } else { Fault::Before })));
                        let _ = sync_renpy(d);
                        d.transport().fault.set(None);
                    }
                }
            }
            // Each device syncs and starts its game until nothing changes any more (each
            // merge that adds something is uploaded and merged by the others).
            let mut rounds = 0;
            loop {
                rounds += 1;
                prop_assert!(rounds <= 10, "no fixpoint after 10 rounds");
                let mut quiet = true;
                for d in &mut devices {
                    let report = sync_renpy(d).expect("a fault-free sync succeeds");
                    quiet &= report.is_noop();
                    let before = own(d);
                    game_start(d);
                    quiet &= own(d) == before;
                }
                if quiet {
                    break;
                }
            }
            for (i, d) in devices.iter().enumerate() {
                prop_assert_eq!(&own(d), &added, "device {} lacks fields", i);
            }
            for d in &mut devices {
                let report = sync_renpy(d).expect("no-op sync");
                prop_assert!(report.is_noop(), "not a no-op: {:?}", report);
            }
        }
    }
}

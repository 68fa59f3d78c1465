use std::collections::BTreeMap;

use sync_core::ContentHash;
use sync_core::ledger::MemoryLedger;

use super::*;

/// A minimal backend that stores plans the way a database does: history rows without a
/// `current` flag (derived on read), current entries, cursor and usage.
#[derive(Default)]
struct PlannedStore {
    cursor: Seq,
    usage: Usage,
    current: BTreeMap<SavePath, Entry>,
    history: BTreeMap<SavePath, Vec<HistoryVersion>>,
}

impl PlannedStore {
    fn state(&self, path: &SavePath) -> FileState {
        FileState {
            current: self.current.get(path).cloned(),
            max_version: self
                .history
                .get(path)
                .and_then(|v| v.iter().map(|h| h.version).max())
                .unwrap_or(0),
        }
    }

    fn commit(&mut self, ops: &[CommitOp], device: &str, now: UnixMillis) -> Vec<CommitOutcome> {
        let plan = plan_commit(self.cursor, self.usage, ops, device, now, |p| {
            Ok(self.state(p))
        })
        .expect("planning from memory cannot fail");
        self.write(&plan);
        plan.outcomes
    }

    fn write(&mut self, plan: &CommitPlan) {
        for (path, v) in &plan.new_versions {
            self.history
                .entry(path.clone())
                .or_default()
                .push(v.clone());
        }
        for (path, e) in &plan.changed_current {
            self.current.insert(path.clone(), e.clone());
        }
        self.cursor = plan.cursor;
        self.usage = plan.usage;
    }

    fn history_of(&self, path: &SavePath) -> Vec<HistoryVersion> {
        let current = self.current.get(path).map(|e| e.version);
        let mut out: Vec<HistoryVersion> = self.history.get(path).cloned().unwrap_or_default();
        for v in &mut out {
            v.current = Some(v.version) == current;
        }
        out.reverse();
        out
    }
}

fn path(s: &str) -> SavePath {
    SavePath::new(s).expect("valid test path")
}

/// xorshift64: deterministic pseudo-random choices without a dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn random_op(rng: &mut Rng, reference: &MemoryLedger) -> CommitOp {
    let p = path(["a.save", "b.save", "persistent"][rng.below(3) as usize]);
    let cur = ledger::current_version(reference.current.get(&p));
    let expect_version = match rng.below(5) {
        0 => cur.saturating_sub(1),
        1 => cur + 1,
        _ => cur,
    };
    let content = [b"x".as_slice(), b"yy", b"zzz"][rng.below(3) as usize];
    let (sha256, size) = (ContentHash::of(content), content.len() as u64);
    let action = match rng.below(6) {
        0 | 1 => CommitAction::Delete,
        2 => CommitAction::Archive {
            sha256,
            size,
            mtime: Some(5),
            meta: None,
        },
        _ => CommitAction::Put {
            sha256,
            size,
            mtime: Some(rng.below(100) as i64),
            meta: None,
        },
    };
    CommitOp {
        path: p,
        expect_version,
        action,
    }
}

#[test]
fn plans_match_the_memory_ledger_on_random_batches() {
    let (mut conflicts, mut restores) = (0, 0);
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut reference = MemoryLedger::default();
        let mut planned = PlannedStore::default();
        for step in 0..60i64 {
            let n = 1 + rng.below(4) as usize;
            let mut ops = Vec::new();
            for _ in 0..n {
                ops.push(random_op(&mut rng, &reference));
            }
            let device = if rng.below(2) == 0 { "d1" } else { "d2" };
            let want: Vec<CommitOutcome> = ops
                .iter()
                .map(|op| reference.apply(op, device, step))
                .collect();
            assert_eq!(
                planned.commit(&ops, device, step),
                want,
                "seed {seed} step {step}"
            );
            conflicts += want
                .iter()
                .filter(|o| matches!(o, CommitOutcome::Conflict { .. }))
                .count();
            // Occasionally restore a random existing version through the plan, too.
            if rng.below(4) == 0 {
                let p = path("a.save");
                if let Some(old) = reference.history_of(&p).last().cloned() {
                    let want = reference.restore(&p, old.version, device, step);
                    let op = restore_op(&p, &old, planned.current.get(&p));
                    let plan =
                        plan_commit(planned.cursor, planned.usage, &[op], device, step, |q| {
                            Ok(planned.state(q))
                        })
                        .expect("plan");
                    planned.write(&plan);
                    assert_eq!(restored_entry(&plan), want, "seed {seed} restore");
                    restores += 1;
                }
            }
        }
        assert_eq!(planned.cursor, reference.cursor);
        assert_eq!(planned.current, reference.current);
        for p in reference.history.keys() {
            assert_eq!(
                planned.history_of(p),
                reference.history_of(p),
                "seed {seed}"
            );
        }
        let live = reference
            .current
            .values()
            .fold(Usage::default(), |u, e| replace_usage(u, None, Some(e)));
        assert_eq!(planned.usage, live, "usage is tracked incrementally");
    }
    // The random walk really went through conflicts and restores.
    assert!(
        conflicts > 100 && restores > 100,
        "{conflicts} conflicts, {restores} restores"
    );
}

#[test]
fn loads_each_path_once_and_sees_earlier_ops_of_the_batch() {
    let put = |expect, content: &[u8]| CommitOp {
        path: path("a.save"),
        expect_version: expect,
        action: CommitAction::Put {
            sha256: ContentHash::of(content),
            size: content.len() as u64,
            mtime: None,
            meta: None,
        },
    };
    let mut loads = 0;
    let plan = plan_commit(
        0,
        Usage::default(),
        &[put(0, b"1"), put(1, b"22")],
        "d",
        1,
        |_| {
            loads += 1;
            Ok(FileState::default())
        },
    )
    .expect("plan");
    assert_eq!(loads, 1);
    assert_eq!(plan.cursor, 2);
    assert_eq!(plan.usage, Usage { bytes: 2, files: 1 });
    assert_eq!(plan.new_versions.len(), 2);
    assert_eq!(plan.changed_current[&path("a.save")].version, 2);
}

#[test]
fn quota_refuses_growth_past_a_limit_but_allows_shrinking() {
    let quota = Quota {
        max_bytes: 100,
        max_files: 2,
        retention: Retention::KEEP_ALL,
    };
    let u = |bytes, files| Usage { bytes, files };
    assert!(check_quota(u(0, 0), u(100, 2), quota).is_ok());
    assert!(matches!(
        check_quota(u(0, 0), u(101, 1), quota),
        Err(StorageError::QuotaExceeded(_))
    ));
    assert!(matches!(
        check_quota(u(0, 0), u(10, 3), quota),
        Err(StorageError::QuotaExceeded(_))
    ));
    // Already over a lowered limit: shrinking is allowed, growing is not.
    assert!(check_quota(u(500, 5), u(400, 4), quota).is_ok());
    assert!(check_quota(u(500, 5), u(500, 5), quota).is_ok());
    assert!(check_quota(u(500, 5), u(501, 5), quota).is_err());
}

//! Builders shared by the checks: users and scopes, ops, a reference twin, randomness.

use std::sync::Arc;

use sync_core::ledger::MemoryLedger;
use sync_core::protocol::{CommitAction, CommitOp, CommitOutcome, Entry, Seq, UnixMillis, Version};
use sync_core::savemeta::SaveMeta;
use sync_core::{ContentHash, GameId, SavePath};

use super::{CheckFailure, CheckResult};
use crate::storage::commit_plan::replace_usage;
use crate::storage::ids::new_id;
use crate::storage::{LeaseRequest, MetadataStore, Quota, Retention, Scope, Usage};

/// No limits: for checks that are not about quotas.
pub const NO_QUOTA: Quota = Quota {
    max_bytes: u64::MAX,
    max_files: u64::MAX,
    retention: Retention::KEEP_ALL,
};

/// `max_bytes` and `max_files`, keeping every version.
pub fn quota(max_bytes: u64, max_files: u64) -> Quota {
    Quota {
        max_bytes,
        max_files,
        ..NO_QUOTA
    }
}

/// Leases, for good, the blobs `ops` refer to, as a client's announcement does before a
/// commit.
pub async fn lease_ops<M: MetadataStore>(
    store: &M,
    scope: &Scope,
    ops: &[CommitOp],
) -> Result<(), CheckFailure> {
    let blobs: Vec<LeaseRequest> =
        ops.iter()
            .filter_map(|op| match &op.action {
                CommitAction::Put { sha256, size, .. }
                | CommitAction::Archive { sha256, size, .. } => Some(LeaseRequest {
                    sha256: *sha256,
                    size: *size,
                    stored: true,
                }),
                CommitAction::Delete => None,
            })
            .collect();
    if !blobs.is_empty() {
        store
            .lease_blobs(scope, &blobs, UnixMillis::MAX, u64::MAX, 0)
            .await?;
    }
    Ok(())
}

/// Leases the ops' blobs, then commits with `quota`.
pub async fn commit_with<M: MetadataStore>(
    store: &M,
    scope: &Scope,
    device: &str,
    ops: &[CommitOp],
    quota: Quota,
    now: UnixMillis,
) -> Result<(Seq, Vec<CommitOutcome>), crate::storage::StorageError> {
    lease_ops(store, scope, ops)
        .await
        .map_err(|CheckFailure(why)| crate::storage::StorageError::Unavailable(why))?;
    store.commit(scope, device, ops, quota, now).await
}

/// `prefix` plus a random suffix, so checks never collide in a shared store.
pub fn unique(prefix: &str) -> Result<String, CheckFailure> {
    Ok(format!("{prefix}-{}", &new_id()?[..12]))
}

/// A fixture path; the literals used by the checks are valid.
pub fn path(raw: &str) -> SavePath {
    SavePath::new(raw).expect("fixture save path is valid")
}

/// A fixture game id; the literals used by the checks are valid.
pub fn game(raw: &str) -> GameId {
    GameId::new(raw).expect("fixture game id is valid")
}

/// Creates a fresh user and returns its scope for `game_id`.
pub async fn new_scope<M: MetadataStore>(store: &M, game_id: &str) -> Result<Scope, CheckFailure> {
    let user = store
        .create_user(&unique("user")?, "$argon2id$fixture", 1)
        .await?;
    Ok(Scope {
        user_id: user.user_id,
        game: game(game_id),
    })
}

/// A scope for a random (safe, hex) user id, for stores without users.
pub fn random_scope(game_id: &str) -> Result<Scope, CheckFailure> {
    Ok(Scope {
        user_id: new_id()?,
        game: game(game_id),
    })
}

pub fn put(p: &str, expect_version: Version, content: &[u8]) -> CommitOp {
    CommitOp {
        path: path(p),
        expect_version,
        action: CommitAction::Put {
            sha256: ContentHash::of(content),
            size: content.len() as u64,
            mtime: Some(1_700_000_000_000 + content.len() as i64),
            meta: None,
        },
    }
}

pub fn put_with_meta(p: &str, expect_version: Version, content: &[u8], meta: SaveMeta) -> CommitOp {
    let mut op = put(p, expect_version, content);
    if let CommitAction::Put { meta: m, .. } = &mut op.action {
        *m = Some(meta);
    }
    op
}

pub fn delete(p: &str, expect_version: Version) -> CommitOp {
    CommitOp {
        path: path(p),
        expect_version,
        action: CommitAction::Delete,
    }
}

pub fn archive(p: &str, content: &[u8]) -> CommitOp {
    CommitOp {
        path: path(p),
        // Archives never conflict, whatever they expect.
        expect_version: 0,
        action: CommitAction::Archive {
            sha256: ContentHash::of(content),
            size: content.len() as u64,
            mtime: Some(7),
            meta: None,
        },
    }
}

/// Commits without a quota and returns the cursor and outcomes.
pub async fn commit<M: MetadataStore>(
    store: &M,
    scope: &Scope,
    device: &str,
    ops: &[CommitOp],
    now: UnixMillis,
) -> Result<(Seq, Vec<CommitOutcome>), CheckFailure> {
    Ok(commit_with(store, scope, device, ops, NO_QUOTA, now).await?)
}

/// The entry of a committed outcome (fails on a conflict or an empty entry).
pub fn committed_entry(outcome: &CommitOutcome) -> Result<Entry, CheckFailure> {
    match outcome {
        CommitOutcome::Committed {
            entry: Some(entry), ..
        } => Ok(entry.clone()),
        other => Err(CheckFailure(format!(
            "expected a committed entry, got {other:?}"
        ))),
    }
}

/// A store scope next to a [`MemoryLedger`] that receives the same ops: every answer of the
/// store must equal the reference's.
pub struct Twin<M> {
    pub store: Arc<M>,
    pub scope: Scope,
    pub ledger: MemoryLedger,
}

impl<M: MetadataStore> Twin<M> {
    pub async fn new(store: Arc<M>, game_id: &str) -> Result<Self, CheckFailure> {
        let scope = new_scope(store.as_ref(), game_id).await?;
        Ok(Self {
            store,
            scope,
            ledger: MemoryLedger::default(),
        })
    }

    /// Commits on both sides; outcomes and cursors must match.
    pub async fn commit(
        &mut self,
        device: &str,
        ops: &[CommitOp],
        now: UnixMillis,
    ) -> Result<Vec<CommitOutcome>, CheckFailure> {
        let (cursor, got) = commit(self.store.as_ref(), &self.scope, device, ops, now).await?;
        let want: Vec<CommitOutcome> = ops
            .iter()
            .map(|op| self.ledger.apply(op, device, now))
            .collect();
        ensure_eq!(got, want, "outcomes of {ops:?}");
        ensure_eq!(cursor, self.ledger.cursor, "cursor after a commit");
        Ok(got)
    }

    /// Restores on both sides; the results must match.
    pub async fn restore(
        &mut self,
        p: &SavePath,
        version: Version,
        device: &str,
        now: UnixMillis,
    ) -> Result<Option<Entry>, CheckFailure> {
        let got = self
            .store
            .restore(&self.scope, p, version, device, NO_QUOTA, now)
            .await?;
        let want = self.ledger.restore(p, version, device, now);
        ensure_eq!(
            got.clone().map(|(_, e)| e),
            want,
            "restore of {p} version {version}"
        );
        if let Some((cursor, _)) = &got {
            ensure_eq!(*cursor, self.ledger.cursor, "cursor after a restore");
        }
        Ok(want)
    }

    /// Every read of the store matches the reference: changes from several positions,
    /// the history of every file, the usage.
    pub async fn verify(&self) -> CheckResult {
        for since in [
            None,
            Some(0),
            Some(self.ledger.cursor / 2),
            Some(self.ledger.cursor),
        ] {
            let (cursor, changes) = self.store.changes_since(&self.scope, since).await?;
            ensure_eq!(
                cursor,
                self.ledger.cursor,
                "cursor of changes_since({since:?})"
            );
            ensure_eq!(
                changes,
                self.ledger.changes_since(since),
                "changes_since({since:?})"
            );
        }
        for p in self.ledger.history.keys() {
            let got = self.store.history(&self.scope, p).await?;
            ensure_eq!(got, self.ledger.history_of(p), "history of {p}");
        }
        let live = self
            .ledger
            .current
            .values()
            .fold(Usage::default(), |u, e| replace_usage(u, None, Some(e)));
        ensure_eq!(self.store.usage(&self.scope).await?, live, "usage");
        Ok(())
    }
}

/// xorshift64: deterministic choices for random walks, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Save metadata with values that must survive storage exactly (awkward floats included).
pub fn sample_meta(n: u64) -> SaveMeta {
    let mut extra = std::collections::BTreeMap::new();
    extra.insert(
        "_custom".to_owned(),
        serde_json::json!({"chapter": n, "flags": [true, null]}),
    );
    SaveMeta {
        save_name: Some(format!("Chapter {n} — «début» 🌸")),
        ctime: Some(1_700_000_000.123_456_7 + n as f64),
        game_runtime: Some(0.1 + 0.2),
        version: Some("1.0".to_owned()),
        renpy_version: Some(vec![8, 3, 7, 25_031_702]),
        extra,
        has_screenshot: n.is_multiple_of(2),
    }
}

//! The sync engine: drives scan → changes → plan → upload → commit → download → apply →
//! save state, over any [`SaveStore`] and [`Transport`].
//!
//! One sync makes one `changes` request when nothing changed. Every step that completes is
//! recorded in the state (base entries only move after the matching action succeeded), and
//! the state is saved even when a later step fails, so an interrupted sync resumes and
//! never loses or duplicates work.

mod execute;
mod report;
mod scan;

use std::collections::BTreeSet;

pub use report::{ConflictReport, LocalStatus, Phase, Progress, SyncError, SyncReport};

use crate::path::{GameId, SavePath};
use crate::planner::{Action, plan_file};
use crate::policy::{ConflictCopies, ConflictPolicy, Resolution, Settlement};
use crate::protocol::{
    BlobRef, ChangesRequest, ChangesResponse, HistoryResponse, RestoreRequest, Seq, Version,
};
use crate::rules::{SyncRules, is_merged};
use crate::state::{PendingConflict, SyncState};
use crate::store::SaveStore;
use crate::transport::{Transport, TransportError, TransportErrorKind};

/// Upper bound on plan/execute rounds in one sync (a round after the first happens only for
/// commit conflicts and new conflict copies).
const MAX_PASSES: usize = 4;

/// What the engine syncs and how it settles conflicts.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub game: GameId,
    pub rules: SyncRules,
    pub policy: ConflictPolicy,
    pub copies: ConflictCopies,
}

impl EngineConfig {
    /// Ren'Py defaults, `keep-both`.
    pub fn new(game: GameId) -> Self {
        Self {
            game,
            rules: SyncRules::renpy_default(),
            policy: ConflictPolicy::default(),
            copies: ConflictCopies::default(),
        }
    }
}

/// Syncs one game's save folder with the server.
pub struct SyncEngine<S, T> {
    store: S,
    transport: T,
    config: EngineConfig,
}

impl<S: SaveStore, T: Transport> SyncEngine<S, T> {
    pub fn new(store: S, transport: T, config: EngineConfig) -> Self {
        Self {
            store,
            transport,
            config,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Changes the conflict policy for the next syncs.
    pub fn set_policy(&mut self, policy: ConflictPolicy) {
        self.config.policy = policy;
    }

    /// Runs one sync.
    pub async fn sync(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<SyncReport, SyncError> {
        let before = self.load_state().await?;
        let mut state = before.clone();
        let mut report = SyncReport::default();
        let outcome = self.run(&mut state, &mut report, progress).await;
        if state != before {
            // Persist completed facts even on failure; a failed save only loses re-doable work.
            let saved = self.store.save_state(&state.encode()).await;
            if outcome.is_ok() {
                saved?;
            }
        }
        outcome?;
        progress(&Progress {
            phase: Phase::Done,
            files_done: 0,
            files_total: 0,
            bytes_done: report.bytes_up + report.bytes_down,
            bytes_total: report.bytes_up + report.bytes_down,
        });
        Ok(report)
    }

    async fn run(
        &mut self,
        state: &mut SyncState,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), SyncError> {
        for _ in 0..MAX_PASSES {
            progress(&Progress {
                phase: Phase::Scanning,
                files_done: 0,
                files_total: 0,
                bytes_done: 0,
                bytes_total: 0,
            });
            let (local, hashed) = scan::scan(&self.store, &self.config.rules, state).await?;
            report.hashed_files += hashed;

            let uploads = upload_intents(&local, state);
            progress(&Progress {
                phase: Phase::Checking,
                files_done: 0,
                files_total: 0,
                bytes_done: 0,
                bytes_total: 0,
            });
            let changes = self.fetch_changes(state.cursor, uploads, report).await?;
            for entry in &changes.changes {
                state.remote.insert(entry.path.clone(), entry.clone());
            }
            state.cursor = Some(changes.cursor);

            let plan = self.plan(&local, state, report);
            if plan.is_empty() {
                return Ok(());
            }
            let again = execute::Execution {
                store: &self.store,
                transport: &self.transport,
                config: &self.config,
                local: &local,
                changes: &changes,
                progress: &mut *progress,
            }
            .run(plan, state, report)
            .await?;
            if !again {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Every change since `since`, following the server's pages (only the first request
    /// carries the uploads).
    async fn fetch_changes(
        &self,
        since: Option<Seq>,
        uploads: Vec<BlobRef>,
        report: &mut SyncReport,
    ) -> Result<ChangesResponse, SyncError> {
        let game = &self.config.game;
        let mut all = self
            .transport
            .changes(game, &ChangesRequest { since, uploads })
            .await?;
        report.requests += 1;
        while all.more {
            let page = self
                .transport
                .changes(
                    game,
                    &ChangesRequest {
                        since: Some(all.cursor),
                        uploads: Vec::new(),
                    },
                )
                .await?;
            report.requests += 1;
            if page.more && page.cursor <= all.cursor {
                return Err(TransportError::new(
                    TransportErrorKind::Corrupt,
                    "the server's change pages do not advance",
                )
                .into());
            }
            all.cursor = page.cursor;
            all.more = page.more;
            all.changes.extend(page.changes);
            all.downloads.extend(page.downloads);
        }
        Ok(all)
    }

    /// Plans every synced path; records manual conflicts as pending.
    fn plan(
        &self,
        local: &scan::LocalFiles,
        state: &mut SyncState,
        report: &mut SyncReport,
    ) -> Vec<(SavePath, Action)> {
        let rules = &self.config.rules;
        let paths: BTreeSet<SavePath> = local
            .keys()
            .chain(state.base.keys())
            .chain(state.remote.keys())
            .filter(|p| rules.is_synced(p))
            .cloned()
            .collect();
        let mut plan = Vec::new();
        for path in paths {
            let action = plan_file(
                local.get(&path),
                state.base.get(&path),
                state.remote.get(&path),
                self.config.policy,
                state.decisions.get(&path).copied(),
                is_merged(&path),
            );
            match &action {
                Action::Conflict {
                    remote,
                    settlement: Settlement::Wait,
                } => {
                    let pending = PendingConflict {
                        path: path.clone(),
                        local: local.get(&path).cloned(),
                        remote: Some(remote.clone()),
                    };
                    report.pending_manual.push(pending.clone());
                    state.pending.insert(path, pending);
                }
                Action::Conflict { .. } => plan.push((path, action)),
                _ => {
                    // No longer a conflict: a stale manual decision must not apply later.
                    state.pending.remove(&path);
                    state.decisions.remove(&path);
                    if action != Action::Nothing {
                        plan.push((path, action));
                    }
                }
            }
        }
        plan
    }

    /// Local facts without the network.
    pub async fn status(&mut self) -> Result<LocalStatus, SyncError> {
        let mut state = self.load_state().await?;
        let (local, _) = scan::scan(&self.store, &self.config.rules, &mut state).await?;
        let pending_uploads = local
            .iter()
            .filter(|(p, l)| state.base.get(*p).and_then(|b| b.content()) != Some(l.sha256))
            .map(|(p, _)| p.clone())
            .chain(
                state
                    .base
                    .iter()
                    .filter(|(p, b)| {
                        !b.deleted && !local.contains_key(*p) && self.config.rules.is_synced(p)
                    })
                    .map(|(p, _)| p.clone()),
            )
            .collect();
        self.store.save_state(&state.encode()).await?;
        Ok(LocalStatus {
            pending_uploads,
            cursor: state.cursor,
            pending_conflicts: state.pending.len(),
        })
    }

    /// Conflicts waiting for the player.
    pub async fn pending_conflicts(&mut self) -> Result<Vec<PendingConflict>, SyncError> {
        Ok(self.load_state().await?.pending.into_values().collect())
    }

    /// Records the player's decision; the next sync applies it.
    pub async fn resolve(&mut self, path: &SavePath, choice: Resolution) -> Result<(), SyncError> {
        let mut state = self.load_state().await?;
        state.decisions.insert(path.clone(), choice);
        self.store.save_state(&state.encode()).await?;
        Ok(())
    }

    /// Every stored version of a file, newest first.
    pub async fn history(&mut self, path: &SavePath) -> Result<HistoryResponse, SyncError> {
        Ok(self.transport.history(&self.config.game, path).await?)
    }

    /// Makes an old version current on the server (as a new version), then syncs it here.
    pub async fn restore(
        &mut self,
        path: &SavePath,
        version: Version,
    ) -> Result<SyncReport, SyncError> {
        let req = RestoreRequest {
            path: path.clone(),
            version,
        };
        self.transport.restore(&self.config.game, &req).await?;
        let mut report = self.sync(&mut |_| {}).await?;
        report.requests += 1;
        Ok(report)
    }

    async fn load_state(&self) -> Result<SyncState, SyncError> {
        Ok(match self.store.load_state().await? {
            Some(bytes) => SyncState::decode(&bytes, &self.config.game)?,
            None => SyncState::new(&self.config.game),
        })
    }
}

/// Blobs this sync may upload: every local content that differs from the base.
fn upload_intents(local: &scan::LocalFiles, state: &SyncState) -> Vec<BlobRef> {
    let mut seen = BTreeSet::new();
    local
        .iter()
        .filter(|(p, l)| state.base.get(*p).and_then(|b| b.content()) != Some(l.sha256))
        .filter(|(_, l)| seen.insert(l.sha256))
        .map(|(_, l)| BlobRef {
            sha256: l.sha256,
            size: l.size,
        })
        .collect()
}

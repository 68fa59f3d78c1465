//! A deterministic simulator for the sync protocol: devices with in-memory save stores, one
//! in-memory server built on `MemoryLedger`, a virtual clock and fault injection.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the simulator"
)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use sync_core::client::ErrorCode;
use sync_core::engine::{EngineConfig, SyncEngine, SyncError, SyncReport};
use sync_core::ledger::MemoryLedger;
use sync_core::locations::{Locations, SaveMirror};
use sync_core::policy::ConflictPolicy;
use sync_core::protocol::*;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError};
use sync_core::transport::{Transport, TransportError, TransportErrorKind};
use sync_core::{ContentHash, GameId, SavePath};

/// Entries per `changes` answer: small, so multi-file scenarios always page.
const SIM_PAGE_ENTRIES: usize = 3;

/// When an injected network fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request never reaches the server.
    Before,
    /// The server applies the request but the answer is lost.
    After,
}

/// A network that stays broken until cleared (for the scheduler's retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every request fails: the server cannot be reached.
    Offline,
    /// The server answers every request 503 with this `Retry-After` (seconds).
    Busy { retry_after: u64 },
}

#[derive(Default)]
pub struct ServerState {
    pub ledger: MemoryLedger,
    pub blobs: BTreeMap<ContentHash, Vec<u8>>,
    pub clock: i64,
}

/// The shared in-memory server, and the world's virtual clock for file times.
#[derive(Clone, Default)]
pub struct Server(pub Rc<RefCell<ServerState>>, pub Rc<Cell<i64>>);

impl Server {
    /// Every content hash in any version of any file (current, history, archived).
    pub fn all_versions(&self) -> BTreeSet<ContentHash> {
        let s = self.0.borrow();
        s.ledger
            .history
            .values()
            .flatten()
            .filter(|v| !v.deleted)
            .map(|v| v.sha256)
            .collect()
    }

    pub fn live_files(&self) -> BTreeMap<SavePath, ContentHash> {
        let s = self.0.borrow();
        s.ledger
            .current
            .values()
            .filter(|e| !e.deleted)
            .map(|e| (e.path.clone(), e.sha256))
            .collect()
    }

    fn download_urls(
        &self,
        hashes: impl Iterator<Item = ContentHash>,
    ) -> BTreeMap<ContentHash, String> {
        let s = self.0.borrow();
        hashes
            .filter(|h| s.blobs.contains_key(h))
            .map(|h| (h, format!("mem://{h}")))
            .collect()
    }
}

/// One device's network stack: counts requests and can fail one of them.
pub struct MemTransport {
    pub server: Server,
    pub device: String,
    pub requests: Cell<u32>,
    /// Fail the request with this index (0-based, counted from when it was set).
    pub fault: Cell<Option<(u32, Fault)>>,
    /// While set, every request fails this way.
    pub outage: Cell<Option<Outage>>,
}

impl MemTransport {
    pub fn new(server: Server, device: &str) -> Self {
        Self {
            server,
            device: device.into(),
            requests: Cell::new(0),
            fault: Cell::new(None),
            outage: Cell::new(None),
        }
    }

    /// Counts a request; returns the fault that strikes it, if any.
    fn tick(&self) -> Option<Fault> {
        let n = self.requests.get();
        self.requests.set(n + 1);
        match self.fault.get() {
            Some((k, f)) if k == n => Some(f),
            _ => None,
        }
    }

    fn call<R>(&self, f: impl FnOnce(&mut ServerState) -> R) -> Result<R, TransportError> {
        let fault = self.tick();
        match self.outage.get() {
            None => {}
            Some(Outage::Offline) => {
                return Err(TransportError::new(
                    TransportErrorKind::Offline,
                    "injected: outage",
                ));
            }
            Some(Outage::Busy { retry_after }) => {
                let mut busy = TransportError::new(
                    TransportErrorKind::Server { status: 503 },
                    "injected: busy",
                );
                busy.retry_after = Some(retry_after);
                return Err(busy);
            }
        }
        if fault == Some(Fault::Before) {
            return Err(TransportError::new(
                TransportErrorKind::Offline,
                "injected: before",
            ));
        }
        let r = {
            let mut s = self.server.0.borrow_mut();
            s.clock += 1;
            f(&mut s)
        };
        if fault == Some(Fault::After) {
            return Err(TransportError::new(
                TransportErrorKind::Offline,
                "injected: answer lost",
            ));
        }
        Ok(r)
    }
}

impl Transport for MemTransport {
    async fn changes(
        &self,
        _game: &GameId,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, TransportError> {
        let server = self.server.clone();
        let (cursor, changes, present) = self.call(|s| {
            let present: Vec<bool> = req
                .uploads
                .iter()
                .map(|b| s.blobs.contains_key(&b.sha256))
                .collect();
            (s.ledger.cursor, s.ledger.changes_since(req.since), present)
        })?;
        // Pages as small as the real server's can be, so every simulated sync follows them.
        let more = changes.len() > SIM_PAGE_ENTRIES;
        let (cursor, changes) = if more {
            let page: Vec<Entry> = changes.into_iter().take(SIM_PAGE_ENTRIES).collect();
            (page.last().map_or(cursor, |e| e.seq), page)
        } else {
            (cursor, changes)
        };
        let downloads =
            server.download_urls(changes.iter().filter(|e| !e.deleted).map(|e| e.sha256));
        let uploads = req
            .uploads
            .iter()
            .zip(present)
            .map(|(b, present)| UploadTarget {
                sha256: b.sha256,
                size: b.size,
                present,
                url: (!present).then(|| format!("mem://{}", b.sha256)),
                method: "PUT".into(),
                headers: BTreeMap::new(),
                expires_at: 0,
            })
            .collect();
        Ok(ChangesResponse {
            cursor,
            changes,
            more,
            downloads,
            uploads,
        })
    }

    async fn upload(&self, target: &UploadTarget, bytes: &[u8]) -> Result<(), TransportError> {
        self.call(|s| {
            // The server verifies the hash, as the real one does.
            if ContentHash::of(bytes) == target.sha256 {
                s.blobs.insert(target.sha256, bytes.to_vec());
                Ok(())
            } else {
                Err(TransportError::new(
                    TransportErrorKind::Rejected {
                        status: 400,
                        code: ErrorCode::HashMismatch.as_str().into(),
                    },
                    "hash mismatch",
                ))
            }
        })?
    }

    async fn commit(
        &self,
        _game: &GameId,
        req: &CommitRequest,
    ) -> Result<CommitResponse, TransportError> {
        let device = self.device.clone();
        self.call(|s| {
            for op in &req.ops {
                if let CommitAction::Put { sha256, .. } | CommitAction::Archive { sha256, .. } =
                    &op.action
                    && !s.blobs.contains_key(sha256)
                {
                    return Err(TransportError::new(
                        TransportErrorKind::Rejected {
                            status: 400,
                            code: ErrorCode::BlobMissing.as_str().into(),
                        },
                        format!("{} not uploaded", op.path),
                    ));
                }
            }
            let now = s.clock;
            let results = req
                .ops
                .iter()
                .map(|op| s.ledger.apply(op, &device, now))
                .collect();
            Ok(CommitResponse {
                cursor: s.ledger.cursor,
                results,
            })
        })?
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TransportError> {
        let hash: Option<ContentHash> = url.strip_prefix("mem://").and_then(|h| h.parse().ok());
        self.call(|s| hash.and_then(|h| s.blobs.get(&h).cloned()))?
            .ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Rejected {
                        status: 404,
                        code: ErrorCode::NotFound.as_str().into(),
                    },
                    url,
                )
            })
    }

    async fn download_urls(
        &self,
        _game: &GameId,
        req: &DownloadRequest,
    ) -> Result<DownloadResponse, TransportError> {
        let server = self.server.clone();
        self.call(|_| ())?;
        Ok(DownloadResponse {
            downloads: server.download_urls(req.sha256.iter().copied()),
        })
    }

    async fn history(
        &self,
        _game: &GameId,
        path: &SavePath,
    ) -> Result<HistoryResponse, TransportError> {
        self.call(|s| HistoryResponse {
            path: path.clone(),
            versions: s.ledger.history_of(path),
        })
    }

    async fn restore(
        &self,
        _game: &GameId,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, TransportError> {
        let device = self.device.clone();
        self.call(|s| {
            let now = s.clock;
            let entry = s.ledger.restore(&req.path, req.version, &device, now);
            let cursor = s.ledger.cursor;
            entry.map(|entry| RestoreResponse { entry, cursor })
        })?
        .ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Rejected {
                    status: 404,
                    code: ErrorCode::NoSuchVersion.as_str().into(),
                },
                "no such version",
            )
        })
    }
}

/// A device's save folder in memory, on the world's virtual clock, with an optional write
/// fault.
#[derive(Default)]
pub struct MemStore {
    pub files: RefCell<BTreeMap<SavePath, (Vec<u8>, i64)>>,
    pub state: RefCell<Option<Vec<u8>>>,
    /// Shared by all devices of a world, so later writes always get later times.
    pub clock: Rc<Cell<i64>>,
    /// Fail the n-th mutating call (write, delete, save_state), counted from when it was set.
    pub fail_write: Cell<Option<u32>>,
    pub writes: Cell<u32>,
    /// The game saves this file right before the engine's next write or delete: a save made
    /// between the engine's scan and its apply.
    pub race: RefCell<Option<(SavePath, Vec<u8>)>>,
}

impl MemStore {
    fn now(&self) -> i64 {
        let t = self.clock.get() + 1;
        self.clock.set(t);
        t
    }

    fn mutation(&self) -> Result<(), StoreError> {
        if let Some((path, bytes)) = self.race.borrow_mut().take() {
            self.game_write(&path, &bytes);
        }
        let n = self.writes.get();
        self.writes.set(n + 1);
        if self.fail_write.get() == Some(n) {
            return Err(StoreError::io("injected: disk full"));
        }
        Ok(())
    }

    fn check(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        let observed = self
            .files
            .borrow()
            .get(path)
            .map(|(b, m)| (b.len() as u64, *m));
        expect.check(path, observed)
    }

    /// The game writes a file (fresh mtime).
    pub fn game_write(&self, path: &SavePath, bytes: &[u8]) {
        let t = self.now();
        self.files
            .borrow_mut()
            .insert(path.clone(), (bytes.to_vec(), t));
    }

    pub fn game_delete(&self, path: &SavePath) {
        self.files.borrow_mut().remove(path);
    }

    pub fn contents(&self) -> BTreeMap<SavePath, ContentHash> {
        self.files
            .borrow()
            .iter()
            .map(|(p, (b, _))| (p.clone(), ContentHash::of(b)))
            .collect()
    }
}

impl SaveStore for MemStore {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        Ok(self
            .files
            .borrow()
            .iter()
            .map(|(p, (b, m))| LocalFile {
                path: p.clone(),
                size: b.len() as u64,
                mtime: *m,
            })
            .collect())
    }

    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        self.files
            .borrow()
            .get(path)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| StoreError::not_found(path))
    }

    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<i64>,
        expect: Expect,
    ) -> Result<(), StoreError> {
        self.mutation()?;
        self.check(path, expect)?;
        let t = mtime.unwrap_or_else(|| self.now());
        self.files
            .borrow_mut()
            .insert(path.clone(), (bytes.to_vec(), t));
        Ok(())
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        self.mutation()?;
        self.check(path, expect)?;
        self.files.borrow_mut().remove(path);
        Ok(())
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state.borrow().clone())
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.mutation()?;
        *self.state.borrow_mut() = Some(state.to_vec());
        Ok(())
    }
}

pub type Device = SyncEngine<MemStore, MemTransport>;

pub fn game() -> GameId {
    GameId::new("TestGame-1700000000").expect("valid game id")
}

pub fn device(server: &Server, name: &str, policy: ConflictPolicy) -> Device {
    let mut config = EngineConfig::new(game());
    config.policy = policy;
    let store = MemStore {
        clock: server.1.clone(),
        ..MemStore::default()
    };
    SyncEngine::new(store, MemTransport::new(server.clone(), name), config)
}

pub fn slot(n: u8) -> SavePath {
    SavePath::new(&format!("1-{n}-LT1.save")).expect("valid slot")
}

/// Runs one sync to completion on the current thread.
pub fn sync(dev: &mut Device) -> Result<SyncReport, SyncError> {
    futures::executor::block_on(dev.sync(&mut |_| {}))
}

/// Files with their mtimes.
pub type Files = BTreeMap<SavePath, (Vec<u8>, i64)>;

/// Another Ren'Py save location in memory (`<game>/saves`, `<savedir>/sync`), sharing the
/// world's clock; cheap to clone (clones see the same files).
#[derive(Clone, Default)]
pub struct MemMirror {
    pub files: Rc<RefCell<Files>>,
    pub clock: Rc<Cell<i64>>,
}

impl MemMirror {
    /// Ren'Py writing its copy of a save here (fresh mtime, a moment after the savedir's).
    pub fn game_write(&self, path: &SavePath, bytes: &[u8]) {
        let t = self.clock.get() + 1;
        self.clock.set(t);
        self.files
            .borrow_mut()
            .insert(path.clone(), (bytes.to_vec(), t));
    }

    pub fn contents(&self) -> BTreeMap<SavePath, ContentHash> {
        self.files
            .borrow()
            .iter()
            .map(|(p, (b, _))| (p.clone(), ContentHash::of(b)))
            .collect()
    }
}

impl SaveMirror for MemMirror {
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<i64>,
    ) -> Result<(), StoreError> {
        let t = mtime.unwrap_or_else(|| {
            let t = self.clock.get() + 1;
            self.clock.set(t);
            t
        });
        self.files
            .borrow_mut()
            .insert(path.clone(), (bytes.to_vec(), t));
        Ok(())
    }

    async fn delete(&self, path: &SavePath) -> Result<(), StoreError> {
        self.files.borrow_mut().remove(path);
        Ok(())
    }
}

/// A device as Ren'Py sees it: the savedir plus two mirrors (`<game>/saves`, `sync/`).
pub type RenpyDevice = SyncEngine<Locations<MemStore, MemMirror>, MemTransport>;

pub fn renpy_device(server: &Server, name: &str, policy: ConflictPolicy) -> RenpyDevice {
    let mut config = EngineConfig::new(game());
    config.policy = policy;
    let mirror = || MemMirror {
        clock: server.1.clone(),
        ..MemMirror::default()
    };
    let store = MemStore {
        clock: server.1.clone(),
        ..MemStore::default()
    };
    let locations = Locations::new(store, vec![mirror(), mirror()]);
    SyncEngine::new(locations, MemTransport::new(server.clone(), name), config)
}

/// What Ren'Py shows for a slot: the copy with the newest mtime over every location (ties
/// go to the savedir, which Ren'Py lists first).
pub fn shown(dev: &RenpyDevice, path: &SavePath) -> Option<ContentHash> {
    let locations = dev.store();
    let mut best = locations
        .primary()
        .files
        .borrow()
        .get(path)
        .map(|(b, m)| (*m, ContentHash::of(b)));
    for mirror in locations.mirrors() {
        if let Some((b, m)) = mirror.files.borrow().get(path)
            && best.is_none_or(|(bm, _)| *m > bm)
        {
            best = Some((*m, ContentHash::of(b)));
        }
    }
    best.map(|(_, h)| h)
}

/// Ren'Py saving a slot: every location gets it, the savedir first.
pub fn game_save(dev: &RenpyDevice, path: &SavePath, bytes: &[u8]) {
    let locations = dev.store();
    locations.primary().game_write(path, bytes);
    for mirror in locations.mirrors() {
        mirror.game_write(path, bytes);
    }
}

pub fn sync_renpy(dev: &mut RenpyDevice) -> Result<SyncReport, SyncError> {
    futures::executor::block_on(dev.sync(&mut |_| {}))
}

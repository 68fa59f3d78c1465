//! In-memory stores: the reference semantics of the traits, built on
//! [`sync_core::ledger::MemoryLedger`]; used by fast router tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sync_core::hash::Hasher;
use sync_core::ledger::MemoryLedger;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};
use sync_core::{ContentHash, SavePath};

use super::commit_plan::{check_pending, check_quota, versions_to_prune};
use super::ids::new_id;
use super::{
    BlobLease, BlobStore, ByteStream, DeviceRecord, LeaseRequest, MetadataStore, Quota,
    RefreshRecord, Retention, Scope, StorageError, StorageResult, Usage, UserRecord,
};

/// Locks a mutex; a poisoned lock still holds consistent data here (every update is a
/// single assignment after the fallible work), so it is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct MetaState {
    users: HashMap<String, UserRecord>,
    /// Case-folded username → user id.
    usernames: HashMap<String, String>,
    devices: HashMap<String, DeviceRecord>,
    refresh: HashMap<ContentHash, RefreshRecord>,
    /// Rotated tokens and when they were spent.
    spent_refresh: HashMap<ContentHash, (RefreshRecord, UnixMillis)>,
    pairing: HashMap<ContentHash, (String, UnixMillis)>,
    ledgers: HashMap<Scope, MemoryLedger>,
    leases: HashMap<(Scope, ContentHash), LeaseRow>,
}

#[derive(Debug, Clone)]
struct LeaseRow {
    size: u64,
    expires_at: UnixMillis,
    pending: bool,
    generation: u64,
    collecting: bool,
}

impl MetaState {
    fn pending_bytes(&self, scope: &Scope, since: UnixMillis) -> u64 {
        self.leases
            .iter()
            .filter(|((s, _), l)| s == scope && l.pending && !l.collecting && l.expires_at >= since)
            .map(|(_, l)| l.size)
            .sum()
    }

    /// Leases pruned blobs for the collector, expiring at `now` (existing leases stay).
    fn lease_for_collection(
        &mut self,
        scope: &Scope,
        pruned: Vec<(ContentHash, u64)>,
        now: UnixMillis,
    ) {
        for (sha, size) in pruned {
            self.leases.entry((scope.clone(), sha)).or_insert(LeaseRow {
                size,
                expires_at: now,
                pending: false,
                generation: 1,
                collecting: false,
            });
        }
    }

    fn referenced(&self, scope: &Scope, sha256: &ContentHash) -> bool {
        self.ledgers
            .get(scope)
            .is_some_and(|l| l.history.values().flatten().any(|v| v.sha256 == *sha256))
    }
}

/// The shas of versions in `after` that `before` lacks (tombstones left out).
fn new_blobs(before: Option<&MemoryLedger>, after: &MemoryLedger) -> BTreeSet<ContentHash> {
    let mut out = BTreeSet::new();
    for (path, versions) in &after.history {
        let known = before.and_then(|l| l.history.get(path)).map_or(0, Vec::len);
        out.extend(
            versions
                .iter()
                .skip(known)
                .filter(|v| !v.deleted)
                .map(|v| v.sha256),
        );
    }
    out
}

/// Prunes the history of the files that got new versions; returns the pruned blobs.
fn prune(
    before: Option<&MemoryLedger>,
    ledger: &mut MemoryLedger,
    retention: Retention,
    now: UnixMillis,
) -> Vec<(ContentHash, u64)> {
    let touched: Vec<SavePath> = ledger
        .history
        .iter()
        .filter(|(p, v)| before.and_then(|l| l.history.get(*p)).map_or(0, Vec::len) < v.len())
        .map(|(p, _)| p.clone())
        .collect();
    let mut pruned = Vec::new();
    for path in touched {
        let current = ledger.current.get(&path).map(|e| e.version);
        let drop: BTreeSet<Version> =
            versions_to_prune(&ledger.history_of(&path), current, retention, now)
                .into_iter()
                .map(|v| {
                    pruned.push((v.sha256, v.size));
                    v.version
                })
                .collect();
        if let Some(versions) = ledger.history.get_mut(&path) {
            versions.retain(|v| !drop.contains(&v.version));
        }
    }
    pruned
}

/// Users, devices, tokens and one [`MemoryLedger`] per scope, behind one mutex.
#[derive(Default)]
pub struct MemoryMetadataStore {
    state: Mutex<MetaState>,
    unavailable: AtomicBool,
}

impl MemoryMetadataStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `Unavailable` (tests of outage handling).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn state(&self) -> StorageResult<MutexGuard<'_, MetaState>> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable(
                "memory store switched off".into(),
            ));
        }
        Ok(lock(&self.state))
    }
}

fn usage_of(ledger: &MemoryLedger) -> Usage {
    ledger
        .current
        .values()
        .filter(|e| !e.deleted)
        .fold(Usage::default(), |u, e| Usage {
            bytes: u.bytes + e.size,
            files: u.files + 1,
        })
}

#[async_trait]
impl MetadataStore for MemoryMetadataStore {
    async fn health(&self) -> StorageResult<()> {
        self.state().map(|_| ())
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
    ) -> StorageResult<UserRecord> {
        let user_id = new_id()?;
        let mut state = self.state()?;
        let folded = username.to_lowercase();
        if state.usernames.contains_key(&folded) {
            return Err(StorageError::AlreadyExists(format!(
                "username {username:?} is taken"
            )));
        }
        let user = UserRecord {
            user_id: user_id.clone(),
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now,
        };
        state.usernames.insert(folded, user_id.clone());
        state.users.insert(user_id, user.clone());
        Ok(user)
    }

    async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRecord>> {
        let state = self.state()?;
        Ok(state
            .usernames
            .get(&username.to_lowercase())
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn user_by_id(&self, user_id: &str) -> StorageResult<Option<UserRecord>> {
        Ok(self.state()?.users.get(user_id).cloned())
    }

    async fn create_device(
        &self,
        user_id: &str,
        name: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord> {
        let device = DeviceRecord::new(user_id, name, now)?;
        self.state()?
            .devices
            .insert(device.device_id.clone(), device.clone());
        Ok(device)
    }

    async fn device(&self, device_id: &str) -> StorageResult<Option<DeviceRecord>> {
        Ok(self.state()?.devices.get(device_id).cloned())
    }

    async fn list_devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRecord>> {
        let mut devices: Vec<DeviceRecord> = self
            .state()?
            .devices
            .values()
            .filter(|d| d.user_id == user_id)
            .cloned()
            .collect();
        devices.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(devices)
    }

    async fn touch_device(&self, device_id: &str, now: UnixMillis) -> StorageResult<()> {
        if let Some(d) = self.state()?.devices.get_mut(device_id) {
            d.last_seen_at = Some(now);
        }
        Ok(())
    }

    async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[String],
    ) -> StorageResult<bool> {
        let mut state = self.state()?;
        match state.devices.get_mut(device_id) {
            Some(d) if d.user_id == user_id => {
                d.renpy_keys = keys.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> StorageResult<bool> {
        let mut state = self.state()?;
        let owned = state
            .devices
            .get(device_id)
            .is_some_and(|d| d.user_id == user_id);
        if owned {
            state.devices.remove(device_id);
            state.refresh.retain(|_, r| r.device_id != device_id);
        }
        Ok(owned)
    }

    async fn put_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
    ) -> StorageResult<()> {
        self.state()?.refresh.insert(*token_sha256, record.clone());
        Ok(())
    }

    async fn take_refresh_token(
        &self,
        token_sha256: &ContentHash,
    ) -> StorageResult<Option<RefreshRecord>> {
        Ok(self.state()?.refresh.remove(token_sha256))
    }

    async fn put_spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
        spent_at: UnixMillis,
    ) -> StorageResult<()> {
        let mut state = self.state()?;
        if state.devices.contains_key(&record.device_id) {
            state
                .spent_refresh
                .insert(*token_sha256, (record.clone(), spent_at));
        }
        Ok(())
    }

    async fn spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
        let state = self.state()?;
        Ok(state
            .spent_refresh
            .get(token_sha256)
            .filter(|(r, _)| r.expires_at >= now && state.devices.contains_key(&r.device_id))
            .cloned())
    }

    async fn put_pairing_code(
        &self,
        code_sha256: &ContentHash,
        user_id: &str,
        expires_at: UnixMillis,
    ) -> StorageResult<()> {
        self.state()?
            .pairing
            .insert(*code_sha256, (user_id.to_owned(), expires_at));
        Ok(())
    }

    async fn claim_pairing_code(
        &self,
        code_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>> {
        let mut state = self.state()?;
        match state.pairing.remove(code_sha256) {
            Some((user_id, expires_at)) if expires_at > now => Ok(Some(user_id)),
            _ => Ok(None),
        }
    }

    async fn changes_since(
        &self,
        scope: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)> {
        let state = self.state()?;
        Ok(state
            .ledgers
            .get(scope)
            .map(|l| (l.cursor, l.changes_since(since)))
            .unwrap_or_default())
    }

    async fn commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
        let mut state = self.state()?;
        // Apply to a copy, check the quota on the result (the shared rule), then publish it.
        let mut ledger = state.ledgers.get(scope).cloned().unwrap_or_default();
        let outcomes: Vec<CommitOutcome> = ops
            .iter()
            .map(|op| ledger.apply(op, device_id, now))
            .collect();
        let old = state.ledgers.get(scope);
        let before = old.map(usage_of).unwrap_or_default();
        check_quota(before, usage_of(&ledger), quota)?;
        let needed = new_blobs(old, &ledger);
        if let Some(missing) = needed.iter().find(|sha| {
            state
                .leases
                .get(&(scope.clone(), **sha))
                .is_none_or(|l| l.collecting)
        }) {
            return Err(StorageError::BlobMissing(*missing));
        }
        let pruned = prune(old, &mut ledger, quota.retention, now);
        for sha in needed {
            if let Some(lease) = state.leases.get_mut(&(scope.clone(), sha)) {
                lease.expires_at = lease.expires_at.max(now);
                lease.pending = false;
                lease.generation += 1;
            }
        }
        state.lease_for_collection(scope, pruned, now);
        let cursor = ledger.cursor;
        state.ledgers.insert(scope.clone(), ledger);
        Ok((cursor, outcomes))
    }

    async fn history(&self, scope: &Scope, path: &SavePath) -> StorageResult<Vec<HistoryVersion>> {
        let state = self.state()?;
        Ok(state
            .ledgers
            .get(scope)
            .map(|l| l.history_of(path))
            .unwrap_or_default())
    }

    async fn restore(
        &self,
        scope: &Scope,
        path: &SavePath,
        version: Version,
        device_id: &str,
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<Option<(Seq, Entry)>> {
        let mut state = self.state()?;
        let Some(old) = state.ledgers.get(scope) else {
            return Ok(None);
        };
        // As a commit: on a copy, the quota checked on the result, pruned, then published.
        let mut ledger = old.clone();
        let Some(entry) = ledger.restore(path, version, device_id, now) else {
            return Ok(None);
        };
        check_quota(usage_of(old), usage_of(&ledger), quota)?;
        let pruned = prune(Some(old), &mut ledger, quota.retention, now);
        state.lease_for_collection(scope, pruned, now);
        let cursor = ledger.cursor;
        state.ledgers.insert(scope.clone(), ledger);
        Ok(Some((cursor, entry)))
    }

    async fn usage(&self, scope: &Scope) -> StorageResult<Usage> {
        Ok(self
            .state()?
            .ledgers
            .get(scope)
            .map(usage_of)
            .unwrap_or_default())
    }

    async fn lease_blobs(
        &self,
        scope: &Scope,
        blobs: &[LeaseRequest],
        expires_at: UnixMillis,
        max_pending: u64,
        pending_since: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>> {
        let mut state = self.state()?;
        let before = state.pending_bytes(scope, pending_since);
        let mut leases = state.leases.clone();
        let mut collecting = Vec::new();
        for blob in blobs {
            let row = leases
                .entry((scope.clone(), blob.sha256))
                .or_insert(LeaseRow {
                    size: blob.size,
                    expires_at,
                    pending: !blob.stored,
                    generation: 0,
                    collecting: false,
                });
            if row.collecting {
                collecting.push(blob.sha256);
            } else {
                row.expires_at = row.expires_at.max(expires_at);
                row.generation += 1;
            }
        }
        let previous = std::mem::replace(&mut state.leases, leases);
        let after = state.pending_bytes(scope, pending_since);
        if let Err(e) = check_pending(before, after, max_pending) {
            state.leases = previous;
            return Err(e);
        }
        Ok(collecting)
    }

    async fn expired_leases(
        &self,
        scope: &Scope,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<BlobLease>> {
        let state = self.state()?;
        let mut out: Vec<BlobLease> = state
            .leases
            .iter()
            .filter(|((s, _), l)| s == scope && l.expires_at < cutoff)
            .map(|((_, sha256), l)| BlobLease {
                sha256: *sha256,
                size: l.size,
                expires_at: l.expires_at,
                generation: l.generation,
                collecting: l.collecting,
            })
            .collect();
        out.sort_by_key(|l| l.expires_at);
        out.truncate(limit);
        Ok(out)
    }

    async fn scopes_with_expired_leases(
        &self,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<Scope>> {
        let state = self.state()?;
        let mut scopes: Vec<Scope> = Vec::new();
        for ((scope, _), _) in state.leases.iter().filter(|(_, l)| l.expires_at < cutoff) {
            if scopes.len() < limit && !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        Ok(scopes)
    }

    async fn start_collecting(&self, scope: &Scope, lease: &BlobLease) -> StorageResult<bool> {
        let mut state = self.state()?;
        let key = (scope.clone(), lease.sha256);
        if state
            .leases
            .get(&key)
            .is_none_or(|l| l.generation != lease.generation)
        {
            return Ok(false);
        }
        if state.referenced(scope, &lease.sha256) {
            state.leases.remove(&key);
            return Ok(false);
        }
        if let Some(row) = state.leases.get_mut(&key) {
            row.collecting = true;
        }
        Ok(true)
    }

    async fn finish_collecting(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        let mut state = self.state()?;
        let key = (scope.clone(), *sha256);
        if state.leases.get(&key).is_some_and(|l| l.collecting) {
            state.leases.remove(&key);
        }
        Ok(())
    }
}

/// Blobs in a map keyed by scope and hash.
#[derive(Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<(Scope, ContentHash), Bytes>>,
    unavailable: AtomicBool,
}

impl MemoryBlobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `Unavailable` (tests of outage handling).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn available(&self) -> StorageResult<()> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable(
                "memory store switched off".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn health(&self) -> StorageResult<()> {
        self.available()
    }

    async fn exists(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
        self.available()?;
        Ok(lock(&self.blobs).contains_key(&(scope.clone(), *sha256)))
    }

    async fn put(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        size: u64,
        mut body: ByteStream,
    ) -> StorageResult<()> {
        self.available()?;
        let mut hasher = Hasher::new();
        let mut bytes = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| StorageError::Mismatch(format!("upload broke off: {e}")))?;
            if (bytes.len() + chunk.len()) as u64 > size {
                return Err(StorageError::Mismatch(format!(
                    "body is longer than the declared {size} bytes"
                )));
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != size {
            return Err(StorageError::Mismatch(format!(
                "body has {} bytes, {size} declared",
                bytes.len()
            )));
        }
        let actual = hasher.finish();
        if actual != *sha256 {
            return Err(StorageError::Mismatch(format!(
                "body hashes to {actual}, {sha256} declared"
            )));
        }
        lock(&self.blobs).insert((scope.clone(), *sha256), bytes.freeze());
        Ok(())
    }

    async fn delete(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        self.available()?;
        lock(&self.blobs).remove(&(scope.clone(), *sha256));
        Ok(())
    }

    async fn get(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
    ) -> StorageResult<Option<(u64, ByteStream)>> {
        self.available()?;
        let Some(bytes) = lock(&self.blobs).get(&(scope.clone(), *sha256)).cloned() else {
            return Ok(None);
        };
        let size = bytes.len() as u64;
        let stream: ByteStream = Box::pin(futures::stream::iter([Ok(bytes)]));
        Ok(Some((size, stream)))
    }
}

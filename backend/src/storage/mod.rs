//! Storage behind two narrow traits, so the same API runs on the embedded store
//! (SQLite + files) and on AWS (DynamoDB + S3).
//!
//! Both traits speak only our own types. Every implementation must pass the conformance
//! suite in `storage::conformance`.

pub mod collect;
pub mod commit_plan;
// Test kits (feature `testing`): the conformance suite and the in-memory stores never ship
// in the server or the Lambda.
#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamo;
pub mod files;
pub mod ids;
#[cfg(feature = "testing")]
pub mod memory;
#[cfg(feature = "aws")]
pub mod s3;
pub mod sqlite;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, UploadTarget, Version,
};
use sync_core::{ContentHash, GameId, SavePath};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A uniqueness rule was hit (the username is taken).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The commit would exceed the user's per-game quota; nothing was stored.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// An op refers to a blob the store does not hold for this user and game.
    #[error("blob {0} was not uploaded")]
    BlobMissing(ContentHash),
    /// Uploaded bytes did not match their declared SHA-256 or size; nothing was stored.
    #[error("uploaded bytes do not match: {0}")]
    Mismatch(String),
    /// The backing service failed or is unreachable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Identifies a user's game: all manifest and blob data is partitioned by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub user_id: String,
    pub game: GameId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub device_id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: UnixMillis,
    pub last_seen_at: Option<UnixMillis>,
    /// Ren'Py save-token verifying keys (base64 DER public keys), validated by the API.
    pub renpy_keys: Vec<String>,
}

impl DeviceRecord {
    /// A new device of `user_id` with a fresh random id, never seen, without keys.
    pub fn new(user_id: &str, name: &str, now: UnixMillis) -> StorageResult<Self> {
        Ok(Self {
            device_id: ids::new_id()?,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            created_at: now,
            last_seen_at: None,
            renpy_keys: Vec::new(),
        })
    }
}

/// A refresh token, stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub user_id: String,
    pub device_id: String,
    pub expires_at: UnixMillis,
}

/// Per-user, per-game limits a commit must respect (checked atomically with the commit),
/// and how much history it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Total size of the current (non-deleted) files.
    pub max_bytes: u64,
    /// Number of current (non-deleted) files.
    pub max_files: u64,
    /// Which history versions of the files a commit touches survive it.
    pub retention: Retention,
}

/// The history a file keeps: its current version always; the newest `keep_versions`
/// others; older ones while younger than `keep_days`, but never more than `max_versions`
/// versions in all. Pruned versions' blobs are collected once nothing refers to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_versions: u32,
    pub keep_days: u32,
    pub max_versions: u32,
}

impl Retention {
    /// Keeps every version (stores under test that are not about retention).
    pub const KEEP_ALL: Self = Self {
        keep_versions: u32::MAX,
        keep_days: u32::MAX,
        max_versions: u32::MAX,
    };
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep_versions: 10,
            keep_days: 30,
            max_versions: 100,
        }
    }
}

/// A blob a client is about to upload, or was told is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest {
    pub sha256: ContentHash,
    pub size: u64,
    /// The store already holds the bytes: leasing it again adds nothing to the pending
    /// bytes.
    pub stored: bool,
}

/// A blob's protection from garbage collection, read back by the collector.
///
/// Every blob a client uploads is leased first (when its upload target is issued) and every
/// commit renews the leases of the blobs it refers to, in the commit's own atomic write. The
/// collector takes an expired lease over (marks it *collecting*) only if it was not renewed
/// since it was read and no version refers to the blob, deletes the blob, then forgets the
/// lease. A commit needs a lease that is not being collected, so it either protects the blob
/// or is refused with `BlobMissing` (and the client uploads again): never a version without
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLease {
    pub sha256: ContentHash,
    pub size: u64,
    pub expires_at: UnixMillis,
    /// Bumped by every renewal; the collector's takeover is conditional on it.
    pub generation: u64,
    /// Taken over by the collector: the blob is being deleted (a crash may have left it so).
    pub collecting: bool,
}

/// Current usage of one scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

/// Users, devices, tokens, pairing codes, manifests and history.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Cheap reachability check for `/v1/health`.
    async fn health(&self) -> StorageResult<()>;

    /// Creates a user; `AlreadyExists` if the (case-folded) username is taken.
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
    ) -> StorageResult<UserRecord>;
    async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRecord>>;
    async fn user_by_id(&self, user_id: &str) -> StorageResult<Option<UserRecord>>;

    async fn create_device(
        &self,
        user_id: &str,
        name: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord>;
    async fn device(&self, device_id: &str) -> StorageResult<Option<DeviceRecord>>;
    async fn list_devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRecord>>;
    async fn touch_device(&self, device_id: &str, now: UnixMillis) -> StorageResult<()>;
    /// Replaces a device's Ren'Py verifying keys; `false` if it is not the user's device.
    async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[String],
    ) -> StorageResult<bool>;
    /// Removes a device and every refresh token it holds.
    async fn delete_device(&self, user_id: &str, device_id: &str) -> StorageResult<bool>;

    async fn put_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
    ) -> StorageResult<()>;
    /// Removes and returns a refresh token (single use: refresh rotates it). `None` if unknown.
    async fn take_refresh_token(
        &self,
        token_sha256: &ContentHash,
    ) -> StorageResult<Option<RefreshRecord>>;
    /// Remembers a rotated refresh token, spent at `spent_at`, until `record.expires_at`, so
    /// that a replay is recognised (and the device signed out). Forgotten with the device.
    async fn put_spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
        spent_at: UnixMillis,
    ) -> StorageResult<()>;
    /// The record of a rotated refresh token still remembered at `now`, and when it was spent.
    async fn spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>>;

    async fn put_pairing_code(
        &self,
        code_sha256: &ContentHash,
        user_id: &str,
        expires_at: UnixMillis,
    ) -> StorageResult<()>;
    /// Atomically consumes a pairing code that has not expired at `now`; returns its user.
    async fn claim_pairing_code(
        &self,
        code_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>>;

    /// Current entries with `seq > since` (all of them for `None`), ordered by `seq`, and the
    /// scope's cursor.
    async fn changes_since(
        &self,
        scope: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)>;
    /// At most `limit` entries of [`Self::changes_since`]; when more follow, the cursor is the
    /// `seq` of the last one returned and the flag is `true`.
    async fn changes_page(
        &self,
        scope: &Scope,
        since: Option<Seq>,
        limit: usize,
    ) -> StorageResult<(Seq, Vec<Entry>, bool)> {
        let (cursor, entries) = self.changes_since(scope, since).await?;
        Ok(page_of(cursor, entries, limit))
    }
    /// Applies ops in order, each atomically with [`sync_core::ledger::decide`]; returns the new
    /// cursor and one outcome per op. Before applying anything, checks that `quota` holds for
    /// the result and fails with `QuotaExceeded` (nothing applied) if not. Blob presence is
    /// checked by the caller; every blob a new version refers to must also hold a lease
    /// ([`Self::lease_blobs`]), which the commit renews atomically with its writes, or the
    /// commit fails with `BlobMissing` (nothing applied). Afterwards the history of each
    /// touched file is pruned to `quota.retention`, and the pruned blobs leased for
    /// collection.
    async fn commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)>;
    /// All versions of a file, newest first (empty if unknown).
    async fn history(&self, scope: &Scope, path: &SavePath) -> StorageResult<Vec<HistoryVersion>>;
    /// Makes version `version` of `path` current again as a new version, under `quota` like a
    /// commit (`QuotaExceeded`, nothing applied; then the history is pruned). `None` if there
    /// is no such version.
    async fn restore(
        &self,
        scope: &Scope,
        path: &SavePath,
        version: Version,
        device_id: &str,
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<Option<(Seq, Entry)>>;
    async fn usage(&self, scope: &Scope) -> StorageResult<Usage>;

    /// Leases blobs until `expires_at` (an existing lease keeps the later expiry; either way
    /// it is renewed). A new lease of a blob not yet `stored` is *pending*: until a commit
    /// refers to it, its size counts against `max_pending` bytes while its expiry is not
    /// older than `pending_since`. Fails with `QuotaExceeded` (nothing leased) if the
    /// scope's pending bytes would exceed `max_pending`. Returns the blobs the collector is
    /// deleting: they must be uploaded again, and commits of them are refused until then.
    async fn lease_blobs(
        &self,
        scope: &Scope,
        blobs: &[LeaseRequest],
        expires_at: UnixMillis,
        max_pending: u64,
        pending_since: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>>;
    /// Up to `limit` leases of `scope` that expired before `cutoff`, oldest first.
    async fn expired_leases(
        &self,
        scope: &Scope,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<BlobLease>>;
    /// Up to `limit` scopes holding a lease that expired before `cutoff`, for a server-wide
    /// sweep. A store that cannot find them cheaply answers none: its scopes are then
    /// collected when they are next used.
    async fn scopes_with_expired_leases(
        &self,
        _cutoff: UnixMillis,
        _limit: usize,
    ) -> StorageResult<Vec<Scope>> {
        Ok(Vec::new())
    }
    /// Takes an expired `lease` over for collection, unless it was renewed since it was read
    /// (then nothing changes) or a version refers to its blob (then the lease ends and the
    /// blob stays). `true`: the caller deletes the blob, then calls
    /// [`Self::finish_collecting`].
    async fn start_collecting(&self, scope: &Scope, lease: &BlobLease) -> StorageResult<bool>;
    /// Forgets a lease taken over by [`Self::start_collecting`] once its blob is deleted.
    async fn finish_collecting(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()>;
}

/// The first `limit` of `entries` (ordered by `seq`) as a page of a feed at `cursor`.
pub fn page_of(cursor: Seq, mut entries: Vec<Entry>, limit: usize) -> (Seq, Vec<Entry>, bool) {
    if entries.len() <= limit {
        return (cursor, entries, false);
    }
    entries.truncate(limit.max(1));
    let last = entries.last().map_or(cursor, |e| e.seq);
    (last, entries, true)
}

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Content-addressed save bytes, partitioned by [`Scope`].
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn health(&self) -> StorageResult<()>;
    async fn exists(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool>;
    /// Stores a body that must hash to `sha256` and be exactly `size` bytes: hashed while
    /// written to a temporary object, made durable, then published under its hash. On a
    /// mismatch, a short or a long body, returns `Mismatch` and stores nothing.
    async fn put(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        size: u64,
        body: ByteStream,
    ) -> StorageResult<()>;
    /// The bytes of a blob, streamed, with its size; `None` if absent.
    async fn get(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
    ) -> StorageResult<Option<(u64, ByteStream)>>;
    /// A direct upload target from the store itself (an S3 presigned PUT that checks the
    /// SHA-256). `None`: the API hands out its own signed `/v1/blobs/...` URL instead.
    async fn presign_upload(
        &self,
        _scope: &Scope,
        _sha256: &ContentHash,
        _size: u64,
        _expires_at: UnixMillis,
    ) -> StorageResult<Option<UploadTarget>> {
        Ok(None)
    }
    /// Removes a blob (no error if it is absent). Only the garbage collector calls this.
    async fn delete(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()>;
    /// Removes what interrupted uploads left behind (temp files), where the store has any.
    async fn remove_stale_uploads(&self) -> StorageResult<()> {
        Ok(())
    }
    /// A direct download URL from the store itself; `None` as for [`Self::presign_upload`].
    async fn presign_download(
        &self,
        _scope: &Scope,
        _sha256: &ContentHash,
        _expires_at: UnixMillis,
    ) -> StorageResult<Option<String>> {
        Ok(None)
    }
}

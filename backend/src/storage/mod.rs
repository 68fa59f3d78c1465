//! Storage behind two narrow traits, so the same API runs on the embedded store
//! (SQLite + files) and on AWS (DynamoDB + S3).
//!
//! Both traits speak only our own types. Every implementation must pass the conformance
//! suite in `storage::conformance`.

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

/// Per-user, per-game limits a commit must respect (checked atomically with the commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Total size of the current (non-deleted) files.
    pub max_bytes: u64,
    /// Number of current (non-deleted) files.
    pub max_files: u64,
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
    /// Applies ops in order, each atomically with [`sync_core::ledger::decide`]; returns the new
    /// cursor and one outcome per op. Before applying anything, checks that `quota` holds for
    /// the result and fails with `QuotaExceeded` (nothing applied) if not. Blob presence is
    /// checked by the caller.
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
    /// Makes version `version` of `path` current again as a new version. `None` if there is no
    /// such version.
    async fn restore(
        &self,
        scope: &Scope,
        path: &SavePath,
        version: Version,
        device_id: &str,
        now: UnixMillis,
    ) -> StorageResult<Option<(Seq, Entry)>>;
    async fn usage(&self, scope: &Scope) -> StorageResult<Usage>;
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

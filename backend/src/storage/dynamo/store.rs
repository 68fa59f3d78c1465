//! [`MetadataStore`] for [`DynamoMetadataStore`]: each call goes to the inherent method of
//! the same name in `accounts` or `manifest`.

use async_trait::async_trait;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};
use sync_core::{ContentHash, SavePath};

use super::DynamoMetadataStore;
use crate::storage::{
    BlobLease, DeviceRecord, LeaseRequest, MetadataStore, Quota, RefreshRecord, Scope,
    StorageResult, Usage, UserRecord,
};

#[async_trait]
impl MetadataStore for DynamoMetadataStore {
    async fn health(&self) -> StorageResult<()> {
        self.health_check().await
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
    ) -> StorageResult<UserRecord> {
        DynamoMetadataStore::create_user(self, username, password_hash, now).await
    }

    async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRecord>> {
        DynamoMetadataStore::user_by_name(self, username).await
    }

    async fn user_by_id(&self, user_id: &str) -> StorageResult<Option<UserRecord>> {
        DynamoMetadataStore::user_by_id(self, user_id).await
    }

    async fn create_device(
        &self,
        user_id: &str,
        name: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord> {
        DynamoMetadataStore::create_device(self, user_id, name, now).await
    }

    async fn device(&self, device_id: &str) -> StorageResult<Option<DeviceRecord>> {
        DynamoMetadataStore::device(self, device_id).await
    }

    async fn list_devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRecord>> {
        DynamoMetadataStore::list_devices(self, user_id).await
    }

    async fn touch_device(&self, device_id: &str, now: UnixMillis) -> StorageResult<()> {
        DynamoMetadataStore::touch_device(self, device_id, now).await
    }

    async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[String],
    ) -> StorageResult<bool> {
        DynamoMetadataStore::set_device_keys(self, user_id, device_id, keys).await
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> StorageResult<bool> {
        DynamoMetadataStore::delete_device(self, user_id, device_id).await
    }

    async fn put_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
    ) -> StorageResult<()> {
        DynamoMetadataStore::put_refresh_token(self, token_sha256, record).await
    }

    async fn take_refresh_token(
        &self,
        token_sha256: &ContentHash,
    ) -> StorageResult<Option<RefreshRecord>> {
        DynamoMetadataStore::take_refresh_token(self, token_sha256).await
    }

    async fn put_spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
        spent_at: UnixMillis,
    ) -> StorageResult<()> {
        DynamoMetadataStore::put_spent_refresh_token(self, token_sha256, record, spent_at).await
    }

    async fn spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
        DynamoMetadataStore::spent_refresh_token(self, token_sha256, now).await
    }

    async fn put_pairing_code(
        &self,
        code_sha256: &ContentHash,
        user_id: &str,
        expires_at: UnixMillis,
    ) -> StorageResult<()> {
        DynamoMetadataStore::put_pairing_code(self, code_sha256, user_id, expires_at).await
    }

    async fn claim_pairing_code(
        &self,
        code_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>> {
        DynamoMetadataStore::claim_pairing_code(self, code_sha256, now).await
    }

    async fn changes_since(
        &self,
        scope: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)> {
        DynamoMetadataStore::changes_since(self, scope, since).await
    }

    async fn commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
        DynamoMetadataStore::commit(self, scope, device_id, ops, quota, now).await
    }

    async fn history(&self, scope: &Scope, path: &SavePath) -> StorageResult<Vec<HistoryVersion>> {
        DynamoMetadataStore::history(self, scope, path).await
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
        DynamoMetadataStore::restore(self, scope, path, version, device_id, quota, now).await
    }

    async fn usage(&self, scope: &Scope) -> StorageResult<Usage> {
        DynamoMetadataStore::usage(self, scope).await
    }

    async fn lease_blobs(
        &self,
        scope: &Scope,
        blobs: &[LeaseRequest],
        expires_at: UnixMillis,
        max_pending: u64,
        pending_since: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>> {
        DynamoMetadataStore::lease_blobs(self, scope, blobs, expires_at, max_pending, pending_since)
            .await
    }

    async fn expired_leases(
        &self,
        scope: &Scope,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<BlobLease>> {
        DynamoMetadataStore::expired_leases(self, scope, cutoff, limit).await
    }

    async fn scopes_with_expired_leases(
        &self,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<Scope>> {
        DynamoMetadataStore::scopes_with_expired_leases(self, cutoff, limit).await
    }

    async fn start_collecting(&self, scope: &Scope, lease: &BlobLease) -> StorageResult<bool> {
        DynamoMetadataStore::start_collecting(self, scope, lease).await
    }

    async fn finish_collecting(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        DynamoMetadataStore::finish_collecting(self, scope, sha256).await
    }
}

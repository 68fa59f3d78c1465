//! [`MetadataStore`] for [`SqliteMetadataStore`]: each call copies its arguments and runs
//! the matching blocking function on a reader or on the writer connection.

use async_trait::async_trait;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};
use sync_core::{ContentHash, SavePath};

use super::rows::db_err;
use super::{SqliteMetadataStore, accounts, leases, manifest};
use crate::storage::{
    BlobLease, DeviceRecord, LeaseRequest, MetadataStore, Quota, RefreshRecord, Scope,
    StorageResult, Usage, UserRecord,
};

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn health(&self) -> StorageResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await?;
        // The writer too: a health check must notice a wedged write lock.
        self.write(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
    ) -> StorageResult<UserRecord> {
        let (username, password_hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |conn| accounts::create_user(conn, &username, &password_hash, now))
            .await
    }

    async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRecord>> {
        let username = username.to_owned();
        self.read(move |conn| accounts::user_by_name(conn, &username))
            .await
    }

    async fn user_by_id(&self, user_id: &str) -> StorageResult<Option<UserRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| accounts::user_by_id(conn, &user_id))
            .await
    }

    async fn create_device(
        &self,
        user_id: &str,
        name: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord> {
        let (user_id, name) = (user_id.to_owned(), name.to_owned());
        self.write(move |conn| accounts::create_device(conn, &user_id, &name, now))
            .await
    }

    async fn device(&self, device_id: &str) -> StorageResult<Option<DeviceRecord>> {
        let device_id = device_id.to_owned();
        self.read(move |conn| accounts::device(conn, &device_id))
            .await
    }

    async fn list_devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| accounts::list_devices(conn, &user_id))
            .await
    }

    async fn touch_device(&self, device_id: &str, now: UnixMillis) -> StorageResult<()> {
        let device_id = device_id.to_owned();
        self.write(move |conn| accounts::touch_device(conn, &device_id, now))
            .await
    }

    async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[String],
    ) -> StorageResult<bool> {
        let (user_id, device_id, keys) = (user_id.to_owned(), device_id.to_owned(), keys.to_vec());
        self.write(move |conn| accounts::set_device_keys(conn, &user_id, &device_id, &keys))
            .await
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> StorageResult<bool> {
        let (user_id, device_id) = (user_id.to_owned(), device_id.to_owned());
        self.write(move |conn| accounts::delete_device(conn, &user_id, &device_id))
            .await
    }

    async fn put_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
    ) -> StorageResult<()> {
        let (token, record) = (*token_sha256, record.clone());
        self.write(move |conn| accounts::put_refresh_token(conn, &token, &record))
            .await
    }

    async fn take_refresh_token(
        &self,
        token_sha256: &ContentHash,
    ) -> StorageResult<Option<RefreshRecord>> {
        let token = *token_sha256;
        self.write(move |conn| accounts::take_refresh_token(conn, &token))
            .await
    }

    async fn put_spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        record: &RefreshRecord,
        spent_at: UnixMillis,
    ) -> StorageResult<()> {
        let (token, record) = (*token_sha256, record.clone());
        self.write(move |conn| accounts::put_spent_refresh_token(conn, &token, &record, spent_at))
            .await
    }

    async fn spent_refresh_token(
        &self,
        token_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
        let token = *token_sha256;
        self.read(move |conn| accounts::spent_refresh_token(conn, &token, now))
            .await
    }

    async fn put_pairing_code(
        &self,
        code_sha256: &ContentHash,
        user_id: &str,
        expires_at: UnixMillis,
    ) -> StorageResult<()> {
        let (code, user_id) = (*code_sha256, user_id.to_owned());
        self.write(move |conn| accounts::put_pairing_code(conn, &code, &user_id, expires_at))
            .await
    }

    async fn claim_pairing_code(
        &self,
        code_sha256: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>> {
        let code = *code_sha256;
        self.write(move |conn| accounts::claim_pairing_code(conn, &code, now))
            .await
    }

    async fn changes_since(
        &self,
        scope: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)> {
        let scope = scope.clone();
        self.read(move |conn| manifest::changes_since(conn, &scope, since))
            .await
    }

    async fn changes_page(
        &self,
        scope: &Scope,
        since: Option<Seq>,
        limit: usize,
    ) -> StorageResult<(Seq, Vec<Entry>, bool)> {
        let scope = scope.clone();
        self.read(move |conn| manifest::changes_page(conn, &scope, since, limit))
            .await
    }

    async fn commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
        let (scope, device_id, ops) = (scope.clone(), device_id.to_owned(), ops.to_vec());
        self.write(move |conn| manifest::commit(conn, &scope, &device_id, &ops, quota, now))
            .await
    }

    async fn history(&self, scope: &Scope, path: &SavePath) -> StorageResult<Vec<HistoryVersion>> {
        let (scope, path) = (scope.clone(), path.clone());
        self.read(move |conn| manifest::history(conn, &scope, &path))
            .await
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
        let (scope, path, device_id) = (scope.clone(), path.clone(), device_id.to_owned());
        self.write(move |conn| {
            manifest::restore(conn, &scope, &path, version, &device_id, quota, now)
        })
        .await
    }

    async fn usage(&self, scope: &Scope) -> StorageResult<Usage> {
        let scope = scope.clone();
        self.read(move |conn| manifest::usage(conn, &scope)).await
    }

    async fn lease_blobs(
        &self,
        scope: &Scope,
        blobs: &[LeaseRequest],
        expires_at: UnixMillis,
        max_pending: u64,
        pending_since: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>> {
        let (scope, blobs) = (scope.clone(), blobs.to_vec());
        self.write(move |conn| {
            leases::lease_blobs(conn, &scope, &blobs, expires_at, max_pending, pending_since)
        })
        .await
    }

    async fn expired_leases(
        &self,
        scope: &Scope,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<BlobLease>> {
        let scope = scope.clone();
        self.read(move |conn| leases::expired_leases(conn, &scope, cutoff, limit))
            .await
    }

    async fn scopes_with_expired_leases(
        &self,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<Scope>> {
        self.read(move |conn| leases::scopes_with_expired_leases(conn, cutoff, limit))
            .await
    }

    async fn start_collecting(&self, scope: &Scope, lease: &BlobLease) -> StorageResult<bool> {
        let (scope, lease) = (scope.clone(), lease.clone());
        self.write(move |conn| leases::start_collecting(conn, &scope, &lease))
            .await
    }

    async fn finish_collecting(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        let (scope, sha256) = (scope.clone(), *sha256);
        self.write(move |conn| leases::finish_collecting(conn, &scope, &sha256))
            .await
    }
}

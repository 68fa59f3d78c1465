//! The suite itself is tested: stores that are wrong in known ways must fail the checks
//! that cover those ways.

use async_trait::async_trait;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};
use sync_core::{ContentHash, SavePath};

use super::{blob_check_names, run_blob_suite, run_metadata_suite};
use crate::storage::sqlite::SqliteMetadataStore;
use crate::storage::{
    BlobLease, BlobStore, ByteStream, DeviceRecord, LeaseRequest, MetadataStore, Quota,
    RefreshRecord, Scope, StorageError, StorageResult, Usage, UserRecord,
};

/// A deliberately wrong store: retries every conflicting op against the current version,
/// so the last writer silently wins. The suite must catch it.
struct LastWriterWins(SqliteMetadataStore);

#[async_trait]
impl MetadataStore for LastWriterWins {
    async fn health(&self) -> StorageResult<()> {
        self.0.health().await
    }
    async fn create_user(&self, u: &str, p: &str, now: UnixMillis) -> StorageResult<UserRecord> {
        self.0.create_user(u, p, now).await
    }
    async fn user_by_name(&self, u: &str) -> StorageResult<Option<UserRecord>> {
        self.0.user_by_name(u).await
    }
    async fn user_by_id(&self, id: &str) -> StorageResult<Option<UserRecord>> {
        self.0.user_by_id(id).await
    }
    async fn create_device(
        &self,
        u: &str,
        n: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord> {
        self.0.create_device(u, n, now).await
    }
    async fn device(&self, id: &str) -> StorageResult<Option<DeviceRecord>> {
        self.0.device(id).await
    }
    async fn list_devices(&self, u: &str) -> StorageResult<Vec<DeviceRecord>> {
        self.0.list_devices(u).await
    }
    async fn touch_device(&self, id: &str, now: UnixMillis) -> StorageResult<()> {
        self.0.touch_device(id, now).await
    }
    async fn set_device_keys(&self, u: &str, id: &str, k: &[String]) -> StorageResult<bool> {
        self.0.set_device_keys(u, id, k).await
    }
    async fn delete_device(&self, u: &str, id: &str) -> StorageResult<bool> {
        self.0.delete_device(u, id).await
    }
    async fn put_refresh_token(&self, t: &ContentHash, r: &RefreshRecord) -> StorageResult<()> {
        self.0.put_refresh_token(t, r).await
    }
    async fn put_spent_refresh_token(
        &self,
        t: &ContentHash,
        r: &RefreshRecord,
        at: UnixMillis,
    ) -> StorageResult<()> {
        self.0.put_spent_refresh_token(t, r, at).await
    }
    async fn spent_refresh_token(
        &self,
        t: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
        self.0.spent_refresh_token(t, now).await
    }
    async fn take_refresh_token(&self, t: &ContentHash) -> StorageResult<Option<RefreshRecord>> {
        self.0.take_refresh_token(t).await
    }
    async fn put_pairing_code(&self, c: &ContentHash, u: &str, e: UnixMillis) -> StorageResult<()> {
        self.0.put_pairing_code(c, u, e).await
    }
    async fn claim_pairing_code(
        &self,
        c: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>> {
        self.0.claim_pairing_code(c, now).await
    }
    async fn changes_since(
        &self,
        s: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)> {
        self.0.changes_since(s, since).await
    }
    async fn commit(
        &self,
        s: &Scope,
        device: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
        let (mut cursor, mut outcomes) = (0, Vec::new());
        for op in ops {
            let mut op = op.clone();
            loop {
                let (c, mut out) = self.0.commit(s, device, &[op.clone()], quota, now).await?;
                cursor = c;
                match out.pop() {
                    Some(CommitOutcome::Conflict { current, .. }) => {
                        op.expect_version = current.map_or(0, |e| e.version);
                    }
                    Some(done) => {
                        outcomes.push(done);
                        break;
                    }
                    None => break,
                }
            }
        }
        Ok((cursor, outcomes))
    }
    async fn history(&self, s: &Scope, p: &SavePath) -> StorageResult<Vec<HistoryVersion>> {
        self.0.history(s, p).await
    }
    async fn restore(
        &self,
        s: &Scope,
        p: &SavePath,
        v: Version,
        d: &str,
        q: Quota,
        now: UnixMillis,
    ) -> StorageResult<Option<(Seq, Entry)>> {
        self.0.restore(s, p, v, d, q, now).await
    }
    async fn usage(&self, s: &Scope) -> StorageResult<Usage> {
        self.0.usage(s).await
    }
    async fn lease_blobs(
        &self,
        s: &Scope,
        b: &[LeaseRequest],
        e: UnixMillis,
        m: u64,
        p: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>> {
        self.0.lease_blobs(s, b, e, m, p).await
    }
    async fn expired_leases(
        &self,
        s: &Scope,
        c: UnixMillis,
        l: usize,
    ) -> StorageResult<Vec<BlobLease>> {
        self.0.expired_leases(s, c, l).await
    }
    async fn start_collecting(&self, s: &Scope, l: &BlobLease) -> StorageResult<bool> {
        self.0.start_collecting(s, l).await
    }
    async fn finish_collecting(&self, s: &Scope, h: &ContentHash) -> StorageResult<()> {
        self.0.finish_collecting(s, h).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_last_writer_wins_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteMetadataStore::open(&dir.path().join("lww.sqlite3")).expect("open");
    let report = run_metadata_suite(|| {
        let inner = store.clone();
        async move { LastWriterWins(inner) }
    })
    .await;
    let failed: Vec<&str> = report.failed.iter().map(|(name, _)| *name).collect();
    for must_fail in [
        "stale_expectation_conflicts_with_current_entry",
        "concurrent_committers_on_one_file_have_one_winner",
        "concurrent_first_puts_have_one_winner",
        "matches_memory_ledger_on_a_random_walk",
    ] {
        assert!(
            failed.contains(&must_fail),
            "{must_fail} passed; failed: {failed:?}"
        );
    }
    assert!(report.passed.contains(&"refresh_tokens_are_single_use"));
}

#[tokio::test]
async fn a_panicking_store_fails_checks_instead_of_aborting_the_suite() {
    struct Broken;
    #[async_trait]
    impl BlobStore for Broken {
        async fn health(&self) -> StorageResult<()> {
            Err(StorageError::Unavailable("down".into()))
        }
        async fn exists(&self, _: &Scope, _: &ContentHash) -> StorageResult<bool> {
            panic!("exists is broken")
        }
        async fn put(
            &self,
            _: &Scope,
            _: &ContentHash,
            _: u64,
            _: ByteStream,
        ) -> StorageResult<()> {
            Ok(())
        }
        async fn get(
            &self,
            _: &Scope,
            _: &ContentHash,
        ) -> StorageResult<Option<(u64, ByteStream)>> {
            Ok(None)
        }
        async fn delete(&self, _: &Scope, _: &ContentHash) -> StorageResult<()> {
            Ok(())
        }
    }
    let report = run_blob_suite(|| async { Broken }).await;
    assert!(report.passed.is_empty(), "passed: {:?}", report.passed);
    assert_eq!(report.failed.len(), blob_check_names().len());
    let panicked = report
        .failed
        .iter()
        .any(|(_, why)| why.contains("panicked"));
    assert!(panicked, "{:?}", report.failed);
}

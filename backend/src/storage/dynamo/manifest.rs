//! Manifests, history, commits and restores.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use futures::{StreamExt, TryStreamExt};
use sync_core::SavePath;
use sync_core::protocol::{
    CommitOp, CommitOutcome, Entry, HistoryVersion, Seq, UnixMillis, Version,
};

use super::accounts::put_new;
use super::items::{
    BY_SEQ, Item, ItemExt, SCOPE_SK, SEQ, entry_from_item, file_item, file_sk, history_pk, key, n,
    s, scope_pk, version_from_item, version_item, version_sk,
};
use super::leases::{lease_from_item, lease_sk, renewal};
use super::{DynamoMetadataStore, MAX_TRANSACTION_ITEMS, TxResult, build_err, unavailable};
use crate::storage::commit_plan::{
    CommitPlan, FileState, check_quota, plan_commit, restore_op, restored_entry, versions_to_prune,
};
use crate::storage::{LeaseRequest, Quota, Retention, Scope, StorageError, StorageResult, Usage};

/// How often a commit is planned again after losing a race before giving up.
const MAX_ATTEMPTS: u32 = 200;
/// Ops per transaction when a batch is too large for one (each op writes at most a
/// version item, a file item and a lease renewal, plus the scope item).
const CHUNK_OPS: usize = (MAX_TRANSACTION_ITEMS - 1) / 3;
/// Concurrent reads when loading a batch's files.
const READ_PARALLELISM: usize = 16;

/// No size limits, with `retention`.
fn unlimited(retention: Retention) -> Quota {
    Quota {
        max_bytes: u64::MAX,
        max_files: u64::MAX,
        retention,
    }
}

/// The scope item as read: cursor and usage, and whether it exists.
#[derive(Debug, Clone, Copy, Default)]
struct ScopeRow {
    cursor: Seq,
    usage: Usage,
    exists: bool,
}

/// A file as read: its state for the planner and the version its item had (the condition
/// of the write), `None` when there was no item.
#[derive(Debug, Clone)]
struct LoadedFile {
    state: FileState,
    item_max_version: Option<Version>,
}

/// One try at writing a plan.
enum Attempt {
    Done(CommitPlan),
    /// Another writer changed what the plan was based on.
    Lost,
}

impl DynamoMetadataStore {
    async fn scope_row(&self, scope: &Scope) -> StorageResult<ScopeRow> {
        let Some(item) = self.get(scope_pk(scope), SCOPE_SK).await? else {
            return Ok(ScopeRow::default());
        };
        Ok(ScopeRow {
            cursor: item.num("cursor")?,
            usage: Usage {
                bytes: item.num("live_bytes")?,
                files: item.num("live_files")?,
            },
            exists: true,
        })
    }

    async fn load_file(&self, scope: &Scope, path: &SavePath) -> StorageResult<LoadedFile> {
        let Some(item) = self.get(scope_pk(scope), &file_sk(path)).await? else {
            return Ok(LoadedFile {
                state: FileState::default(),
                item_max_version: None,
            });
        };
        let max_version = item.num("max_version")?;
        Ok(LoadedFile {
            state: FileState {
                current: entry_from_item(&item)?,
                max_version,
            },
            item_max_version: Some(max_version),
        })
    }

    async fn load_files(
        &self,
        scope: &Scope,
        ops: &[CommitOp],
    ) -> StorageResult<BTreeMap<SavePath, LoadedFile>> {
        let paths: BTreeSet<SavePath> = ops.iter().map(|op| op.path.clone()).collect();
        futures::stream::iter(paths)
            .map(|path: SavePath| async move {
                let file = self.load_file(scope, &path).await?;
                Ok::<_, StorageError>((path, file))
            })
            .buffer_unordered(READ_PARALLELISM)
            .try_collect()
            .await
    }

    pub(super) async fn changes_since(
        &self,
        scope: &Scope,
        since: Option<Seq>,
    ) -> StorageResult<(Seq, Vec<Entry>)> {
        // The cursor first, then entries up to it: a commit landing in between shows up in
        // the next request instead of being skipped.
        let cursor = self.scope_row(scope).await?.cursor;
        let low = since.unwrap_or(0).saturating_add(1);
        if low > cursor {
            return Ok((cursor, Vec::new()));
        }
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_SEQ)
                .key_condition_expression("pk = :pk AND #seq BETWEEN :low AND :high")
                .expression_attribute_names("#seq", SEQ)
                .expression_attribute_values(":pk", s(scope_pk(scope)))
                .expression_attribute_values(":low", n(low))
                .expression_attribute_values(":high", n(cursor))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("read changes", e))?;
            for item in page.items.unwrap_or_default() {
                entries.extend(entry_from_item(&item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((cursor, entries)),
            }
        }
    }

    pub(super) async fn usage(&self, scope: &Scope) -> StorageResult<Usage> {
        Ok(self.scope_row(scope).await?.usage)
    }

    pub(super) async fn history(
        &self,
        scope: &Scope,
        path: &SavePath,
    ) -> StorageResult<Vec<HistoryVersion>> {
        let current = self
            .load_file(scope, path)
            .await?
            .state
            .current
            .map(|e| e.version);
        let items = self.query_prefix(history_pk(scope, path), "V#").await?;
        let mut versions = items
            .iter()
            .map(|item| version_from_item(item, current))
            .collect::<StorageResult<Vec<_>>>()?;
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(versions)
    }

    pub(super) async fn commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<(Seq, Vec<CommitOutcome>)> {
        let _queue = self.scope_lock(&scope_pk(scope)).await;
        if ops.len() <= CHUNK_OPS {
            let plan = self
                .commit_atomically(scope, device_id, ops, quota, now)
                .await?;
            self.prune(scope, &plan, quota.retention, now).await?;
            return Ok((plan.cursor, plan.outcomes));
        }
        // Too large for one transaction: the quota is checked on the whole batch first,
        // then each chunk commits atomically (every op still gets its own conditional answer).
        let row = self.scope_row(scope).await?;
        let files = self.load_files(scope, ops).await?;
        let whole = plan_commit(row.cursor, row.usage, ops, device_id, now, |p| {
            loaded_state(&files, p)
        })?;
        check_quota(row.usage, whole.usage, quota)?;
        let mut cursor = row.cursor;
        let mut outcomes = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(CHUNK_OPS) {
            let plan = self
                .commit_atomically(scope, device_id, chunk, unlimited(quota.retention), now)
                .await?;
            self.prune(scope, &plan, quota.retention, now).await?;
            cursor = plan.cursor;
            outcomes.extend(plan.outcomes);
        }
        Ok((cursor, outcomes))
    }

    /// Plans and writes `ops` in one transaction, planning again after each lost race.
    async fn commit_atomically(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<CommitPlan> {
        for attempt in 0..MAX_ATTEMPTS {
            match self.try_commit(scope, device_id, ops, quota, now).await? {
                Attempt::Done(plan) => return Ok(plan),
                Attempt::Lost => backoff(attempt).await,
            }
        }
        Err(StorageError::Unavailable(format!(
            "DynamoDB: the commit lost {MAX_ATTEMPTS} races in a row, try again"
        )))
    }

    async fn try_commit(
        &self,
        scope: &Scope,
        device_id: &str,
        ops: &[CommitOp],
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<Attempt> {
        let row = self.scope_row(scope).await?;
        let files = self.load_files(scope, ops).await?;
        let plan = plan_commit(row.cursor, row.usage, ops, device_id, now, |p| {
            loaded_state(&files, p)
        })?;
        check_quota(row.usage, plan.usage, quota)?;
        if plan.writes_nothing() {
            return Ok(Attempt::Done(plan));
        }
        let mut items = self.plan_items(scope, &row, &files, &plan)?;
        items.extend(self.lease_renewals(scope, &plan, now).await?);
        match self.transact(items).await? {
            TxResult::Committed => Ok(Attempt::Done(plan)),
            TxResult::Cancelled(_) => Ok(Attempt::Lost),
        }
    }

    /// The renewal of every lease the plan's new versions need, conditioned on the lease as
    /// read now; `BlobMissing` for a blob without one or one the collector holds.
    async fn lease_renewals(
        &self,
        scope: &Scope,
        plan: &CommitPlan,
        now: UnixMillis,
    ) -> StorageResult<Vec<TransactWriteItem>> {
        let mut out = Vec::new();
        for sha256 in plan.leased_blobs() {
            let item = self.get(scope_pk(scope), &lease_sk(&sha256)).await?;
            let lease = match item.as_ref().map(lease_from_item).transpose()? {
                Some(l) if !l.lease.collecting => l.lease,
                _ => return Err(StorageError::BlobMissing(sha256)),
            };
            out.push(renewal(
                &self.table,
                scope,
                &sha256,
                lease.size,
                Some(lease.generation),
                lease.expires_at.max(now),
                false,
            )?);
        }
        Ok(out)
    }

    /// Drops the versions `retention` does not keep from the files the plan touched, after
    /// leasing their blobs for the collector (a crash in between only leaves a lease).
    async fn prune(
        &self,
        scope: &Scope,
        plan: &CommitPlan,
        retention: Retention,
        now: UnixMillis,
    ) -> StorageResult<()> {
        if retention == Retention::KEEP_ALL {
            return Ok(());
        }
        for path in plan.touched_paths() {
            let versions = self.history(scope, &path).await?;
            let current = versions.iter().find(|v| v.current).map(|v| v.version);
            let dropped = versions_to_prune(&versions, current, retention, now);
            if dropped.is_empty() {
                continue;
            }
            let blobs: BTreeSet<_> = dropped.iter().map(|v| (v.sha256, v.size)).collect();
            self.lease_for_collection(scope, &blobs, now).await?;
            let keys: Vec<(String, String)> = dropped
                .iter()
                .map(|v| (history_pk(scope, &path), version_sk(v.version)))
                .collect();
            self.delete_items(&keys).await?;
        }
        Ok(())
    }

    /// The writes of a plan, each conditioned on what the plan read.
    fn plan_items(
        &self,
        scope: &Scope,
        row: &ScopeRow,
        files: &BTreeMap<SavePath, LoadedFile>,
        plan: &CommitPlan,
    ) -> StorageResult<Vec<TransactWriteItem>> {
        let mut items = Vec::new();
        if plan.cursor != row.cursor {
            let mut item = key(scope_pk(scope), SCOPE_SK);
            item.insert("cursor".into(), n(plan.cursor));
            item.insert("live_bytes".into(), n(plan.usage.bytes));
            item.insert("live_files".into(), n(plan.usage.files));
            // The cursor guards the feed numbering and the usage counters: two commits
            // that both read cursor c cannot both write c + 1.
            let condition = if row.exists {
                conditional_put(&self.table, item, "#cursor = :old", n(row.cursor))?
            } else {
                put_new(&self.table, item)?
            };
            items.push(condition);
        }
        let mut max_versions: BTreeMap<&SavePath, Version> = BTreeMap::new();
        for (path, v) in &plan.new_versions {
            items.push(put_new(&self.table, version_item(scope, path, v)?)?);
            let max = max_versions.entry(path).or_default();
            *max = (*max).max(v.version);
        }
        for (path, max_version) in max_versions {
            let loaded = files.get(path).ok_or_else(|| missing(path))?;
            let current = plan
                .changed_current
                .get(path)
                .or(loaded.state.current.as_ref());
            let item = file_item(scope, path, current, max_version)?;
            items.push(match loaded.item_max_version {
                Some(old) => conditional_put(&self.table, item, "max_version = :old", n(old))?,
                None => put_new(&self.table, item)?,
            });
        }
        Ok(items)
    }

    pub(super) async fn restore(
        &self,
        scope: &Scope,
        path: &SavePath,
        version: Version,
        device_id: &str,
        quota: Quota,
        now: UnixMillis,
    ) -> StorageResult<Option<(Seq, Entry)>> {
        let Some(item) = self
            .get(history_pk(scope, path), &version_sk(version))
            .await?
        else {
            return Ok(None);
        };
        let old = version_from_item(&item, None)?;
        if !old.deleted {
            // The restored version needs a lease like any commit; if the collector is
            // deleting the blob, the version was pruned meanwhile.
            let blob = LeaseRequest {
                sha256: old.sha256,
                size: old.size,
                stored: true,
            };
            let collecting = self.lease_blobs(scope, &[blob], now, u64::MAX, now).await?;
            if !collecting.is_empty() {
                return Ok(None);
            }
        }
        let _queue = self.scope_lock(&scope_pk(scope)).await;
        for attempt in 0..MAX_ATTEMPTS {
            let current = self.load_file(scope, path).await?.state.current;
            let op = restore_op(path, &old, current.as_ref());
            if let Attempt::Done(plan) =
                self.try_commit(scope, device_id, &[op], quota, now).await?
            {
                // A conflict means the file moved between the two reads: go again.
                if let Some(entry) = restored_entry(&plan) {
                    self.prune(scope, &plan, quota.retention, now).await?;
                    return Ok(Some((plan.cursor, entry)));
                }
            }
            backoff(attempt).await;
        }
        Err(StorageError::Unavailable(format!(
            "DynamoDB: the restore lost {MAX_ATTEMPTS} races in a row, try again"
        )))
    }
}

fn loaded_state(
    files: &BTreeMap<SavePath, LoadedFile>,
    path: &SavePath,
) -> StorageResult<FileState> {
    files
        .get(path)
        .map(|f| f.state.clone())
        .ok_or_else(|| missing(path))
}

fn missing(path: &SavePath) -> StorageError {
    StorageError::Unavailable(format!("internal: file {path} was not loaded"))
}

fn conditional_put(
    table: &str,
    item: Item,
    condition: &str,
    old: aws_sdk_dynamodb::types::AttributeValue,
) -> StorageResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(condition.contains("#cursor").then(|| {
            std::collections::HashMap::from([("#cursor".to_owned(), "cursor".to_owned())])
        }))
        .expression_attribute_values(":old", old)
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A short random pause that grows with the attempt, so racing writers spread out.
async fn backoff(attempt: u32) {
    let cap_ms = 2u64.saturating_pow(attempt.min(6)).min(50);
    let mut byte = [0u8; 1];
    let jitter = getrandom::fill(&mut byte).map(|_| byte[0]).unwrap_or(128);
    let ms = 1 + cap_ms * u64::from(jitter) / 255;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

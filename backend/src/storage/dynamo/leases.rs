//! Blob leases (see `storage::BlobLease`): one item per leased blob in the scope's
//! partition, `sk = LEASE#<sha256 hex>`. Every change is conditional on the `generation`
//! it read, so a renewal and the collector's takeover never both win.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use sync_core::ContentHash;
use sync_core::protocol::UnixMillis;

use super::items::{
    BY_EXPIRY, EXPIRES_AT, GC, GC_LEASE, Item, ItemExt, PK, b, file_sk, history_pk, key, n, s,
    scope_pk,
};
use super::{DynamoMetadataStore, MAX_TRANSACTION_ITEMS, TxResult, build_err, unavailable};
use crate::storage::commit_plan::check_pending;
use crate::storage::{BlobLease, LeaseRequest, Scope, StorageError, StorageResult};

const LEASE_PREFIX: &str = "LEASE#";
/// How often leasing is tried again after a concurrent renewal.
const MAX_ATTEMPTS: u32 = 20;

pub fn lease_sk(sha256: &ContentHash) -> String {
    format!("{LEASE_PREFIX}{}", sha256.to_hex())
}

/// A lease item as read.
#[derive(Debug, Clone)]
pub struct LeaseItem {
    pub lease: BlobLease,
    pub pending: bool,
}

pub fn lease_from_item(item: &Item) -> StorageResult<LeaseItem> {
    let hex = item.str_attr("sk")?;
    let sha256 = hex
        .strip_prefix(LEASE_PREFIX)
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| StorageError::Unavailable(format!("corrupt lease key {hex:?}")))?;
    Ok(LeaseItem {
        lease: BlobLease {
            sha256,
            size: item.num("size")?,
            expires_at: item.num("expires_at")?,
            generation: item.num("generation")?,
            collecting: item.flag("collecting")?,
        },
        pending: item.flag("pending")?,
    })
}

/// Sets a lease to `expires_at`/`pending` and bumps its generation, on condition that it
/// still has the generation `read` (or does not exist, for `None`) and is not collected.
pub fn renewal(
    table: &str,
    scope: &Scope,
    sha256: &ContentHash,
    size: u64,
    read: Option<u64>,
    expires_at: UnixMillis,
    pending: bool,
) -> StorageResult<TransactWriteItem> {
    let condition = match read {
        Some(_) => "generation = :read AND collecting = :no",
        None => "attribute_not_exists(pk)",
    };
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(scope_pk(scope), &lease_sk(sha256))))
        .update_expression(
            "SET #size = :size, expires_at = :exp, pending = :pending, collecting = :no, \
             generation = :next, gc = :gc",
        )
        .condition_expression(condition)
        // `size` is a reserved word in DynamoDB expressions.
        .expression_attribute_names("#size", "size")
        .expression_attribute_values(":size", n(size))
        .expression_attribute_values(":exp", n(expires_at))
        .expression_attribute_values(":pending", b(pending))
        .expression_attribute_values(":no", b(false))
        .expression_attribute_values(":next", n(read.unwrap_or(0) + 1))
        // Puts the lease in the `by_expiry` index the server-wide sweep reads.
        .expression_attribute_values(":gc", s(GC_LEASE));
    if let Some(read) = read {
        update = update.expression_attribute_values(":read", n(read));
    }
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(build_err)?)
        .build())
}

impl DynamoMetadataStore {
    /// Every lease of the scope, by blob (consistent read).
    pub(super) async fn leases(
        &self,
        scope: &Scope,
    ) -> StorageResult<BTreeMap<ContentHash, LeaseItem>> {
        self.query_prefix(scope_pk(scope), LEASE_PREFIX)
            .await?
            .iter()
            .map(|item| lease_from_item(item).map(|l| (l.lease.sha256, l)))
            .collect()
    }

    pub(super) async fn lease_blobs(
        &self,
        scope: &Scope,
        blobs: &[LeaseRequest],
        expires_at: UnixMillis,
        max_pending: u64,
        pending_since: UnixMillis,
    ) -> StorageResult<Vec<ContentHash>> {
        let wanted: BTreeMap<ContentHash, LeaseRequest> =
            blobs.iter().map(|b| (b.sha256, *b)).collect();
        for _ in 0..MAX_ATTEMPTS {
            let leases = self.leases(scope).await?;
            let counted = |l: &LeaseItem| {
                l.pending && !l.lease.collecting && l.lease.expires_at >= pending_since
            };
            let before: u64 = leases
                .values()
                .filter(|l| counted(l))
                .map(|l| l.lease.size)
                .sum();
            let mut after = before;
            let mut collecting = Vec::new();
            let mut writes = Vec::new();
            for blob in wanted.values() {
                match leases.get(&blob.sha256) {
                    Some(l) if l.lease.collecting => collecting.push(blob.sha256),
                    Some(l) => {
                        let exp = l.lease.expires_at.max(expires_at);
                        if l.pending && !counted(l) && exp >= pending_since {
                            after += l.lease.size;
                        }
                        writes.push(renewal(
                            &self.table,
                            scope,
                            &blob.sha256,
                            l.lease.size,
                            Some(l.lease.generation),
                            exp,
                            l.pending,
                        )?);
                    }
                    None => {
                        if !blob.stored {
                            after += blob.size;
                        }
                        writes.push(renewal(
                            &self.table,
                            scope,
                            &blob.sha256,
                            blob.size,
                            None,
                            expires_at,
                            !blob.stored,
                        )?);
                    }
                }
            }
            check_pending(before, after, max_pending)?;
            // Concurrent requests of one user may each pass the budget check: the budget is
            // approximate here, bounded by the user's request rate.
            let mut lost = false;
            for chunk in chunks(writes) {
                if let TxResult::Cancelled(_) = self.transact(chunk).await? {
                    lost = true;
                    break;
                }
            }
            if !lost {
                return Ok(collecting);
            }
        }
        Err(StorageError::Unavailable(
            "DynamoDB: leasing uploads lost too many races, try again".into(),
        ))
    }

    pub(super) async fn expired_leases(
        &self,
        scope: &Scope,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<BlobLease>> {
        let mut out: Vec<BlobLease> = self
            .leases(scope)
            .await?
            .into_values()
            .map(|l| l.lease)
            .filter(|l| l.expires_at < cutoff)
            .collect();
        out.sort_by_key(|l| l.expires_at);
        out.truncate(limit);
        Ok(out)
    }

    /// Games holding a lease that expired before `cutoff`, from the `by_expiry` index
    /// (eventually consistent: the collector reads each game's leases again, consistently).
    pub(super) async fn scopes_with_expired_leases(
        &self,
        cutoff: UnixMillis,
        limit: usize,
    ) -> StorageResult<Vec<Scope>> {
        let mut scopes: Vec<Scope> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_EXPIRY)
                .key_condition_expression("#gc = :gc AND #exp < :cutoff")
                .expression_attribute_names("#gc", GC)
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":gc", s(GC_LEASE))
                .expression_attribute_values(":cutoff", n(cutoff))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("find expired leases", e))?;
            for item in page.items.unwrap_or_default() {
                let scope = scope_of_pk(&item.str_attr(PK)?)?;
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                    if scopes.len() >= limit {
                        return Ok(scopes);
                    }
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(scopes),
            }
        }
    }

    /// Whether any version of the scope refers to `sha256`: every file's history is read
    /// (only the collector asks, for leases that expired).
    async fn referenced(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
        let hex = sha256.to_hex();
        let files = self.query_prefix(scope_pk(scope), "FILE#").await?;
        for file in &files {
            let path = file.str_attr("path")?;
            let path = sync_core::SavePath::new(&path)
                .map_err(|e| StorageError::Unavailable(format!("corrupt path {path:?}: {e}")))?;
            debug_assert_eq!(file_sk(&path), file.str_attr("sk")?);
            let versions = self.query_prefix(history_pk(scope, &path), "V#").await?;
            if versions
                .iter()
                .any(|v| v.str_attr("sha256").is_ok_and(|h| h == hex))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn start_collecting(
        &self,
        scope: &Scope,
        lease: &BlobLease,
    ) -> StorageResult<bool> {
        // Read the references first: a commit after this read renews the lease, so the
        // conditional write below fails and the blob stays.
        let referenced = self.referenced(scope, &lease.sha256).await?;
        let key = key(scope_pk(scope), &lease_sk(&lease.sha256));
        let item = if referenced {
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .condition_expression("generation = :read")
                        .expression_attribute_values(":read", n(lease.generation))
                        .build()
                        .map_err(build_err)?,
                )
                .build()
        } else {
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .update_expression("SET collecting = :yes")
                        .condition_expression("generation = :read")
                        .expression_attribute_values(":read", n(lease.generation))
                        .expression_attribute_values(":yes", b(true))
                        .build()
                        .map_err(build_err)?,
                )
                .build()
        };
        let taken = matches!(self.transact(vec![item]).await?, TxResult::Committed);
        Ok(taken && !referenced)
    }

    pub(super) async fn finish_collecting(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
    ) -> StorageResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(scope_pk(scope), &lease_sk(sha256))))
            .condition_expression("collecting = :yes")
            .expression_attribute_values(":yes", b(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable("forget a collected lease", e)),
        }
    }

    /// Leases pruned blobs for the collector (expiring at `now`); existing leases stay.
    pub(super) async fn lease_for_collection(
        &self,
        scope: &Scope,
        blobs: &BTreeSet<(ContentHash, u64)>,
        now: UnixMillis,
    ) -> StorageResult<()> {
        for (sha256, size) in blobs {
            let item = renewal(&self.table, scope, sha256, *size, None, now, false)?;
            // Cancelled: a lease exists already, which is as good.
            self.transact(vec![item]).await?;
        }
        Ok(())
    }
}

/// The game of a scope partition key, `SCOPE#<user_id>#<game>` (neither contains `#`).
fn scope_of_pk(pk: &str) -> StorageResult<Scope> {
    let corrupt = || StorageError::Unavailable(format!("corrupt scope key {pk:?} in a lease"));
    let (user_id, game) = pk
        .strip_prefix("SCOPE#")
        .and_then(|rest| rest.split_once('#'))
        .ok_or_else(corrupt)?;
    let game = sync_core::GameId::new(game).map_err(|_| corrupt())?;
    Ok(Scope {
        user_id: user_id.to_owned(),
        game,
    })
}

/// Writes in transactions of at most [`MAX_TRANSACTION_ITEMS`].
fn chunks(mut writes: Vec<TransactWriteItem>) -> Vec<Vec<TransactWriteItem>> {
    let mut out = Vec::new();
    while !writes.is_empty() {
        let rest = writes.split_off(writes.len().min(MAX_TRANSACTION_ITEMS));
        out.push(std::mem::replace(&mut writes, rest));
    }
    out
}

//! [`MetadataStore`](super::MetadataStore) on one DynamoDB table. The table design (keys,
//! item shapes, access patterns) is in `README.md` next to this file.
//!
//! Commits are optimistic: read the scope item and the touched files with strongly
//! consistent reads, plan with [`super::commit_plan`] exactly as the embedded store does,
//! then write everything in one `TransactWriteItems` whose conditions say "nothing I read
//! has changed". If another writer got there first, the transaction is cancelled and the
//! commit is planned again on the new state, where the op now gets its conflict answer.

mod accounts;
pub mod items;
mod leases;
mod manifest;
mod store;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};

use self::items::{BY_EXPIRY, BY_SEQ, EXPIRES_AT, GC, PK, SEQ, SK, TTL};
use super::{StorageError, StorageResult};

/// Most items DynamoDB accepts in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Lock stripes for commits of one process (see [`DynamoMetadataStore::scope_lock`]).
const LOCK_STRIPES: usize = 64;

/// Users, devices, tokens, manifests and history in one DynamoDB table. Clones share the
/// client and the commit locks.
#[derive(Clone, Debug)]
pub struct DynamoMetadataStore {
    client: Client,
    table: String,
    commit_locks: Arc<[tokio::sync::Mutex<()>]>,
}

/// What a transaction did.
#[derive(Debug)]
enum TxResult {
    Committed,
    /// Cancelled; one reason code per item (`None` or `"None"` for items that were fine).
    Cancelled(Vec<Option<String>>),
}

impl TxResult {
    /// Whether item `i`'s condition failed.
    fn condition_failed(&self, i: usize) -> bool {
        matches!(self, Self::Cancelled(codes)
            if codes.get(i).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed"))
    }
}

impl DynamoMetadataStore {
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self {
            client: Client::new(sdk),
            table: table.to_owned(),
            commit_locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Commits to one scope from this process queue here instead of racing each other in
    /// DynamoDB, where all but one would be cancelled and planned again (many clients of one
    /// scope would then cost quadratically many transactions). Writers in other processes
    /// are still excluded by the transaction's conditions.
    async fn scope_lock(&self, scope_key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        scope_key.hash(&mut hasher);
        let stripe = (hasher.finish() % self.commit_locks.len() as u64) as usize;
        self.commit_locks[stripe].lock().await
    }

    /// Creates the table as the SAM template does: on-demand, `pk`/`sk`, the `by_seq` local
    /// index, the `by_expiry` global index, TTL on `expires` (tests, local runs).
    pub async fn create_table(&self) -> StorageResult<()> {
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(build_err)
        };
        let by_seq = LocalSecondaryIndex::builder()
            .index_name(BY_SEQ)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SEQ, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        let by_expiry = GlobalSecondaryIndex::builder()
            .index_name(BY_EXPIRY)
            .key_schema(key(GC, KeyType::Hash)?)
            .key_schema(key(EXPIRES_AT, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK, ScalarAttributeType::S)?)
            .attribute_definitions(attr(SK, ScalarAttributeType::S)?)
            .attribute_definitions(attr(SEQ, ScalarAttributeType::N)?)
            .attribute_definitions(attr(GC, ScalarAttributeType::S)?)
            .attribute_definitions(attr(EXPIRES_AT, ScalarAttributeType::N)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .local_secondary_indexes(by_seq)
            .global_secondary_indexes(by_expiry)
            .send()
            .await
            .map_err(|e| unavailable("create the table", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL)
                    .enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| unavailable("turn on TTL", e))?;
        Ok(())
    }

    /// Runs one transaction; a cancellation (a condition failed, or a concurrent
    /// transaction touched an item) is a result, not an error.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StorageResult<TxResult> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(TxResult::Committed),
            Err(SdkError::ServiceError(e)) => match e.err() {
                other if other.code().is_none() => Err(StorageError::Unavailable(format!(
                    "DynamoDB: transaction failed with HTTP {}: {:?}",
                    e.raw().status().as_u16(),
                    e.raw().body().bytes().map(String::from_utf8_lossy)
                ))),
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Ok(TxResult::Cancelled(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().map(str::to_owned))
                            .collect(),
                    ))
                }
                // Another transaction on the same items was in flight: try again.
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Ok(TxResult::Cancelled(Vec::new()))
                }
                other => Err(StorageError::Unavailable(format!(
                    "DynamoDB: transaction failed: {}: {}",
                    other.code().unwrap_or("error"),
                    other.message().unwrap_or_default()
                ))),
            },
            Err(e) => Err(unavailable("run a transaction", e)),
        }
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Unavailable(format!("DynamoDB: bad request: {e}"))
}

pub(crate) fn unavailable<E, R>(what: &str, err: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match &err {
        SdkError::ServiceError(e) => format!(
            "{}: {}",
            e.err().code().unwrap_or("error"),
            e.err().message().unwrap_or_default()
        ),
        other => format!("{other}"),
    };
    StorageError::Unavailable(format!("DynamoDB: cannot {what}: {detail}"))
}

/// Whether a single-item write failed on its condition.
pub(crate) fn is_condition_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(e)
        if e.err().code() == Some("ConditionalCheckFailedException"))
}

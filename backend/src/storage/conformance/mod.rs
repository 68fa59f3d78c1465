//! The conformance suite every storage backend must pass.
//!
//! [`run_metadata_suite`] and [`run_blob_suite`] run named checks, each against a fresh
//! store from the caller's factory, and return a [`SuiteReport`]. A check fails by
//! returning an error, by panicking or by taking longer than [`CHECK_TIMEOUT`]; the other
//! checks still run. Checks create their own users (unique names) and scopes, so a factory
//! may also hand out the same shared store every time (as a cloud backend's tests may).
//!
//! The expected behaviour is that of [`sync_core::ledger::MemoryLedger`], compared
//! outcome by outcome where it applies.
//!
//! ```text
//! let dir = tempfile::tempdir()?;
//! let n = std::sync::atomic::AtomicUsize::new(0);
//! run_metadata_suite(|| async {
//!     let i = n.fetch_add(1, Ordering::Relaxed);
//!     SqliteMetadataStore::open(&dir.path().join(format!("{i}.db"))).expect("open")
//! })
//! .await
//! .assert_all_passed();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{BlobStore, MetadataStore, StorageError};

/// Fails the current check with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::storage::conformance::CheckFailure(format!($($arg)+)));
        }
    };
}

/// Fails the current check unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($arg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err($crate::storage::conformance::CheckFailure(format!(
                "{}:\n   got: {:?}\n  want: {:?}",
                format!($($arg)+),
                left,
                right
            )));
        }
    }};
}

mod accounts;
mod blobs;
mod commits;
mod concurrency;
mod fixtures;
pub use fixtures::{NO_QUOTA, commit_with, lease_ops, quota};
mod history;
mod isolation;
mod leases;
mod quota;
#[cfg(test)]
mod self_test;

/// Longest a single check may run.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure(pub String);

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StorageError> for CheckFailure {
    fn from(e: StorageError) -> Self {
        Self(format!("unexpected storage error: {e} ({e:?})"))
    }
}

/// The result of one check.
pub type CheckResult = Result<(), CheckFailure>;

type CheckFuture = Pin<Box<dyn Future<Output = CheckResult> + Send>>;
/// A named check over a shared store.
type Check<S> = (&'static str, fn(Arc<S>) -> CheckFuture);

/// What a suite run found.
#[derive(Debug, Default)]
pub struct SuiteReport {
    pub suite: &'static str,
    pub passed: Vec<&'static str>,
    pub failed: Vec<(&'static str, String)>,
}

impl SuiteReport {
    /// Panics with every failed check's name and reason, if any failed.
    pub fn assert_all_passed(&self) {
        if self.failed.is_empty() {
            return;
        }
        let details: Vec<String> = self
            .failed
            .iter()
            .map(|(name, why)| format!("--- {name}\n{why}"))
            .collect();
        panic!(
            "{} of {} {} checks failed:\n{}",
            self.failed.len(),
            self.failed.len() + self.passed.len(),
            self.suite,
            details.join("\n")
        );
    }
}

/// Names of the metadata checks, in run order (they do not depend on the store type).
pub fn metadata_check_names() -> Vec<&'static str> {
    metadata_checks::<super::sqlite::SqliteMetadataStore>()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Names of the blob checks, in run order (they do not depend on the store type).
pub fn blob_check_names() -> Vec<&'static str> {
    blob_checks::<super::files::FileBlobStore>()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn metadata_checks<M: MetadataStore>() -> Vec<Check<M>> {
    let mut all = accounts::checks::<M>();
    all.extend(commits::checks::<M>());
    all.extend(quota::checks::<M>());
    all.extend(leases::checks::<M>());
    all.extend(history::checks::<M>());
    all.extend(isolation::checks::<M>());
    all.extend(concurrency::checks::<M>());
    all
}

fn blob_checks<B: BlobStore>() -> Vec<Check<B>> {
    blobs::checks::<B>()
}

/// Runs every metadata check, each on a store from `make`.
pub async fn run_metadata_suite<M, F, Fut>(make: F) -> SuiteReport
where
    M: MetadataStore,
    F: Fn() -> Fut,
    Fut: Future<Output = M>,
{
    run("metadata", metadata_checks::<M>(), make).await
}

/// Runs every blob check, each on a store from `make`.
pub async fn run_blob_suite<B, F, Fut>(make: F) -> SuiteReport
where
    B: BlobStore,
    F: Fn() -> Fut,
    Fut: Future<Output = B>,
{
    run("blob", blob_checks::<B>(), make).await
}

async fn run<S, F, Fut>(suite: &'static str, checks: Vec<Check<S>>, make: F) -> SuiteReport
where
    S: Send + Sync + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = SuiteReport {
        suite,
        ..SuiteReport::default()
    };
    for (name, check) in checks {
        let store = Arc::new(make().await);
        // A task of its own: a panicking store fails this check, not the whole suite.
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, tokio::spawn(check(store))).await;
        let result = match outcome {
            Err(_) => Err(CheckFailure(format!("timed out after {CHECK_TIMEOUT:?}"))),
            Ok(Err(join)) => Err(CheckFailure(format!("panicked: {join}"))),
            Ok(Ok(result)) => result,
        };
        match result {
            Ok(()) => report.passed.push(name),
            Err(CheckFailure(why)) => report.failed.push((name, why)),
        }
    }
    report
}

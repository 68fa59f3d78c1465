//! The in-memory stores (used by fast router tests) pass the same conformance suites as the
//! embedded and AWS stores, so tests built on them mean the same thing.

use backend::storage::conformance::{
    blob_check_names, metadata_check_names, run_blob_suite, run_metadata_suite,
};
use backend::storage::memory::{MemoryBlobStore, MemoryMetadataStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_metadata_store_passes_the_conformance_suite() {
    let report = run_metadata_suite(|| async { MemoryMetadataStore::new() }).await;
    report.assert_all_passed();
    assert_eq!(report.passed, metadata_check_names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_blob_store_passes_the_conformance_suite() {
    let report = run_blob_suite(|| async { MemoryBlobStore::new() }).await;
    report.assert_all_passed();
    assert_eq!(report.passed, blob_check_names());
}

//! Scanning the local save folder: list, then hash only files whose size or mtime changed.

use std::collections::BTreeMap;

use crate::hash::ContentHash;
use crate::path::SavePath;
use crate::rules::SyncRules;
use crate::savemeta::{is_save_file, read_save_meta};
use crate::state::{LocalVersion, ScanRecord, SyncState};
use crate::store::{Expect, SaveStore, StoreError, StoreErrorKind};

/// The synced local files, by path.
pub type LocalFiles = BTreeMap<SavePath, LocalVersion>;

/// Lists the store and refreshes `state.scan`. Returns the synced files and how many were
/// hashed.
pub async fn scan<S: SaveStore>(
    store: &S,
    rules: &SyncRules,
    state: &mut SyncState,
) -> Result<(LocalFiles, u32), StoreError> {
    let mut files = LocalFiles::new();
    let mut hashed = 0;
    for f in store.list().await? {
        if !rules.is_synced(&f.path) {
            continue;
        }
        let cached = state
            .scan
            .get(&f.path)
            .filter(|r| r.size == f.size && r.mtime == f.mtime);
        let record = match cached {
            Some(r) => r.clone(),
            None => {
                let bytes = match store.read(&f.path).await {
                    Ok(b) => b,
                    // Deleted between list and read: it is simply absent now.
                    Err(e) if e.kind == StoreErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                hashed += 1;
                let meta = is_save_file(&f.path)
                    .then(|| read_save_meta(&bytes).ok())
                    .flatten();
                // Size from the bytes read, so a file growing during the read is caught by the
                // hash check before upload rather than mismatching here.
                ScanRecord {
                    size: bytes.len() as u64,
                    mtime: f.mtime,
                    sha256: ContentHash::of(&bytes),
                    meta,
                }
            }
        };
        files.insert(
            f.path.clone(),
            LocalVersion {
                sha256: record.sha256,
                size: record.size,
                mtime: record.mtime,
                meta: record.meta.clone(),
            },
        );
        state.scan.insert(f.path, record);
    }
    state.scan.retain(|p, _| files.contains_key(p));
    Ok((files, hashed))
}

/// The guard for replacing or deleting a file as it was scanned.
pub fn expect_as_scanned(local: Option<&LocalVersion>) -> Expect {
    match local {
        Some(l) => Expect::Unchanged {
            size: l.size,
            mtime: l.mtime,
        },
        None => Expect::Absent,
    }
}

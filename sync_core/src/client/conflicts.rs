//! Conflicts waiting for the player, with what a chooser shows of each side: save name,
//! play time, device, time and the screenshot. The local side is read from the save store,
//! the remote side's bytes are downloaded once and cached by content hash. Every client
//! (the desktop module, the browser client) builds its conflict screen from this.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::{SyncEngine, SyncError};
use crate::hash::ContentHash;
use crate::path::SavePath;
use crate::protocol::{DownloadRequest, UnixMillis, Version};
use crate::savemeta::{SaveMeta, read_save};
use crate::store::SaveStore;
use crate::transport::Transport;

/// One side of a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideView {
    pub sha256: ContentHash,
    pub size: u64,
    /// The file's modification time (Unix ms); Ren'Py shows a slot's time from it.
    pub mtime: Option<UnixMillis>,
    /// Remote side only: the server version and who wrote it.
    pub version: Option<Version>,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    /// The remote side is a deletion.
    pub deleted: bool,
    pub meta: Option<SaveMeta>,
}

/// A conflict and both sides; `None` means that side deleted the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictView {
    pub path: SavePath,
    pub local: Option<SideView>,
    pub remote: Option<SideView>,
}

/// A conflict with both screenshots (PNG bytes), for the chooser.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictPreview {
    pub view: ConflictView,
    pub local_screenshot: Option<Vec<u8>>,
    pub remote_screenshot: Option<Vec<u8>>,
}

/// What a remote save shows: its metadata and screenshot (PNG), when readable.
type Preview = (Option<SaveMeta>, Option<Vec<u8>>);

/// Remote contents already fetched, by hash (conflicts are few; the oldest are forgotten
/// beyond [`PreviewCache::LIMIT`]).
#[derive(Debug, Clone, Default)]
pub struct PreviewCache {
    by_hash: BTreeMap<ContentHash, Preview>,
}

impl PreviewCache {
    pub const LIMIT: usize = 64;

    fn put(&mut self, hash: ContentHash, value: Preview) {
        if self.by_hash.len() >= Self::LIMIT {
            self.by_hash.clear();
        }
        self.by_hash.insert(hash, value);
    }
}

/// Every waiting conflict with both sides. Remote screenshots come from `cache` or are
/// downloaded (and cached); a failed download leaves the server's metadata and no picture,
/// and is tried again next time. Device names are the caller's to add ([`name_devices`]):
/// the list of devices is not part of the sync transport.
pub async fn previews<S: SaveStore, T: Transport>(
    engine: &mut SyncEngine<S, T>,
    cache: &mut PreviewCache,
) -> Result<Vec<ConflictPreview>, SyncError> {
    let pending = engine.pending_conflicts().await?;
    let mut out = Vec::with_capacity(pending.len());
    for conflict in pending {
        let (local, local_screenshot) = match &conflict.local {
            None => (None, None),
            Some(l) => {
                // The file may have changed since the conflict was found: show what is there.
                let info = engine
                    .store()
                    .read(&conflict.path)
                    .await
                    .ok()
                    .and_then(|bytes| read_save(&bytes).ok());
                let meta = info
                    .as_ref()
                    .map(|i| i.meta.clone())
                    .or_else(|| l.meta.clone());
                let side = SideView {
                    sha256: l.sha256,
                    size: l.size,
                    mtime: Some(l.mtime),
                    version: None,
                    device_id: None,
                    device_name: Some("this device".to_owned()),
                    deleted: false,
                    meta,
                };
                (Some(side), info.and_then(|i| i.screenshot))
            }
        };
        let (remote, remote_screenshot) = match &conflict.remote {
            None => (None, None),
            Some(r) => {
                let (meta, screenshot) = if r.deleted {
                    (r.meta.clone(), None)
                } else {
                    let (meta, png) = remote_content(engine, cache, &r.sha256).await;
                    (meta.or_else(|| r.meta.clone()), png)
                };
                let side = SideView {
                    sha256: r.sha256,
                    size: r.size,
                    mtime: r.mtime,
                    version: Some(r.version),
                    device_id: Some(r.device_id.clone()),
                    device_name: None,
                    deleted: r.deleted,
                    meta,
                };
                (Some(side), screenshot)
            }
        };
        out.push(ConflictPreview {
            view: ConflictView {
                path: conflict.path,
                local,
                remote,
            },
            local_screenshot,
            remote_screenshot,
        });
    }
    Ok(out)
}

/// Fills in the remote sides' device names from `names` (device id → name, from
/// `GET /v1/devices`).
pub fn name_devices(previews: &mut [ConflictPreview], names: &BTreeMap<String, String>) {
    for remote in previews.iter_mut().filter_map(|p| p.view.remote.as_mut()) {
        if let Some(id) = &remote.device_id {
            remote.device_name = names.get(id).cloned();
        }
    }
}

async fn remote_content<S: SaveStore, T: Transport>(
    engine: &SyncEngine<S, T>,
    cache: &mut PreviewCache,
    hash: &ContentHash,
) -> Preview {
    if let Some(hit) = cache.by_hash.get(hash) {
        return hit.clone();
    }
    let request = DownloadRequest {
        sha256: vec![*hash],
    };
    let transport = engine.transport();
    let Ok(urls) = transport
        .download_urls(&engine.config().game, &request)
        .await
    else {
        return (None, None);
    };
    let Some(url) = urls.downloads.get(hash) else {
        return (None, None);
    };
    // Verified like every download: a corrupt answer is never shown as the other save.
    let Some(bytes) = transport
        .download(url)
        .await
        .ok()
        .filter(|b| ContentHash::of(b) == *hash)
    else {
        return (None, None);
    };
    let value = match read_save(&bytes) {
        Ok(info) => (Some(info.meta), info.screenshot),
        Err(_) => (None, None),
    };
    cache.put(*hash, value.clone());
    value
}

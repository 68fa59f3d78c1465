//! Conflicts waiting for the player, with what a chooser shows of each side: save name,
//! play time, device, time, and the screenshot. The local side is read from the save folder,
//! the remote side's bytes are downloaded once and cached by content hash.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::executor::block_on;
use serde::Serialize;
use sync_core::protocol::{DownloadRequest, UnixMillis, Version};
use sync_core::savemeta::{SaveMeta, read_save};
use sync_core::store::SaveStore;
use sync_core::transport::Transport;
use sync_core::{ContentHash, SavePath};

use crate::error::OpError;
use crate::ops::Engine;

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
pub struct ConflictPreview {
    pub view: ConflictView,
    pub local_screenshot: Option<Vec<u8>>,
    pub remote_screenshot: Option<Vec<u8>>,
}

/// What a remote save shows: its metadata and screenshot (PNG), when readable.
type Preview = (Option<SaveMeta>, Option<Vec<u8>>);

/// Remote contents already fetched, by hash.
#[derive(Default)]
pub struct RemoteCache {
    by_hash: Mutex<HashMap<ContentHash, Preview>>,
}

impl RemoteCache {
    fn get(&self, hash: &ContentHash) -> Option<Preview> {
        self.lock().get(hash).cloned()
    }

    fn put(&self, hash: ContentHash, value: Preview) {
        let mut map = self.lock();
        // Conflicts are few; forget old previews rather than grow without bound.
        if map.len() > 64 {
            map.clear();
        }
        map.insert(hash, value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContentHash, Preview>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every waiting conflict with both sides. Remote screenshots come from `cache` or are
/// downloaded (and cached); a failed download leaves the server's metadata and no picture.
pub fn previews(engine: &mut Engine, cache: &RemoteCache) -> Result<Vec<ConflictPreview>, OpError> {
    let pending = block_on(engine.pending_conflicts())?;
    let names: HashMap<String, String> = if pending.is_empty() {
        HashMap::new()
    } else {
        engine
            .transport()
            .devices()
            .map(|d| {
                d.devices
                    .into_iter()
                    .map(|d| (d.device_id, d.name))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::with_capacity(pending.len());
    for conflict in pending {
        let (local, local_screenshot) = match &conflict.local {
            None => (None, None),
            Some(l) => {
                // The file may have changed since the conflict was found: show what is there.
                let info = block_on(engine.store().read(&conflict.path))
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
                    let (meta, png) = remote_content(engine, cache, &r.sha256);
                    (meta.or_else(|| r.meta.clone()), png)
                };
                let side = SideView {
                    sha256: r.sha256,
                    size: r.size,
                    mtime: r.mtime,
                    version: Some(r.version),
                    device_id: Some(r.device_id.clone()),
                    device_name: names.get(&r.device_id).cloned(),
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

fn remote_content(
    engine: &Engine,
    cache: &RemoteCache,
    hash: &ContentHash,
) -> (Option<SaveMeta>, Option<Vec<u8>>) {
    if let Some(hit) = cache.get(hash) {
        return hit;
    }
    let game = engine.config().game.clone();
    let transport = engine.transport();
    let fetched = block_on(async {
        let urls = transport
            .download_urls(
                &game,
                &DownloadRequest {
                    sha256: vec![*hash],
                },
            )
            .await
            .ok()?;
        let url = urls.downloads.get(hash)?;
        transport.download(url).await.ok()
    });
    let Some(bytes) = fetched else {
        // Not cached: the next call tries again (the server may be back).
        return (None, None);
    };
    let value = match read_save(&bytes) {
        Ok(info) => (Some(info.meta), info.screenshot),
        Err(_) => (None, None),
    };
    cache.put(*hash, value.clone());
    value
}

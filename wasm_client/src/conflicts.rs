//! Conflicts waiting for the player (policy `manual`), with what a chooser shows of each
//! side: the save's own metadata (`sync_core::savemeta`: save name, play time, `_ctime`,
//! the game's extra keys), its screenshot, the file's mtime, and — for the other side —
//! the server version and the device that wrote it. The local side is read from the save
//! folder; the remote side's bytes are downloaded (a conflict is rare, a chooser opens once).

use std::collections::BTreeMap;

use serde::Serialize;
use sync_core::engine::SyncEngine;
use sync_core::protocol::{DevicesResponse, DownloadRequest, UnixMillis, Version};
use sync_core::savemeta::{SaveMeta, read_save};
use sync_core::store::SaveStore;
use sync_core::transport::Transport;
use sync_core::{ContentHash, SavePath};

use crate::http::FetchTransport;

/// One side of a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideView {
    pub sha256: ContentHash,
    pub size: u64,
    /// The file's modification time (Unix ms); Ren'Py shows a slot's time from it.
    pub mtime: Option<UnixMillis>,
    /// Remote side only: the server version and the device that wrote it.
    pub version: Option<Version>,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    /// The remote side is a deletion.
    pub deleted: bool,
    /// What the save itself says (`None` for files that are not readable saves).
    pub meta: Option<SaveMeta>,
    /// `screenshot.png` of the save (PNG bytes); set as a `Uint8Array` by the binding.
    #[serde(skip)]
    pub screenshot: Option<Vec<u8>>,
}

/// A conflict and both sides; `None` means that side deleted the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictView {
    pub path: SavePath,
    pub local: Option<SideView>,
    pub remote: Option<SideView>,
}

/// Metadata and screenshot of a save's bytes, `(None, None)` for anything else.
fn preview(bytes: &[u8]) -> (Option<SaveMeta>, Option<Vec<u8>>) {
    match read_save(bytes) {
        Ok(info) => (Some(info.meta), info.screenshot),
        Err(_) => (None, None),
    }
}

/// Every conflict waiting for the player, with both sides. A remote side whose bytes cannot
/// be downloaded keeps the server's metadata and has no screenshot.
pub async fn pending<S: SaveStore>(
    engine: &mut SyncEngine<S, FetchTransport>,
) -> Result<Vec<ConflictView>, sync_core::engine::SyncError> {
    let pending = engine.pending_conflicts().await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    // Names are a nicety: without them the chooser shows device ids.
    let names: BTreeMap<String, String> = engine
        .transport()
        .call::<(), DevicesResponse>("GET", "/v1/devices", None)
        .await
        .map(|d| {
            d.devices
                .into_iter()
                .map(|d| (d.device_id, d.name))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(pending.len());
    for conflict in pending {
        let local = match &conflict.local {
            None => None,
            Some(l) => {
                // The file may have changed since the conflict was found: show what is there.
                let (meta, screenshot) = match engine.store().read(&conflict.path).await {
                    Ok(bytes) => preview(&bytes),
                    Err(_) => (None, None),
                };
                Some(SideView {
                    sha256: l.sha256,
                    size: l.size,
                    mtime: Some(l.mtime),
                    version: None,
                    device_id: None,
                    device_name: None,
                    deleted: false,
                    meta: meta.or_else(|| l.meta.clone()),
                    screenshot,
                })
            }
        };
        let remote = match &conflict.remote {
            None => None,
            Some(r) => {
                let (meta, screenshot) = if r.deleted {
                    (None, None)
                } else {
                    remote_preview(engine, &r.sha256).await
                };
                Some(SideView {
                    sha256: r.sha256,
                    size: r.size,
                    mtime: r.mtime,
                    version: Some(r.version),
                    device_id: Some(r.device_id.clone()),
                    device_name: names.get(&r.device_id).cloned(),
                    deleted: r.deleted,
                    meta: meta.or_else(|| r.meta.clone()),
                    screenshot,
                })
            }
        };
        out.push(ConflictView {
            path: conflict.path,
            local,
            remote,
        });
    }
    Ok(out)
}

async fn remote_preview<S: SaveStore>(
    engine: &SyncEngine<S, FetchTransport>,
    hash: &ContentHash,
) -> (Option<SaveMeta>, Option<Vec<u8>>) {
    let transport = engine.transport();
    let request = DownloadRequest {
        sha256: vec![*hash],
    };
    let Ok(urls) = transport
        .download_urls(&engine.config().game, &request)
        .await
    else {
        return (None, None);
    };
    let Some(url) = urls.downloads.get(hash) else {
        return (None, None);
    };
    match transport.download(url).await {
        // The transport verified nothing here: check the bytes are the conflict's side.
        Ok(bytes) if ContentHash::of(&bytes) == *hash => preview(&bytes),
        _ => (None, None),
    }
}

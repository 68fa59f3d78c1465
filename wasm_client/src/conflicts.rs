//! Conflicts waiting for the player (policy `manual`), both sides with metadata and
//! screenshots: the core's view (`sync_core::client::conflicts`) plus the device names the
//! browser looks up. A chooser opens once, so remote previews are not cached between calls.

use std::collections::BTreeMap;

use sync_core::client::conflicts::{self, ConflictPreview, PreviewCache};
use sync_core::engine::{SyncEngine, SyncError};
use sync_core::protocol::DevicesResponse;
use sync_core::routes;
use sync_core::store::SaveStore;

use crate::http::FetchTransport;

/// Every conflict waiting for the player, with both sides.
pub async fn pending<S: SaveStore>(
    engine: &mut SyncEngine<S, FetchTransport>,
) -> Result<Vec<ConflictPreview>, SyncError> {
    let mut previews = conflicts::previews(engine, &mut PreviewCache::default()).await?;
    if !previews.is_empty() {
        // Names are a nicety: without them the chooser shows device ids.
        let names: BTreeMap<String, String> = engine
            .transport()
            .call::<(), DevicesResponse>("GET", routes::DEVICES, None)
            .await
            .map(|d| {
                d.devices
                    .into_iter()
                    .map(|d| (d.device_id, d.name))
                    .collect()
            })
            .unwrap_or_default();
        conflicts::name_devices(&mut previews, &names);
    }
    Ok(previews)
}

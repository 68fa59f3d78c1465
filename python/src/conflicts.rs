//! Conflicts waiting for the player, both sides with metadata and screenshots: the core's
//! view (`sync_core::client::conflicts`) plus the device names this binding looks up.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::executor::block_on;
use sync_core::client::conflicts::{self, ConflictPreview, PreviewCache};

use crate::error::OpError;
use crate::ops::Engine;

/// Remote previews already fetched, shared by the worker and the game's calls.
#[derive(Default)]
pub struct RemoteCache(Mutex<PreviewCache>);

/// Every waiting conflict with both sides.
pub fn previews(engine: &mut Engine, cache: &RemoteCache) -> Result<Vec<ConflictPreview>, OpError> {
    let mut previews = {
        let mut cache = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        block_on(conflicts::previews(engine, &mut cache))?
    };
    if !previews.is_empty() {
        // Names read better than ids; without them the ids still do.
        let names: BTreeMap<String, String> = engine
            .transport()
            .devices()
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

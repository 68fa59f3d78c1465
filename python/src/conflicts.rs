//! Conflicts waiting for the player, both sides with metadata and screenshots
//! (`native_client::conflicts`: the core's view plus device names), with the cache of
//! remote previews the worker and the game's calls share.

use std::sync::Mutex;

use futures::executor::block_on;
use sync_core::client::conflicts::{ConflictPreview, PreviewCache};

use crate::error::OpError;
use crate::ops::Engine;

/// Remote previews already fetched, shared by the worker and the game's calls.
#[derive(Default)]
pub struct RemoteCache(Mutex<PreviewCache>);

/// Every waiting conflict with both sides.
pub fn previews(engine: &mut Engine, cache: &RemoteCache) -> Result<Vec<ConflictPreview>, OpError> {
    let mut cache = cache.0.lock().unwrap_or_else(|p| p.into_inner());
    Ok(block_on(native_client::conflicts::previews(
        engine, &mut cache,
    ))?)
}

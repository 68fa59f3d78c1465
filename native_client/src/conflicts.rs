//! Conflicts waiting for the player, both sides with metadata, screenshots and device
//! names: the core's view (`sync_core::client::conflicts`) over the desktop store, with the
//! names this transport looks up. The CLI's `conflicts` command and the Python module
//! both show this.

use sync_core::client::conflicts::{self, ConflictPreview, PreviewCache};
use sync_core::engine::{SyncEngine, SyncError};
use sync_core::store::SaveStore;

use crate::http::HttpTransport;

/// Every waiting conflict with both sides; remote screenshots from `cache` or downloaded.
pub async fn previews<S: SaveStore>(
    engine: &mut SyncEngine<S, HttpTransport>,
    cache: &mut PreviewCache,
) -> Result<Vec<ConflictPreview>, SyncError> {
    let mut previews = conflicts::previews(engine, cache).await?;
    if !previews.is_empty() {
        conflicts::name_devices(&mut previews, &engine.transport().device_names());
    }
    Ok(previews)
}

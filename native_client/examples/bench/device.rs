//! One benchmark device: a save folder, a signed-in transport and the engine.

use std::path::PathBuf;

use anyhow::{Context, Result};
use native_client::fs_store::FsSaveStore;
use native_client::http::{HttpTransport, Timeouts};
use sync_core::GameId;
use sync_core::engine::{EngineConfig, SyncEngine, SyncReport};
use sync_core::protocol::Credentials;

use crate::server::Server;

pub struct Device {
    dir: tempfile::TempDir,
    engine: SyncEngine<FsSaveStore, HttpTransport>,
}

impl Device {
    /// A new user with one device and an empty save folder.
    pub fn signup(server: &Server, user: &str) -> Result<Self> {
        let transport = HttpTransport::new(&server.url(), Timeouts::default())?;
        let session = transport
            .signup(&credentials(user))
            .with_context(|| format!("signup {user}"))?;
        Self::signed_in(transport.with_session(Some(session)))
    }

    /// Another device of an existing `user` (signed in with its password), empty save folder.
    pub fn login(server: &Server, user: &str) -> Result<Self> {
        let transport = HttpTransport::new(&server.url(), Timeouts::default())?;
        let session = transport
            .login(&credentials(user))
            .with_context(|| format!("login {user}"))?;
        Self::signed_in(transport.with_session(Some(session)))
    }

    fn signed_in(transport: HttpTransport) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let saves: PathBuf = dir.path().join("saves");
        std::fs::create_dir_all(&saves)?;
        let store = FsSaveStore::new(saves, dir.path().join("state.json"));
        let game = GameId::new("Bench-1700000000")?;
        Ok(Self {
            dir,
            engine: SyncEngine::new(store, transport, EngineConfig::new(game)),
        })
    }

    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        Ok(std::fs::write(
            self.dir.path().join("saves").join(name),
            bytes,
        )?)
    }

    pub fn sync(&mut self) -> Result<SyncReport> {
        Ok(futures::executor::block_on(self.engine.sync(&mut |_| {}))?)
    }

    /// A sync that also returns when each phase started (for phase timings).
    pub fn sync_timed(
        &mut self,
    ) -> Result<(
        SyncReport,
        Vec<(sync_core::engine::Phase, std::time::Instant)>,
    )> {
        let mut phases = Vec::new();
        let report = futures::executor::block_on(self.engine.sync(&mut |p| {
            if phases.last().is_none_or(|(last, _)| *last != p.phase) {
                phases.push((p.phase, std::time::Instant::now()));
            }
        }))?;
        Ok((report, phases))
    }
}

/// Every benchmark user has the same password and device name.
fn credentials(user: &str) -> Credentials {
    Credentials {
        username: user.into(),
        password: "benchmark password".into(),
        device_name: "bench".into(),
    }
}

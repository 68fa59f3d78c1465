//! The operations behind the Python methods, on plain Rust types: build the transport and
//! the engine over the game's save locations (`native_client::desktop`, as the CLI does),
//! and call them. Blocking; the callers release the GIL around them.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use futures::executor::block_on;
use native_client::desktop::{DesktopGame, DesktopStore, MissingDir, open_store};
use native_client::http::HttpTransport;
use native_client::profile::Profile;
use native_client::savetokens::{self, KeyExchange};
use native_client::session::Session;
use sync_core::SavePath;
use sync_core::client::ErrorCode;
use sync_core::engine::{EngineConfig, LocalStatus, Progress, SyncEngine, SyncReport};
use sync_core::policy::{ConflictPolicy, Resolution};
use sync_core::protocol::{
    Credentials, DevicesResponse, HistoryResponse, PairingClaim, PairingCode, Version,
};

use crate::error::{ErrorClass, IntoOpError, OpError};
use crate::settings::Settings;

pub type Engine = SyncEngine<DesktopStore, HttpTransport>;

/// One configured client: settings, the profile, and a lock so only one engine operation
/// runs at a time on this save folder (the worker and the game's thread share it).
pub struct Ops {
    pub settings: Settings,
    pub profile: Profile,
    engine_lock: Mutex<()>,
    policy: Mutex<ConflictPolicy>,
    /// Set by the first HTTP answer any of this client's transports gets.
    pub answered: Arc<AtomicBool>,
}

impl Ops {
    pub fn new(settings: Settings) -> Result<Self, OpError> {
        let profile = Profile::open(settings.profile.clone()).map_err(IntoOpError::into_op)?;
        let policy = Mutex::new(settings.policy);
        Ok(Self {
            settings,
            profile,
            engine_lock: Mutex::new(()),
            policy,
            answered: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The session stored for this server, if signed in.
    pub fn session(&self) -> Result<Option<Session>, OpError> {
        self.profile
            .session(&self.settings.server)
            .map_err(IntoOpError::into_op)
    }

    /// Where this game keeps its saves and tokens.
    pub fn desktop(&self) -> DesktopGame {
        let s = &self.settings;
        DesktopGame {
            save_dir: s.save_dir.clone(),
            game_dir: s.game_dir.clone(),
            tokens_dir: s.tokens_dir.clone(),
        }
    }

    pub fn set_policy(&self, policy: ConflictPolicy) {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    pub fn policy(&self) -> ConflictPolicy {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A transport with the stored session; refreshed tokens go to the profile at once
    /// (a refresh token stops working the moment its successor is issued).
    pub fn transport(&self) -> Result<HttpTransport, OpError> {
        let session = self.session()?;
        let profile = self.profile.clone();
        let server = self.settings.server.clone();
        let transport =
            HttpTransport::new(&self.settings.server, self.settings.timeouts).map_err(|e| {
                OpError::new(ErrorClass::Settings, ErrorCode::BadSetting, e.to_string())
            })?;
        Ok(transport
            .with_session(session)
            .with_answer_flag(Arc::clone(&self.answered))
            .with_session_listener(Box::new(move |s| {
                // A failed write only costs a sign-in later; the sync itself goes on.
                let _ = profile.set_session(&server, Some(s));
            })))
    }

    fn signed_in_transport(&self) -> Result<HttpTransport, OpError> {
        let transport = self.transport()?;
        if transport.session().is_none() {
            return Err(OpError::not_signed_in(&self.settings.server));
        }
        Ok(transport)
    }

    /// Runs `f` on an engine for this folder, holding the engine lock.
    fn with_engine<R>(
        &self,
        create_folder: bool,
        f: impl FnOnce(&mut Engine) -> Result<R, OpError>,
    ) -> Result<R, OpError> {
        let _guard = self.engine_lock.lock().unwrap_or_else(|p| p.into_inner());
        let transport = self.signed_in_transport()?;
        let s = &self.settings;
        let missing = if create_folder {
            MissingDir::CreateOnFirstSync
        } else {
            MissingDir::Refuse
        };
        let store = open_store(&self.profile, &s.server, &s.game, &self.desktop(), missing)
            .map_err(IntoOpError::into_op)?;
        let mut config = EngineConfig::new(s.game.clone());
        config.policy = self.policy();
        let mut engine = SyncEngine::new(store, transport, config);
        f(&mut engine)
    }

    /// Publishes this computer's save-token keys and trusts the account's other devices'
    /// in the tokens folder; `None` when there is no key file (Ren'Py 8.0, or not yet).
    pub fn exchange_keys(&self) -> Result<Option<KeyExchange>, OpError> {
        let Some(tokens) = self.desktop().tokens_dir() else {
            return Ok(None);
        };
        let transport = self.signed_in_transport()?;
        savetokens::exchange(&transport, &tokens).map_err(IntoOpError::into_op)
    }

    /// One sync; `progress` sees every progress event.
    pub fn sync(&self, progress: &mut dyn FnMut(&Progress)) -> Result<SyncReport, OpError> {
        self.with_engine(true, |e| Ok(block_on(e.sync(progress))?))
    }

    /// Local changes and waiting conflicts, without the network.
    pub fn local_status(&self) -> Result<LocalStatus, OpError> {
        self.with_engine(false, |e| Ok(block_on(e.status())?))
    }

    pub fn resolve(&self, path: &SavePath, choice: Resolution) -> Result<(), OpError> {
        self.with_engine(false, |e| Ok(block_on(e.resolve(path, choice))?))
    }

    pub fn history(&self, path: &SavePath) -> Result<HistoryResponse, OpError> {
        self.with_engine(false, |e| Ok(block_on(e.history(path))?))
    }

    pub fn restore(&self, path: &SavePath, version: Version) -> Result<SyncReport, OpError> {
        self.with_engine(false, |e| Ok(block_on(e.restore(path, version))?))
    }

    /// Runs `f` on an engine (for conflict previews and other read-mostly work).
    pub fn engine<R>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<R, OpError>,
    ) -> Result<R, OpError> {
        self.with_engine(false, f)
    }

    pub fn signup(&self, username: &str, password: &str) -> Result<Session, OpError> {
        let session = self
            .transport()?
            .signup(&self.credentials(username, password))?;
        self.store_session(Some(&session))?;
        Ok(session)
    }

    pub fn login(&self, username: &str, password: &str) -> Result<Session, OpError> {
        let session = self
            .transport()?
            .login(&self.credentials(username, password))?;
        self.store_session(Some(&session))?;
        Ok(session)
    }

    /// Signs this device in with a code shown on a signed-in device.
    pub fn claim_pairing_code(&self, code: &str) -> Result<Session, OpError> {
        let claim = PairingClaim {
            code: code.trim().to_owned(),
            device_name: self.settings.device_name.clone(),
        };
        let session = self.transport()?.claim_pairing_code(&claim)?;
        self.store_session(Some(&session))?;
        Ok(session)
    }

    /// A code for signing in another device.
    pub fn create_pairing_code(&self) -> Result<PairingCode, OpError> {
        Ok(self.signed_in_transport()?.create_pairing_code()?)
    }

    pub fn devices(&self) -> Result<DevicesResponse, OpError> {
        Ok(self.signed_in_transport()?.devices()?)
    }

    /// Revokes the session on the server and forgets it here, even when the server cannot
    /// be reached (the player asked to be signed out of this device).
    pub fn logout(&self) -> Result<(), OpError> {
        let transport = self.transport()?;
        if transport.session().is_none() {
            return Ok(());
        }
        let result = transport.logout();
        self.store_session(None)?;
        Ok(result?)
    }

    fn store_session(&self, session: Option<&Session>) -> Result<(), OpError> {
        self.profile
            .set_session(&self.settings.server, session)
            .map_err(IntoOpError::into_op)
    }

    fn credentials(&self, username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            device_name: self.settings.device_name.clone(),
        }
    }
}

//! The JS-facing client (`Client` in JS): accounts, syncs before boot and while the game
//! runs, conflicts, history and save-token key exchange. The glue script (`renpy-cloud.js`)
//! decides when to call what; the engine in `sync_core` does the work.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sync_core::client::ErrorCode;
use sync_core::client::errors::{ClientError, ErrorClass};
use sync_core::engine::{EngineConfig, Progress, SyncEngine};
use sync_core::policy::{ConflictPolicy, Resolution};
use sync_core::protocol::{
    Credentials, PairingClaim, PairingCode, RefreshRequest, TokenResponse, Version,
};
use sync_core::routes;
use sync_core::{GameId, SavePath};
use wasm_bindgen::prelude::*;

use crate::conflicts;
use crate::emfs::FsStore;
use crate::errors::{self, to_js as js_error, usage};
use crate::files::GameFiles;
use crate::http::{FetchTransport, Session};
use crate::idbfs::{IdbfsStore, RENPY_MOUNT};
use crate::js;
use crate::savetokens::{self, KeyFile};
use crate::statedb::{ClientDb, StateSlot};

/// What `Client.open` accepts (camelCase in JS).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    /// Base URL of the renpy-cloud server.
    server: String,
    /// The game's id on the server.
    game_id: String,
    /// Ren'Py's `config.save_directory` of the game.
    save_directory: String,
    #[serde(default)]
    device_name: Option<String>,
    /// Conflict policy name (`keep-both` by default).
    #[serde(default)]
    policy: Option<String>,
    /// IDBFS mount point (tests use their own; Ren'Py uses `/home/web_user/.renpy`).
    #[serde(default)]
    mount: Option<String>,
    /// Name of the client's own database (`renpy-cloud`).
    #[serde(default)]
    state_db: Option<String>,
}

/// A renpy-cloud client for one game in this browser.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    config: RefCell<EngineConfig>,
    transport: FetchTransport,
    db: ClientDb,
    mount: String,
    save_directory: SavePath,
    device_name: String,
    /// A sync, restore or key exchange is running (they must not overlap).
    busy: Cell<bool>,
    /// The game's boot-time load has started: IndexedDB must no longer be written.
    booted: Rc<Cell<bool>>,
}

/// Clears the busy flag when an operation ends, however it ends.
struct BusyGuard(Rc<Inner>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .unwrap_or(JsValue::NULL)
}

fn is_present(v: &JsValue) -> bool {
    !(v.is_undefined() || v.is_null())
}

#[wasm_bindgen]
impl Client {
    /// Opens the client for one game: `{server, gameId, saveDirectory, deviceName?,
    /// policy?, mount?, stateDb?}`. Loads a stored session; does not touch the network.
    pub async fn open(options: JsValue) -> Result<Client, JsValue> {
        let json = js_sys::JSON::stringify(&options)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| usage("options must be an object"))?;
        let o: Options = serde_json::from_str(&json).map_err(usage)?;
        let game = GameId::new(&o.game_id).map_err(|e| usage(format!("gameId: {e}")))?;
        let save_directory =
            SavePath::new(&o.save_directory).map_err(|e| usage(format!("saveDirectory: {e}")))?;
        let mut config = EngineConfig::new(game);
        if let Some(p) = &o.policy {
            config.policy = p.parse::<ConflictPolicy>().map_err(usage)?;
        }
        let db = ClientDb::open(o.state_db.as_deref().unwrap_or("renpy-cloud"))
            .await
            .map_err(errors::local_io)?;
        let server = o.server.trim_end_matches('/');
        let session_key = format!("session|{server}|{}", config.game);
        let transport = FetchTransport::open(server, db.clone(), session_key)
            .await
            .map_err(usage)?;
        Ok(Client {
            inner: Rc::new(Inner {
                config: RefCell::new(config),
                transport,
                db,
                mount: o.mount.unwrap_or_else(|| RENPY_MOUNT.to_owned()),
                save_directory,
                device_name: o.device_name.unwrap_or_else(|| "Web browser".to_owned()),
                busy: Cell::new(false),
                booted: Rc::new(Cell::new(false)),
            }),
        })
    }

    /// `{userId, username, deviceId}` of the signed-in account, or `null`.
    pub fn account(&self) -> JsValue {
        match self.inner.transport.session() {
            Some(s) => to_js(&serde_json::json!({
                "userId": s.user_id, "username": s.username, "deviceId": s.device_id,
            })),
            None => JsValue::NULL,
        }
    }

    #[wasm_bindgen(js_name = signUp)]
    pub async fn sign_up(&self, username: String, password: String) -> Result<JsValue, JsValue> {
        self.credentials(routes::SIGNUP, username, password).await
    }

    #[wasm_bindgen(js_name = signIn)]
    pub async fn sign_in(&self, username: String, password: String) -> Result<JsValue, JsValue> {
        self.credentials(routes::LOGIN, username, password).await
    }

    async fn credentials(
        &self,
        path: &str,
        username: String,
        password: String,
    ) -> Result<JsValue, JsValue> {
        let body = Credentials {
            username,
            password,
            device_name: self.inner.device_name.clone(),
        };
        let tokens: TokenResponse = self
            .inner
            .transport
            .post_anonymous(path, &body)
            .await
            .map_err(js_error)?;
        self.adopt(tokens).await
    }

    /// Signs this browser in with a pairing code shown on another signed-in device.
    pub async fn pair(&self, code: String) -> Result<JsValue, JsValue> {
        let body = PairingClaim {
            code: code.trim().to_owned(),
            device_name: self.inner.device_name.clone(),
        };
        let tokens: TokenResponse = self
            .inner
            .transport
            .post_anonymous(routes::PAIRING_CLAIM, &body)
            .await
            .map_err(js_error)?;
        self.adopt(tokens).await
    }

    async fn adopt(&self, tokens: TokenResponse) -> Result<JsValue, JsValue> {
        let session = Session::from_tokens(tokens, crate::http::now_millis());
        self.inner
            .transport
            .set_session(Some(session))
            .await
            .map_err(errors::local_io)?;
        Ok(self.account())
    }

    /// A single-use code `{code, expires_at}` that signs another device into this account.
    #[wasm_bindgen(js_name = createPairingCode)]
    pub async fn create_pairing_code(&self) -> Result<JsValue, JsValue> {
        let code: PairingCode = self
            .inner
            .transport
            .call::<(), _>("POST", routes::PAIRING, None)
            .await
            .map_err(js_error)?;
        Ok(to_js(&code))
    }

    /// Revokes the session on the server (best effort) and forgets it here.
    #[wasm_bindgen(js_name = signOut)]
    pub async fn sign_out(&self) -> Result<(), JsValue> {
        if let Some(s) = self.inner.transport.session() {
            let body = RefreshRequest {
                refresh_token: s.refresh_token,
            };
            let _ = self
                .inner
                .transport
                .post_anonymous::<_, serde_json::Value>(routes::LOGOUT, &body)
                .await;
        }
        self.inner
            .transport
            .set_session(None)
            .await
            .map_err(errors::local_io)
    }

    /// Tells the client that the game's boot-time `FS.syncfs(true)` is starting. Call it in
    /// the same turn as that call: IndexedDB writes already under way finish before the
    /// game's load reads, and later ones are refused (use `sync(FS)` from then on).
    #[wasm_bindgen(js_name = bootStarted)]
    pub fn boot_started(&self) {
        self.inner.booted.set(true);
    }

    /// Changes the conflict policy for the next syncs.
    #[wasm_bindgen(js_name = setPolicy)]
    pub fn set_policy(&self, policy: String) -> Result<(), JsValue> {
        self.inner.config.borrow_mut().policy = policy.parse().map_err(usage)?;
        Ok(())
    }

    /// One sync. `fs`: the running game's `FS`, or `null` before the game boots (IndexedDB
    /// is then written directly). Resolves with the engine's report; the caller persists a
    /// running game's changes (`FS.syncfs(false)`) and asks Ren'Py to rescan.
    pub async fn sync(
        &self,
        fs: JsValue,
        on_progress: Option<js_sys::Function>,
    ) -> Result<JsValue, JsValue> {
        self.sync_with(fs, on_progress, false).await
    }

    /// A sync whose small requests use `fetch` keepalive, so that what was sent completes
    /// even if the tab closes (for `visibilitychange`/`pagehide`).
    pub async fn flush(&self, fs: JsValue) -> Result<JsValue, JsValue> {
        self.sync_with(fs, None, true).await
    }

    async fn sync_with(
        &self,
        fs: JsValue,
        on_progress: Option<js_sys::Function>,
        keepalive: bool,
    ) -> Result<JsValue, JsValue> {
        let _busy = self.enter()?;
        let mut engine = self.engine(fs).await?;
        self.inner.transport.set_keepalive(keepalive);
        let mut progress = |p: &Progress| {
            if let Some(f) = &on_progress {
                let _ = f.call1(&JsValue::NULL, &to_js(p));
            }
        };
        let result = engine.sync(&mut progress).await;
        self.inner.transport.set_keepalive(false);
        result.map(|r| to_js(&r)).map_err(js_error)
    }

    /// What is known without the network: `{pending_uploads, cursor, pending_conflicts}`.
    pub async fn status(&self, fs: JsValue) -> Result<JsValue, JsValue> {
        let _busy = self.enter()?;
        let mut engine = self.engine(fs).await?;
        engine.status().await.map(|s| to_js(&s)).map_err(js_error)
    }

    /// Conflicts waiting for the player (policy `manual`). `fs`: the running game's `FS`
    /// (omit it, or pass `null`, before the game boots).
    pub async fn conflicts(&self, fs: JsValue) -> Result<JsValue, JsValue> {
        let mut engine = self.engine(fs).await?;
        engine
            .pending_conflicts()
            .await
            .map(|c| to_js(&c))
            .map_err(js_error)
    }

    /// The conflicts waiting for the player with both sides, for a chooser:
    /// `[{path, local, remote}]`, a side being `null` (that side deleted the file) or
    /// `{sha256, size, mtime, version, device_id, device_name, deleted, meta, screenshot}`
    /// — `meta` the save's own metadata (`save_name`, `game_runtime`, `ctime`, `extra`…),
    /// `screenshot` its PNG bytes (`Uint8Array`) or `null`. `fs` as for
    /// [`Client::conflicts`].
    #[wasm_bindgen(js_name = conflictPreviews)]
    pub async fn conflict_previews(&self, fs: JsValue) -> Result<JsValue, JsValue> {
        let mut engine = self.engine(fs).await?;
        let previews = conflicts::pending(&mut engine).await.map_err(js_error)?;
        let out = js_sys::Array::new();
        for p in &previews {
            let item = to_js(&p.view);
            for (name, side, png) in [
                ("local", &p.view.local, &p.local_screenshot),
                ("remote", &p.view.remote, &p.remote_screenshot),
            ] {
                if side.is_some() {
                    set_screenshot(&js::get(&item, name), png.as_deref());
                }
            }
            out.push(&item);
        }
        Ok(out.into())
    }

    /// Records the player's decision (`keep-local`, `keep-remote`, `keep-both`); the next
    /// sync applies it. `fs` as for [`Client::conflicts`].
    pub async fn resolve(&self, path: String, choice: String, fs: JsValue) -> Result<(), JsValue> {
        let path = SavePath::new(&path).map_err(usage)?;
        let choice: Resolution = choice.parse().map_err(usage)?;
        let mut engine = self.engine(fs).await?;
        engine.resolve(&path, choice).await.map_err(js_error)
    }

    /// Every stored version of a file, newest first. `fs` as for [`Client::conflicts`]
    /// (without it, a running game's client would refuse: IndexedDB is the game's then).
    pub async fn history(&self, path: String, fs: JsValue) -> Result<JsValue, JsValue> {
        let path = SavePath::new(&path).map_err(usage)?;
        let mut engine = self.engine(fs).await?;
        engine
            .history(&path)
            .await
            .map(|h| to_js(&h))
            .map_err(js_error)
    }

    /// Makes an old version current again (as a new version) and syncs it here.
    pub async fn restore(
        &self,
        fs: JsValue,
        path: String,
        version: f64,
    ) -> Result<JsValue, JsValue> {
        let path = SavePath::new(&path).map_err(usage)?;
        let version = version as Version;
        let _busy = self.enter()?;
        let mut engine = self.engine(fs).await?;
        engine
            .restore(&path, version)
            .await
            .map(|r| to_js(&r))
            .map_err(js_error)
    }

    /// Publishes this browser's Ren'Py save-token keys and trusts the keys of the account's
    /// other devices (appends `verifying-key` lines to `tokens/security_keys.txt`), so that
    /// a synced `persistent` is accepted. Before boot (`fs` null) it writes IndexedDB
    /// directly; while running, through `FS` (then persist with `FS.syncfs(false)`, and
    /// hand `peers` to the running Ren'Py with `renpyTrustScript`). Resolves with
    /// `{published, added, peers}` (a count, then the keys added and every peer key).
    #[wasm_bindgen(js_name = exchangeKeys)]
    pub async fn exchange_keys(&self, fs: JsValue) -> Result<JsValue, JsValue> {
        let _busy = self.enter()?;
        let session =
            self.inner.transport.session().ok_or_else(|| {
                js_error(ClientError::not_signed_in(self.inner.transport.server()))
            })?;
        let result = if is_present(&fs) {
            let file = KeyFile::Running {
                fs: &fs,
                mount: &self.inner.mount,
            };
            savetokens::exchange(&self.inner.transport, &session.device_id, file).await
        } else {
            let store = self.idbfs().await?;
            let file = KeyFile::BeforeBoot(&store);
            savetokens::exchange(&self.inner.transport, &session.device_id, file).await
        };
        result.map(|r| to_js(&r)).map_err(js_error)
    }

    fn enter(&self) -> Result<BusyGuard, JsValue> {
        if self.inner.busy.replace(true) {
            return Err(errors::busy());
        }
        Ok(BusyGuard(self.inner.clone()))
    }

    async fn idbfs(&self) -> Result<IdbfsStore, JsValue> {
        if self.inner.booted.get() {
            return Err(errors::booted());
        }
        IdbfsStore::open(
            &self.inner.mount,
            &self.inner.save_directory,
            self.state_slot(),
            self.inner.booted.clone(),
        )
        .await
        .map_err(js_error)
    }

    fn state_slot(&self) -> StateSlot {
        let user = self
            .inner
            .transport
            .session()
            .map(|s| s.user_id)
            .unwrap_or_default();
        StateSlot {
            db: self.inner.db.clone(),
            // The base belongs to one account's manifest on one server.
            key: format!(
                "state|{}|{user}|{}|{}",
                self.inner.transport.server(),
                self.inner.config.borrow().game,
                self.inner.save_directory
            ),
        }
    }

    async fn engine(&self, fs: JsValue) -> Result<SyncEngine<GameFiles, FetchTransport>, JsValue> {
        let files = if is_present(&fs) {
            GameFiles::running(FsStore::new(
                fs,
                &self.inner.mount,
                &self.inner.save_directory,
                self.state_slot(),
            ))
        } else {
            GameFiles::before_boot(self.idbfs().await?).await
        }
        .map_err(js_error)?;
        Ok(SyncEngine::new(
            files,
            self.inner.transport.clone(),
            self.inner.config.borrow().clone(),
        ))
    }
}

/// Sets `screenshot` on a JS object: PNG bytes as a `Uint8Array`, or `null`.
fn set_screenshot(object: &JsValue, png: Option<&[u8]>) {
    let value = png.map_or(JsValue::NULL, |b| js_sys::Uint8Array::from(b).into());
    js::set(object, "screenshot", &value);
}

/// What a Ren'Py save's bytes say, read by the core (`sync_core::savemeta::read_save`):
/// `{meta, screenshot}` — `meta` as in `conflictPreviews`, `screenshot` PNG bytes or `null`.
/// Rejects (`code: "unreadable_save"`) bytes that are not a readable save.
#[wasm_bindgen(js_name = readSave)]
pub fn read_save(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let info = sync_core::savemeta::read_save(bytes).map_err(|e| {
        js_error(ClientError::new(
            ErrorClass::Local,
            ErrorCode::UnreadableSave,
            e.to_string(),
        ))
    })?;
    let out = js_sys::Object::new();
    js::set(&out, "meta", &to_js(&info.meta));
    set_screenshot(&out, info.screenshot.as_deref());
    Ok(out.into())
}

/// Python for `renpy_exec` that makes the running Ren'Py trust `keys` (base64 DER), each
/// unless already trusted; `null` when none is a valid key. Built in Rust from keys the
/// core's rule accepts, so the page never assembles Python from strings it received.
#[wasm_bindgen(js_name = renpyTrustScript)]
pub fn renpy_trust_script(keys: Vec<String>) -> Option<String> {
    savetokens::renpy_trust_script(&keys)
}

//! `_native.Client`: one game's save folder on one server. Every method that does disk or
//! network work releases the GIL; `status()` and `take_results()` only copy memory.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Serialize;
use serde_json::json;
use sync_core::SavePath;
use sync_core::client::ErrorCode;
use sync_core::policy::Resolution;

use std::time::Duration;

use sync_core::client::scheduler::Event;

use crate::conflicts;
use crate::error::{ErrorClass, IntoOpError, OpError};
use crate::ops::Ops;
use crate::py_errors::to_py;
use crate::settings::RawSettings;
use crate::worker::{Shared, Worker, final_sync, wait_for_attempt};
use native_client::session::Session;

/// A conflict for Python: its JSON, then the local and remote screenshots (PNG bytes).
type ConflictTuple<'py> = (
    String,
    Option<Bound<'py, PyBytes>>,
    Option<Bound<'py, PyBytes>>,
);

#[pyclass(frozen, module = "renpy_cloud._native")]
pub struct Client {
    shared: Arc<Shared>,
    worker: Mutex<Option<Worker>>,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (server, game, save_dir, *, game_dir = None, tokens_dir = None, policy = "keep-both".to_owned(), device_name = None, profile = None, interval = 60.0, timeout = 30.0))]
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the keyword arguments of the Python API"
    )]
    fn new(
        py: Python<'_>,
        server: String,
        game: String,
        save_dir: PathBuf,
        game_dir: Option<PathBuf>,
        tokens_dir: Option<PathBuf>,
        policy: String,
        device_name: Option<String>,
        profile: Option<PathBuf>,
        interval: f64,
        timeout: f64,
    ) -> PyResult<Self> {
        let raw = RawSettings {
            server,
            game,
            save_dir,
            game_dir,
            tokens_dir,
            policy,
            device_name,
            profile,
            interval,
            timeout,
        };
        let shared = py
            .detach(|| -> Result<Shared, OpError> {
                let settings = raw.validate().map_err(IntoOpError::into_op)?;
                Ok(Shared::new(Ops::new(settings)?))
            })
            .map_err(|e| to_py(py, e))?;
        Ok(Self {
            shared: Arc::new(shared),
            worker: Mutex::new(None),
        })
    }

    /// Creates the account and signs this device in; returns the account as JSON.
    fn signup(&self, py: Python<'_>, username: String, password: String) -> PyResult<String> {
        self.sign_in(py, |ops| ops.signup(&username, &password))
    }

    fn login(&self, py: Python<'_>, username: String, password: String) -> PyResult<String> {
        self.sign_in(py, |ops| ops.login(&username, &password))
    }

    /// Signs this device in with a code from a signed-in device.
    fn pair(&self, py: Python<'_>, code: String) -> PyResult<String> {
        self.sign_in(py, |ops| ops.claim_pairing_code(&code))
    }

    /// A single-use code for signing in another device, as JSON `{code, expires_at}`.
    fn pairing_code(&self, py: Python<'_>) -> PyResult<String> {
        let shared = &self.shared;
        let code = py
            .detach(|| shared.ops.create_pairing_code())
            .map_err(|e| to_py(py, e))?;
        to_json(py, &code)
    }

    fn devices(&self, py: Python<'_>) -> PyResult<String> {
        let shared = &self.shared;
        let list = py
            .detach(|| shared.ops.devices())
            .map_err(|e| to_py(py, e))?;
        to_json(py, &list)
    }

    /// Signs out here (and on the server when it answers).
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let shared = &self.shared;
        let result = py.detach(|| {
            let r = shared.ops.logout();
            shared.refresh_session();
            r
        });
        result.map_err(|e| to_py(py, e))
    }

    /// Runs one sync now on the calling thread (GIL released) and returns its result as
    /// JSON. Never raises for sync failures: they are in the result and in `status()`.
    fn sync_now(&self, py: Python<'_>) -> PyResult<String> {
        let shared = &self.shared;
        let result = py.detach(|| shared.sync_once());
        to_json(py, &result)
    }

    /// Asks the background worker for a sync as soon as it is free; returns at once.
    fn request_sync(&self) {
        self.shared.notify(Event::Requested);
    }

    /// Tells the worker the game just saved (it also notices saves by itself within a few
    /// seconds); the sync follows after a short quiet time.
    fn saved(&self) {
        self.shared.notify(Event::Saved);
    }

    /// Starts the background worker: a sync at once, then after saves and every
    /// `interval` seconds. With `wait`, waits up to that many seconds (GIL released) for
    /// the first sync to finish and returns whether it did; it carries on either way.
    #[pyo3(signature = (wait = None))]
    fn start(&self, py: Python<'_>, wait: Option<f64>) -> PyResult<bool> {
        let before = self.shared.board().status.last_attempt;
        {
            let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
            if worker.is_none() {
                let shared = Arc::clone(&self.shared);
                *worker = Some(
                    py.detach(|| Worker::start(shared))
                        .map_err(|e| to_py(py, e))?,
                );
            }
        }
        let Some(wait) = wait.filter(|w| w.is_finite() && *w > 0.0) else {
            return Ok(false);
        };
        let shared = &self.shared;
        Ok(py.detach(|| wait_for_attempt(shared, before, Duration::from_secs_f64(wait))))
    }

    /// Stops the worker after its current sync and waits for it.
    fn stop(&self, py: Python<'_>) {
        let taken = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(worker) = taken {
            py.detach(|| worker.stop());
        }
    }

    /// For quitting: stops the worker without waiting for a sync in flight, then runs one
    /// last sync bounded by `deadline` seconds (skipped when signed out or offline).
    /// Returns whether a final sync finished in time; never raises and never waits longer.
    #[pyo3(signature = (deadline = 1.5))]
    fn shutdown(&self, py: Python<'_>, deadline: f64) -> bool {
        drop(self.worker.lock().unwrap_or_else(|p| p.into_inner()).take());
        let deadline = Duration::try_from_secs_f64(deadline.clamp(0.0, 60.0)).unwrap_or_default();
        let shared = &self.shared;
        py.detach(|| final_sync(shared, deadline))
    }

    /// The status snapshot as JSON (memory only: safe to call every frame).
    fn status(&self, py: Python<'_>) -> PyResult<String> {
        let mut status = self.shared.board().status.clone();
        status.reached_server = self.shared.ops.answered.load(Ordering::Relaxed);
        to_json(py, &status)
    }

    /// Results of the syncs finished since the last call, oldest first, as JSON.
    fn take_results(&self, py: Python<'_>) -> PyResult<String> {
        let results: Vec<_> = self.shared.board().results.drain(..).collect();
        to_json(py, &results)
    }

    /// Conflicts waiting for the player: `(json, local_png, remote_png)` each.
    fn conflicts<'py>(&self, py: Python<'py>) -> PyResult<Vec<ConflictTuple<'py>>> {
        let shared = &self.shared;
        let previews = py
            .detach(|| shared.ops.engine(|e| conflicts::previews(e, &shared.cache)))
            .map_err(|e| to_py(py, e))?;
        previews
            .into_iter()
            .map(|p| {
                Ok((
                    to_json(py, &p.view)?,
                    p.local_screenshot.map(|b| PyBytes::new(py, &b)),
                    p.remote_screenshot.map(|b| PyBytes::new(py, &b)),
                ))
            })
            .collect()
    }

    /// Decides a waiting conflict (`keep`: "local", "remote" or "both"); the next sync,
    /// requested here, applies it.
    fn resolve(&self, py: Python<'_>, path: String, keep: String) -> PyResult<()> {
        let path = save_path(&path).map_err(|e| to_py(py, e))?;
        let choice: Resolution = keep.parse().map_err(|e| {
            to_py(
                py,
                OpError::new(ErrorClass::Settings, ErrorCode::Usage, format!("keep: {e}")),
            )
        })?;
        let shared = &self.shared;
        py.detach(|| shared.ops.resolve(&path, choice))
            .map_err(|e| to_py(py, e))?;
        self.shared.notify(Event::Requested);
        Ok(())
    }

    /// Every stored version of a file, newest first, as JSON.
    fn history(&self, py: Python<'_>, path: String) -> PyResult<String> {
        let path = save_path(&path).map_err(|e| to_py(py, e))?;
        let shared = &self.shared;
        let history = py
            .detach(|| shared.ops.history(&path))
            .map_err(|e| to_py(py, e))?;
        to_json(py, &history)
    }

    /// Makes an old version current again (as a new version) and syncs it here; returns
    /// the sync report as JSON.
    fn restore(&self, py: Python<'_>, path: String, version: u64) -> PyResult<String> {
        let path = save_path(&path).map_err(|e| to_py(py, e))?;
        let shared = &self.shared;
        let report = py
            .detach(|| shared.ops.restore(&path, version))
            .map_err(|e| to_py(py, e))?;
        to_json(py, &report)
    }

    /// Changes the conflict policy for the next syncs.
    fn set_policy(&self, py: Python<'_>, policy: String) -> PyResult<()> {
        let parsed = policy.parse().map_err(|e| {
            to_py(
                py,
                OpError::new(
                    ErrorClass::Settings,
                    ErrorCode::BadSetting,
                    format!("policy: {e}"),
                ),
            )
        })?;
        self.shared.ops.set_policy(parsed);
        Ok(())
    }

    /// The validated settings as JSON (for diagnostics).
    fn settings(&self, py: Python<'_>) -> PyResult<String> {
        let s = &self.shared.ops.settings;
        to_json(
            py,
            &json!({
                "server": s.server,
                "game": s.game,
                "save_dir": s.save_dir,
                "game_dir": s.game_dir,
                "tokens_dir": self.shared.ops.desktop().tokens_dir(),
                "policy": self.shared.ops.policy(),
                "device_name": s.device_name,
                "profile": self.shared.ops.profile.path(),
                "interval": s.interval.as_secs_f64(),
                "timeout": s.timeouts.request.as_secs_f64(),
            }),
        )
    }
}

impl Client {
    fn sign_in(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&Ops) -> Result<Session, OpError> + Send,
    ) -> PyResult<String> {
        let shared = &self.shared;
        let session = py
            .detach(|| {
                let s = call(&shared.ops);
                shared.refresh_session();
                s
            })
            .map_err(|e| to_py(py, e))?;
        shared.notify(Event::SignedIn);
        let settings = &shared.ops.settings;
        to_json(
            py,
            &json!({
                "server": settings.server,
                "username": session.username,
                "user_id": session.user_id,
                "device_id": session.device_id,
                "device_name": settings.device_name,
            }),
        )
    }
}

fn save_path(raw: &str) -> Result<SavePath, OpError> {
    SavePath::new(&raw.replace('\\', "/")).map_err(|e| {
        OpError::new(
            ErrorClass::Settings,
            ErrorCode::Usage,
            format!("path {raw:?}: {e}"),
        )
    })
}

fn to_json<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| {
        to_py(
            py,
            OpError::new(ErrorClass::Local, ErrorCode::Internal, e.to_string()),
        )
    })
}

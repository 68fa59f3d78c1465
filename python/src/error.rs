//! One error type for every operation of the module: a stable `code` (shared with the
//! `renpy-cloud --json` CLI), a one-line message, and the class that picks the Python
//! exception. The conversion to Python lives in `py_errors.rs`.

use native_client::cli::CliError;
use native_client::profile::ProfileError;
use serde::Serialize;
use sync_core::engine::SyncError;
use sync_core::transport::{TransportError, TransportErrorKind};

use crate::settings::SettingsError;

/// Which Python exception an error becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A bad setting or argument (`ValueError`).
    Settings,
    /// Not signed in, wrong password, revoked session.
    Auth,
    /// Offline, timeout, 5xx: retried by the worker.
    Network,
    /// The server refused the request (4xx, quota).
    Server,
    /// The save folder, profile or sync state.
    Local,
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
    /// Worth retrying later without the player doing anything.
    pub transient: bool,
}

impl OpError {
    pub fn new(class: ErrorClass, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            class,
            transient: class == ErrorClass::Network,
        }
    }

    pub fn not_signed_in(server: &str) -> Self {
        Self::new(
            ErrorClass::Auth,
            "not_signed_in",
            format!("not signed in to {server}; sign in or pair this device first"),
        )
    }

    fn from_cli(e: CliError, class: ErrorClass, transient: bool) -> Self {
        Self {
            code: e.code,
            message: e.message,
            class,
            transient,
        }
    }
}

impl From<TransportError> for OpError {
    fn from(e: TransportError) -> Self {
        let transient = e.is_transient();
        let class = match e.kind {
            TransportErrorKind::Offline
            | TransportErrorKind::Timeout
            | TransportErrorKind::Server { .. }
            | TransportErrorKind::Corrupt => ErrorClass::Network,
            TransportErrorKind::Unauthorized => ErrorClass::Auth,
            TransportErrorKind::Quota | TransportErrorKind::Rejected { .. } => ErrorClass::Server,
        };
        Self::from_cli(e.into(), class, transient)
    }
}

impl From<SyncError> for OpError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Transport(e) => e.into(),
            // A file the game is writing right now: the next sync picks it up.
            other => Self::from_cli(other.into(), ErrorClass::Local, true),
        }
    }
}

impl From<ProfileError> for OpError {
    fn from(e: ProfileError) -> Self {
        Self::from_cli(e.into(), ErrorClass::Local, false)
    }
}

impl From<SettingsError> for OpError {
    fn from(e: SettingsError) -> Self {
        Self::new(ErrorClass::Settings, "bad_setting", e.to_string())
    }
}

//! The one error type of a CLI command: a stable code plus a one-line message.

use sync_core::engine::SyncError;
use sync_core::store::{StoreError, StoreErrorKind};
use sync_core::transport::{TransportError, TransportErrorKind};

use crate::http::BadServerUrl;
use crate::profile::ProfileError;

/// Why a command failed. `code` is for scripts (`--json`), `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: String,
    pub message: String,
}

impl CliError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: one_line(&message.into()),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message)
    }
}

/// Messages go on one line: scripts read stderr line by line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<TransportError> for CliError {
    fn from(e: TransportError) -> Self {
        let code = match &e.kind {
            TransportErrorKind::Offline => "offline".to_owned(),
            TransportErrorKind::Timeout => "timeout".to_owned(),
            TransportErrorKind::Unauthorized => "unauthorized".to_owned(),
            TransportErrorKind::Quota => "quota".to_owned(),
            TransportErrorKind::Rejected { code, .. } => code.clone(),
            TransportErrorKind::Server { .. } => "server_error".to_owned(),
            TransportErrorKind::Corrupt => "corrupt".to_owned(),
        };
        let mut message = match &e.kind {
            TransportErrorKind::Offline => format!("cannot reach the server: {}", e.message),
            TransportErrorKind::Timeout => {
                format!("the server did not answer in time: {}", e.message)
            }
            TransportErrorKind::Unauthorized => {
                format!(
                    "not signed in or session expired; run login or pair: {}",
                    e.message
                )
            }
            _ => e.message.clone(),
        };
        if let Some(seconds) = e.retry_after {
            message.push_str(&format!(" (retry after {seconds} s)"));
        }
        Self::new(&code, message)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        let code = match e.kind {
            StoreErrorKind::NotFound => "not_found",
            StoreErrorKind::Changed => "changed_locally",
            StoreErrorKind::Io => "local_io",
        };
        Self::new(code, e.message)
    }
}

impl From<SyncError> for CliError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(e) => e.into(),
            SyncError::Transport(e) => e.into(),
            other => Self::new("sync_state", other.to_string()),
        }
    }
}

impl From<ProfileError> for CliError {
    fn from(e: ProfileError) -> Self {
        Self::new("profile", e.to_string())
    }
}

impl From<BadServerUrl> for CliError {
    fn from(e: BadServerUrl) -> Self {
        Self::usage(e.to_string())
    }
}

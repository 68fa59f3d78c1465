//! The one error type of a CLI command: a stable code plus a one-line message.

use sync_core::client::ErrorCode;
use sync_core::client::errors::{ClientError, ErrorClass};
use sync_core::engine::SyncError;
use sync_core::store::StoreError;
use sync_core::transport::TransportError;

use crate::http::BadServerUrl;
use crate::profile::ProfileError;

/// Why a command failed: the shared client vocabulary (`sync_core::client::errors`).
/// `code`, `class` and `transient` are for scripts (`--json`; the Ren'Py fallback client
/// reads them), `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.message)]
pub struct CliError(pub ClientError);

impl CliError {
    pub fn new(class: ErrorClass, code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ClientError::new(class, code, message))
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Settings, ErrorCode::Usage, message)
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The `{"error": {...}}` body `--json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.0 })
    }
}

/// The shared client vocabulary, plus what to type when signed out.
impl From<ClientError> for CliError {
    fn from(mut e: ClientError) -> Self {
        if e.class == ErrorClass::Auth && e.code != ErrorCode::InvalidCredentials {
            e.message
                .push_str("; run `renpy-cloud login` or `pair --code`");
        }
        Self(e)
    }
}

impl From<TransportError> for CliError {
    fn from(e: TransportError) -> Self {
        ClientError::from(e).into()
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        ClientError::from(e).into()
    }
}

impl From<SyncError> for CliError {
    fn from(e: SyncError) -> Self {
        ClientError::from(e).into()
    }
}

impl From<ProfileError> for CliError {
    fn from(e: ProfileError) -> Self {
        Self::new(ErrorClass::Local, ErrorCode::Profile, e.to_string())
    }
}

impl From<BadServerUrl> for CliError {
    fn from(e: BadServerUrl) -> Self {
        Self::usage(e.to_string())
    }
}

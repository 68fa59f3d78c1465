//! The one error type of a CLI command: a stable code plus a one-line message.

use sync_core::client::errors::{ClientError, ErrorClass};
use sync_core::engine::SyncError;
use sync_core::store::StoreError;
use sync_core::transport::TransportError;

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

/// The shared client vocabulary, plus what to type when signed out.
impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        let mut message = e.message;
        if e.class == ErrorClass::Auth && e.code != "invalid_credentials" {
            message.push_str("; run `renpy-cloud login` or `pair --code`");
        }
        Self::new(&e.code, message)
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
        Self::new("profile", e.to_string())
    }
}

impl From<BadServerUrl> for CliError {
    fn from(e: BadServerUrl) -> Self {
        Self::usage(e.to_string())
    }
}

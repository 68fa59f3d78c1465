//! One vocabulary of client errors for every surface: a stable `code` (the server's own
//! code where it sent one), a one-line message a player can read, the class that picks an
//! exception or an icon, whether waiting helps, and how long the server asked to wait.
//! The CLI, the Python module and the browser client all convert through here.

use serde::Serialize;

use crate::engine::SyncError;
use crate::store::{StoreError, StoreErrorKind};
use crate::transport::{TransportError, TransportErrorKind};

/// What kind of failure, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A bad setting or argument.
    Settings,
    /// Not signed in, wrong password, revoked session.
    Auth,
    /// Offline, timeout, a failing server: retried later.
    Network,
    /// The server refused the request (4xx, quota).
    Server,
    /// The save folder, the profile or the sync state.
    Local,
}

/// A failure as clients report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
    /// Worth retrying later without the player doing anything.
    pub transient: bool,
    /// Seconds the server asked to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ClientError {
    pub fn new(class: ErrorClass, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: one_line(&message.into()),
            class,
            transient: class == ErrorClass::Network,
            retry_after: None,
        }
    }

    /// The player must sign in (or pair) first.
    pub fn not_signed_in(server: &str) -> Self {
        Self::new(
            ErrorClass::Auth,
            "not_signed_in",
            format!("not signed in to {server}; sign in or pair this device first"),
        )
    }
}

/// Messages are one line: logs and scripts read them line by line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        let transient = e.is_transient();
        let (class, code, message) = match &e.kind {
            TransportErrorKind::Offline => (
                ErrorClass::Network,
                "offline".to_owned(),
                format!("cannot reach the server: {}", e.message),
            ),
            TransportErrorKind::Timeout => (
                ErrorClass::Network,
                "timeout".to_owned(),
                format!("the server did not answer in time: {}", e.message),
            ),
            TransportErrorKind::Server { .. } => (
                ErrorClass::Network,
                "server_error".to_owned(),
                e.message.clone(),
            ),
            TransportErrorKind::Corrupt => {
                (ErrorClass::Network, "corrupt".to_owned(), e.message.clone())
            }
            TransportErrorKind::Unauthorized => (
                ErrorClass::Auth,
                "unauthorized".to_owned(),
                format!("not signed in or the session expired: {}", e.message),
            ),
            TransportErrorKind::Quota => {
                (ErrorClass::Server, "quota".to_owned(), e.message.clone())
            }
            TransportErrorKind::Rejected { code, .. } => {
                let class = if code == "invalid_credentials" {
                    ErrorClass::Auth
                } else {
                    ErrorClass::Server
                };
                (class, code.clone(), e.message.clone())
            }
        };
        let mut message = message;
        if let Some(seconds) = e.retry_after {
            message.push_str(&format!(" (retry after {seconds} s)"));
        }
        Self {
            transient,
            retry_after: e.retry_after,
            ..Self::new(class, &code, message)
        }
    }
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        let (code, transient) = match e.kind {
            StoreErrorKind::NotFound => ("not_found", false),
            // The game saved during the sync: the next one picks it up.
            StoreErrorKind::Changed => ("changed_locally", true),
            StoreErrorKind::Io => ("local_io", false),
        };
        Self {
            transient,
            ..Self::new(ErrorClass::Local, code, e.message)
        }
    }
}

impl From<SyncError> for ClientError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(e) => e.into(),
            SyncError::Transport(e) => e.into(),
            other => Self::new(ErrorClass::Local, "sync_state", other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_keep_the_server_code_and_the_wait() {
        let mut e = TransportError::new(
            TransportErrorKind::Rejected {
                status: 429,
                code: "rate_limited".into(),
            },
            "slow down",
        );
        e.retry_after = Some(7);
        let c = ClientError::from(e);
        assert_eq!(
            (c.code.as_str(), c.class, c.transient, c.retry_after),
            ("rate_limited", ErrorClass::Server, true, Some(7))
        );
        assert_eq!(c.message, "slow down (retry after 7 s)");
        let offline =
            ClientError::from(TransportError::new(TransportErrorKind::Offline, "refused"));
        assert_eq!(
            (offline.code.as_str(), offline.class, offline.transient),
            ("offline", ErrorClass::Network, true)
        );
        let auth = ClientError::from(TransportError::new(
            TransportErrorKind::Rejected {
                status: 401,
                code: "invalid_credentials".into(),
            },
            "wrong password",
        ));
        assert_eq!(auth.class, ErrorClass::Auth);
    }

    #[test]
    fn messages_are_one_line() {
        let e = ClientError::from(StoreError::io("disk\nfull"));
        assert_eq!(e.message, "disk full");
        assert_eq!(e.code, "local_io");
    }
}

//! One vocabulary of client errors for every surface: a stable `code` (the server's own
//! code where it sent one), a one-line message a player can read, the class that picks an
//! exception or an icon, whether waiting helps, and how long the server asked to wait.
//! The CLI, the Python module and the browser client all convert through here.

use serde::Serialize;

use super::ErrorCode;

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

impl ErrorClass {
    /// The wire spelling (the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Settings => "settings",
            ErrorClass::Auth => "auth",
            ErrorClass::Network => "network",
            ErrorClass::Server => "server",
            ErrorClass::Local => "local",
        }
    }

    pub const ALL: [ErrorClass; 5] = [
        ErrorClass::Settings,
        ErrorClass::Auth,
        ErrorClass::Network,
        ErrorClass::Server,
        ErrorClass::Local,
    ];
}

/// A failure as clients report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub code: ErrorCode,
    pub message: String,
    pub class: ErrorClass,
    /// Worth retrying later without the player doing anything.
    pub transient: bool,
    /// Seconds the server asked to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ClientError {
    pub fn new(class: ErrorClass, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
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
            ErrorCode::NotSignedIn,
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
                ErrorCode::Offline,
                format!("cannot reach the server: {}", e.message),
            ),
            TransportErrorKind::Timeout => (
                ErrorClass::Network,
                ErrorCode::Timeout,
                format!("the server did not answer in time: {}", e.message),
            ),
            TransportErrorKind::Server { .. } => (
                ErrorClass::Network,
                ErrorCode::ServerError,
                e.message.clone(),
            ),
            TransportErrorKind::Corrupt => {
                (ErrorClass::Network, ErrorCode::Corrupt, e.message.clone())
            }
            TransportErrorKind::Unauthorized => (
                ErrorClass::Auth,
                ErrorCode::Unauthorized,
                format!("not signed in or the session expired: {}", e.message),
            ),
            TransportErrorKind::Quota => (
                ErrorClass::Server,
                ErrorCode::QuotaExceeded,
                e.message.clone(),
            ),
            TransportErrorKind::Rejected { code, .. } => match ErrorCode::parse(code) {
                Some(known) => {
                    let class = if known == ErrorCode::InvalidCredentials {
                        ErrorClass::Auth
                    } else {
                        ErrorClass::Server
                    };
                    (class, known, e.message.clone())
                }
                // A newer server's code (or a bare status): keep it in the message.
                None => (
                    ErrorClass::Server,
                    ErrorCode::Rejected,
                    format!("{} ({code})", e.message),
                ),
            },
        };
        let mut message = message;
        if let Some(seconds) = e.retry_after {
            message.push_str(&format!(" (retry after {seconds} s)"));
        }
        Self {
            transient,
            retry_after: e.retry_after,
            ..Self::new(class, code, message)
        }
    }
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        let (code, transient) = match e.kind {
            StoreErrorKind::NotFound => (ErrorCode::NotFound, false),
            // The game saved during the sync: the next one picks it up.
            StoreErrorKind::Changed => (ErrorCode::ChangedLocally, true),
            StoreErrorKind::Io => (ErrorCode::LocalIo, false),
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
            other => Self::new(ErrorClass::Local, ErrorCode::SyncState, other.to_string()),
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
            (c.code, c.class, c.transient, c.retry_after),
            (ErrorCode::RateLimited, ErrorClass::Server, true, Some(7))
        );
        assert_eq!(c.message, "slow down (retry after 7 s)");
        let offline =
            ClientError::from(TransportError::new(TransportErrorKind::Offline, "refused"));
        assert_eq!(
            (offline.code, offline.class, offline.transient),
            (ErrorCode::Offline, ErrorClass::Network, true)
        );
        let auth = ClientError::from(TransportError::new(
            TransportErrorKind::Rejected {
                status: 401,
                code: "invalid_credentials".into(),
            },
            "wrong password",
        ));
        assert_eq!(auth.class, ErrorClass::Auth);
        let newer = ClientError::from(TransportError::new(
            TransportErrorKind::Rejected {
                status: 400,
                code: "a_code_from_a_newer_server".into(),
            },
            "refused",
        ));
        assert_eq!(newer.code, ErrorCode::Rejected);
        assert_eq!(newer.message, "refused (a_code_from_a_newer_server)");
    }

    #[test]
    fn class_names_are_the_serde_names() {
        for class in ErrorClass::ALL {
            assert_eq!(
                serde_json::to_value(class).expect("serializes"),
                serde_json::Value::from(class.as_str())
            );
        }
    }

    #[test]
    fn messages_are_one_line() {
        let e = ClientError::from(StoreError::io("disk\nfull"));
        assert_eq!(e.message, "disk full");
        assert_eq!(e.code, ErrorCode::LocalIo);
    }
}

//! One error type for every operation of the module: `sync_core`'s client vocabulary
//! (stable `code`, one-line message, class, transient, retry-after), plus the conversions
//! from this crate's and `native_client`'s own errors. The conversion to Python lives in
//! `py_errors.rs`.

use native_client::desktop::OpenError;
use native_client::profile::ProfileError;
use native_client::savetokens::KeyExchangeError;
use sync_core::engine::SyncError;
use sync_core::transport::TransportError;

use crate::settings::SettingsError;

pub use sync_core::client::errors::{ClientError as OpError, ErrorClass};

/// `From` for errors of other crates (the orphan rule keeps them off `OpError`).
pub trait IntoOpError {
    fn into_op(self) -> OpError;
}

impl IntoOpError for ProfileError {
    fn into_op(self) -> OpError {
        OpError::new(ErrorClass::Local, "profile", self.to_string())
    }
}

impl IntoOpError for SettingsError {
    fn into_op(self) -> OpError {
        OpError::new(ErrorClass::Settings, "bad_setting", self.to_string())
    }
}

impl IntoOpError for OpenError {
    fn into_op(self) -> OpError {
        let code = match self {
            OpenError::MissingFolder(_) => "not_found",
            OpenError::Create(_) => "local_io",
        };
        OpError::new(ErrorClass::Local, code, self.to_string())
    }
}

impl IntoOpError for KeyExchangeError {
    fn into_op(self) -> OpError {
        match self {
            KeyExchangeError::Transport(e) => e.into(),
            KeyExchangeError::NotSignedIn => {
                OpError::new(ErrorClass::Auth, "not_signed_in", self.to_string())
            }
            KeyExchangeError::File { .. } => {
                OpError::new(ErrorClass::Local, "local_io", self.to_string())
            }
        }
    }
}

impl IntoOpError for TransportError {
    fn into_op(self) -> OpError {
        self.into()
    }
}

impl IntoOpError for SyncError {
    fn into_op(self) -> OpError {
        self.into()
    }
}

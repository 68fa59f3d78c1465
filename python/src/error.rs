//! One error type for every operation of the module: `sync_core`'s client vocabulary
//! (stable `code`, one-line message, class, transient, retry-after), plus the conversions
//! from this crate's and `native_client`'s own errors. The conversion to Python lives in
//! `py_errors.rs`.

use native_client::desktop::OpenError;
use native_client::profile::ProfileError;
use native_client::savetokens::KeyExchangeError;
use sync_core::client::ErrorCode;
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
        OpError::new(ErrorClass::Local, ErrorCode::Profile, self.to_string())
    }
}

impl IntoOpError for SettingsError {
    fn into_op(self) -> OpError {
        OpError::new(
            ErrorClass::Settings,
            ErrorCode::BadSetting,
            self.to_string(),
        )
    }
}

impl IntoOpError for OpenError {
    fn into_op(self) -> OpError {
        let code = match self {
            OpenError::MissingFolder(_) => ErrorCode::NotFound,
            OpenError::Create(_) => ErrorCode::LocalIo,
        };
        OpError::new(ErrorClass::Local, code, self.to_string())
    }
}

impl IntoOpError for KeyExchangeError {
    fn into_op(self) -> OpError {
        match self {
            KeyExchangeError::Transport(e) => e.into(),
            KeyExchangeError::NotSignedIn => {
                OpError::new(ErrorClass::Auth, ErrorCode::NotSignedIn, self.to_string())
            }
            KeyExchangeError::File { .. } => {
                OpError::new(ErrorClass::Local, ErrorCode::LocalIo, self.to_string())
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

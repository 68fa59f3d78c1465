//! A signed-in device's session: the core's [`Session`] (and its refresh-before-expiry
//! rule) on this computer's clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sync_core::protocol::{TokenResponse, UnixMillis};

pub use sync_core::client::session::Session;

/// The session a sign-in, pairing claim or refresh answered with, now.
pub fn from_tokens(tokens: TokenResponse) -> Session {
    Session::from_tokens(tokens, now_millis())
}

/// The access token is expired or about to be: refresh before using it.
pub fn access_expired(session: &Session) -> bool {
    session.access_expired(now_millis())
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

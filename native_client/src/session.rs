//! A signed-in device's session on one server: who, and the tokens that prove it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sync_core::protocol::{TokenResponse, UnixMillis};

/// Tokens and identity of one signed-in device. Stored in the profile, per server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub username: String,
    pub user_id: String,
    pub device_id: String,
    pub access_token: String,
    /// When `access_token` stops working (Unix ms, our clock).
    pub access_expires_at: UnixMillis,
    /// When `access_token` was issued (Unix ms, our clock; 0 if unknown).
    #[serde(default)]
    pub access_obtained_at: UnixMillis,
    pub refresh_token: String,
}

/// Refresh a little before the server would refuse the token (clock skew, slow requests):
/// this long, or a quarter of the token's lifetime if that is shorter.
const EXPIRY_MARGIN_MS: i64 = 30_000;

impl Session {
    /// The session a sign-in, pairing claim or refresh answered with.
    pub fn from_tokens(tokens: TokenResponse) -> Self {
        let lifetime_ms = i64::try_from(tokens.expires_in.saturating_mul(1000)).unwrap_or(i64::MAX);
        let now = now_millis();
        Self {
            username: tokens.username,
            user_id: tokens.user_id,
            device_id: tokens.device_id,
            access_token: tokens.access_token,
            access_expires_at: now.saturating_add(lifetime_ms),
            access_obtained_at: now,
            refresh_token: tokens.refresh_token,
        }
    }

    /// The access token is expired or about to be: refresh before using it.
    pub fn access_expired(&self) -> bool {
        let lifetime = self
            .access_expires_at
            .saturating_sub(self.access_obtained_at)
            .max(0);
        let margin = EXPIRY_MARGIN_MS.min(lifetime / 4);
        now_millis().saturating_add(margin) >= self.access_expires_at
    }
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

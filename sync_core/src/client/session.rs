//! A signed-in device's session on one server, and when to refresh it — the same rule for
//! every transport: refresh shortly **before** the access token expires (clock skew, slow
//! requests), and if a request is still answered 401, refresh once and retry it once.
//! Time is passed in (Unix ms on the device's clock).

use serde::{Deserialize, Serialize};

use crate::protocol::{TokenResponse, UnixMillis};

/// Refresh this long before the server would refuse the token, or a quarter of the token's
/// lifetime if that is shorter.
const EXPIRY_MARGIN_MS: i64 = 30_000;

/// Tokens and identity of one signed-in device. Stored by the client, per server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub username: String,
    pub user_id: String,
    pub device_id: String,
    pub access_token: String,
    /// When `access_token` stops working (Unix ms, this device's clock).
    pub access_expires_at: UnixMillis,
    /// When `access_token` was issued (Unix ms, this device's clock; 0 if unknown).
    #[serde(default)]
    pub access_obtained_at: UnixMillis,
    pub refresh_token: String,
}

impl Session {
    /// The session a sign-in, pairing claim or refresh answered with at `now`.
    pub fn from_tokens(tokens: TokenResponse, now: UnixMillis) -> Self {
        let lifetime_ms = i64::try_from(tokens.expires_in.saturating_mul(1000)).unwrap_or(i64::MAX);
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

    /// The access token is expired or about to be at `now`: refresh before using it.
    pub fn access_expired(&self, now: UnixMillis) -> bool {
        let lifetime = self
            .access_expires_at
            .saturating_sub(self.access_obtained_at)
            .max(0);
        let margin = EXPIRY_MARGIN_MS.min(lifetime / 4);
        now.saturating_add(margin) >= self.access_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(expires_in: u64) -> TokenResponse {
        TokenResponse {
            access_token: "a".into(),
            refresh_token: "r".into(),
            expires_in,
            username: "u".into(),
            user_id: "uid".into(),
            device_id: "d".into(),
        }
    }

    #[test]
    fn refreshes_shortly_before_expiry() {
        let s = Session::from_tokens(tokens(900), 1_000_000);
        assert!(!s.access_expired(1_000_000));
        assert!(!s.access_expired(1_000_000 + 869_999));
        assert!(s.access_expired(1_000_000 + 870_000), "30 s before the end");
        // A short-lived token keeps a quarter of its life as margin.
        let short = Session::from_tokens(tokens(4), 0);
        assert!(!short.access_expired(2_999));
        assert!(short.access_expired(3_000));
    }
}

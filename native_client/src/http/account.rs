//! Account, device and pairing calls (not part of the engine's `Transport`).

use std::collections::BTreeMap;

use sync_core::protocol::{
    Credentials, DeviceKeys, DevicesResponse, PairingClaim, PairingCode, RefreshRequest,
    TokenResponse,
};
use sync_core::routes;
use sync_core::transport::{TransportError, TransportErrorKind};

use super::HttpTransport;
use super::error_map::classify;
use crate::session::Session;

impl HttpTransport {
    /// `POST /v1/auth/signup`: creates the account and signs this device in.
    pub fn signup(&self, credentials: &Credentials) -> Result<Session, TransportError> {
        self.sign_in_with(routes::SIGNUP, credentials)
    }

    /// `POST /v1/auth/login`: signs this device in.
    pub fn login(&self, credentials: &Credentials) -> Result<Session, TransportError> {
        self.sign_in_with(routes::LOGIN, credentials)
    }

    /// `POST /v1/pairing/claim`: signs this device in with a code from a signed-in one.
    pub fn claim_pairing_code(&self, claim: &PairingClaim) -> Result<Session, TransportError> {
        self.sign_in_with(routes::PAIRING_CLAIM, claim)
    }

    /// `POST /v1/pairing`: a single-use code for signing in another device.
    pub fn create_pairing_code(&self) -> Result<PairingCode, TransportError> {
        self.require_session()?;
        self.json::<(), _>("POST", routes::PAIRING, None, true)
    }

    /// `GET /v1/devices`: the signed-in user's devices.
    pub fn devices(&self) -> Result<DevicesResponse, TransportError> {
        self.require_session()?;
        self.json::<(), _>("GET", routes::DEVICES, None, true)
    }

    /// Device id → name for this account's devices; empty when they cannot be listed
    /// (names only read better than ids, so nothing depends on them).
    pub fn device_names(&self) -> BTreeMap<String, String> {
        self.devices()
            .map(|d| {
                d.devices
                    .into_iter()
                    .map(|d| (d.device_id, d.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `PUT /v1/device-keys`: replaces this device's published Ren'Py save-token verifying
    /// keys (the other devices read them from [`HttpTransport::devices`]).
    pub fn put_device_keys(&self, keys: &DeviceKeys) -> Result<(), TransportError> {
        self.require_session()?;
        let call = super::Call {
            method: "PUT",
            url: self.resolve_url(routes::DEVICE_KEYS),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(
                &serde_json::to_vec(keys)
                    .map_err(|e| TransportError::new(TransportErrorKind::Corrupt, e.to_string()))?,
            ),
            auth: true,
            timeout: self.timeouts.request,
            limit: super::MAX_JSON_BYTES,
        };
        // 204 No Content: there is no JSON answer to parse.
        self.execute(&call).map(|_| ())
    }

    /// `POST /v1/auth/refresh`: new tokens (the refresh token rotates).
    pub fn refresh(&self) -> Result<Session, TransportError> {
        self.refresh_session()?;
        self.require_session()
    }

    /// `POST /v1/auth/logout`: revokes this device's refresh token and forgets the session
    /// (also when the server already considered it revoked).
    pub fn logout(&self) -> Result<(), TransportError> {
        let session = self.require_session()?;
        let body = serde_json::to_vec(&RefreshRequest {
            refresh_token: session.refresh_token,
        })
        .map_err(|e| TransportError::new(TransportErrorKind::Corrupt, e.to_string()))?;
        // Sent once, without a refresh: a refresh would rotate the token we are revoking.
        let call = super::Call {
            method: "POST",
            url: self.resolve_url(routes::LOGOUT),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(&body),
            auth: true,
            timeout: self.timeouts.request,
            limit: super::MAX_JSON_BYTES,
        };
        let result = self.send_once(&call).and_then(classify).map(|_| ());
        self.session.replace(None);
        match result {
            Err(e) if e.kind == TransportErrorKind::Unauthorized => Ok(()),
            other => other,
        }
    }

    fn sign_in_with<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Session, TransportError> {
        let tokens: TokenResponse = self.json("POST", path, Some(body), false)?;
        let session = crate::session::from_tokens(tokens);
        self.set_session(session.clone());
        Ok(session)
    }

    fn require_session(&self) -> Result<Session, TransportError> {
        self.session().ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Unauthorized,
                format!("not signed in to {}", self.server),
            )
        })
    }

    /// Exchanges the refresh token for new tokens, without the 401-retry of `execute`
    /// (a refused refresh means the player must sign in again).
    pub(super) fn refresh_session(&self) -> Result<(), TransportError> {
        let current = self.require_session()?;
        let body = RefreshRequest {
            refresh_token: current.refresh_token,
        };
        let url = self.resolve_url(routes::REFRESH);
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| TransportError::new(TransportErrorKind::Corrupt, e.to_string()))?;
        let call = super::Call {
            method: "POST",
            url: url.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(&bytes),
            auth: false,
            timeout: self.timeouts.request,
            limit: super::MAX_JSON_BYTES,
        };
        let answer = classify(self.send_once(&call)?).map_err(|e| match e.kind {
            TransportErrorKind::Unauthorized | TransportErrorKind::Rejected { .. } => {
                TransportError::new(
                    TransportErrorKind::Unauthorized,
                    format!("session expired or revoked ({}); sign in again", e.message),
                )
            }
            _ => e,
        })?;
        let tokens: TokenResponse = serde_json::from_slice(&answer)
            .map_err(|e| super::error_map::corrupt("unexpected answer", &url, e))?;
        self.set_session(crate::session::from_tokens(tokens));
        Ok(())
    }
}

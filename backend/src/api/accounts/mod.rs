//! Who may sign in and what an access token says, behind one small trait so the same
//! handlers run with the API's own accounts (embedded server: argon2 passwords, HMAC access
//! tokens) and with an identity provider the API proxies (Cognito on AWS).
//!
//! Everything else about sessions is shared and lives in the handlers: validation, rate
//! limits, device records, the API's own rotating refresh tokens, pairing codes, and the
//! check that the calling device still exists.

pub mod embedded;

use async_trait::async_trait;
use sync_core::protocol::UnixMillis;

use super::error::ApiResult;
use crate::app::AppState;
use crate::storage::{DeviceRecord, UserRecord};

pub use embedded::EmbeddedAccounts;

/// Tokens an identity provider answered for a password sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTokens {
    pub access_token: String,
    /// The provider's refresh token (kept server-side, never sent to the client).
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// How a device is being signed in, for [`Accounts::access_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Right after sign-up or a password check, with the provider's answer if there is one.
    Password(Option<ProviderTokens>),
    /// A device that is signed in already renews its access token.
    Refresh,
    /// A new device of the user, by a pairing code (no password).
    Paired,
}

/// An access token handed to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Whom a valid access token belongs to. The caller still checks that the device exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub user_id: String,
    pub device_id: String,
}

/// Passwords and access tokens: the part of accounts that differs between hosts.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Creates the account of an already validated username and password, including its
    /// user record in the metadata store. A taken name answers 409 `username_taken`.
    async fn sign_up(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<(UserRecord, SignIn)>;

    /// The user this password belongs to; `None` alike for an unknown user and a wrong
    /// password.
    async fn check_password(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<Option<(UserRecord, SignIn)>>;

    /// A fresh access token for `device` of `user`.
    async fn access_token(
        &self,
        state: &AppState,
        user: &UserRecord,
        device: &DeviceRecord,
        how: SignIn,
    ) -> ApiResult<AccessToken>;

    /// Whom `token` belongs to at `now`; 401 `unauthorized` if it is not valid.
    async fn verify(&self, state: &AppState, token: &str, now: UnixMillis)
    -> ApiResult<TokenOwner>;

    /// A device was signed out or deleted: drop whatever the accounts keep for it.
    async fn device_removed(&self, state: &AppState, device_id: &str) -> ApiResult<()>;
}

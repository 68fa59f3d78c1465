//! [`Accounts`] backed by Cognito: the API proxies sign-up, login and refresh to the user
//! pool, hands out Cognito access tokens, and verifies them itself ([`CognitoVerifier`]).
//!
//! - **Users.** The Cognito `sub` is mapped to a user record of the metadata store, created
//!   on first sight (sign-up, the first login of a user created elsewhere, or the first
//!   token minted directly by Cognito). Its `password_hash` holds `cognito:<sub>` instead of
//!   a hash, so a later account reusing the name cannot take over the old one's data.
//! - **Devices.** Cognito tokens name no device, so each one the API hands out is bound to
//!   its device by `jti` ([`CognitoSessions`]); deleting the device revokes its tokens
//!   through the extractor's device check, as in the embedded mode. A token minted by
//!   Cognito directly (a client using Cognito's own API) gets one device per sign-in
//!   session (`origin_jti`), created on first sight.
//! - **Lifetime.** The API's access-token lifetime (`--access-ttl-secs`, 15 minutes) caps
//!   Cognito's: the binding carries `valid_until`, and `expires_in` says the shorter one.
//! - **Refresh.** Clients keep the API's own rotating refresh tokens; the device's Cognito
//!   refresh token stays server-side and renews the Cognito access token.
//! - **Pairing.** A claimed code signs the new device in with the Cognito refresh token of
//!   one of the user's signed-in devices (REFRESH_TOKEN_AUTH), copied to the new device;
//!   the new access token is bound to the new device by its own `jti`. Passwordless
//!   alternatives need custom-auth Lambda triggers, which moto cannot run.

use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use sync_core::client::ErrorCode;
use sync_core::protocol::UnixMillis;

use super::sessions::{Binding, CognitoSessions};
use super::{
    AccessClaims, AccountError, CognitoAccounts, CognitoTokens, CognitoVerifier, TokenRejected,
};
use crate::api::accounts::{AccessToken, Accounts, ProviderTokens, SignIn, TokenOwner};
use crate::api::auth::{invalid_refresh, username_taken, validate_username};
use crate::api::error::{ApiError, ApiResult};
use crate::api::expiry;
use crate::app::AppState;
use crate::storage::{DeviceRecord, StorageError, UserRecord};

/// Marks a user record as a Cognito user: `cognito:<sub>` in place of a password hash.
const SUB_MARKER: &str = "cognito:";
/// Name of a device created for a token minted by Cognito directly.
const FIRST_SIGHT_DEVICE: &str = "Cognito sign-in";

/// Cognito accounts behind the API's own `/v1/auth/*` and `/v1/pairing/claim`.
pub struct CognitoProxy {
    accounts: CognitoAccounts,
    verifier: CognitoVerifier,
    sessions: CognitoSessions,
}

impl CognitoProxy {
    pub fn new(
        accounts: CognitoAccounts,
        verifier: CognitoVerifier,
        sessions: CognitoSessions,
    ) -> Self {
        Self {
            accounts,
            verifier,
            sessions,
        }
    }

    /// The store's user for Cognito user `sub` named `username`, created on first sight.
    async fn user_for(&self, state: &AppState, username: &str, sub: &str) -> ApiResult<UserRecord> {
        let marker = format!("{SUB_MARKER}{sub}");
        let existing = match state.meta.user_by_name(username).await? {
            Some(user) => user,
            None => match state.meta.create_user(username, &marker, state.now()).await {
                Ok(user) => return Ok(user),
                // A concurrent first sight created it: read it back.
                Err(StorageError::AlreadyExists(_)) => state
                    .meta
                    .user_by_name(username)
                    .await?
                    .ok_or_else(|| ApiError::internal("user vanished after AlreadyExists"))?,
                Err(e) => return Err(e.into()),
            },
        };
        if existing.password_hash == marker {
            Ok(existing)
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AccountConflict,
                "this username belonged to an earlier account; ask the operator to free it",
            ))
        }
    }

    /// The Cognito tokens for a device being signed in.
    async fn cognito_tokens(
        &self,
        state: &AppState,
        user: &UserRecord,
        device: &DeviceRecord,
        how: SignIn,
    ) -> ApiResult<ProviderTokens> {
        let now = state.now();
        match how {
            SignIn::Password(Some(tokens)) => {
                if let Some(refresh) = &tokens.refresh_token {
                    self.sessions
                        .put_refresh_token(&device.device_id, &user.user_id, refresh, now)
                        .await?;
                }
                Ok(tokens)
            }
            SignIn::Password(None) => Err(ApiError::internal(
                "a Cognito sign-in without Cognito tokens",
            )),
            SignIn::Refresh => {
                let refresh = self
                    .sessions
                    .refresh_token(&device.device_id, &user.user_id)
                    .await?
                    .ok_or_else(invalid_refresh)?;
                Ok(self
                    .accounts
                    .refresh(&refresh)
                    .await
                    .map_err(account_error)?
                    .into())
            }
            SignIn::Paired => {
                let refresh = self.session_of_user(state, user, &device.device_id).await?;
                let tokens = self
                    .accounts
                    .refresh(&refresh)
                    .await
                    .map_err(account_error)?;
                self.sessions
                    .put_refresh_token(&device.device_id, &user.user_id, &refresh, now)
                    .await?;
                Ok(tokens.into())
            }
        }
    }

    /// The Cognito refresh token of the user's most recently created other device.
    async fn session_of_user(
        &self,
        state: &AppState,
        user: &UserRecord,
        except: &str,
    ) -> ApiResult<String> {
        let mut devices = state.meta.list_devices(&user.user_id).await?;
        devices.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        for device in devices.iter().filter(|d| d.device_id != except) {
            if let Some(refresh) = self
                .sessions
                .refresh_token(&device.device_id, &user.user_id)
                .await?
            {
                return Ok(refresh);
            }
        }
        Err(ApiError {
            code: ErrorCode::InvalidPairingCode,
            ..ApiError::unauthorized("no signed-in device of this account can vouch for a new one")
        })
    }

    /// A device for a token minted by Cognito directly, one per sign-in session.
    async fn first_sight(&self, state: &AppState, claims: &AccessClaims) -> ApiResult<TokenOwner> {
        let session_key = format!(
            "origin:{}",
            claims.origin_jti.as_deref().unwrap_or(&claims.jti)
        );
        if let Some(binding) = self.sessions.binding(&session_key).await? {
            return owner_of(binding, claims, state.now());
        }
        let username = claims
            .username
            .as_deref()
            .ok_or_else(|| ApiError::unauthorized("access token refused: it names no user"))?;
        let user = self.user_for(state, username, &claims.sub).await?;
        let device = state
            .meta
            .create_device(&user.user_id, FIRST_SIGHT_DEVICE, state.now())
            .await?;
        let binding = Binding {
            sub: claims.sub.clone(),
            user_id: user.user_id.clone(),
            device_id: device.device_id.clone(),
            valid_until: None,
        };
        if self.sessions.bind_new(&session_key, &binding).await? {
            return owner_of(binding, claims, state.now());
        }
        // A concurrent first request of this session won: use its device.
        state
            .meta
            .delete_device(&user.user_id, &device.device_id)
            .await?;
        let winner = self
            .sessions
            .binding(&session_key)
            .await?
            .ok_or_else(|| ApiError::internal("session binding vanished"))?;
        owner_of(winner, claims, state.now())
    }
}

fn owner_of(binding: Binding, claims: &AccessClaims, now: UnixMillis) -> ApiResult<TokenOwner> {
    if binding.sub != claims.sub {
        return Err(ApiError::unauthorized(
            "access token refused: it was bound to another user",
        ));
    }
    if binding.valid_until.is_some_and(|until| until <= now) {
        return Err(ApiError::unauthorized(
            "access token refused: the token has expired",
        ));
    }
    Ok(TokenOwner {
        user_id: binding.user_id,
        device_id: binding.device_id,
    })
}

impl From<CognitoTokens> for ProviderTokens {
    fn from(t: CognitoTokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
        }
    }
}

/// Cognito's answers as API errors (the same codes as the embedded accounts).
fn account_error(err: AccountError) -> ApiError {
    match err {
        AccountError::UsernameTaken => username_taken(),
        AccountError::WeakPassword(why) => ApiError::bad_request(ErrorCode::WeakPassword, why),
        AccountError::BadCredentials => ApiError {
            code: ErrorCode::InvalidCredentials,
            ..ApiError::unauthorized("wrong username or password")
        },
        AccountError::BadRefreshToken => invalid_refresh(),
        AccountError::Unavailable(why) => StorageError::Unavailable(why).into(),
    }
}

fn seconds(now: UnixMillis) -> i64 {
    now.div_euclid(1000)
}

#[async_trait]
impl Accounts for CognitoProxy {
    async fn sign_up(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<(UserRecord, SignIn)> {
        let sub = self
            .accounts
            .sign_up(username, &password)
            .await
            .map_err(account_error)?;
        let tokens = self
            .accounts
            .login(username, &password)
            .await
            .map_err(account_error)?;
        let user = self.user_for(state, username, &sub).await?;
        Ok((user, SignIn::Password(Some(tokens.into()))))
    }

    async fn check_password(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<Option<(UserRecord, SignIn)>> {
        // No such account can exist; Cognito would answer a parameter error instead.
        if validate_username(username).is_err() {
            return Ok(None);
        }
        let tokens = match self.accounts.login(username, &password).await {
            Ok(tokens) => tokens,
            Err(AccountError::BadCredentials) => return Ok(None),
            Err(e) => return Err(account_error(e)),
        };
        let claims = self
            .verifier
            .verify(&tokens.access_token, seconds(state.now()))
            .await
            .map_err(|e| ApiError::internal(format!("Cognito's own token refused: {e}")))?;
        // The pool's spelling of the name (it may ignore case).
        let name = claims.username.as_deref().unwrap_or(username);
        let user = self.user_for(state, name, &claims.sub).await?;
        Ok(Some((user, SignIn::Password(Some(tokens.into())))))
    }

    async fn access_token(
        &self,
        state: &AppState,
        user: &UserRecord,
        device: &DeviceRecord,
        how: SignIn,
    ) -> ApiResult<AccessToken> {
        let tokens = self.cognito_tokens(state, user, device, how).await?;
        let claims = self
            .verifier
            .verify(&tokens.access_token, seconds(state.now()))
            .await
            .map_err(|e| ApiError::internal(format!("Cognito's own token refused: {e}")))?;
        if user.password_hash != format!("{SUB_MARKER}{}", claims.sub) {
            return Err(ApiError::internal("Cognito answered for another user"));
        }
        // The API's access-token lifetime applies in Cognito mode too: it caps Cognito's
        // (at least 5 minutes, 1 hour in the template), so a device is re-checked as often
        // as with the embedded accounts and `--access-ttl-secs` means the same in both.
        let ttl = state.config.ttls.access.as_secs();
        let expires_in = tokens.expires_in.min(ttl);
        let binding = Binding {
            sub: claims.sub,
            user_id: user.user_id.clone(),
            device_id: device.device_id.clone(),
            valid_until: Some(expiry(state.now(), Duration::from_secs(expires_in))),
        };
        // Kept an hour past the token's expiry; the verifier refuses it by then anyway.
        self.sessions
            .bind(&claims.jti, &binding, claims.exp + 3600)
            .await?;
        Ok(AccessToken {
            token: tokens.access_token,
            expires_in,
        })
    }

    async fn verify(
        &self,
        state: &AppState,
        token: &str,
        now: UnixMillis,
    ) -> ApiResult<TokenOwner> {
        let claims = self
            .verifier
            .verify(token, seconds(now))
            .await
            .map_err(|e| match e {
                TokenRejected::KeysUnavailable(why) => StorageError::Unavailable(why).into(),
                other => ApiError::unauthorized(format!("access token refused: {other}")),
            })?;
        match self.sessions.binding(&claims.jti).await? {
            Some(binding) => owner_of(binding, &claims, now),
            None => self.first_sight(state, &claims).await,
        }
    }

    async fn device_removed(&self, _state: &AppState, device_id: &str) -> ApiResult<()> {
        // The Cognito refresh token is not revoked: a paired device may share it.
        Ok(self.sessions.forget_device(device_id).await?)
    }
}

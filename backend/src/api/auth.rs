//! Accounts and sessions: signup, login, refresh (rotating), logout.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sync_core::ContentHash;
use sync_core::client::ErrorCode;
use sync_core::protocol::{Credentials, RefreshRequest, TokenResponse};

use super::accounts::SignIn;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ClientIp};
use super::ratelimit::retry_after_secs;
use super::tokens::{random_token, secret_hash};
use super::{ago, expiry};
use crate::app::AppState;
use crate::storage::{DeviceRecord, RefreshRecord, UserRecord};

/// Longest accepted password (bounds the hashing work of one request).
const MAX_PASSWORD_CHARS: usize = 1024;
const MIN_PASSWORD_CHARS: usize = 8;
/// Longest device name.
const MAX_DEVICE_NAME_CHARS: usize = 100;

/// Usernames: 3-64 characters of letters, digits, `.`, `_`, `-`.
pub fn validate_username(username: &str) -> ApiResult<()> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ErrorCode::InvalidUsername,
            "username must be 3-64 characters of letters, digits, '.', '_' and '-'",
        ))
    }
}

fn validate_password(password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            ErrorCode::WeakPassword,
            format!("password must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPassword,
            format!("password must have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Device names: 1-100 characters, no control characters; surrounding spaces are trimmed.
pub fn validate_device_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidDeviceName,
            format!(
                "device name must be 1-{MAX_DEVICE_NAME_CHARS} characters without control characters"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Gets an access token from the accounts and stores a fresh refresh token for `device`.
pub async fn issue_tokens(
    state: &AppState,
    user: &UserRecord,
    device: &DeviceRecord,
    how: SignIn,
) -> ApiResult<TokenResponse> {
    let access = state
        .accounts
        .access_token(state, user, device, how)
        .await?;
    let now = state.now();
    let ttls = state.config.ttls;
    let refresh_token = random_token().map_err(ApiError::internal)?;
    state
        .meta
        .put_refresh_token(
            &secret_hash(&refresh_token),
            &RefreshRecord {
                user_id: user.user_id.clone(),
                device_id: device.device_id.clone(),
                expires_at: expiry(now, ttls.refresh),
            },
        )
        .await?;
    Ok(TokenResponse {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        device_id: device.device_id.clone(),
        access_token: access.token,
        expires_in: access.expires_in,
        refresh_token,
    })
}

/// 409 `username_taken`.
pub fn username_taken() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::UsernameTaken,
        "this username is taken",
    )
}

/// `POST /v1/auth/signup`: creates the user and its first device.
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    validate_username(&creds.username)?;
    validate_password(&creds.password)?;
    let device_name = validate_device_name(&creds.device_name)?;
    // Cheap early answer; the store enforces uniqueness again atomically.
    if state.meta.user_by_name(&creds.username).await?.is_some() {
        return Err(username_taken());
    }
    let (user, how) = state
        .accounts
        .sign_up(&state, &creds.username, creds.password)
        .await?;
    let device = state
        .meta
        .create_device(&user.user_id, &device_name, state.now())
        .await?;
    let tokens = issue_tokens(&state, &user, &device, how).await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

/// `POST /v1/auth/login`: checks the password and signs in a new device.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(creds): ApiJson<Credentials>,
) -> ApiResult<Json<TokenResponse>> {
    let device_name = validate_device_name(&creds.device_name)?;
    // The sign-up rule: a name no account can have is refused before it is hashed, kept
    // as a limiter key or looked up (ASCII only, so no two spellings share an account).
    validate_username(&creds.username)?;
    let limit_key = format!("{}|{ip}", creds.username.to_ascii_lowercase());
    // The token is taken before the password is checked, so parallel guesses cannot all
    // pass one check; a correct password gives it back (good typists are never locked out).
    state
        .login_limiter
        .acquire(&limit_key)
        .map_err(|wait| ApiError::rate_limited(retry_after_secs(wait)))?;
    let too_long = creds.password.chars().count() > MAX_PASSWORD_CHARS;
    let signed_in = if too_long {
        None
    } else {
        state
            .accounts
            .check_password(&state, &creds.username, creds.password)
            .await?
    };
    let Some((user, how)) = signed_in else {
        return Err(invalid_credentials());
    };
    state.login_limiter.refund(&limit_key);
    let device = state
        .meta
        .create_device(&user.user_id, &device_name, state.now())
        .await?;
    Ok(Json(issue_tokens(&state, &user, &device, how).await?))
}

/// The same answer for an unknown user and a wrong password.
fn invalid_credentials() -> ApiError {
    ApiError {
        code: ErrorCode::InvalidCredentials,
        ..ApiError::unauthorized("wrong username or password")
    }
}

/// 401 `invalid_refresh_token`.
pub fn invalid_refresh() -> ApiError {
    ApiError {
        code: ErrorCode::InvalidRefreshToken,
        ..ApiError::unauthorized("refresh token is unknown, expired or already used")
    }
}

/// How long a rotated refresh token is remembered, to recognise a replay.
const SPENT_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);
/// A refresh token that is not live: if it is one already rotated, someone holds a copy, so the
/// device is signed out (OAuth 2.1's refresh-token reuse detection). A replay within
/// `Ttls::refresh_replay_grace` of the rotation is taken for the client's own retry (a lost
/// answer, two tabs refreshing at once): refused, but the device stays signed in.
async fn refuse_refresh(state: &AppState, token: &ContentHash) -> ApiResult<ApiError> {
    let now = state.now();
    if let Some((record, spent_at)) = state.meta.spent_refresh_token(token, now).await?
        && spent_at < ago(now, state.config.ttls.refresh_replay_grace)
    {
        tracing::warn!(
            device = %record.device_id,
            "a rotated refresh token was replayed: signing the device out"
        );
        state
            .meta
            .delete_device(&record.user_id, &record.device_id)
            .await?;
        state
            .accounts
            .device_removed(state, &record.device_id)
            .await?;
    }
    Ok(invalid_refresh())
}

/// `POST /v1/auth/refresh`: single use; answers a new access and refresh token. Replaying a
/// rotated token signs its device out.
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let token = secret_hash(&req.refresh_token);
    let Some(record) = state.meta.take_refresh_token(&token).await? else {
        return Err(refuse_refresh(&state, &token).await?);
    };
    let now = state.now();
    if record.expires_at <= now {
        return Err(invalid_refresh());
    }
    let spent = RefreshRecord {
        expires_at: record.expires_at.min(expiry(now, SPENT_MEMORY)),
        ..record.clone()
    };
    if let Err(e) = state
        .meta
        .put_spent_refresh_token(&token, &spent, now)
        .await
    {
        // Only replay detection is lost; the player's session goes on.
        tracing::warn!("cannot remember a rotated refresh token: {e}");
    }
    let device = state
        .meta
        .device(&record.device_id)
        .await?
        .filter(|d| d.user_id == record.user_id)
        .ok_or_else(invalid_refresh)?;
    let user = state
        .meta
        .user_by_id(&record.user_id)
        .await?
        .ok_or_else(invalid_refresh)?;
    Ok(Json(
        issue_tokens(&state, &user, &device, SignIn::Refresh).await?,
    ))
}

/// `POST /v1/auth/logout`: signs the refresh token's device out (its tokens stop working).
/// Always 204, so a repeated logout is harmless.
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    if let Some(record) = state
        .meta
        .take_refresh_token(&secret_hash(&req.refresh_token))
        .await?
    {
        state
            .meta
            .delete_device(&record.user_id, &record.device_id)
            .await?;
        state
            .accounts
            .device_removed(&state, &record.device_id)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        for ok in ["abc", "Alice_1.x-y", &"a".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "a b", "élan", "a/b", &"a".repeat(65), ""] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_names_are_trimmed_and_bounded() {
        assert_eq!(validate_device_name("  Laptop ").expect("ok"), "Laptop");
        assert!(validate_device_name("   ").is_err());
        assert!(validate_device_name("a\nb").is_err());
        assert!(validate_device_name(&"x".repeat(101)).is_err());
    }
}

//! Pairing: a signed-in device shows a short code; another device claims it to sign in as the
//! same user without a password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sync_core::client::ErrorCode;
use sync_core::protocol::{PairingClaim, PairingCode, TokenResponse};

use super::accounts::SignIn;
use super::auth::{issue_tokens, validate_device_name};
use super::error::{ApiError, ApiResult};
use super::expiry;
use super::extract::{ApiJson, Authed, ClientIp};
use super::ratelimit::retry_after_secs;
use super::tokens::{PAIRING_CODE_LEN, new_pairing_code, normalize_pairing_code, secret_hash};
use crate::app::AppState;

/// `POST /v1/pairing`: a fresh single-use code for the caller's account.
pub async fn create(
    State(state): State<AppState>,
    auth: Authed,
) -> ApiResult<(StatusCode, Json<PairingCode>)> {
    let code = new_pairing_code().map_err(ApiError::internal)?;
    let expires_at = expiry(state.now(), state.config.ttls.pairing);
    state
        .meta
        .put_pairing_code(
            &secret_hash(&normalize_pairing_code(&code)),
            &auth.user_id,
            expires_at,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(PairingCode { code, expires_at })))
}

/// `POST /v1/pairing/claim`: consumes a code and signs in a new device of its user.
/// Every attempt counts against the caller IP's claim budget (codes are short).
pub async fn claim(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<PairingClaim>,
) -> ApiResult<Json<TokenResponse>> {
    state
        .claim_limiter
        .acquire(&ip)
        .map_err(|wait| ApiError::rate_limited(retry_after_secs(wait)))?;
    let device_name = validate_device_name(&req.device_name)?;
    let code = normalize_pairing_code(&req.code);
    let refused = || ApiError {
        code: ErrorCode::InvalidPairingCode,
        ..ApiError::unauthorized("pairing code is unknown, expired or already used")
    };
    if code.chars().count() != PAIRING_CODE_LEN {
        return Err(refused());
    }
    let now = state.now();
    let user_id = state
        .meta
        .claim_pairing_code(&secret_hash(&code), now)
        .await?
        .ok_or_else(refused)?;
    let user = state.meta.user_by_id(&user_id).await?.ok_or_else(refused)?;
    let device = state
        .meta
        .create_device(&user.user_id, &device_name, now)
        .await?;
    Ok(Json(
        issue_tokens(&state, &user, &device, SignIn::Paired).await?,
    ))
}

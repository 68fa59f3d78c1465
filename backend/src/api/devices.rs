//! The signed-in user's devices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use sync_core::protocol::{DeviceInfo, DeviceKeys, DevicesResponse};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Authed};
use crate::app::AppState;

/// `GET /v1/devices`.
pub async fn list(State(state): State<AppState>, auth: Authed) -> ApiResult<Json<DevicesResponse>> {
    let devices = state
        .meta
        .list_devices(&auth.user_id)
        .await?
        .into_iter()
        .map(|d| DeviceInfo {
            device_id: d.device_id,
            name: d.name,
            created_at: d.created_at,
            last_seen_at: d.last_seen_at,
            renpy_keys: d.renpy_keys,
        })
        .collect();
    Ok(Json(DevicesResponse { devices }))
}

/// `DELETE /v1/devices/{device_id}`: signs a device out; its access and refresh tokens stop
/// working at once. 404 `no_such_device` for another user's or an unknown device.
pub async fn delete(
    State(state): State<AppState>,
    auth: Authed,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<StatusCode> {
    let not_found = || ApiError::not_found("no_such_device", "no such device");
    let Path(device_id) = path.map_err(|_| not_found())?;
    if state.meta.delete_device(&auth.user_id, &device_id).await? {
        state.accounts.device_removed(&state, &device_id).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// Most Ren'Py save-token keys one device may publish (Ren'Py makes one per install).
const MAX_KEYS: usize = 16;
/// Bounds of a base64 DER public key: a P-256 SubjectPublicKeyInfo is 91 bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 32..=1024;

/// `PUT /v1/device-keys`: publishes this device's Ren'Py verifying keys to the account's
/// other devices (which add them to `tokens/security_keys.txt` so synced saves and
/// `persistent` are trusted). Replaces what the device published before.
pub async fn put_keys(
    State(state): State<AppState>,
    auth: Authed,
    ApiJson(body): ApiJson<DeviceKeys>,
) -> ApiResult<StatusCode> {
    validate_keys(&body.keys)?;
    if state
        .meta
        .set_device_keys(&auth.user_id, &auth.device_id, &body.keys)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no_such_device",
            "this device was signed out",
        ))
    }
}

fn validate_keys(keys: &[String]) -> ApiResult<()> {
    let bad = |message: String| ApiError::bad_request("invalid_device_keys", message);
    if keys.len() > MAX_KEYS {
        return Err(bad(format!("at most {MAX_KEYS} keys per device")));
    }
    for (i, key) in keys.iter().enumerate() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key)
            .map_err(|_| bad(format!("key {i} is not standard base64")))?;
        if !KEY_BYTES.contains(&decoded.len()) {
            return Err(bad(format!(
                "key {i} is {} bytes; a DER public key is {}-{} bytes",
                decoded.len(),
                KEY_BYTES.start(),
                KEY_BYTES.end()
            )));
        }
        if keys[..i].contains(key) {
            return Err(bad(format!("key {i} is listed twice")));
        }
    }
    Ok(())
}

//! The signed-in user's devices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sync_core::client::ErrorCode;
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
    let not_found = || ApiError::not_found(ErrorCode::NoSuchDevice, "no such device");
    let Path(device_id) = path.map_err(|_| not_found())?;
    if state.meta.delete_device(&auth.user_id, &device_id).await? {
        state.accounts.device_removed(&state, &device_id).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

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
            ErrorCode::NoSuchDevice,
            "this device was signed out",
        ))
    }
}

fn validate_keys(keys: &[String]) -> ApiResult<()> {
    sync_core::client::savetokens::validate_keys(keys)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidDeviceKeys, e.to_string()))
}

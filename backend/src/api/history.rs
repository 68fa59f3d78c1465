//! File history and restoring an old version.

use axum::Json;
use axum::extract::{RawQuery, State};
use sync_core::SavePath;
use sync_core::client::ErrorCode;
use sync_core::protocol::{HistoryResponse, RestoreRequest, RestoreResponse};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Authed, GamePath};
use crate::app::AppState;

/// The `path` query parameter, validated as a [`SavePath`].
fn path_param(query: Option<&str>) -> ApiResult<SavePath> {
    let raw = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "path")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "the `path` query parameter is required",
            )
        })?;
    SavePath::new(&raw).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidPath, format!("invalid save path: {e}"))
    })
}

/// `GET /v1/games/{game}/history?path=P`: every version of a file, newest first.
pub async fn history(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<HistoryResponse>> {
    let path = path_param(query.as_deref())?;
    let versions = state.meta.history(&auth.scope(&game), &path).await?;
    Ok(Json(HistoryResponse { path, versions }))
}

/// `POST /v1/games/{game}/restore`: makes an old version current again as a new version,
/// within the game's quota.
pub async fn restore(
    State(state): State<AppState>,
    auth: Authed,
    GamePath(game): GamePath,
    ApiJson(req): ApiJson<RestoreRequest>,
) -> ApiResult<Json<RestoreResponse>> {
    let (cursor, entry) = state
        .meta
        .restore(
            &auth.scope(&game),
            &req.path,
            req.version,
            &auth.device_id,
            state.config.limits.quota(),
            state.now(),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::NoSuchVersion,
                format!("{} has no version {}", req.path, req.version),
            )
        })?;
    Ok(Json(RestoreResponse { entry, cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_query_is_decoded_and_validated() {
        assert_eq!(
            path_param(Some("path=sync%2Fpersistent")).map(|p| p.to_string()),
            Ok("sync/persistent".to_owned())
        );
        assert_eq!(
            path_param(Some("path=..%2Fx")).map_err(|e| e.code),
            Err(ErrorCode::InvalidPath)
        );
        assert_eq!(
            path_param(None).map_err(|e| e.code),
            Err(ErrorCode::InvalidQuery)
        );
    }
}

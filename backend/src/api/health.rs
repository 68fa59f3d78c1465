//! `GET /v1/health`: are both stores reachable?

use axum::Json;
use axum::extract::State;
use sync_core::protocol::Health;

use super::error::ApiResult;
use crate::app::AppState;

/// 200 with [`Health`] when both stores answer; 503 `storage_unavailable` otherwise.
pub async fn health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.meta.health().await?;
    state.blobs.health().await?;
    Ok(Json(Health {
        status: "ok".into(),
        storage: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

//! `GET /v1/openapi.json`: the API description, kept true to the code by tests.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI 3.1 document of the API (`backend/openapi.json`).
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// Serves [`DOCUMENT`].
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

//! renpy-cloud backend: one axum router over two storage traits.

pub mod api;
pub mod app;
pub mod config;
pub mod server;
pub mod storage;

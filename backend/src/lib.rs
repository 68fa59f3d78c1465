//! renpy-cloud backend: one axum router over two storage traits.

pub mod api;
pub mod app;
pub mod config;
pub mod server;
#[cfg(feature = "aws")]
pub mod aws_env;
#[cfg(feature = "aws")]
pub mod cognito;
pub mod storage;

//! renpy-cloud backend: one axum router over two storage traits.

pub mod api;
pub mod app;
#[cfg(feature = "aws")]
pub mod aws_env;
pub mod clock;
#[cfg(feature = "aws")]
pub mod cognito;
pub mod config;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod server;
pub mod state;
pub mod storage;
pub mod web;

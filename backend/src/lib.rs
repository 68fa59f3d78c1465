//! renpy-cloud backend: one axum router over two storage traits.

#[cfg(feature = "aws")]
pub mod aws_env;
#[cfg(feature = "aws")]
pub mod cognito;
pub mod storage;

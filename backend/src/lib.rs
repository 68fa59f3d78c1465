//! renpy-cloud backend: one axum router over two storage traits.

pub mod storage;

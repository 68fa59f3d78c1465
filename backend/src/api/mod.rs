//! The `/v1` HTTP API, one module per area.

pub mod accounts;
pub mod auth;
pub mod blobs;
pub mod devices;
pub mod error;
pub mod extract;
pub mod hashing;
pub mod health;
pub mod history;
pub mod openapi;
pub mod pairing;
pub mod ratelimit;
pub mod sync;
pub mod tokens;

use std::time::Duration;

use sync_core::protocol::UnixMillis;

pub use error::{ApiError, ApiResult};

/// `now + ttl` in Unix milliseconds.
pub fn expiry(now: UnixMillis, ttl: Duration) -> UnixMillis {
    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// The moment `age` before `now`.
pub fn ago(now: UnixMillis, age: Duration) -> UnixMillis {
    now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

//! What every handler shares: the stores, the configuration, the accounts, the limiters and
//! the clock. Its own module, so the route table and the handlers both depend on it and not
//! on each other.

use std::ops::Deref;
use std::sync::Arc;

use sync_core::protocol::UnixMillis;
use tokio::sync::Semaphore;

use crate::api::accounts::{Accounts, EmbeddedAccounts};
use crate::api::blobs::UploadsByUser;
use crate::api::hashing::HashingPool;
use crate::api::ratelimit::RateLimiter;
use crate::api::tokens::Signer;
use crate::clock::{Clock, SystemClock};
use crate::config::ApiConfig;
use crate::storage::{BlobStore, MetadataStore};

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// The shared parts of [`AppState`].
pub struct AppInner {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: ApiConfig,
    /// Passwords and access tokens: the API's own ([`EmbeddedAccounts`]) or a proxied
    /// identity provider (Cognito on AWS).
    pub accounts: Arc<dyn Accounts>,
    /// Signs blob tickets (and the embedded accounts' access tokens).
    pub signer: Signer,
    /// Requests per user (bearer tokens and blob tickets).
    pub user_limiter: RateLimiter,
    /// Failed logins per username + IP.
    pub login_limiter: RateLimiter,
    /// Pairing claims per IP.
    pub claim_limiter: RateLimiter,
    /// Dedicated argon2 threads (bounds CPU and memory; ~19 MiB each).
    pub hashing: HashingPool,
    /// Blob uploads streamed at the same time (`Limits::upload_slots`).
    pub uploads: Semaphore,
    /// Blob uploads each user is streaming now (`Limits::uploads_per_user`).
    pub uploads_by_user: UploadsByUser,
    /// Timestamps and expiries come from here, never from the wall clock directly.
    pub clock: Arc<dyn Clock>,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// The API's own accounts; `secret` signs access tokens and blob tickets (see [`Signer`]).
    pub fn new(
        config: ApiConfig,
        secret: &[u8],
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        Self::with_accounts(config, secret, meta, blobs, Arc::new(EmbeddedAccounts))
    }

    /// Like [`Self::new`] with other accounts (an identity provider the API proxies).
    pub fn with_accounts(
        config: ApiConfig,
        secret: &[u8],
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        accounts: Arc<dyn Accounts>,
    ) -> Self {
        Self::with_parts(config, secret, meta, blobs, accounts, Arc::new(SystemClock))
    }

    /// Every part given, the clock included (tests move a manual clock).
    pub fn with_parts(
        config: ApiConfig,
        secret: &[u8],
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        accounts: Arc<dyn Accounts>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self(Arc::new(AppInner {
            meta,
            blobs,
            accounts,
            signer: Signer::new(secret),
            user_limiter: RateLimiter::new(config.rates.per_user),
            login_limiter: RateLimiter::new(config.rates.failed_logins),
            claim_limiter: RateLimiter::new(config.rates.pairing_claims),
            hashing: HashingPool::new(2),
            uploads: Semaphore::new(config.limits.upload_slots),
            uploads_by_user: UploadsByUser::default(),
            clock,
            config,
        }))
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> UnixMillis {
        self.clock.now_millis()
    }
}

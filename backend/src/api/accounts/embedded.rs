//! The API's own accounts (embedded server): argon2id password hashes in the metadata
//! store and HMAC-signed access tokens naming user and device.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use sync_core::protocol::UnixMillis;

use super::{AccessToken, Accounts, SignIn, TokenOwner};
use crate::api::auth::username_taken;
use crate::api::error::{ApiError, ApiResult};
use crate::api::expiry;
use crate::api::tokens::{AccessClaims, random_bytes};
use crate::app::AppState;
use crate::storage::{DeviceRecord, StorageError, UserRecord};

/// Passwords checked by the API, access tokens signed by it (see [`crate::api::tokens`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedAccounts;

/// Runs argon2 off the async threads, at most a few at a time.
async fn run_hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    state.hashing.run(work).await.map_err(ApiError::internal)
}

/// An argon2id PHC string for `password`.
async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    let salt = random_bytes::<16>().map_err(ApiError::internal)?;
    run_hashing(state, move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await?
    .map_err(ApiError::internal)
}

/// A valid argon2id hash of a password nobody knows: unknown usernames are checked against it
/// so they take as long as wrong passwords.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$u7yTFYvNtDw6bHyoKsIrx/OuWyPB1tY2LwkpDFPVIvE";

async fn verify_password(
    state: &AppState,
    password: String,
    phc: Option<String>,
) -> ApiResult<bool> {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let matches = run_hashing(state, move || {
        PasswordHash::new(&phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?;
    Ok(known && matches)
}

#[async_trait]
impl Accounts for EmbeddedAccounts {
    async fn sign_up(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<(UserRecord, SignIn)> {
        let phc = hash_password(state, password).await?;
        let user = match state.meta.create_user(username, &phc, state.now()).await {
            Err(StorageError::AlreadyExists(_)) => return Err(username_taken()),
            other => other?,
        };
        Ok((user, SignIn::Password(None)))
    }

    async fn check_password(
        &self,
        state: &AppState,
        username: &str,
        password: String,
    ) -> ApiResult<Option<(UserRecord, SignIn)>> {
        let user = if username.len() <= 64 {
            state.meta.user_by_name(username).await?
        } else {
            None
        };
        let ok = verify_password(
            state,
            password,
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
        Ok(user
            .filter(|_| ok)
            .map(|user| (user, SignIn::Password(None))))
    }

    async fn access_token(
        &self,
        state: &AppState,
        user: &UserRecord,
        device: &DeviceRecord,
        _how: SignIn,
    ) -> ApiResult<AccessToken> {
        let ttl = state.config.ttls.access;
        let token = state.signer.sign_access(&AccessClaims {
            uid: user.user_id.clone(),
            did: device.device_id.clone(),
            exp: expiry(state.now(), ttl),
        });
        Ok(AccessToken {
            token,
            expires_in: ttl.as_secs(),
        })
    }

    async fn verify(
        &self,
        state: &AppState,
        token: &str,
        now: UnixMillis,
    ) -> ApiResult<TokenOwner> {
        let claims = state
            .signer
            .verify_access(token, now)
            .map_err(|e| ApiError::unauthorized(format!("access token refused: {e}")))?;
        Ok(TokenOwner {
            user_id: claims.uid,
            device_id: claims.did,
        })
    }

    async fn device_removed(&self, _state: &AppState, _device_id: &str) -> ApiResult<()> {
        // Its refresh tokens go with the device record; access tokens die with the device
        // check in the extractor.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_is_a_valid_argon2id_hash() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
    }
}

//! Verification of Cognito access tokens: RS256 signature with a key of the user pool's
//! JWKS (fetched and cached), `iss`, `token_use`, `client_id` and `exp`.
//!
//! The API Gateway JWT authorizer checks tokens too; the API checks them again itself so the
//! router is safe behind any host (a Function URL, a local listener, a misconfigured route).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

/// Keys are fetched again after this long (Cognito rotates rarely; new keys are also
/// fetched when a token names an unknown key id).
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// An unknown key id triggers at most one fetch per this period, so forged key ids cannot
/// turn the API into a load generator against Cognito.
const REFETCH_GAP: Duration = Duration::from_secs(60);
/// Time allowed for a JWKS fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// Only RS256 is accepted; `none` and HMAC algorithms never are.
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("the token was signed by a key the user pool does not have")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token was issued by {0:?}, not this user pool")]
    WrongIssuer(String),
    #[error("the token is a {0:?} token, not an access token")]
    WrongTokenUse(String),
    #[error("the token was issued to another app client")]
    WrongClient,
    #[error("the token has expired")]
    Expired,
    /// The pool's keys could not be fetched (the token may be fine).
    #[error("the user pool's keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// The claims of a verified access token that the API uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessClaims {
    /// The user's stable id in the pool: the API's user id.
    pub sub: String,
    pub iss: String,
    pub client_id: String,
    pub token_use: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    pub jti: String,
    /// Id of the sign-in session the token belongs to (stable across refreshes).
    #[serde(default)]
    pub origin_jti: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Verifies access tokens of one user pool and app client.
pub struct CognitoVerifier {
    issuer: String,
    client_id: String,
    jwks_url: String,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// Sent with JWKS fetches to an emulator (see [`Self::for_emulator`]).
    emulator_target: bool,
}

/// moto serves every service on one host and picks the service of an unsigned request from
/// this header; Cognito itself does not need it.
const EMULATOR_TARGET: (&str, &str) = ("x-amz-target", "AWSCognitoIdentityProviderService.GetJwks");

impl CognitoVerifier {
    pub fn new(issuer: &str, client_id: &str, jwks_url: &str) -> Result<Self, TokenRejected> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| TokenRejected::KeysUnavailable(e.to_string()))?;
        Ok(Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            jwks_url: jwks_url.to_owned(),
            http,
            cache: RwLock::new(KeyCache::default()),
            emulator_target: false,
        })
    }

    /// A verifier for the settings' pool; JWKS fetches carry moto's routing header when the
    /// settings point at an emulator (an endpoint override).
    pub fn from_settings(settings: &crate::aws_env::AwsSettings) -> Result<Self, TokenRejected> {
        let verifier = Self::new(&settings.issuer, &settings.client_id, &settings.jwks_url)?;
        Ok(verifier.for_emulator(settings.endpoint.is_some()))
    }

    /// Whether the JWKS is served by an emulator that needs [`EMULATOR_TARGET`].
    pub fn for_emulator(mut self, on: bool) -> Self {
        self.emulator_target = on;
        self
    }

    /// Verifies `token` at `now` (Unix seconds).
    pub async fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejected> {
        let header = parse_header(token)?;
        if header.alg != "RS256" {
            return Err(TokenRejected::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(TokenRejected::UnknownKey)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        // Expiry is checked below against the injected clock; the rest here.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejected::BadSignature,
                _ => TokenRejected::Malformed,
            },
        )?;
        // Issuer and token use first: an ID token lacks an access token's claims.
        let text = |name: &str| data.claims.get(name).and_then(|v| v.as_str()).unwrap_or("");
        if text("iss") != self.issuer {
            return Err(TokenRejected::WrongIssuer(text("iss").to_owned()));
        }
        if text("token_use") != "access" {
            return Err(TokenRejected::WrongTokenUse(text("token_use").to_owned()));
        }
        let claims: AccessClaims =
            serde_json::from_value(data.claims).map_err(|_| TokenRejected::Malformed)?;
        if claims.client_id != self.client_id {
            return Err(TokenRejected::WrongClient);
        }
        if claims.exp <= now {
            return Err(TokenRejected::Expired);
        }
        Ok(claims)
    }

    /// The key `kid` from the cache, fetching the JWKS when it is stale or lacks the key.
    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenRejected> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < KEYS_TTL);
            if let Some(key) = cache.keys.get(kid).filter(|_| fresh) {
                return Ok(key.clone());
            }
        }
        let mut cache = self.cache.write().await;
        let may_fetch = match cache.fetched_at {
            None => true,
            Some(t) => {
                t.elapsed() >= KEYS_TTL
                    || (t.elapsed() >= REFETCH_GAP && !cache.keys.contains_key(kid))
            }
        };
        if may_fetch {
            cache.keys = self.fetch().await?;
            cache.fetched_at = Some(Instant::now());
        }
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or(TokenRejected::UnknownKey)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, TokenRejected> {
        let unavailable = |e: reqwest::Error| TokenRejected::KeysUnavailable(e.to_string());
        let mut request = self.http.get(&self.jwks_url);
        if self.emulator_target {
            request = request.header(EMULATOR_TARGET.0, EMULATOR_TARGET.1);
        }
        let set: JwkSet = request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect())
    }
}

fn parse_header(token: &str) -> Result<RawHeader, TokenRejected> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRejected::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenRejected::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenRejected::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_header(header: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode("{}"),
            "c2ln"
        )
    }

    #[tokio::test]
    async fn none_and_hmac_algorithms_are_refused_before_any_key_lookup() {
        // An unreachable JWKS URL: refusing must not need the keys.
        let v = CognitoVerifier::new("iss", "client", "http://127.0.0.1:9/jwks.json")
            .expect("verifier");
        for (alg, header) in [
            ("none", r#"{"alg":"none","kid":"dummy"}"#),
            ("HS256", r#"{"alg":"HS256","kid":"dummy"}"#),
        ] {
            assert_eq!(
                v.verify(&token_with_header(header), 0).await,
                Err(TokenRejected::Algorithm(alg.into()))
            );
        }
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.c2ln"] {
            assert_eq!(
                v.verify(bad, 0).await,
                Err(TokenRejected::Malformed),
                "{bad:?}"
            );
        }
    }
}

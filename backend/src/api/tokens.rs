//! Signed compact tokens: access tokens and blob URL tickets.
//!
//! Format: `base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part))`, no padding.
//! Access tokens and tickets use different keys derived from the server secret, so one can
//! never be passed off as the other. Refresh tokens and pairing codes are random strings that
//! the store keeps only as SHA-256 (see [`random_token`] and [`new_pairing_code`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;
use sync_core::ContentHash;
use sync_core::protocol::UnixMillis;

type HmacSha256 = Hmac<Sha256>;

/// Why a token or ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token signature is not valid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
}

/// What an access token says: who is calling from which device, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub uid: String,
    pub did: String,
    /// Expiry, Unix milliseconds.
    pub exp: UnixMillis,
}

/// The method a blob ticket allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "PUT")]
    Put,
}

/// What a signed `/v1/blobs/{ticket}` URL allows: one method on one blob of one user's game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobTicket {
    pub uid: String,
    pub game: String,
    pub sha256: ContentHash,
    /// Exact size of the upload (`PUT`); informative only for `GET`.
    pub size: u64,
    pub exp: UnixMillis,
    pub m: TicketMethod,
}

/// Signs and verifies tokens with keys derived from the server secret.
#[derive(Clone)]
pub struct Signer {
    access_key: [u8; 32],
    ticket_key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            access_key: derive_key(secret, b"renpy-cloud access token v1"),
            ticket_key: derive_key(secret, b"renpy-cloud blob ticket v1"),
        }
    }

    pub fn sign_access(&self, claims: &AccessClaims) -> String {
        sign(&self.access_key, claims)
    }

    pub fn verify_access(&self, token: &str, now: UnixMillis) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = verify(&self.access_key, token)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    pub fn sign_ticket(&self, ticket: &BlobTicket) -> String {
        sign(&self.ticket_key, ticket)
    }

    pub fn verify_ticket(&self, ticket: &str, now: UnixMillis) -> Result<BlobTicket, TokenError> {
        let claims: BlobTicket = verify(&self.ticket_key, ticket)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn derive_key(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = mac(secret);
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"))
}

fn sign<T: Serialize>(key: &[u8; 32], claims: &T) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = mac(key);
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{payload}.{signature}")
}

fn verify<T: DeserializeOwned>(key: &[u8; 32], token: &str) -> Result<T, TokenError> {
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let mut mac = mac(key);
    mac.update(payload.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// A fresh 256-bit random token (refresh tokens), URL-safe.
pub fn random_token() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Letters and digits a person cannot confuse (no 0/O, 1/I/L, U/V).
const PAIRING_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";
/// Characters in a pairing code (without its dash).
pub const PAIRING_CODE_LEN: usize = 8;

/// A fresh pairing code, `XXXX-XXXX`.
pub fn new_pairing_code() -> Result<String, getrandom::Error> {
    let raw = random_bytes::<PAIRING_CODE_LEN>()?;
    // 29 symbols: the modulo bias of 256 % 29 is < 1 % per character, irrelevant for a
    // single-use code that lives 10 minutes behind a rate limit.
    let chars: String = raw
        .iter()
        .map(|b| char::from(PAIRING_ALPHABET[usize::from(*b) % PAIRING_ALPHABET.len()]))
        .collect();
    Ok(format!("{}-{}", &chars[..4], &chars[4..]))
}

/// The canonical form a pairing code is hashed in: uppercase, dashes and spaces removed.
pub fn normalize_pairing_code(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 of a secret string, the only form in which the store keeps it.
pub fn secret_hash(secret: &str) -> ContentHash {
    ContentHash::of(secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: UnixMillis) -> AccessClaims {
        AccessClaims {
            uid: "u1".into(),
            did: "d1".into(),
            exp,
        }
    }

    #[test]
    fn access_token_round_trips_and_expires() {
        let signer = Signer::new(b"secret");
        let token = signer.sign_access(&claims(1000));
        assert_eq!(signer.verify_access(&token, 999), Ok(claims(1000)));
        assert_eq!(signer.verify_access(&token, 1000), Err(TokenError::Expired));
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let signer = Signer::new(b"secret");
        let token = signer.sign_access(&claims(1000));
        let other = Signer::new(b"other secret");
        assert_eq!(
            other.verify_access(&token, 0),
            Err(TokenError::BadSignature)
        );
        let (_, sig) = token.split_once('.').expect("two parts");
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"uid":"u2","did":"d1","exp":1000}"#);
        assert_eq!(
            signer.verify_access(&format!("{forged_payload}.{sig}"), 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer.verify_access("garbage", 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn an_access_token_is_not_a_ticket() {
        let signer = Signer::new(b"secret");
        let token = signer.sign_access(&claims(1000));
        assert_eq!(
            signer.verify_ticket(&token, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn pairing_codes_are_formatted_and_normalized() {
        let code = new_pairing_code().expect("os random");
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let normal = normalize_pairing_code(&code.to_lowercase());
        assert_eq!(normal, code.replace('-', ""));
        assert!(normal.bytes().all(|b| PAIRING_ALPHABET.contains(&b)));
    }
}

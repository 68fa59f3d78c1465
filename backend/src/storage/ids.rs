//! Identifiers and name keys shared by every storage backend.

use super::{StorageError, StorageResult};

/// Longest identifier [`is_safe_id`] accepts.
pub const MAX_ID_LEN: usize = 64;

/// A new random identifier: 16 bytes from the OS generator as 32 lowercase hex characters.
pub fn new_id() -> StorageResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::Unavailable(format!("no randomness for an id: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The key under which a username is unique: two names that differ only in letter case
/// (Unicode-aware, so `Straße` and `STRASSE` are one name) map to the same key.
pub fn username_key(username: &str) -> String {
    // Upper-casing first expands ß to SS, then lower-casing gives one canonical spelling.
    username.to_uppercase().to_lowercase()
}

/// Whether `id` is safe as one path segment or object-key part: 1 to [`MAX_ID_LEN`] ASCII
/// letters, digits, `-` or `_` (server-generated hex ids and UUIDs pass).
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_distinct_safe_hex() {
        let a = new_id().expect("id");
        let b = new_id().expect("id");
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(is_safe_id(&a));
    }

    #[test]
    fn username_keys_fold_case() {
        assert_eq!(username_key("Alice"), username_key("aLICE"));
        assert_eq!(username_key("Straße"), username_key("STRASSE"));
        assert_ne!(username_key("alice"), username_key("alicia"));
    }

    #[test]
    fn unsafe_ids_are_refused() {
        for bad in ["", "..", "a/b", "a\\b", "tmp.part", "é", &"a".repeat(65)] {
            assert!(!is_safe_id(bad), "{bad:?}");
        }
        assert!(is_safe_id("0f3a-uuid_like"));
    }
}

//! Ren'Py save tokens across a player's devices.
//!
//! Ren'Py (8.1+) signs saves and `persistent` with a per-device key kept in
//! `<tokens>/security_keys.txt` (`tokens` beside the game's save folder: `~/.renpy/tokens`,
//! `%APPDATA%/RenPy/tokens`, `/home/web_user/.renpy/tokens` on the web). It asks before
//! loading a save signed by an unknown key and **silently ignores** a `persistent` signed by
//! one. So each device publishes its public keys through the server (`PUT /v1/device-keys`)
//! and appends the account's other devices' keys as `verifying-key` lines — exactly what
//! Ren'Py itself writes when a player answers "trust" (`savetoken.py` `encode_line`).
//!
//! Lines: `signing-key <b64 DER private> <b64 DER public>`, `verifying-key <b64 DER public>`,
//! `#` comments. Only lines are appended; nothing is removed or rewritten, and a file
//! without this device's own `signing-key` is never touched: on Ren'Py 8.1–8.3 a key file
//! that exists before Ren'Py made one means the device never gets a signing key, and its
//! `persistent` is then rejected at every later start.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::protocol::DevicesResponse;

/// The key file's name inside Ren'Py's tokens folder.
pub const KEY_FILE: &str = "security_keys.txt";
/// Ren'Py's tokens folder, a sibling of the game's save folder.
pub const TOKENS_FOLDER: &str = "tokens";
/// Most keys one device may publish (Ren'Py makes one per install).
pub const MAX_KEYS_PER_DEVICE: usize = 16;
/// Bounds of a DER public key: a P-256 SubjectPublicKeyInfo is 91 bytes.
pub const KEY_BYTES: RangeInclusive<usize> = 32..=1024;

/// Why a published key list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("at most {MAX_KEYS_PER_DEVICE} keys per device, got {0}")]
    TooMany(usize),
    #[error("key {0} is not standard base64")]
    NotBase64(usize),
    #[error(
        "key {index} is {bytes} bytes; a DER public key is {}-{} bytes",
        KEY_BYTES.start(),
        KEY_BYTES.end()
    )]
    WrongSize { index: usize, bytes: usize },
    #[error("key {0} is listed twice")]
    Duplicate(usize),
}

/// The DER bytes of a base64 public key, or `None` if it is not one. Standard base64 has
/// no space or newline, so a valid key can never inject a line into the key file.
pub fn decode_key(b64: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(b64)
        .ok()
        .filter(|der| KEY_BYTES.contains(&der.len()))
}

/// The rule for the keys one device publishes; the server applies it too.
pub fn validate_keys(keys: &[String]) -> Result<(), KeyError> {
    if keys.len() > MAX_KEYS_PER_DEVICE {
        return Err(KeyError::TooMany(keys.len()));
    }
    for (index, key) in keys.iter().enumerate() {
        let der = STANDARD
            .decode(key)
            .map_err(|_| KeyError::NotBase64(index))?;
        if !KEY_BYTES.contains(&der.len()) {
            return Err(KeyError::WrongSize {
                index,
                bytes: der.len(),
            });
        }
        if keys[..index].contains(key) {
            return Err(KeyError::Duplicate(index));
        }
    }
    Ok(())
}

fn lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().map(|l| l.split_whitespace().collect())
}

/// This device's public keys: the public half of each valid `signing-key` line, at most
/// [`MAX_KEYS_PER_DEVICE`], each once.
pub fn own_public_keys(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for fields in lines(text) {
        if let ["signing-key", _, public, ..] = fields.as_slice()
            && decode_key(public).is_some()
            && !out.iter().any(|k| k == public)
            && out.len() < MAX_KEYS_PER_DEVICE
        {
            out.push((*public).to_owned());
        }
    }
    out
}

/// The DER public keys the file already trusts (own and verifying), compared as bytes so
/// a key written with different padding or by another tool is still recognised.
pub fn trusted_keys(text: &str) -> BTreeSet<Vec<u8>> {
    lines(text)
        .filter_map(|fields| match fields.as_slice() {
            ["signing-key", _, public, ..] | ["verifying-key", public, ..] => decode_key(public),
            _ => None,
        })
        .collect()
}

/// What to append to a key file so it trusts `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appendix {
    /// Text to append at the end of the file (starts with a newline if the file lacks one).
    pub text: String,
    /// The keys it adds, as given.
    pub added: Vec<String>,
}

/// The lines to append so `existing` trusts every valid key of `keys`; `None` when nothing
/// is new, or when the file has no `signing-key` of this device (never touch a key file
/// Ren'Py has not set up; see the module documentation). Invalid keys are skipped.
pub fn to_append(existing: &str, keys: &[String]) -> Option<Appendix> {
    if own_public_keys(existing).is_empty() {
        return None;
    }
    let mut trusted = trusted_keys(existing);
    let mut text = String::new();
    let mut added = Vec::new();
    for key in keys {
        if let Some(der) = decode_key(key)
            && trusted.insert(der)
        {
            text.push_str("verifying-key ");
            text.push_str(key);
            text.push('\n');
            added.push(key.clone());
        }
    }
    if added.is_empty() {
        return None;
    }
    let mut head = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        head.push('\n');
    }
    head.push_str("# renpy-cloud: keys of your other devices\n");
    Some(Appendix {
        text: head + &text,
        added,
    })
}

/// The valid keys of the account's devices other than `own_device`, each once, without
/// any of `own_keys`.
pub fn peer_keys(devices: &DevicesResponse, own_device: &str, own_keys: &[String]) -> Vec<String> {
    let mut seen: BTreeSet<Vec<u8>> = own_keys.iter().filter_map(|k| decode_key(k)).collect();
    let mut out = Vec::new();
    for device in devices.devices.iter().filter(|d| d.device_id != own_device) {
        for key in &device.renpy_keys {
            if let Some(der) = decode_key(key)
                && seen.insert(der)
            {
                out.push(key.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> String {
        STANDARD.encode([fill; 91])
    }

    fn file(own: &str) -> String {
        format!("# comment\nsigning-key cHJpdmF0ZQ== {own}\n")
    }

    #[test]
    fn own_keys_are_the_public_halves_of_signing_lines() {
        let text = format!(
            "{}signing-key x not-base64!\nverifying-key {}\n",
            file(&key(1)),
            key(2)
        );
        assert_eq!(own_public_keys(&text), [key(1)]);
        assert_eq!(trusted_keys(&text).len(), 2);
    }

    #[test]
    fn appends_only_new_valid_keys_once() {
        let text = file(&key(1));
        let keys = [
            key(1),
            key(2),
            key(2),
            "junk\nsigning-key x y".to_owned(),
            key(3),
        ];
        let a = to_append(&text, &keys).expect("something new");
        assert_eq!(a.added, [key(2), key(3)]);
        assert_eq!(
            a.text,
            format!(
                "# renpy-cloud: keys of your other devices\nverifying-key {}\nverifying-key {}\n",
                key(2),
                key(3)
            )
        );
        let merged = text + &a.text;
        assert_eq!(to_append(&merged, &keys), None);
        // Without a trailing newline the appendix starts a new line.
        let no_newline = format!("signing-key cHJpdmF0ZQ== {}", key(1));
        assert!(
            to_append(&no_newline, &[key(4)])
                .expect("new")
                .text
                .starts_with('\n')
        );
    }

    #[test]
    fn never_touches_a_file_ren_py_has_not_set_up() {
        assert_eq!(to_append("", &[key(2)]), None);
        assert_eq!(
            to_append(&format!("verifying-key {}\n", key(1)), &[key(2)]),
            None
        );
    }

    #[test]
    fn the_published_key_rule() {
        assert_eq!(validate_keys(&[key(1), key(2)]), Ok(()));
        assert_eq!(
            validate_keys(&[key(1), key(1)]),
            Err(KeyError::Duplicate(1))
        );
        assert_eq!(validate_keys(&["a b".into()]), Err(KeyError::NotBase64(0)));
        assert_eq!(
            validate_keys(&[STANDARD.encode([0u8; 16])]),
            Err(KeyError::WrongSize {
                index: 0,
                bytes: 16
            })
        );
        let many: Vec<String> = (0..17).map(key).collect();
        assert_eq!(validate_keys(&many), Err(KeyError::TooMany(17)));
    }

    #[test]
    fn peers_exclude_this_device_and_its_own_keys() {
        let devices: DevicesResponse = serde_json::from_value(serde_json::json!({
            "devices": [
                {"device_id": "me", "name": "A", "created_at": 0, "last_seen_at": null, "renpy_keys": [key(1)]},
                {"device_id": "b", "name": "B", "created_at": 0, "last_seen_at": null, "renpy_keys": [key(2), "bad", key(1)]},
                {"device_id": "c", "name": "C", "created_at": 0, "last_seen_at": null, "renpy_keys": [key(2), key(3)]},
            ]
        }))
        .expect("devices");
        assert_eq!(peer_keys(&devices, "me", &[key(1)]), [key(2), key(3)]);
    }
}

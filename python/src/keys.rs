//! Save-token trust between a player's devices.
//!
//! Ren'Py signs saves and `persistent` with a per-computer key and silently ignores a
//! `persistent` signed by an unknown key (and asks before loading such a save). Devices of one
//! account publish their public verifying keys to the server and each device appends the
//! others' to `<tokens>/security_keys.txt` as `verifying-key <base64 DER>` lines, the format
//! Ren'Py itself writes when a player answers "trust" (`savetoken.py` `encode_line`).
//!
//! Server side: `PUT /v1/device-keys` with `{"keys": ["<b64>", ...]}` replaces this
//! device's keys; `GET /v1/devices` lists every device of the account with its `renpy_keys`.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use native_client::http::HttpTransport;
use sync_core::protocol::DeviceKeys;

use crate::error::{ErrorClass, OpError};

/// Ren'Py's keys are DER P-256 public keys (91 bytes); anything far off is not one.
const MIN_KEY_BYTES: usize = 32;
const MAX_KEY_BYTES: usize = 1024;
/// Keys one device may publish (a player rarely has more than one per computer).
pub const MAX_KEYS_PER_DEVICE: usize = 16;

/// The DER bytes of a base64 key, or why it is not one.
pub fn decode_key(b64: &str) -> Result<Vec<u8>, OpError> {
    let bytes = STANDARD.decode(b64.trim()).map_err(|e| {
        OpError::new(
            ErrorClass::Settings,
            "bad_key",
            format!("key {b64:?} is not base64: {e}"),
        )
    })?;
    if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
        return Err(OpError::new(
            ErrorClass::Settings,
            "bad_key",
            format!("key {b64:?} is {} bytes, not a public key", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Appends a `verifying-key` line to `<tokens_dir>/security_keys.txt` for every key not yet
/// trusted there (as a `signing-key`'s public half or a `verifying-key`). Never rewrites or
/// removes a line. Returns the keys added (base64, as given).
pub fn merge_security_keys(tokens_dir: &Path, keys: &[String]) -> Result<Vec<String>, OpError> {
    let decoded: Vec<(String, Vec<u8>)> = keys
        .iter()
        .map(|k| Ok((k.trim().to_owned(), decode_key(k)?)))
        .collect::<Result<_, OpError>>()?;
    let file = tokens_dir.join("security_keys.txt");
    let io = |what: &str, e: std::io::Error| {
        OpError::new(
            ErrorClass::Local,
            "local_io",
            format!("cannot {what} {}: {e}", file.display()),
        )
    };
    let existing = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("read", e)),
    };
    let mut trusted = trusted_keys(&existing);
    let mut lines = String::new();
    let mut added = Vec::new();
    for (b64, der) in decoded {
        if trusted.insert(der.clone()) {
            lines.push_str(&format!("verifying-key {}\n", STANDARD.encode(&der)));
            added.push(b64);
        }
    }
    if lines.is_empty() {
        return Ok(added);
    }
    fs::create_dir_all(tokens_dir).map_err(|e| io("create the folder of", e))?;
    if !existing.is_empty() && !existing.ends_with('\n') {
        lines.insert(0, '\n');
    }
    // Append like Ren'Py does: a reader sees whole old lines plus whole or partial new ones.
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(|e| io("open", e))?;
    f.write_all(lines.as_bytes()).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("flush", e))?;
    Ok(added)
}

/// The DER public keys a `security_keys.txt` already trusts.
fn trusted_keys(text: &str) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(kind), Some(first)) = (parts.next(), parts.next()) else {
            continue;
        };
        let public = match kind {
            "verifying-key" => first,
            // The public half follows the private key.
            "signing-key" => match parts.next() {
                Some(p) => p,
                None => continue,
            },
            _ => continue,
        };
        if let Ok(der) = STANDARD.decode(public) {
            out.insert(der);
        }
    }
    out
}

/// Publishes this device's keys (`PUT /v1/device-keys`) and returns the keys of the
/// account's other devices (`renpy_keys` of `GET /v1/devices`).
pub fn exchange(transport: &HttpTransport, own: &[String]) -> Result<Vec<String>, OpError> {
    if own.len() > MAX_KEYS_PER_DEVICE {
        return Err(OpError::new(
            ErrorClass::Settings,
            "bad_key",
            format!(
                "at most {MAX_KEYS_PER_DEVICE} keys per device, got {}",
                own.len()
            ),
        ));
    }
    for k in own {
        decode_key(k)?;
    }
    let session = transport
        .session()
        .ok_or_else(|| OpError::not_signed_in(transport.server()))?;
    let body = DeviceKeys {
        keys: own.iter().map(|k| k.trim().to_owned()).collect(),
    };
    transport.put_device_keys(&body)?;
    let listed = transport.devices()?;
    let mine: BTreeSet<&str> = own.iter().map(|k| k.trim()).collect();
    let mut others = Vec::new();
    for device in listed.devices {
        if device.device_id == session.device_id {
            continue;
        }
        for key in device.renpy_keys {
            // A malformed key from the server is skipped, not trusted and not fatal.
            if !mine.contains(key.as_str()) && decode_key(&key).is_ok() && !others.contains(&key) {
                others.push(key);
            }
        }
    }
    Ok(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqg==";
    const KEY_B: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7uw==";

    #[test]
    fn appends_new_keys_once_and_keeps_every_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("security_keys.txt");
        let original = format!("# mine\nsigning-key cHJpdmF0ZQ== {KEY_A}");
        fs::write(&file, &original).expect("seed");
        let added = merge_security_keys(dir.path(), &[KEY_A.into(), KEY_B.into(), KEY_B.into()])
            .expect("merge");
        assert_eq!(added, vec![KEY_B.to_owned()]);
        let again = merge_security_keys(dir.path(), &[KEY_B.into()]).expect("merge again");
        assert!(again.is_empty());
        let text = fs::read_to_string(&file).expect("read");
        assert_eq!(text, format!("{original}\nverifying-key {KEY_B}\n"));
    }

    #[test]
    fn creates_the_file_and_refuses_junk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = dir.path().join("tokens");
        assert_eq!(
            merge_security_keys(&tokens, &[KEY_A.into()]).expect("merge"),
            [KEY_A]
        );
        let err = merge_security_keys(&tokens, &["not base64!".into()]).expect_err("junk");
        assert_eq!(err.code, "bad_key");
        let text = fs::read_to_string(tokens.join("security_keys.txt")).expect("read");
        assert_eq!(text, format!("verifying-key {KEY_A}\n"));
    }
}

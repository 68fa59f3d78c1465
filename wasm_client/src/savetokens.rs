//! Ren'Py save tokens across a player's browsers.
//!
//! Ren'Py signs `persistent` with a per-device key kept in `tokens/security_keys.txt` and
//! silently ignores a `persistent` signed by a key it does not trust. So each device
//! publishes its own public keys (the third field of its `signing-key` lines) through the
//! server, and adds the other devices' keys as `verifying-key` lines before the game boots.
//! Only lines are appended; nothing is removed or rewritten.
//!
//! Line format (Ren'Py `savetoken.py`): `signing-key <b64 DER private> <b64 DER public>`,
//! `verifying-key <b64 DER public>`, `#` comments.

use std::collections::BTreeSet;

use sync_core::protocol::DevicesResponse;

/// Path of the key file relative to the IDBFS mount (shared by all games of an origin).
pub const KEY_FILE: &str = "tokens/security_keys.txt";

/// Longest accepted base64 key (a DER P-256 public key is 124 characters).
const MAX_KEY_CHARS: usize = 512;

/// A plausible base64 DER key: nothing that could inject a line or a field.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// This device's public keys: the public half of each `signing-key` line.
pub fn own_public_keys(text: &str) -> Vec<String> {
    text.lines()
        .map(fields)
        .filter(|f| f.first() == Some(&"signing-key") && f.len() >= 3)
        .map(|f| f[2].to_owned())
        .filter(|k| is_valid_key(k))
        .collect()
}

/// Every public key the file already trusts (own and verifying).
pub fn trusted_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(fields)
        .filter_map(|f| match f.as_slice() {
            ["signing-key", _, public, ..] => Some((*public).to_owned()),
            ["verifying-key", public, ..] => Some((*public).to_owned()),
            _ => None,
        })
        .collect()
}

/// `text` with a `verifying-key` line appended for each valid key not trusted yet, or
/// `None` when nothing is new. Refuses (`None`) a file without a `signing-key`: Ren'Py has
/// not created this device's own key yet, and a key file must not exist before it does.
pub fn add_trusted<'a>(text: &str, keys: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if own_public_keys(text).is_empty() {
        return None;
    }
    let trusted = trusted_keys(text);
    let mut added = BTreeSet::new();
    for key in keys {
        if is_valid_key(key) && !trusted.contains(key) {
            added.insert(key);
        }
    }
    if added.is_empty() {
        return None;
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# renpy-cloud: keys of your other devices\n");
    for key in added {
        out.push_str("verifying-key ");
        out.push_str(key);
        out.push('\n');
    }
    Some(out)
}

/// The keys of every device except `own_device`.
pub fn other_devices_keys<'a>(resp: &'a DevicesResponse, own_device: &str) -> Vec<&'a str> {
    resp.devices
        .iter()
        .filter(|d| d.device_id != own_device)
        .flat_map(|d| d.renpy_keys.iter().map(String::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEown==";
    const OTHER: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEother=";

    fn file() -> String {
        format!("# comment\nsigning-key UFJJVkFURQ== {OWN}\n")
    }

    #[test]
    fn own_keys_are_the_public_half_of_signing_lines() {
        assert_eq!(own_public_keys(&file()), vec![OWN.to_owned()]);
        assert!(own_public_keys("verifying-key abc\n").is_empty());
    }

    #[test]
    fn new_keys_are_appended_once_and_nothing_else_changes() {
        let text = file();
        let out = add_trusted(&text, [OTHER, OWN]).expect("one new key");
        assert!(out.starts_with(&text));
        assert_eq!(out.matches("verifying-key ").count(), 1);
        assert!(out.contains(&format!("verifying-key {OTHER}\n")));
        assert_eq!(add_trusted(&out, [OTHER]), None, "already trusted");
    }

    #[test]
    fn a_file_without_its_own_signing_key_is_not_touched() {
        assert_eq!(add_trusted("", [OTHER]), None);
        assert_eq!(add_trusted("verifying-key x\n", [OTHER]), None);
    }

    #[test]
    fn keys_that_could_inject_lines_are_refused() {
        let evil = "abc\nsigning-key x y";
        assert!(!is_valid_key(evil));
        assert!(!is_valid_key("a b"));
        assert!(!is_valid_key(""));
        assert_eq!(add_trusted(&file(), [evil]), None);
    }

    #[test]
    fn a_missing_final_newline_is_added_before_appending() {
        let text = format!("signing-key UFJJVkFURQ== {OWN}");
        let out = add_trusted(&text, [OTHER]).expect("new key");
        assert!(out.contains(&format!("{OWN}\n# renpy-cloud")));
    }

    #[test]
    fn other_devices_exclude_this_one() {
        let device = |id: &str, key: &str| sync_core::protocol::DeviceInfo {
            device_id: id.into(),
            name: id.into(),
            created_at: 0,
            last_seen_at: None,
            renpy_keys: vec![key.into()],
        };
        let resp = DevicesResponse {
            devices: vec![device("me", OWN), device("them", OTHER)],
        };
        assert_eq!(other_devices_keys(&resp, "me"), vec![OTHER]);
    }
}

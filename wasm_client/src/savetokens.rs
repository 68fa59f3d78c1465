//! Ren'Py save tokens across a player's browsers: the IndexedDB / FS plumbing around the
//! core's key rule ([`sync_core::client::savetokens`]: what a key is, which keys a file
//! trusts, what to append — never to a file without this device's own `signing-key`).
//!
//! Ren'Py reads `tokens/security_keys.txt` once, at start. Keys appended before the boot
//! are therefore seen by the game; keys learnt while it runs reach the file only, and a
//! `persistent` another browser signed would be ignored until the next start. So the glue
//! also hands them to the running Ren'Py with [`renpy_trust_script`] before it asks Ren'Py
//! to merge a delivered `persistent`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sync_core::SavePath;
use sync_core::client::errors::ClientError;
use sync_core::client::savetokens::{
    KEY_FILE, TOKENS_FOLDER, decode_key, own_public_keys, peer_keys, to_append,
};
use sync_core::protocol::{DeviceKeys, DevicesResponse, UnixMillis};
use sync_core::routes;
use sync_core::store::StoreError;
use wasm_bindgen::JsValue;

use crate::http::FetchTransport;
use crate::idbfs::IdbfsStore;
use crate::js;

/// `tokens/security_keys.txt`, relative to the IDBFS mount (shared by all games of an
/// origin, like `~/.renpy/tokens` on desktop).
pub fn key_file() -> SavePath {
    SavePath::new(&format!("{TOKENS_FOLDER}/{KEY_FILE}")).expect("a valid constant path")
}

/// Where the key file is read and written at this moment of the page's life.
pub enum KeyFile<'a> {
    /// Before the game boots: the IDBFS record, in one transaction per change.
    BeforeBoot(&'a IdbfsStore),
    /// While the game runs: its `FS` (the caller persists with `FS.syncfs(false)`).
    Running { fs: &'a JsValue, mount: &'a str },
}

impl KeyFile<'_> {
    /// The file's text, `None` when it does not exist.
    pub async fn read(&self) -> Result<Option<String>, StoreError> {
        match self {
            Self::BeforeBoot(store) => store.read_text_file(&key_file()).await,
            Self::Running { fs, mount } => {
                let full = format!("{mount}/{}", key_file());
                let st = js::fs_stat(fs, &full).map_err(|e| fs_error(&full, &e))?;
                if st.is_null() || st.is_undefined() {
                    return Ok(None);
                }
                let bytes = js::fs_read(fs, &full).map_err(|e| fs_error(&full, &e))?;
                Ok(Some(String::from_utf8_lossy(&bytes.to_vec()).into_owned()))
            }
        }
    }

    /// Appends a `verifying-key` line for each key of `keys` the file does not trust yet
    /// (the core's [`to_append`]); returns the keys added. A missing file, or one without
    /// this device's `signing-key`, is left alone.
    pub async fn trust(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        match self {
            Self::BeforeBoot(store) => {
                let mut added = Vec::new();
                store
                    .update_text_file(&key_file(), |text| {
                        let text = text?;
                        let appendix = to_append(text, keys)?;
                        added = appendix.added;
                        Some(format!("{text}{}", appendix.text))
                    })
                    .await?;
                Ok(added)
            }
            Self::Running { fs, mount } => {
                let Some(text) = self.read().await? else {
                    return Ok(Vec::new());
                };
                let Some(appendix) = to_append(&text, keys) else {
                    return Ok(Vec::new());
                };
                let full = format!("{mount}/{}", key_file());
                let bytes = format!("{text}{}", appendix.text);
                let now = js::now_ms() as UnixMillis;
                js::fs_write(fs, mount, &full, bytes.as_bytes(), now as f64)
                    .map_err(|e| fs_error(&full, &e))?;
                Ok(appendix.added)
            }
        }
    }
}

fn fs_error(path: &str, e: &JsValue) -> StoreError {
    StoreError::io(format!("FS {path}: {}", js::describe(e)))
}

/// What one key exchange did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// This browser's own public keys, published to the server.
    pub published: usize,
    /// Keys of other devices newly appended to the key file.
    pub added: Vec<String>,
    /// Every valid key of the account's other devices (trusted by the file now, unless it
    /// has no `signing-key` yet).
    pub peers: Vec<String>,
}

/// Publishes this browser's keys (the public half of its `signing-key` lines) and appends
/// the account's other devices' keys to the key file.
pub async fn exchange(
    transport: &FetchTransport,
    own_device: &str,
    file: KeyFile<'_>,
) -> Result<Exchange, ClientError> {
    let own = file
        .read()
        .await?
        .as_deref()
        .map(own_public_keys)
        .unwrap_or_default();
    if !own.is_empty() {
        let body = DeviceKeys { keys: own.clone() };
        transport
            .call_empty("PUT", routes::DEVICE_KEYS, Some(&body))
            .await?;
    }
    let devices: DevicesResponse = transport
        .call::<(), _>("GET", routes::DEVICES, None)
        .await?;
    let peers = peer_keys(&devices, own_device, &own);
    let added = file.trust(&peers).await?;
    Ok(Exchange {
        published: own.len(),
        added,
        peers,
    })
}

/// Python for `renpy_exec` that adds `keys` to the running Ren'Py's trusted keys
/// (`renpy.savetoken.verifying_keys`, DER bytes), each unless already there — what Ren'Py
/// itself does when the player answers "trust" — so a `persistent` they signed is merged
/// in this session. `None` when no key is valid.
///
/// Python source is built only from keys the core's rule accepts ([`decode_key`]), and each
/// is re-encoded from its bytes, so a literal holds only `A-Z a-z 0-9 + / =`: nothing a
/// server or another device sends can end the string or add a statement. Ren'Py runs
/// `renpy_exec` scripts with `py_exec(hide=True)`, so the names below stay out of the
/// store (and out of saves); 8.0 has no `renpy.savetoken`, hence the `getattr`s.
pub fn renpy_trust_script(keys: &[String]) -> Option<String> {
    let literals: Vec<String> = keys
        .iter()
        .filter_map(|k| decode_key(k))
        .map(|der| format!("'{}'", STANDARD.encode(der)))
        .collect();
    if literals.is_empty() {
        return None;
    }
    Some(format!(
        "import base64\n\
         trusted = getattr(getattr(renpy, 'savetoken', None), 'verifying_keys', None)\n\
         if trusted is not None:\n    \
             for key in ({},):\n        \
                 key = base64.b64decode(key)\n        \
                 if key not in trusted:\n            \
                     trusted.append(key)\n",
        literals.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> String {
        STANDARD.encode([fill; 91])
    }

    #[test]
    fn the_key_file_is_in_renpys_tokens_folder() {
        assert_eq!(key_file().as_str(), "tokens/security_keys.txt");
    }

    #[test]
    fn the_trust_script_adds_each_valid_key_unless_present() {
        let script = renpy_trust_script(&[key(1), key(2)]).expect("two keys");
        let expected = [
            "import base64".to_owned(),
            "trusted = getattr(getattr(renpy, 'savetoken', None), 'verifying_keys', None)".into(),
            "if trusted is not None:".into(),
            format!("    for key in ('{}', '{}',):", key(1), key(2)),
            "        key = base64.b64decode(key)".into(),
            "        if key not in trusted:".into(),
            "            trusted.append(key)".into(),
        ];
        assert_eq!(script, expected.join("\n") + "\n");
    }

    #[test]
    fn the_trust_script_never_carries_an_invalid_key() {
        let attacks = [
            "'); import os; os.remove('x'); ('".to_owned(),
            format!("{}\nsigning-key x y", key(1)),
            format!("{} ", key(1)),
            "not base64!".to_owned(),
            STANDARD.encode([7u8; 8]),
        ];
        assert_eq!(renpy_trust_script(&attacks), None);
        let mixed = renpy_trust_script(&[attacks[0].clone(), key(3), attacks[1].clone()]);
        assert_eq!(mixed, renpy_trust_script(&[key(3)]), "only the valid key");
    }
}

//! Save-token trust between a player's computers, over HTTP and the tokens folder (the
//! rules are `sync_core::client::savetokens`): publish this computer's public keys, learn
//! the account's other devices' keys, append them to `security_keys.txt`. Used by the CLI
//! before every sync and by the Python module before its syncs download anything.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sync_core::client::savetokens::{KEY_FILE, own_public_keys, peer_keys, to_append};
use sync_core::protocol::DeviceKeys;
use sync_core::transport::TransportError;

use crate::http::HttpTransport;

/// What one exchange did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyExchange {
    /// This computer's keys, as published.
    pub own: Vec<String>,
    /// Every key of the account's other devices (for a running game to trust in memory).
    pub peers: Vec<String>,
    /// The keys newly appended to the key file.
    pub added: Vec<String>,
}

/// Why an exchange failed; syncing goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyExchangeError {
    #[error("device keys: {0}")]
    Transport(#[from] TransportError),
    #[error("device keys: cannot {what} {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("device keys: not signed in")]
    NotSignedIn,
}

/// Runs one exchange. `Ok(None)` when there is nothing to exchange: no key file yet (Ren'Py
/// 8.0, or a game that never ran here) or no `signing-key` in it. Never creates the file.
pub fn exchange(
    transport: &HttpTransport,
    tokens_dir: &Path,
) -> Result<Option<KeyExchange>, KeyExchangeError> {
    let file = tokens_dir.join(KEY_FILE);
    let Some(text) = read(&file)? else {
        return Ok(None);
    };
    let own = own_public_keys(&text);
    if own.is_empty() {
        return Ok(None);
    }
    let session = transport.session().ok_or(KeyExchangeError::NotSignedIn)?;
    transport.put_device_keys(&DeviceKeys { keys: own.clone() })?;
    let devices = transport.devices()?;
    let peers = peer_keys(&devices, &session.device_id, &own);
    // Read again right before appending: Ren'Py (a trust prompt) may have added lines.
    let added = match read(&file)?.and_then(|now| to_append(&now, &peers)) {
        Some(appendix) => {
            append(&file, &appendix.text)?;
            appendix.added
        }
        None => Vec::new(),
    };
    Ok(Some(KeyExchange { own, peers, added }))
}

fn read(file: &Path) -> Result<Option<String>, KeyExchangeError> {
    match fs::read_to_string(file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error("read", file, &e)),
    }
}

/// Appends like Ren'Py does: a reader sees whole old lines plus whole or partial new ones.
fn append(file: &PathBuf, text: &str) -> Result<(), KeyExchangeError> {
    let mut f = OpenOptions::new()
        .append(true)
        .open(file)
        .map_err(|e| file_error("open", file, &e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| file_error("write", file, &e))
}

fn file_error(what: &'static str, path: &Path, e: &io::Error) -> KeyExchangeError {
    KeyExchangeError::File {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

//! Ren'Py `.save` metadata: the `json` member and the `screenshot.png` of a save zip.
//!
//! A save is a ZIP_DEFLATED archive written by Python's `zipfile` (`loadsave.py`
//! `SaveRecord.write_file`) with the members `screenshot.png` (optional), `extra_info`
//! (the save name, UTF-8), `json`, `renpy_version`, `log` (a pickle) and `signatures`.
//! [`read_save`] and [`read_save_meta`] parse it in place from the given bytes with a small
//! built-in zip reader (no copy of the archive; stored members are borrowed) and read only
//! the members they need, each capped in size and CRC-checked. Malformed input of any kind
//! gives a [`SaveReadError`], never a panic.
//!
//! What is read, following Ren'Py's own `FileLocation.json` (`savelocation.py`):
//! - the `json` member when present; its `_save_name`, `_ctime`, `_game_runtime`,
//!   `_version`, `_renpy_version` fill the typed fields, every other key goes to
//!   [`SaveMeta::extra`] unchanged. Types are read leniently: numbers may be ints or floats,
//!   `null` counts as absent, and a recognised key with an unexpected type (say a numeric
//!   `_version`) is kept, unchanged, in `extra` instead of failing the read;
//! - without a `json` member (saves from Ren'Py versions before it existed), only
//!   `extra_info`, as the save name; neither member is [`SaveReadError::NoMetadata`];
//! - `has_screenshot` is whether a `screenshot.png` member exists. A legacy
//!   `screenshot.tga` (Ren'Py 6.x) does not count: nothing here can show a TGA.
//!
//! Unlike Ren'Py, a `json` member that is present but unreadable is an error
//! ([`SaveReadError::BadJson`]) rather than a silent fallback to `extra_info`. This includes
//! JSON Python can write but standard JSON forbids (`NaN`, `Infinity` from a
//! save_json_callback).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::path::SavePath;

mod zip;

/// Largest accepted `json` or `extra_info` member, inflated.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Largest accepted `screenshot.png` member, inflated.
pub const MAX_SCREENSHOT_BYTES: usize = 16 * 1024 * 1024;

/// What Ren'Py's load screen shows about a save, from the zip's `json` member
/// (`loadsave.py` `SaveRecord`): `_save_name`, `_ctime`, `_game_runtime`, `_version`,
/// `_renpy_version`, plus any keys added by `config.save_json_callbacks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SaveMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_name: Option<String>,
    /// `_ctime`: Unix seconds when the save was made (the save's own clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<f64>,
    /// `_game_runtime`: seconds of play.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game_runtime: Option<f64>,
    /// `_version`: the game's `config.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `_renpy_version`: Ren'Py's version tuple, e.g. `[8, 3, 7, 25031702]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renpy_version: Option<Vec<i64>>,
    /// Every other key of the `json` member, unchanged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The zip holds a `screenshot.png`.
    #[serde(default)]
    pub has_screenshot: bool,
}

/// A save's metadata and its screenshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveInfo {
    pub meta: SaveMeta,
    /// The `screenshot.png` member's bytes (a PNG file), if the save has one.
    pub screenshot: Option<Vec<u8>>,
}

/// Why a save's metadata could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveReadError {
    #[error("not a zip archive, so not a Ren'Py save")]
    NotAZip,
    #[error("corrupt save zip: {0}")]
    Corrupt(String),
    #[error("the save zip uses an unsupported feature: {0}")]
    Unsupported(String),
    #[error("the save has neither a json nor an extra_info member")]
    NoMetadata,
    #[error("the save's json member is not a JSON object: {0}")]
    BadJson(String),
    #[error(
        "a save member is too large (json/extra_info over {MAX_JSON_BYTES} bytes or screenshot over {MAX_SCREENSHOT_BYTES})"
    )]
    TooLarge,
}

/// Reads a save's metadata and the bytes of its `screenshot.png`.
///
/// Also fails when the screenshot member is damaged, which [`read_save_meta`] does not
/// look at.
pub fn read_save(bytes: &[u8]) -> Result<SaveInfo, SaveReadError> {
    let archive = zip::Archive::parse(bytes)?;
    let meta = meta_of(&archive)?;
    let screenshot = archive
        .find(SCREENSHOT_PNG)
        .map(|entry| archive.read(entry, MAX_SCREENSHOT_BYTES))
        .transpose()?
        .map(|png| png.into_owned());
    Ok(SaveInfo { meta, screenshot })
}

/// Reads a save's metadata only; the screenshot is never inflated (`has_screenshot`
/// only says that the member exists).
pub fn read_save_meta(bytes: &[u8]) -> Result<SaveMeta, SaveReadError> {
    meta_of(&zip::Archive::parse(bytes)?)
}

/// Whether `path` names a Ren'Py save slot file (its file name ends with `.save`), in any
/// folder. Whether it syncs is [`crate::rules::SyncRules`]' business.
pub fn is_save_file(path: &SavePath) -> bool {
    path.file_name().ends_with(".save")
}

const SCREENSHOT_PNG: &str = "screenshot.png";

fn meta_of(archive: &zip::Archive<'_>) -> Result<SaveMeta, SaveReadError> {
    let mut meta = if let Some(json) = archive.find("json") {
        meta_from_json(&archive.read(json, MAX_JSON_BYTES)?)?
    } else if let Some(extra_info) = archive.find("extra_info") {
        let name = archive.read(extra_info, MAX_JSON_BYTES)?;
        let name = String::from_utf8(name.into_owned())
            .map_err(|_| SaveReadError::Corrupt("extra_info is not UTF-8".to_owned()))?;
        SaveMeta {
            save_name: Some(name),
            ..SaveMeta::default()
        }
    } else {
        return Err(SaveReadError::NoMetadata);
    };
    meta.has_screenshot = archive.find(SCREENSHOT_PNG).is_some();
    Ok(meta)
}

/// The typed fields from the `json` object; everything not taken stays in `extra`.
fn meta_from_json(bytes: &[u8]) -> Result<SaveMeta, SaveReadError> {
    let mut map: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| SaveReadError::BadJson(e.to_string()))?;
    let save_name = take(&mut map, "_save_name", |v| v.as_str().map(str::to_owned));
    let ctime = take(&mut map, "_ctime", Value::as_f64);
    let game_runtime = take(&mut map, "_game_runtime", Value::as_f64);
    let version = take(&mut map, "_version", |v| v.as_str().map(str::to_owned));
    let renpy_version = take(&mut map, "_renpy_version", |v| {
        v.as_array()?.iter().map(Value::as_i64).collect()
    });
    Ok(SaveMeta {
        save_name,
        ctime,
        game_runtime,
        version,
        renpy_version,
        extra: map.into_iter().collect(),
        has_screenshot: false,
    })
}

/// Removes `key` from `map` if it converts (or is `null`, which means absent); a value
/// of an unexpected type stays in `map`, so it is kept in `extra` rather than lost.
fn take<T>(
    map: &mut Map<String, Value>,
    key: &str,
    convert: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    let value = map.get(key)?;
    if value.is_null() {
        map.remove(key);
        return None;
    }
    let converted = convert(value)?;
    map.remove(key);
    Some(converted)
}

#[cfg(test)]
mod tests;

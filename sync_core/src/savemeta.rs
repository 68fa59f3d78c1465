//! Ren'Py `.save` metadata: the `json` member and the `screenshot.png` of a save zip.
//!
//! The types are defined here; `read_save` parses a save's bytes (see its docs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// Temporary (replaced on branch `meta`).
pub fn read_save_meta(_bytes: &[u8]) -> Result<SaveMeta, String> {
    Err("unimplemented".into())
}

/// A path that names a Ren'Py save slot.
pub fn is_save_file(path: &crate::path::SavePath) -> bool {
    path.as_str().ends_with(".save")
}

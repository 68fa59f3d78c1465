//! Temporary minimal rules (replaced by the full glob rules on branch `meta`).
use crate::path::SavePath;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncRules;

impl SyncRules {
    pub fn renpy_default() -> Self {
        Self
    }
    pub fn is_synced(&self, path: &SavePath) -> bool {
        let p = path.as_str();
        !p.contains('/') && (p.ends_with(".save") || p == "persistent")
    }
}

//! Conflict policies: who keeps a file's path when both sides changed it since the base,
//! and where the other side is kept. Under every policy the losing content survives: on
//! the server as a history version, and under `keep-both` also locally as a copy Ren'Py
//! lists on its load screen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::path::SavePath;
use crate::savemeta::SaveMeta;

/// How the engine settles a conflict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The local save keeps its slot; the other device's save is written to a free slot on
    /// the conflict page (see [`ConflictCopies`]). Nothing is overwritten.
    #[default]
    KeepBoth,
    /// The save made later by its own `_ctime` wins; equal or unknown: the one reaching the
    /// server last (the local one) wins.
    Newest,
    /// The save with more `_game_runtime` wins; equal or unknown: as `Newest`.
    MostProgress,
    /// The local save wins.
    Local,
    /// The server's save wins.
    Remote,
    /// Nothing happens until the player decides ([`Resolution`]).
    Manual,
}

impl ConflictPolicy {
    pub const ALL: [ConflictPolicy; 6] = [
        Self::KeepBoth,
        Self::Newest,
        Self::MostProgress,
        Self::Local,
        Self::Remote,
        Self::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeepBoth => "keep-both",
            Self::Newest => "newest",
            Self::MostProgress => "most-progress",
            Self::Local => "local",
            Self::Remote => "remote",
            Self::Manual => "manual",
        }
    }
}

impl fmt::Display for ConflictPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown policy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown conflict policy {0:?} (expected keep-both, newest, most-progress, local, remote or manual)"
)]
pub struct UnknownPolicy(pub String);

impl FromStr for ConflictPolicy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPolicy(s.to_owned()))
    }
}

/// A player's decision for a conflict left by [`ConflictPolicy::Manual`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    KeepLocal,
    KeepRemote,
    KeepBoth,
}

impl FromStr for Resolution {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" | "keep-local" => Ok(Self::KeepLocal),
            "remote" | "keep-remote" => Ok(Self::KeepRemote),
            "both" | "keep-both" => Ok(Self::KeepBoth),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// Which side keeps the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Local,
    Remote,
}

/// What to do with a conflict, decided from the policy (or a player's resolution) and the
/// two sides' save metadata. Never looks at file or server clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// `winner` keeps the path; the loser goes to server history (local loser: archived).
    Winner(Side),
    /// Local keeps the path, the remote content is also written to a conflict copy.
    KeepBoth,
    /// Wait for the player.
    Wait,
    /// A file the game merges itself (`persistent`): upload the local content and deliver
    /// the remote one for merging. Chosen by the planner, never by a policy.
    Merge,
}

/// Settles a conflict between a local and a remote save.
pub fn settle(
    policy: ConflictPolicy,
    decision: Option<Resolution>,
    local: Option<&SaveMeta>,
    remote: Option<&SaveMeta>,
) -> Settlement {
    match decision {
        Some(Resolution::KeepLocal) => return Settlement::Winner(Side::Local),
        Some(Resolution::KeepRemote) => return Settlement::Winner(Side::Remote),
        Some(Resolution::KeepBoth) => return Settlement::KeepBoth,
        None => {}
    }
    let newest = || match (local.and_then(|m| m.ctime), remote.and_then(|m| m.ctime)) {
        (Some(l), Some(r)) if r > l => Side::Remote,
        (None, Some(_)) => Side::Remote,
        _ => Side::Local,
    };
    match policy {
        ConflictPolicy::KeepBoth => Settlement::KeepBoth,
        ConflictPolicy::Local => Settlement::Winner(Side::Local),
        ConflictPolicy::Remote => Settlement::Winner(Side::Remote),
        ConflictPolicy::Manual => Settlement::Wait,
        ConflictPolicy::Newest => Settlement::Winner(newest()),
        ConflictPolicy::MostProgress => {
            let l = local.and_then(|m| m.game_runtime);
            let r = remote.and_then(|m| m.game_runtime);
            Settlement::Winner(match (l, r) {
                (Some(l), Some(r)) if l > r => Side::Local,
                (Some(l), Some(r)) if r > l => Side::Remote,
                (Some(_), None) => Side::Local,
                (None, Some(_)) => Side::Remote,
                _ => newest(),
            })
        }
    }
}

/// Where conflict copies go so Ren'Py shows them.
///
/// A `.save` copy becomes a slot `<page>-<n>-LT1.save` on a dedicated page (default 10: one
/// click on "next page" after the default screens' page buttons 1-9), filling `slots_per_page`
/// slots (default 6, the default screens' 3x2 grid) before moving to the next page.
/// Any other file gets ` (conflict n)` before its extension. (`persistent` is never copied:
/// it is merged, see [`Settlement::Merge`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictCopies {
    pub first_page: u32,
    pub slots_per_page: u32,
}

impl Default for ConflictCopies {
    fn default() -> Self {
        Self {
            first_page: 10,
            slots_per_page: 6,
        }
    }
}

/// Ren'Py's `savegame_suffix`.
const SAVE_SUFFIX: &str = "-LT1.save";

impl ConflictCopies {
    /// A free path for a copy of `path`; `taken` says which paths are in use.
    pub fn copy_path(
        &self,
        path: &SavePath,
        taken: &dyn Fn(&SavePath) -> bool,
    ) -> Option<SavePath> {
        let per_page = self.slots_per_page.max(1);
        (0..10_000u32)
            .filter_map(|i| {
                let candidate = if path.as_str().ends_with(".save") {
                    let page = self.first_page + i / per_page;
                    format!("{page}-{}{SAVE_SUFFIX}", i % per_page + 1)
                } else {
                    let raw = path.as_str();
                    let (stem, ext) = match raw.rfind('.') {
                        Some(dot) if dot > raw.rfind('/').map_or(0, |s| s + 1) => raw.split_at(dot),
                        _ => (raw, ""),
                    };
                    format!("{stem} (conflict {}){ext}", i + 1)
                };
                SavePath::new(&candidate).ok()
            })
            .find(|p| p != path && !taken(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ctime: Option<f64>, runtime: Option<f64>) -> SaveMeta {
        SaveMeta {
            ctime,
            game_runtime: runtime,
            ..SaveMeta::default()
        }
    }

    #[test]
    fn policy_names_round_trip() {
        for p in ConflictPolicy::ALL {
            assert_eq!(p.as_str().parse::<ConflictPolicy>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).ok(), Some(format!("\"{p}\"")));
        }
        assert!("newer".parse::<ConflictPolicy>().is_err());
    }

    #[test]
    fn settle_uses_save_metadata_not_clocks() {
        let old = meta(Some(100.0), Some(50.0));
        let new = meta(Some(200.0), Some(10.0));
        use ConflictPolicy::*;
        assert_eq!(
            settle(Newest, None, Some(&old), Some(&new)),
            Settlement::Winner(Side::Remote)
        );
        assert_eq!(
            settle(Newest, None, Some(&new), Some(&old)),
            Settlement::Winner(Side::Local)
        );
        assert_eq!(
            settle(Newest, None, None, None),
            Settlement::Winner(Side::Local)
        );
        assert_eq!(
            settle(MostProgress, None, Some(&old), Some(&new)),
            Settlement::Winner(Side::Local)
        );
        assert_eq!(
            settle(
                MostProgress,
                None,
                Some(&meta(Some(1.0), None)),
                Some(&meta(Some(2.0), None))
            ),
            Settlement::Winner(Side::Remote)
        );
        assert_eq!(settle(KeepBoth, None, None, None), Settlement::KeepBoth);
        assert_eq!(settle(Manual, None, None, None), Settlement::Wait);
        assert_eq!(
            settle(Manual, Some(Resolution::KeepRemote), None, None),
            Settlement::Winner(Side::Remote)
        );
    }

    #[test]
    fn conflict_copies_fill_a_dedicated_page() {
        let c = ConflictCopies::default();
        let p = |s: &str| SavePath::new(s).expect("valid");
        let taken = |x: &SavePath| ["10-1-LT1.save", "10-2-LT1.save"].contains(&x.as_str());
        assert_eq!(
            c.copy_path(&p("1-1-LT1.save"), &taken),
            Some(p("10-3-LT1.save"))
        );
        let all_page_10 = |x: &SavePath| x.as_str().starts_with("10-");
        assert_eq!(
            c.copy_path(&p("1-1-LT1.save"), &all_page_10),
            Some(p("11-1-LT1.save"))
        );
        assert_eq!(
            c.copy_path(&p("notes/a.txt"), &|_| false),
            Some(p("notes/a (conflict 1).txt"))
        );
        assert_eq!(
            c.copy_path(&p("README"), &|_| false),
            Some(p("README (conflict 1)"))
        );
    }
}

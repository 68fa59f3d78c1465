//! Validated identifiers that cross trust boundaries: relative save paths and game ids.
//!
//! A [`SavePath`] is always relative, `/`-separated and free of anything a file system or
//! an object store could interpret specially, so a path from the network can never escape
//! a save folder or another game's prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted file or folder name, in bytes (the common file-system limit).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest accepted whole path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted game id, in bytes.
pub const MAX_GAME_ID_BYTES: usize = 64;

/// Why a path or game id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path must be relative, not start with '/'")]
    Absolute,
    #[error("path has an empty segment ('//' or a trailing '/')")]
    EmptySegment,
    #[error("path segment '.' or '..' is not allowed")]
    DotSegment,
    #[error("backslash is not allowed in a path (use '/')")]
    Backslash,
    #[error("NUL or control character in path")]
    ControlCharacter,
    #[error("a path segment is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("a Windows drive prefix (like 'C:') is not allowed")]
    DrivePrefix,
}

/// A validated, relative, `/`-separated path inside a game's save folder.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SavePath(String);

impl SavePath {
    /// Validates `raw` as a save path.
    pub fn new(raw: &str) -> Result<Self, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if raw.starts_with('/') {
            return Err(PathError::Absolute);
        }
        if raw.contains('\\') {
            return Err(PathError::Backslash);
        }
        if raw.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        let first = raw.split('/').next().unwrap_or_default();
        if first.len() == 2 && first.ends_with(':') {
            return Err(PathError::DrivePrefix);
        }
        for segment in raw.split('/') {
            if segment.is_empty() {
                return Err(PathError::EmptySegment);
            }
            if segment == "." || segment == ".." {
                return Err(PathError::DotSegment);
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(PathError::SegmentTooLong);
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Segments from the root.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl FromStr for SavePath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for SavePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SavePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for SavePath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SavePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(|e| serde::de::Error::custom(format!("invalid save path: {e}")))
    }
}

/// Why a game id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "game id must be 1-{MAX_GAME_ID_BYTES} characters of A-Z a-z 0-9 . _ - and not start with '.'"
)]
pub struct BadGameId;

/// A game's identifier (typically its Ren'Py `config.save_directory`, e.g. `MyGame-1700000000`).
/// Safe to use as a file name, an S3 key segment and a DynamoDB key part.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GameId(String);

impl GameId {
    pub fn new(raw: &str) -> Result<Self, BadGameId> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_GAME_ID_BYTES
            && !raw.starts_with('.')
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadGameId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GameId {
    type Err = BadGameId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for GameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for GameId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GameId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_renpy_names() {
        for ok in [
            "1-1-LT1.save",
            "auto-3-LT1.save",
            "persistent",
            "sync/persistent",
            "a b.save",
        ] {
            assert_eq!(SavePath::new(ok).map(|p| p.to_string()), Ok(ok.to_owned()));
        }
        assert_eq!(
            SavePath::new("sync/persistent").map(|p| p.file_name().to_owned()),
            Ok("persistent".into())
        );
    }

    #[test]
    fn rejects_every_bad_class() {
        let long = "x".repeat(256);
        let cases: [(&str, PathError); 11] = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("a//b", PathError::EmptySegment),
            ("a/", PathError::EmptySegment),
            ("../x", PathError::DotSegment),
            ("a/./b", PathError::DotSegment),
            ("a\\b", PathError::Backslash),
            ("a\0b", PathError::ControlCharacter),
            ("a\nb", PathError::ControlCharacter),
            (long.as_str(), PathError::SegmentTooLong),
            ("C:/x", PathError::DrivePrefix),
        ];
        for (raw, want) in cases {
            assert_eq!(SavePath::new(raw), Err(want), "{raw:?}");
        }
        assert_eq!(SavePath::new(&"a/".repeat(600)), Err(PathError::TooLong));
        assert!(serde_json::from_str::<SavePath>("\"../x\"").is_err());
    }

    #[test]
    fn game_ids() {
        assert!(GameId::new("MyGame-1700000000").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65), "é"] {
            assert_eq!(GameId::new(bad), Err(BadGameId), "{bad:?}");
        }
    }
}

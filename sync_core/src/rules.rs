//! Which files of a Ren'Py save folder sync.
//!
//! [`SyncRules::renpy_default`] syncs what Ren'Py itself treats as save data: every
//! top-level `*.save` slot (`1-1-LT1.save`, `auto-3-LT1.save`, `quick-1-LT1.save`,
//! `_reload-1-LT1.save`, ...) and the top-level `persistent` file. Nothing else syncs:
//! not Ren'Py's half-written files (`1-1-LT1.save.new`, `persistent.new`, `*.tmp`), not
//! backups, not anything in a subfolder (`sync/`, `tokens/`, ...).
//!
//! A game can add include and exclude globs; excludes always win over includes.
//!
//! # Glob syntax
//! Patterns are matched against the **whole** relative path (anchored, like a gitignore
//! pattern that contains a `/`), so `*.save` matches `1-1-LT1.save` but not
//! `sync/1-1-LT1.save`; write `**/*.save` for any depth.
//! - `*` matches any run of characters (possibly empty) except `/`;
//! - `?` matches exactly one character except `/`;
//! - `**` as a whole segment matches zero or more whole segments (`**/x` matches `x`
//!   and `a/b/x`); a trailing `/**` matches one or more (`dir/**` is everything inside
//!   `dir`, not a file named `dir`), and `**` alone matches every path;
//! - every other character is literal; matching is case-sensitive (Ren'Py writes its
//!   file names in one fixed case).
//!
//! Refused, with a [`GlobError`] naming the pattern: empty or over
//! [`MAX_GLOB_BYTES`] patterns, a leading `/`, backslashes, `.`/`..` and empty
//! segments, control characters, `**` glued to other characters (`a**`), and the
//! gitignore syntax this matcher does not implement (`[...]`, `{...}`, a leading `!`) —
//! refusing it beats silently matching something else.

use crate::path::SavePath;

/// Longest accepted glob pattern, in bytes.
pub const MAX_GLOB_BYTES: usize = 256;

/// Why a glob pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobErrorReason {
    #[error("the pattern is empty")]
    Empty,
    #[error("the pattern is longer than {MAX_GLOB_BYTES} bytes")]
    TooLong,
    #[error("the pattern must be relative to the save folder, not start with '/'")]
    Absolute,
    #[error("backslash is not allowed (use '/' between folders)")]
    Backslash,
    #[error("'.' and '..' segments are not allowed")]
    DotSegment,
    #[error("the pattern has an empty segment ('//' or a trailing '/')")]
    EmptySegment,
    #[error("NUL or control character in the pattern")]
    ControlCharacter,
    #[error("'**' must be a whole segment, like 'a/**/b'")]
    DoubleStarInSegment,
    #[error("{0:?} is not supported glob syntax (only '*', '?' and '**')")]
    Unsupported(char),
}

/// A refused glob pattern and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sync glob {pattern:?}: {reason}")]
pub struct GlobError {
    /// The pattern as given.
    pub pattern: String,
    pub reason: GlobErrorReason,
}

/// Which paths of a save folder sync: included by some include glob and by no exclude glob.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRules {
    includes: Vec<Glob>,
    excludes: Vec<Glob>,
}

impl SyncRules {
    /// Ren'Py's save data: top-level `*.save` slots and the top-level `persistent`.
    pub fn renpy_default() -> Self {
        let include = |pattern| Glob::parse(pattern).expect("built-in pattern is valid");
        Self {
            includes: vec![include("*.save"), include(PERSISTENT)],
            excludes: Vec::new(),
        }
    }

    /// Also syncs paths matching `glob` (unless an exclude matches them).
    pub fn with_include(mut self, glob: &str) -> Result<Self, GlobError> {
        self.includes.push(Glob::parse(glob)?);
        Ok(self)
    }

    /// Never syncs paths matching `glob`, even if an include matches them.
    pub fn with_exclude(mut self, glob: &str) -> Result<Self, GlobError> {
        self.excludes.push(Glob::parse(glob)?);
        Ok(self)
    }

    /// Whether `path` syncs: some include matches it and no exclude does.
    pub fn is_synced(&self, path: &SavePath) -> bool {
        let segments: Vec<&str> = path.segments().collect();
        self.includes.iter().any(|g| g.matches(&segments))
            && !self.excludes.iter().any(|g| g.matches(&segments))
    }
}

/// Whether the game merges `path` itself rather than replacing it: Ren'Py merges
/// `persistent` field by field (newest change per field wins, `register_persistent`
/// functions apply) from every save location. Such a file is never a conflict and a remote
/// copy never replaces the local one: it is delivered for the game to merge
/// ([`crate::store::SaveStore::deliver_for_merge`]).
pub fn is_merged(path: &SavePath) -> bool {
    path.as_str() == PERSISTENT
}

/// Ren'Py's persistent data file, at the top of the save folder.
pub const PERSISTENT: &str = "persistent";

impl Default for SyncRules {
    fn default() -> Self {
        Self::renpy_default()
    }
}

/// One element of a segment pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character.
    One,
    /// `*`: any run of characters.
    Any,
}

/// One `/`-separated part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// `**`: zero or more whole segments.
    AnySegments,
    /// Matches exactly one segment.
    Segment(Vec<Token>),
}

/// A validated, compiled glob; keeps its source text for `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    pattern: String,
    parts: Vec<Part>,
}

impl Glob {
    fn parse(pattern: &str) -> Result<Self, GlobError> {
        let refuse = |reason| GlobError {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.is_empty() {
            return Err(refuse(GlobErrorReason::Empty));
        }
        if pattern.len() > MAX_GLOB_BYTES {
            return Err(refuse(GlobErrorReason::TooLong));
        }
        if pattern.starts_with('/') {
            return Err(refuse(GlobErrorReason::Absolute));
        }
        if pattern.starts_with('!') {
            return Err(refuse(GlobErrorReason::Unsupported('!')));
        }
        if pattern.chars().any(char::is_control) {
            return Err(refuse(GlobErrorReason::ControlCharacter));
        }
        if pattern.contains('\\') {
            return Err(refuse(GlobErrorReason::Backslash));
        }
        if let Some(c) = pattern.chars().find(|c| matches!(c, '[' | ']' | '{' | '}')) {
            return Err(refuse(GlobErrorReason::Unsupported(c)));
        }
        let mut parts = Vec::new();
        for segment in pattern.split('/') {
            let part = match segment {
                "" => return Err(refuse(GlobErrorReason::EmptySegment)),
                "." | ".." => return Err(refuse(GlobErrorReason::DotSegment)),
                "**" => Part::AnySegments,
                s if s.contains("**") => {
                    return Err(refuse(GlobErrorReason::DoubleStarInSegment));
                }
                s => Part::Segment(
                    s.chars()
                        .map(|c| match c {
                            '*' => Token::Any,
                            '?' => Token::One,
                            c => Token::Literal(c),
                        })
                        .collect(),
                ),
            };
            parts.push(part);
        }
        // A trailing `**` needs at least one segment (gitignore's `dir/**`): compile it
        // as "one segment" followed by "zero or more".
        if parts.last() == Some(&Part::AnySegments) {
            parts.pop();
            parts.push(Part::Segment(vec![Token::Any]));
            parts.push(Part::AnySegments);
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            parts,
        })
    }

    /// Whole-path match: `**` is a wildcard over segments exactly as `*` is over the
    /// characters of a segment, so both levels share [`wildcard_match`].
    fn matches(&self, segments: &[&str]) -> bool {
        wildcard_match(
            &self.parts,
            segments,
            |part| *part == Part::AnySegments,
            |part, segment| match part {
                Part::AnySegments => true,
                Part::Segment(tokens) => segment_matches(tokens, segment),
            },
        )
    }
}

/// One segment pattern against one path segment (which never contains `/`).
fn segment_matches(tokens: &[Token], segment: &str) -> bool {
    let chars: Vec<char> = segment.chars().collect();
    wildcard_match(
        tokens,
        &chars,
        |token| *token == Token::Any,
        |token, c| match token {
            Token::Any | Token::One => true,
            Token::Literal(l) => l == c,
        },
    )
}

/// The classic linear-backtracking wildcard match of `pattern` against all of `items`.
///
/// A star element matches any run of items (possibly empty); any other element matches
/// exactly one item for which `matches_one` holds. Only the latest star is ever
/// retried, which is exact when stars match any run, so the loop takes at most about
/// `items.len() * pattern.len()` steps — no exponential blow-up on `*a*a*a*b`.
fn wildcard_match<P, I>(
    pattern: &[P],
    items: &[I],
    is_star: impl Fn(&P) -> bool,
    matches_one: impl Fn(&P, &I) -> bool,
) -> bool {
    let (mut p, mut i) = (0, 0);
    // The last star seen, and the item index where its current attempt ends.
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(item) = items.get(i) {
        match pattern.get(p) {
            Some(element) if is_star(element) => {
                backtrack = Some((p, i));
                p += 1;
                continue;
            }
            Some(element) if matches_one(element, item) => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            // Let the last star swallow one more item and retry after it.
            Some((star, end)) => {
                backtrack = Some((star, end + 1));
                p = star + 1;
                i = end + 1;
            }
            None => return false,
        }
    }
    // All items consumed: only stars may remain in the pattern.
    pattern.get(p..).unwrap_or_default().iter().all(is_star)
}

#[cfg(test)]
mod tests;

//! [`FsSaveStore`]: a game's save folder on the local file system, plus the engine's state
//! file kept outside that folder.
//!
//! Every replacement is atomic: bytes go to a temporary file in the target's own directory,
//! which gets the final modification time, is flushed to disk, then renamed over the target.
//! A game reading the folder sees the old save or the new one, never half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sync_core::SavePath;
use sync_core::locations::SaveMirror;
use sync_core::protocol::UnixMillis;
use sync_core::store::{Expect, LocalFile, SaveStore, StoreError, StoreErrorKind};

/// Marker in the names of our temporary files: `.<name>.renpy-cloud-tmp-<random>`.
/// Such names start with a dot and never end in `.save`, so sync rules never pick them up;
/// [`FsSaveStore::list`] leaves them out anyway.
pub const TEMP_MARKER: &str = ".renpy-cloud-tmp-";

/// A temporary file older than this was left by a crashed run and is removed by `list`.
const STALE_TEMP_AGE: Duration = Duration::from_secs(15 * 60);

/// A save folder and the state file of one (server, game, folder) sync.
#[derive(Debug, Clone)]
pub struct FsSaveStore {
    save_dir: PathBuf,
    state_file: PathBuf,
}

impl FsSaveStore {
    /// `state_file` must lie outside `save_dir`; state calls fail otherwise.
    pub fn new(save_dir: PathBuf, state_file: PathBuf) -> Self {
        Self {
            save_dir,
            state_file,
        }
    }

    /// The synced folder.
    pub fn save_dir(&self) -> &Path {
        &self.save_dir
    }

    /// Where the engine state is kept.
    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    fn full_path(&self, path: &SavePath) -> PathBuf {
        let mut full = self.save_dir.clone();
        full.extend(path.segments());
        full
    }

    /// Refuses a state file inside the save folder: it would be synced to other devices.
    fn check_state_outside(&self) -> Result<(), StoreError> {
        let dir = absolute_clean(&self.save_dir)?;
        let state = absolute_clean(&self.state_file)?;
        if state.starts_with(&dir) {
            return Err(StoreError::io(format!(
                "the state file {} must not be inside the save folder {}",
                self.state_file.display(),
                self.save_dir.display()
            )));
        }
        Ok(())
    }

    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<LocalFile>) -> Result<(), StoreError> {
        let entries = fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("cannot list", dir, &e))?;
            // `file_type` does not follow symlinks: links are skipped, never followed out of
            // the folder.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue; // not UTF-8: cannot be a SavePath
            };
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if kind.is_dir() {
                self.walk(&entry.path(), &rel, out)?;
            } else if kind.is_file() {
                if name.contains(TEMP_MARKER) {
                    remove_if_stale(&entry.path());
                    continue;
                }
                let Ok(path) = SavePath::new(&rel) else {
                    continue;
                };
                match entry.metadata() {
                    Ok(meta) => out.push(LocalFile {
                        path,
                        size: meta.len(),
                        mtime: mtime_millis(&meta),
                    }),
                    // Deleted between readdir and stat: it simply is not there.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error("cannot stat", &entry.path(), &e)),
                }
            }
        }
        Ok(())
    }
}

impl SaveStore for FsSaveStore {
    async fn list(&self) -> Result<Vec<LocalFile>, StoreError> {
        // A missing folder is an error, not "everything was deleted": an unmounted drive
        // must never turn into remote deletions.
        match fs::metadata(&self.save_dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::io(format!(
                    "{} is not a folder",
                    self.save_dir.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::new(
                    StoreErrorKind::NotFound,
                    format!("save folder {} does not exist", self.save_dir.display()),
                ));
            }
            Err(e) => return Err(io_error("cannot open", &self.save_dir, &e)),
        }
        let mut out = Vec::new();
        self.walk(&self.save_dir, "", &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn read(&self, path: &SavePath) -> Result<Vec<u8>, StoreError> {
        let full = self.full_path(path);
        fs::read(&full).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::not_found(path),
            _ => io_error("cannot read", &full, &e),
        })
    }

    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
        expect: Expect,
    ) -> Result<(), StoreError> {
        let full = self.full_path(path);
        check_expect(&full, path, expect)?;
        let parent = full
            .parent()
            .ok_or_else(|| StoreError::io(format!("{} has no parent folder", full.display())))?;
        fs::create_dir_all(parent).map_err(|e| io_error("cannot create", parent, &e))?;
        let temp = write_temp(&full, bytes, mtime, false)?;
        // Checked again right before the rename: the game may have saved while we wrote.
        let renamed = check_expect(&full, path, expect).and_then(|()| {
            fs::rename(&temp, &full).map_err(|e| io_error("cannot replace", &full, &e))
        });
        if let Err(e) = renamed {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        sync_dir(parent)
    }

    async fn verify(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        check_expect(&self.full_path(path), path, expect)
    }

    async fn delete(&self, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
        let full = self.full_path(path);
        check_expect(&full, path, expect)?;
        match fs::remove_file(&full) {
            Ok(()) => full.parent().map_or(Ok(()), sync_dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot delete", &full, &e)),
        }
    }

    async fn load_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_state_outside()?;
        match fs::read(&self.state_file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &self.state_file, &e)),
        }
    }

    async fn save_state(&self, state: &[u8]) -> Result<(), StoreError> {
        self.check_state_outside()?;
        let parent = self.state_file.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| io_error("cannot create", parent, &e))?;
        atomic_write(&self.state_file, state, false)
    }
}

/// Another folder Ren'Py keeps each save in (`<game>/saves`, `<savedir>/sync`): the engine
/// writes and deletes slots there too (see `sync_core::locations`).
#[derive(Debug, Clone)]
pub struct FsMirror {
    dir: PathBuf,
}

impl FsMirror {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn full_path(&self, path: &SavePath) -> PathBuf {
        let mut full = self.dir.clone();
        full.extend(path.segments());
        full
    }
}

impl SaveMirror for FsMirror {
    async fn write(
        &self,
        path: &SavePath,
        bytes: &[u8],
        mtime: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let full = self.full_path(path);
        let temp = write_temp(&full, bytes, mtime, false)?;
        if let Err(e) = fs::rename(&temp, &full) {
            let _ = fs::remove_file(&temp);
            return Err(io_error("cannot replace", &full, &e));
        }
        sync_dir(&self.dir)
    }

    async fn delete(&self, path: &SavePath) -> Result<(), StoreError> {
        let full = self.full_path(path);
        match fs::remove_file(&full) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot delete", &full, &e)),
        }
    }
}

/// Atomically replaces `target` with `bytes` (temp file in the same folder, fsync, rename,
/// fsync of the folder). With `private`, the file is readable by its owner only (unix 0600)
/// from its creation on: the profile holds refresh tokens.
pub fn atomic_write(target: &Path, bytes: &[u8], private: bool) -> Result<(), StoreError> {
    let temp = write_temp(target, bytes, None, private)?;
    if let Err(e) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(io_error("cannot replace", target, &e));
    }
    target.parent().map_or(Ok(()), sync_dir)
}

/// Writes `bytes` to a fresh temporary sibling of `target`, sets its mtime, flushes it.
fn write_temp(
    target: &Path,
    bytes: &[u8],
    mtime: Option<UnixMillis>,
    private: bool,
) -> Result<PathBuf, StoreError> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::io(format!("{} has no file name", target.display())))?;
    let temp = target.with_file_name(format!(".{name}{TEMP_MARKER}{:016x}", fastrand::u64(..)));
    let result = (|| {
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        if let Some(ms) = mtime {
            // Before the rename, so the final file carries it from its first instant:
            // Ren'Py shows a slot's time from the file's mtime.
            file.set_modified(system_time(ms))?;
        }
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(io_error("cannot write", &temp, &e))
        }
    }
}

fn check_expect(full: &Path, path: &SavePath, expect: Expect) -> Result<(), StoreError> {
    if expect == Expect::Any {
        return Ok(());
    }
    let observed = match fs::symlink_metadata(full) {
        // A folder or a link where a file should be is never "unchanged".
        Ok(meta) if !meta.is_file() => Some((u64::MAX, i64::MIN)),
        Ok(meta) => Some((meta.len(), mtime_millis(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("cannot stat", full, &e)),
    };
    expect.check(path, observed)
}

fn remove_if_stale(temp: &Path) {
    let stale = fs::metadata(temp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_TEMP_AGE);
    if stale {
        let _ = fs::remove_file(temp);
    }
}

/// Flushes a folder's entry list, so a rename survives a power cut (no-op off unix).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    // `Path::parent` of a bare file name is "": the current folder.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("cannot flush", dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A file's modification time in Unix milliseconds (negative before 1970).
pub fn mtime_millis(meta: &fs::Metadata) -> UnixMillis {
    meta.modified()
        .map_or(0, |t| match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        })
}

fn system_time(ms: UnixMillis) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// `path` made absolute and free of `.`/`..` without touching the disk (the state file may
/// not exist yet); symlinks are resolved where the path exists.
fn absolute_clean(path: &Path) -> Result<PathBuf, StoreError> {
    if let Ok(real) = fs::canonicalize(path) {
        return Ok(real);
    }
    // Resolve the deepest existing ancestor, then append the rest lexically.
    let absolute = std::path::absolute(path).map_err(|e| io_error("cannot resolve", path, &e))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while fs::canonicalize(existing).is_err() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            break;
        };
        rest.push(name.to_owned());
        existing = parent;
    }
    let mut out = fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.iter().rev() {
        match Path::new(name).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => out.push(name),
        }
    }
    Ok(out)
}

fn io_error(what: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::io(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_a_bare_file_name_is_the_current_folder() {
        let parent = Path::new("profile.json")
            .parent()
            .unwrap_or(Path::new("/nonexistent"));
        assert_eq!(parent, Path::new(""));
        assert_eq!(sync_dir(parent), Ok(()));
    }
}

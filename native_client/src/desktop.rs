//! A desktop game's saves as Ren'Py keeps them, and the one way the CLI and the Python module
//! open an engine store over them.
//!
//! - the save folder (`config.savedir`, e.g. `~/.renpy/<save_directory>`), which is synced;
//! - Ren'Py's other save locations, kept in step with it: `<game>/saves` when the game
//!   folder is known and `<savedir>/sync` (Ren'Py 8.1+), each only if it exists
//!   (`sync_core::locations`);
//! - the tokens folder with `security_keys.txt` (`<savedir>/../tokens` unless given).

use std::fs;
use std::path::PathBuf;

use sync_core::GameId;
use sync_core::client::savetokens::TOKENS_FOLDER;
use sync_core::locations::{GAME_SAVES_FOLDER, Locations, SYNC_FOLDER};

use crate::fs_store::{FsMirror, FsSaveStore};
use crate::profile::Profile;

/// The store the engine runs on for a desktop game.
pub type DesktopStore = Locations<FsSaveStore, FsMirror>;

/// Where one desktop game keeps its saves on this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopGame {
    /// The synced save folder (`config.savedir`).
    pub save_dir: PathBuf,
    /// The game's `game/` folder (`config.gamedir`): `<game_dir>/saves` is a save location.
    pub game_dir: Option<PathBuf>,
    /// Ren'Py's tokens folder, if not the standard `<save_dir>/../tokens`.
    pub tokens_dir: Option<PathBuf>,
}

impl DesktopGame {
    pub fn new(save_dir: PathBuf) -> Self {
        Self {
            save_dir,
            game_dir: None,
            tokens_dir: None,
        }
    }

    /// The tokens folder: as given, else `tokens` beside the save folder (where Ren'Py's
    /// `path_to_saves(gamedir, "tokens")` puts it on Linux, Windows and macOS).
    pub fn tokens_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.tokens_dir {
            return Some(dir.clone());
        }
        let absolute = std::path::absolute(&self.save_dir).ok()?;
        absolute.parent().map(|p| p.join(TOKENS_FOLDER))
    }

    /// Ren'Py's other save locations that exist now, in Ren'Py's order, never the save
    /// folder itself (a game without `save_directory` saves in `<game>/saves`).
    pub fn mirrors(&self) -> Vec<FsMirror> {
        let own = fs::canonicalize(&self.save_dir).ok();
        let candidates = self
            .game_dir
            .iter()
            .map(|g| g.join(GAME_SAVES_FOLDER))
            .chain([self.save_dir.join(SYNC_FOLDER)]);
        let mut seen: Vec<PathBuf> = own.into_iter().collect();
        let mut out = Vec::new();
        for dir in candidates {
            let Ok(real) = fs::canonicalize(&dir) else {
                continue; // missing: no copies there to shadow anything
            };
            if real.is_dir() && !seen.contains(&real) {
                seen.push(real);
                out.push(FsMirror::new(dir));
            }
        }
        out
    }
}

/// Whether opening may create a missing save folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingDir {
    /// Only before the first sync of this folder (a new device): later, a missing folder
    /// more likely is an unplugged drive or a typo, and must not read as "all deleted".
    CreateOnFirstSync,
    Refuse,
}

/// Why the store could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("save folder {0} does not exist")]
    MissingFolder(String),
    #[error("cannot create {0}")]
    Create(String),
}

/// The engine store for `game` on `server`, with its state file in the profile.
pub fn open_store(
    profile: &Profile,
    server: &str,
    game: &GameId,
    dirs: &DesktopGame,
    missing: MissingDir,
) -> Result<DesktopStore, OpenError> {
    let save_dir = &dirs.save_dir;
    let mut state_file = profile.state_file(server, game, save_dir);
    if !save_dir.is_dir() {
        if missing == MissingDir::Refuse || state_file.exists() {
            return Err(OpenError::MissingFolder(save_dir.display().to_string()));
        }
        fs::create_dir_all(save_dir)
            .map_err(|e| OpenError::Create(format!("{}: {e}", save_dir.display())))?;
        // The state file's key uses the canonical folder, which exists only now.
        state_file = profile.state_file(server, game, save_dir);
    }
    let primary = FsSaveStore::new(save_dir.clone(), state_file);
    Ok(Locations::new(primary, dirs.mirrors()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_the_existing_other_locations_in_renpy_order() {
        let root = tempfile::tempdir().expect("temp");
        let save_dir = root.path().join(".renpy/Game-1");
        let game_dir = root.path().join("Game/game");
        fs::create_dir_all(&save_dir).expect("savedir");
        let mut dirs = DesktopGame::new(save_dir.clone());
        dirs.game_dir = Some(game_dir.clone());
        assert!(dirs.mirrors().is_empty(), "none exists yet");
        fs::create_dir_all(save_dir.join("sync")).expect("sync");
        fs::create_dir_all(game_dir.join("saves")).expect("saves");
        let found: Vec<PathBuf> = dirs
            .mirrors()
            .iter()
            .map(|m| m.dir().to_path_buf())
            .collect();
        assert_eq!(found, [game_dir.join("saves"), save_dir.join("sync")]);
        assert_eq!(dirs.tokens_dir(), Some(root.path().join(".renpy/tokens")));
    }

    #[test]
    fn the_save_folder_itself_is_never_its_own_mirror() {
        let root = tempfile::tempdir().expect("temp");
        let game_dir = root.path().join("game");
        let save_dir = game_dir.join("saves");
        fs::create_dir_all(&save_dir).expect("saves");
        let mut dirs = DesktopGame::new(save_dir);
        dirs.game_dir = Some(game_dir);
        assert!(dirs.mirrors().is_empty());
    }
}

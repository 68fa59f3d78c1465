//! Command-line syntax of `renpy-cloud`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cloud saves for Ren'Py games: sync a game's save folder between devices.
#[derive(Debug, Parser)]
#[command(name = "renpy-cloud", version)]
pub struct Cli {
    /// Server URL, e.g. https://saves.example.com
    #[arg(long, global = true, env = "RENPY_CLOUD_SERVER")]
    pub server: Option<String>,
    /// Profile file with the signed-in sessions [default: <config dir>/renpy-cloud/profile.json]
    #[arg(long, global = true)]
    pub profile: Option<PathBuf>,
    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Name of this device, shown in history and conflicts [default: the host name]
    #[arg(long, global = true)]
    pub device_name: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account and sign this device in
    Signup(CredentialArgs),
    /// Sign this device in
    Login(CredentialArgs),
    /// Without --code: print a code for signing in another device.
    /// With --code: sign this device in with a code from a signed-in device
    Pair {
        #[arg(long)]
        code: Option<String>,
    },
    /// Sync a game's save folder with the server
    Sync(GameArgs),
    /// Local changes and waiting conflicts, without contacting the server
    Status(GameArgs),
    /// Conflicts waiting for a decision, both sides with save name, play time, device and
    /// screenshot (base64 PNG in --json)
    Conflicts(GameArgs),
    /// Stored versions of one file
    History {
        #[command(flatten)]
        game: GameArgs,
        /// File path inside the save folder, e.g. 1-1-LT1.save
        file: String,
    },
    /// Make an old version of a file current again (as a new version), then sync
    Restore {
        #[command(flatten)]
        game: GameArgs,
        file: String,
        #[arg(long)]
        version: u64,
    },
    /// Decide a conflict waiting under --policy manual; applied at the next sync
    Resolve {
        #[command(flatten)]
        game: GameArgs,
        file: String,
        #[arg(long, value_enum)]
        keep: Keep,
    },
    /// The devices signed in to this account
    Devices,
    /// Sign this device out
    Logout,
}

#[derive(Debug, Args)]
pub struct CredentialArgs {
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub password: String,
}

/// Which game, which folder, and how to sync it.
#[derive(Debug, Args)]
pub struct GameArgs {
    /// The game's id (its config.save_directory, e.g. MyGame-1700000000)
    #[arg(long)]
    pub game: String,
    /// The game's save folder on this device
    #[arg(long)]
    pub dir: PathBuf,
    /// The game's `game/` folder: Ren'Py also keeps every save in <GAME_DIR>/saves and
    /// shows the newest copy, so downloads and deletions go there too, and another device's
    /// `persistent` is left there for Ren'Py to merge at its next start (every version)
    #[arg(long)]
    pub game_dir: Option<PathBuf>,
    /// Ren'Py's tokens folder with security_keys.txt [default: <DIR>/../tokens]. When that
    /// file exists, sync trusts the account's other devices' save-token keys there and
    /// publishes this computer's (it never creates the file)
    #[arg(long)]
    pub tokens_dir: Option<PathBuf>,
    /// What to do when both sides changed a file:
    /// keep-both, newest, most-progress, local, remote or manual
    #[arg(long, default_value = "keep-both")]
    pub policy: String,
    /// Also sync files matching this glob (repeatable)
    #[arg(long)]
    pub include: Vec<String>,
    /// Never sync files matching this glob (repeatable)
    #[arg(long)]
    pub exclude: Vec<String>,
}

/// The side a manual decision keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Keep {
    Local,
    Remote,
    Both,
}

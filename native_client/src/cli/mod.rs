//! The `renpy-cloud` command line: parse, run one command, print its result.
//!
//! Exit codes: 0 success, 3 conflicts wait for a manual decision, 1 any error (one line on
//! stderr, or `{"error":{"code","message"}}` on stdout with `--json`).

mod account;
mod args;
mod error;
mod game;
mod output;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

pub use args::{Cli, Command, Keep};
pub use error::CliError;

use sync_core::client::ErrorCode;
use sync_core::client::errors::ErrorClass;

use crate::http::{HttpTransport, Timeouts};
use crate::profile::{Profile, normalize_server};

/// Exit code when conflicts wait for `resolve`.
pub const EXIT_CONFLICTS_WAITING: u8 = 3;

/// What a successful command prints: JSON for `--json`, lines otherwise.
pub struct Outcome {
    pub json: serde_json::Value,
    pub human: Vec<String>,
    pub exit: u8,
}

impl Outcome {
    fn new(json: serde_json::Value, human: Vec<String>) -> Self {
        Self {
            json,
            human,
            exit: 0,
        }
    }
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let json = std::env::args().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message spans lines (e.g. the missing arguments); usage text follows.
            let rendered = e.to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            return report_error(&CliError::usage(message), json);
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(outcome) => {
            if json {
                println!("{}", outcome.json);
            } else {
                for line in &outcome.human {
                    println!("{line}");
                }
            }
            ExitCode::from(outcome.exit)
        }
        Err(e) => report_error(&e, json),
    }
}

fn report_error(e: &CliError, json: bool) -> ExitCode {
    if json {
        println!("{}", e.to_json());
    } else {
        eprintln!("error: {}", e.message());
    }
    ExitCode::FAILURE
}

/// Everything a command needs besides its own arguments.
pub(crate) struct Context {
    pub server: String,
    pub profile: Profile,
    pub json: bool,
    pub device_name: String,
}

impl Context {
    /// A transport with the stored session; refreshed tokens are saved to the profile at
    /// once (the old refresh token stops working the moment a refresh succeeds).
    pub fn transport(&self) -> Result<HttpTransport, CliError> {
        let session = self.profile.session(&self.server)?;
        let profile = self.profile.clone();
        let server = self.server.clone();
        Ok(HttpTransport::new(&self.server, Timeouts::default())?
            .with_session(session)
            .with_session_listener(Box::new(move |s| {
                if let Err(e) = profile.set_session(&server, Some(s)) {
                    eprintln!("warning: could not save the new session: {e}");
                }
            })))
    }

    /// Like [`Context::transport`], but fails unless signed in.
    pub fn signed_in_transport(&self) -> Result<HttpTransport, CliError> {
        let transport = self.transport()?;
        if transport.session().is_none() {
            return Err(CliError::new(
                ErrorClass::Auth,
                ErrorCode::NotSignedIn,
                format!(
                    "not signed in to {}; run `renpy-cloud --server {} login` or `pair --code`",
                    self.server, self.server
                ),
            ));
        }
        Ok(transport)
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    let server =
        cli.server.as_deref().map(normalize_server).ok_or_else(|| {
            CliError::usage("no server: pass --server URL or set RENPY_CLOUD_SERVER")
        })?;
    let device_name = cli
        .device_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(default_device_name);
    let ctx = Context {
        server,
        profile: Profile::open(cli.profile.clone())?,
        json: cli.json,
        device_name,
    };
    match cli.command {
        Command::Signup(c) => account::sign_in(&ctx, &c, true),
        Command::Login(c) => account::sign_in(&ctx, &c, false),
        Command::Pair { code } => account::pair(&ctx, code.as_deref()),
        Command::Devices => account::devices(&ctx),
        Command::Logout => account::logout(&ctx),
        Command::Sync(g) => game::sync(&ctx, &g),
        Command::Status(g) => game::status(&ctx, &g),
        Command::Conflicts(g) => game::conflicts(&ctx, &g),
        Command::History { game, file } => game::history(&ctx, &game, &file),
        Command::Restore {
            game,
            file,
            version,
        } => game::restore(&ctx, &game, &file, version),
        Command::Resolve { game, file, keep } => game::resolve(&ctx, &game, &file, keep),
    }
}

fn default_device_name() -> String {
    let host = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_owned();
    if host.is_empty() {
        "renpy-cloud device".into()
    } else {
        host
    }
}

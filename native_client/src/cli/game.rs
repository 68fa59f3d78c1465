//! sync, status, conflicts, history, restore, resolve: the commands that drive the sync engine.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::executor::block_on;
use serde_json::json;
use sync_core::client::ErrorCode;
use sync_core::client::conflicts::PreviewCache;
use sync_core::client::errors::ErrorClass;
use sync_core::engine::{EngineConfig, SyncEngine, SyncReport};
use sync_core::policy::{ConflictPolicy, Resolution};
use sync_core::rules::SyncRules;
use sync_core::{GameId, SavePath};

use super::args::{GameArgs, Keep};
use super::output::{ProgressDisplay, conflict_lines, history_lines, plural, sync_summary};
use super::{CliError, Context, EXIT_CONFLICTS_WAITING, Outcome};
use crate::desktop::{DesktopGame, DesktopStore, MissingDir, OpenError, open_store};
use crate::http::HttpTransport;
use crate::savetokens;

type Engine = SyncEngine<DesktopStore, HttpTransport>;

pub fn sync(ctx: &Context, args: &GameArgs) -> Result<Outcome, CliError> {
    let mut engine = open_engine(ctx, args, MissingDir::CreateOnFirstSync, true)?;
    // Before anything downloads: a synced persistent signed by an untrusted key is ignored.
    let keys = exchange_keys(&engine, args);
    let mut display = ProgressDisplay::new(ctx.json);
    let result = block_on(engine.sync(&mut |p| display.update(p)));
    display.finish();
    let mut outcome = report_outcome(&engine, &result?, Vec::new())?;
    keys.add_to(&mut outcome);
    Ok(outcome)
}

/// The outcome of the save-token key exchange a sync starts with (never fatal).
struct Keys(Result<Option<savetokens::KeyExchange>, savetokens::KeyExchangeError>);

impl Keys {
    fn add_to(self, outcome: &mut Outcome) {
        match self.0 {
            Ok(None) => {}
            Ok(Some(done)) => {
                if !done.added.is_empty() {
                    outcome.human.push(format!(
                        "trusted the save-token keys of {}",
                        plural(done.added.len(), "other device")
                    ));
                }
                outcome.json["device_keys"] = json!({
                    "published": done.own.len(),
                    "peers": done.peers,
                    "added": done.added,
                });
            }
            Err(e) => {
                outcome.human.push(format!("warning: {e}"));
                outcome.json["device_keys_error"] = e.to_string().into();
            }
        }
    }
}

fn exchange_keys(engine: &Engine, args: &GameArgs) -> Keys {
    let dirs = desktop_game(args);
    Keys(match dirs.tokens_dir() {
        Some(tokens) => savetokens::exchange(engine.transport(), &tokens),
        None => Ok(None),
    })
}

fn desktop_game(args: &GameArgs) -> DesktopGame {
    DesktopGame {
        save_dir: args.dir.clone(),
        game_dir: args.game_dir.clone(),
        tokens_dir: args.tokens_dir.clone(),
    }
}

pub fn status(ctx: &Context, args: &GameArgs) -> Result<Outcome, CliError> {
    let mut engine = open_engine(ctx, args, MissingDir::Refuse, false)?;
    let status = block_on(engine.status())?;
    let conflicts = block_on(engine.pending_conflicts())?;
    let conflict_paths: Vec<String> = conflicts.iter().map(|c| c.path.to_string()).collect();
    let uploads: Vec<String> = status
        .pending_uploads
        .iter()
        .map(ToString::to_string)
        .collect();
    let signed_in = engine.transport().session();
    let mut human = vec![match &signed_in {
        Some(s) => format!("signed in to {} as {}", ctx.server, s.username),
        None => format!("not signed in to {}", ctx.server),
    }];
    human.push(match status.cursor {
        Some(cursor) => format!("synced before (server position {cursor})"),
        None => "never synced".to_owned(),
    });
    human.push(if uploads.is_empty() {
        "no local changes to upload".to_owned()
    } else {
        format!(
            "{} to upload: {}",
            plural(uploads.len(), "local change"),
            uploads.join(", ")
        )
    });
    if !conflict_paths.is_empty() {
        human.push(format!(
            "{} waiting for your decision: {}",
            plural(conflict_paths.len(), "conflict"),
            conflict_paths.join(", ")
        ));
    }
    let json = json!({
        "signed_in": signed_in.is_some(),
        "cursor": status.cursor,
        "pending_uploads": uploads,
        "pending_conflicts": conflict_paths,
    });
    let mut outcome = Outcome::new(json, human);
    if status.pending_conflicts > 0 || !conflicts.is_empty() {
        outcome.exit = EXIT_CONFLICTS_WAITING;
    }
    Ok(outcome)
}

/// The conflicts waiting for a decision, both sides with what a chooser shows (the
/// desktop `.rpy`'s chooser reads this when it runs the CLI).
pub fn conflicts(ctx: &Context, args: &GameArgs) -> Result<Outcome, CliError> {
    let mut engine = open_engine(ctx, args, MissingDir::Refuse, true)?;
    let previews = block_on(crate::conflicts::previews(
        &mut engine,
        &mut PreviewCache::default(),
    ))?;
    let png = |bytes: &Option<Vec<u8>>| bytes.as_ref().map(|b| BASE64.encode(b));
    let mut json_rows = Vec::with_capacity(previews.len());
    let mut human = Vec::new();
    for preview in &previews {
        let mut row = to_json(&preview.view)?;
        row["local_screenshot"] = png(&preview.local_screenshot).into();
        row["remote_screenshot"] = png(&preview.remote_screenshot).into();
        json_rows.push(row);
        human.extend(conflict_lines(preview));
    }
    if previews.is_empty() {
        human.push("no conflicts waiting".to_owned());
    } else {
        human.push(format!(
            "decide with: renpy-cloud resolve --game {} --dir {} FILE --keep local|remote|both",
            args.game,
            args.dir.display()
        ));
    }
    let mut outcome = Outcome::new(json!({ "conflicts": json_rows }), human);
    if !previews.is_empty() {
        outcome.exit = EXIT_CONFLICTS_WAITING;
    }
    Ok(outcome)
}

pub fn history(ctx: &Context, args: &GameArgs, file: &str) -> Result<Outcome, CliError> {
    let path = save_path(file)?;
    let mut engine = open_engine(ctx, args, MissingDir::Refuse, true)?;
    let history = block_on(engine.history(&path))?;
    let json = to_json(&history)?;
    let human = if ctx.json {
        Vec::new()
    } else {
        history_lines(&history, &engine.transport().device_names())
    };
    Ok(Outcome::new(json, human))
}

pub fn restore(
    ctx: &Context,
    args: &GameArgs,
    file: &str,
    version: u64,
) -> Result<Outcome, CliError> {
    let path = save_path(file)?;
    let mut engine = open_engine(ctx, args, MissingDir::Refuse, true)?;
    let keys = exchange_keys(&engine, args);
    let report = block_on(engine.restore(&path, version))?;
    let mut outcome = report_outcome(
        &engine,
        &report,
        vec![format!("restored {path} from version {version}")],
    )?;
    keys.add_to(&mut outcome);
    Ok(outcome)
}

pub fn resolve(
    ctx: &Context,
    args: &GameArgs,
    file: &str,
    keep: Keep,
) -> Result<Outcome, CliError> {
    let path = save_path(file)?;
    let (choice, label) = match keep {
        Keep::Local => (Resolution::KeepLocal, "this device's version"),
        Keep::Remote => (Resolution::KeepRemote, "the server's version"),
        Keep::Both => (Resolution::KeepBoth, "both versions"),
    };
    let mut engine = open_engine(ctx, args, MissingDir::Refuse, false)?;
    block_on(engine.resolve(&path, choice))?;
    Ok(Outcome::new(
        json!({"path": path, "keep": label_for_json(keep)}),
        vec![format!("{path}: keeping {label}; applied at the next sync")],
    ))
}

fn label_for_json(keep: Keep) -> &'static str {
    match keep {
        Keep::Local => "local",
        Keep::Remote => "remote",
        Keep::Both => "both",
    }
}

fn report_outcome(
    engine: &Engine,
    report: &SyncReport,
    mut human: Vec<String>,
) -> Result<Outcome, CliError> {
    human.extend(sync_summary(report));
    let mut json = to_json(report)?;
    // The engine counts API calls; the transport also counts token refreshes and retries.
    json["http_requests"] = engine.transport().requests().into();
    let mut outcome = Outcome::new(json, human);
    if !report.pending_manual.is_empty() {
        outcome.exit = EXIT_CONFLICTS_WAITING;
    }
    Ok(outcome)
}

fn open_engine(
    ctx: &Context,
    args: &GameArgs,
    missing: MissingDir,
    needs_session: bool,
) -> Result<Engine, CliError> {
    let game = GameId::new(&args.game)
        .map_err(|e| CliError::usage(format!("--game {:?}: {e}", args.game)))?;
    let policy: ConflictPolicy = args
        .policy
        .parse()
        .map_err(|e| CliError::usage(format!("--policy {:?}: {e}", args.policy)))?;
    let mut rules = SyncRules::renpy_default();
    for glob in &args.include {
        rules = rules
            .with_include(glob)
            .map_err(|e| CliError::usage(format!("--include {glob:?}: {e}")))?;
    }
    for glob in &args.exclude {
        rules = rules
            .with_exclude(glob)
            .map_err(|e| CliError::usage(format!("--exclude {glob:?}: {e}")))?;
    }
    let transport = if needs_session {
        ctx.signed_in_transport()?
    } else {
        ctx.transport()?
    };
    let store = open_store(
        &ctx.profile,
        &ctx.server,
        &game,
        &desktop_game(args),
        missing,
    )
    .map_err(|e| match e {
        OpenError::MissingFolder(_) => {
            CliError::new(ErrorClass::Local, ErrorCode::NotFound, e.to_string())
        }
        OpenError::Create(_) => CliError::new(ErrorClass::Local, ErrorCode::LocalIo, e.to_string()),
    })?;
    let mut config = EngineConfig::new(game);
    config.rules = rules;
    config.policy = policy;
    Ok(SyncEngine::new(store, transport, config))
}

fn save_path(file: &str) -> Result<SavePath, CliError> {
    // Accept Windows-style separators typed by a player.
    let normalized = file.replace('\\', "/");
    SavePath::new(&normalized).map_err(|e| CliError::usage(format!("{file:?}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(value)
        .map_err(|e| CliError::new(ErrorClass::Local, ErrorCode::Internal, e.to_string()))
}

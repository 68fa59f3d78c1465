//! Running commands with echo and clear failures.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Runs `program args...` in the workspace root, echoing it; fails on a non-zero exit.
pub fn cmd(program: &str, args: &[&str]) -> Result<()> {
    let mut c = Command::new(program);
    c.args(args).current_dir(root());
    status(c)
}

/// Runs a prepared command, echoing it; fails on a non-zero exit.
pub fn status(mut c: Command) -> Result<()> {
    let shown = format!("{c:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let st = c
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !st.success() {
        bail!("failed ({st}): {shown}");
    }
    Ok(())
}

/// Captures stdout of a command, `None` if it cannot run or fails.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The one way every xtask step selects packages and features for debug builds: the whole
/// workspace with the AWS backend. Cargo keys each artifact by its resolved features, so a
/// build with any other selection (`-p backend`, no dev-dependencies, no `aws`) compiles
/// the tree a second time.
pub const WORKSPACE: [&str; 3] = ["--workspace", "--features", "backend/aws"];

/// `cargo test --no-run` over [`WORKSPACE`]: every test and every binary
/// (`target/debug/renpy-cloud-server`, `renpy-cloud`, `renpy-cloud-lambda`) in the one
/// feature set `cargo xtask test` runs them with. A no-op once built.
pub fn build_workspace() -> Result<()> {
    let mut args = vec!["test", "--no-run"];
    args.extend(WORKSPACE);
    cmd(&cargo(), &args)
}

/// `cargo clippy` over [`WORKSPACE`], every target, warnings denied.
pub fn clippy_workspace() -> Result<()> {
    let mut args = vec!["clippy"];
    args.extend(WORKSPACE);
    args.extend(["--all-targets", "--", "-D", "warnings"]);
    cmd(&cargo(), &args)
}

/// `cargo test` over [`WORKSPACE`] with extra arguments (`--test NAME`, filters).
pub fn workspace_test(extra: &[&str]) -> Command {
    let mut c = Command::new(cargo());
    c.arg("test")
        .args(WORKSPACE)
        .args(extra)
        .current_dir(root());
    c
}

/// The cargo that runs us.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

//! `cargo xtask python`: the Python module's wheel and its tests.
//!
//! Creates `.venv/` at the repository root when missing, installs `maturin` and `pytest`
//! into it when missing, builds the `renpy_cloud` wheel with maturin, installs it into the
//! venv (and into `example_game/game/python-packages/` for the example game), builds the
//! server and CLI binaries the tests run, then runs pytest. Every step is idempotent.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run::{cmd, root, status};

/// Runs the whole Python check.
pub fn run(_args: &[String]) -> Result<()> {
    let python = ensure_venv()?;
    ensure_tools(&python)?;
    let target = target_dir();
    // The same build `cargo xtask test` ran before: one feature set, no second build.
    crate::run::build_workspace()?;
    let wheel = build_wheel(&python, &target)?;
    let wheel_arg = wheel.to_string_lossy().into_owned();
    pip(
        &python,
        &["install", "--force-reinstall", "--no-deps", &wheel_arg],
    )?;
    let packages = root().join("example_game/game/python-packages");
    let packages_arg = packages.to_string_lossy().into_owned();
    pip(
        &python,
        &[
            "install",
            "--upgrade",
            "--no-deps",
            "--target",
            &packages_arg,
            &wheel_arg,
        ],
    )?;
    let bin = |name: &str| {
        target
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "python/tests"])
        .current_dir(root())
        .env("RENPY_CLOUD_SERVER_BIN", bin("renpy-cloud-server"))
        .env("RENPY_CLOUD_CLI_BIN", bin("renpy-cloud"))
        .env("CARGO_TARGET_DIR", &target);
    status(pytest)
}

/// The venv's Python, creating `.venv/` with the system `python3` if needed.
fn ensure_venv() -> Result<PathBuf> {
    let venv = root().join(".venv");
    let python = if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    };
    if !python.exists() {
        let system = if cfg!(windows) { "python" } else { "python3" };
        cmd(system, &["-m", "venv", ".venv"])?;
    }
    if !python.exists() {
        bail!("{} is missing after creating the venv", python.display());
    }
    Ok(python)
}

/// Installs maturin and pytest into the venv unless both are already there.
fn ensure_tools(python: &Path) -> Result<()> {
    let present = Command::new(python)
        .args(["-c", "import maturin, pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        pip(
            python,
            &["install", "--upgrade", "maturin>=1.9,<2", "pytest"],
        )?;
    }
    Ok(())
}

fn pip(python: &Path, args: &[&str]) -> Result<()> {
    let mut c = Command::new(python);
    c.args(["-m", "pip", "--disable-pip-version-check"])
        .args(args)
        .current_dir(root());
    status(c)
}

/// Builds the wheel into a fresh `<target>/wheels-python/` and returns its path.
fn build_wheel(python: &Path, target: &Path) -> Result<PathBuf> {
    let out = target.join("wheels-python");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    let maturin = python.with_file_name(format!("maturin{}", std::env::consts::EXE_SUFFIX));
    let mut c = Command::new(&maturin);
    c.args([
        "build",
        "--manifest-path",
        "python/Cargo.toml",
        "--interpreter",
    ])
    .arg(python)
    .arg("--out")
    .arg(&out)
    .current_dir(root())
    .env("CARGO_TARGET_DIR", target);
    status(c)?;
    let wheel = std::fs::read_dir(&out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("maturin left no wheel in {}", out.display()))?;
    Ok(wheel)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

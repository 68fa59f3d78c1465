//! `cargo xtask renpy-test [PYTEST ARGS]`: the real-engine suite
//! (`integrations/renpy/tests`, see its README): real Ren'Py 8.0.3 and 8.3.4 run headless,
//! each simulated device with its own HOME and copy of a game, against the real server.
//!
//! Installs only what is missing, so a warm run goes straight to pytest:
//! - host (apt): Debian's Ren'Py 8.0.3 (`renpy`, `renpy-thequestion`), `xvfb`, `xauth`,
//!   `debootstrap`;
//! - Ren'Py 8.3.4: a Debian trixie chroot in the cache, outside the checkout (see `chroot`);
//! - `.venv/` with pytest and pytest-xdist: one pytest worker per core (`-n auto`; pass
//!   `-n 0` to run tests one by one), a Ren'Py launch being mostly one busy core.
//!
//! The binaries are `cargo build --workspace --bins`'s (in `cargo xtask test`
//! a no-op: the Python step has just run it), unless `RENPY_CLOUD_SERVER_BIN` and
//! `RENPY_CLOUD_CLI_BIN` name others; the wheel is `RENPY_CLOUD_WHEEL` or the one
//! `cargo xtask python` left in `<target>/wheels-python/` (only the drop-in integration's
//! tests need it).
//!
//! `cargo xtask renpy-bench [ARGS]`: after the same installs, prints launch-to-main-menu times
//! per engine (`integrations/renpy/tests/bench_launch.py --help`); `renpy-bench integration`
//! prints what the drop-in integration adds to them (`bench_integration.py`). Benchmarks,
//! not tests.

mod chroot;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::run::{cmd, output, root, status};

const HOST_PACKAGES: &[&str] = &["renpy", "renpy-thequestion", "xvfb", "xauth", "debootstrap"];
const SUITE: &str = "integrations/renpy/tests";

pub fn run(args: &[String]) -> Result<()> {
    let mut pytest = prepare()?;
    pytest
        .args(["-m", "pytest", "-q", "-n", "auto", SUITE])
        .args(args);
    status(pytest)
}

pub fn bench(args: &[String]) -> Result<()> {
    let mut script = prepare()?;
    match args.split_first() {
        // What the drop-in integration adds to a launch (signed in, server down, silent).
        Some((first, rest)) if first == "integration" => script
            .arg(format!("{SUITE}/bench_integration.py"))
            .args(rest),
        _ => script.arg(format!("{SUITE}/bench_launch.py")).args(args),
    };
    status(script)
}

/// Installs what is missing; the venv's Python, set up to run the suite's code.
fn prepare() -> Result<Command> {
    ensure_host_packages()?;
    let trixie = chroot::ensure()?;
    let python = ensure_venv_with_pytest()?;
    let target = target_dir();
    let server = binary("RENPY_CLOUD_SERVER_BIN", &target, "renpy-cloud-server");
    let cli = binary("RENPY_CLOUD_CLI_BIN", &target, "renpy-cloud");
    if std::env::var_os("RENPY_CLOUD_SERVER_BIN").is_none()
        || std::env::var_os("RENPY_CLOUD_CLI_BIN").is_none()
    {
        // The command `cargo xtask python` runs just before us: a no-op then.
        crate::run::build_workspace()?;
    }
    let mut python = Command::new(&python);
    python
        .current_dir(root())
        .env("RENPY_CLOUD_SERVER_BIN", &server)
        .env("RENPY_CLOUD_CLI_BIN", &cli)
        .env("RENPY_CLOUD_TRIXIE_ROOT", &trixie)
        .env("CARGO_TARGET_DIR", &target);
    match wheel(&target) {
        Some(w) => {
            python.env("RENPY_CLOUD_WHEEL", w);
        }
        None => eprintln!(
            "renpy-test: no renpy_cloud wheel in {}/wheels-python (run `cargo xtask python`); \
             tests that need the module will say so",
            target.display()
        ),
    }
    Ok(python)
}

/// Installs the host's missing Debian packages (`apt-get update` first, for a fresh CI image).
fn ensure_host_packages() -> Result<()> {
    let missing: Vec<&str> = HOST_PACKAGES
        .iter()
        .copied()
        .filter(|p| !deb_installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "renpy-test: host packages present ({})",
            HOST_PACKAGES.join(", ")
        );
        return Ok(());
    }
    apt(&["update"])?;
    let mut install = vec!["install", "-y"];
    install.extend(&missing);
    apt(&install)
}

fn deb_installed(package: &str) -> bool {
    output("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|s| s.trim() == "install ok installed")
}

/// `apt-get ARGS`, through `sudo -n` unless we are root.
fn apt(args: &[&str]) -> Result<()> {
    let mut c = as_root("apt-get");
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    status(c)
}

/// A command that runs `program` as root (directly when we are root).
pub(crate) fn as_root(program: &str) -> Command {
    if output("id", &["-u"]).is_some_and(|u| u.trim() == "0") {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    }
}

/// `.venv/bin/python` with pytest and pytest-xdist (the venv `cargo xtask python` also uses).
fn ensure_venv_with_pytest() -> Result<PathBuf> {
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        cmd("python3", &["-m", "venv", ".venv"])?;
    }
    let python_arg = python.to_string_lossy().into_owned();
    if output(&python_arg, &["-c", "import pytest, xdist"]).is_none() {
        cmd(
            &python_arg,
            &[
                "-m",
                "pip",
                "--disable-pip-version-check",
                "install",
                "pytest",
                "pytest-xdist",
            ],
        )?;
    }
    if !python.exists() {
        bail!("{} is missing after creating the venv", python.display());
    }
    Ok(python)
}

fn binary(env: &str, target: &Path, name: &str) -> PathBuf {
    std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("debug").join(name))
}

fn wheel(target: &Path) -> Option<OsString> {
    if let Some(w) = std::env::var_os("RENPY_CLOUD_WHEEL") {
        return Some(w);
    }
    std::fs::read_dir(target.join("wheels-python"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .map(PathBuf::into_os_string)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

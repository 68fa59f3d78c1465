//! The web client's tasks:
//!
//! - `web-build`: build `wasm_client` for the browser (release), package it with
//!   `wasm-bindgen --target web`, shrink it with npm binaryen's `wasm-opt -Oz`, add the glue
//!   script, and print the sizes. Output: `wasm_client/dist/renpy-cloud/`.
//! - `web-inject <exported game dir> --server URL --game-id ID --save-directory DIR`: copy
//!   that package into a web-exported Ren'Py game and add the script tags to its
//!   `index.html` (idempotent: a second run replaces the first).
//! - `web-test`: the browser tests (wasm-bindgen-test in headless Chromium; Playwright
//!   against the real server and a real Emscripten IDBFS program).
//! - `bench web-clicks [--package DIR]` (through `cargo xtask bench`): the syncs a 100-click
//!   session causes when the game saves `persistent` at every click, in Chromium against
//!   the real server (release build); `--package` measures another build of the package
//!   (e.g. an older checkout's `wasm_client/dist/renpy-cloud`).
//!
//! Everything they need is installed when missing, so CI can run them on a clean clone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run::{cargo, cmd, output, root, status};

/// `--config` settings of the `wasm-release` profile: smallest code, whole-program LTO.
const WASM_PROFILE: [&str; 4] = [
    "profile.wasm-release.inherits=\"release\"",
    "profile.wasm-release.opt-level=\"z\"",
    "profile.wasm-release.lto=\"fat\"",
    "profile.wasm-release.codegen-units=1",
];

/// Where `web-build` puts the package.
fn dist() -> PathBuf {
    root().join("wasm_client/dist/renpy-cloud")
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo xtask web-build`.
pub fn build(_args: &[String]) -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_npm_packages()?;
    let cargo = cargo();
    // A size-first profile of our own, defined here so the workspace's release profile
    // (and its build cache) stays as it is.
    let mut args = vec![
        "build",
        "-p",
        "wasm_client",
        "--target",
        "wasm32-unknown-unknown",
    ];
    for setting in WASM_PROFILE {
        args.extend(["--config", setting]);
    }
    args.extend(["--profile", "wasm-release"]);
    cmd(&cargo, &args)?;
    let wasm = target_dir().join("wasm32-unknown-unknown/wasm-release/wasm_client.wasm");
    let out = dist();
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    let mut c = Command::new("wasm-bindgen");
    c.args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&out)
        .arg(&wasm)
        .current_dir(root());
    status(c)?;

    let module = out.join("wasm_client_bg.wasm");
    let raw = file_size(&module)?;
    let wasm_opt = root().join("wasm_client/node_modules/.bin/wasm-opt");
    let mut c = Command::new(&wasm_opt);
    c.args(["-Oz", "--strip-debug", "--strip-producers"])
        // The features rustc enables by default for wasm32-unknown-unknown.
        .args([
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(&module)
        .arg("-o")
        .arg(&module)
        .current_dir(root());
    status(c)?;
    let glue = root().join("wasm_client/js/renpy-cloud.js");
    fs::copy(&glue, out.join("renpy-cloud.js"))
        .with_context(|| format!("cannot copy {}", glue.display()))?;

    let opt = file_size(&module)?;
    let gz = gzip_size(&module)?;
    println!(
        "wasm_client_bg.wasm: {raw} bytes from rustc+wasm-bindgen; {opt} bytes after wasm-opt -Oz; {gz} bytes gzip -9"
    );
    println!("package: {}", out.display());
    Ok(())
}

/// `cargo xtask web-inject <game dir> --server URL --game-id ID --save-directory DIR`.
pub fn inject(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask web-inject <exported web game dir> --server URL --game-id ID \
                 --save-directory DIR [--device-name NAME]";
    let mut game_dir = None;
    let mut config: Vec<(&str, String)> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let key = match a.as_str() {
            "--server" => "server",
            "--game-id" => "gameId",
            "--save-directory" => "saveDirectory",
            "--device-name" => "deviceName",
            other if !other.starts_with("--") && game_dir.is_none() => {
                game_dir = Some(PathBuf::from(other));
                continue;
            }
            other => bail!("unexpected argument {other:?}\n{usage}"),
        };
        let value = it
            .next()
            .with_context(|| format!("{a} needs a value\n{usage}"))?;
        config.push((key, value.clone()));
    }
    let game_dir = game_dir.context(usage)?;
    for needed in ["server", "gameId", "saveDirectory"] {
        if !config.iter().any(|(k, _)| *k == needed) {
            bail!("missing {needed}\n{usage}");
        }
    }
    if !dist().join("wasm_client_bg.wasm").exists() {
        build(&[])?;
    }
    inject_into(&game_dir, &config)
}

const BEGIN: &str = "<!-- renpy-cloud:begin -->";
const END: &str = "<!-- renpy-cloud:end -->";

/// Copies the package to `<game>/renpy-cloud/` and adds (or replaces) the script block.
pub fn inject_into(game_dir: &Path, config: &[(&str, String)]) -> Result<()> {
    inject_package(game_dir, &dist(), config)
}

/// [`inject_into`] with the package found in `package`.
fn inject_package(game_dir: &Path, package: &Path, config: &[(&str, String)]) -> Result<()> {
    let index = game_dir.join("index.html");
    let html = fs::read_to_string(&index).with_context(|| {
        format!(
            "{} is not a web-exported game (no index.html)",
            game_dir.display()
        )
    })?;
    copy_dir(package, &game_dir.join("renpy-cloud"))?;

    let fields: Vec<String> = config
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect();
    // A page may set RENPY_CLOUD_CONFIG first (e.g. a host or a test); its values win.
    let block = format!(
        "{BEGIN}\n<script>window.RENPY_CLOUD_CONFIG = Object.assign({{{}}}, window.RENPY_CLOUD_CONFIG || {{}});</script>\n\
         <script type=\"module\" src=\"renpy-cloud/renpy-cloud.js\"></script>\n{END}",
        fields.join(",")
    );
    let html = strip_block(&html);
    let at = head_end_of_open_tag(&html)
        .with_context(|| format!("{} has no <head> tag", index.display()))?;
    let patched = format!("{}\n{block}{}", &html[..at], &html[at..]);
    fs::write(&index, patched).with_context(|| format!("cannot write {}", index.display()))?;
    println!("injected renpy-cloud into {}", index.display());
    Ok(())
}

/// `html` without an earlier injected block.
fn strip_block(html: &str) -> String {
    match (html.find(BEGIN), html.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let before = html[..b].trim_end_matches('\n');
            format!("{before}{}", &html[e + END.len()..])
        }
        _ => html.to_owned(),
    }
}

/// Byte offset just after the `<head ...>` opening tag.
fn head_end_of_open_tag(html: &str) -> Option<usize> {
    let lower = html.to_ascii_lowercase();
    let start = lower.match_indices("<head").map(|(i, _)| i).find(|&i| {
        matches!(
            lower.as_bytes().get(i + 5),
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r')
        )
    })?;
    lower[start..].find('>').map(|e| start + e + 1)
}

/// A JSON string literal that is also safe inside an HTML `<script>`.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Copies a directory tree.
pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest)
                .with_context(|| format!("cannot copy to {}", dest.display()))?;
        }
    }
    Ok(())
}

/// `cargo xtask web-test`.
pub fn test(_args: &[String]) -> Result<()> {
    ensure_browser_and_emscripten()?;
    build(&[])?;
    let cargo = cargo();
    // Unit and store tests in headless Chromium.
    let mut c = Command::new(&cargo);
    c.args([
        "test",
        "-p",
        "wasm_client",
        "--target",
        "wasm32-unknown-unknown",
    ])
    .env(
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
        "wasm-bindgen-test-runner",
    )
    .env("CHROMEDRIVER", "/usr/bin/chromedriver")
    .env(
        "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
        root().join("wasm_client/webdriver.json"),
    )
    .current_dir(root());
    status(c)?;

    // Page-level tests: the real server, a real Emscripten IDBFS program, Playwright.
    crate::run::build_workspace()?;
    let game = root().join("wasm_client/dist/e2e-game");
    build_test_game(&game)?;
    let mut c = Command::new("node");
    c.args(["--test", "--test-concurrency=1", "tests/e2e/"])
        .env(
            "RENPY_CLOUD_SERVER_BIN",
            target_dir().join("debug/renpy-cloud-server"),
        )
        .env("RENPY_CLOUD_TEST_GAME", &game)
        .current_dir(root().join("wasm_client"));
    status(c)?;
    eprintln!("\nweb tests passed");
    Ok(())
}

/// `cargo xtask bench web-clicks [--package DIR]`.
pub fn bench_clicks(args: &[String]) -> Result<()> {
    let mut package = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--package" => package = Some(PathBuf::from(it.next().context("--package DIR")?)),
            other => bail!(
                "unexpected argument {other:?}\nusage: cargo xtask bench web-clicks [--package DIR]"
            ),
        }
    }
    ensure_browser_and_emscripten()?;
    let package = match package {
        Some(dir) => {
            if !dir.join("wasm_client_bg.wasm").exists() || !dir.join("renpy-cloud.js").exists() {
                bail!(
                    "{} is not a renpy-cloud package (cargo xtask web-build makes one)",
                    dir.display()
                );
            }
            std::path::absolute(&dir)?
        }
        None => {
            build(&[])?;
            dist()
        }
    };
    ensure_npm_packages()?;
    cmd(
        &cargo(),
        &[
            "build",
            "--release",
            "-p",
            "backend",
            "--bin",
            "renpy-cloud-server",
        ],
    )?;
    let game = root().join("wasm_client/dist/bench-game");
    build_game_with(&game, &package)?;
    let mut c = Command::new("node");
    c.arg("tests/bench/web-clicks.mjs")
        .env(
            "RENPY_CLOUD_SERVER_BIN",
            target_dir().join("release/renpy-cloud-server"),
        )
        .env("RENPY_CLOUD_TEST_GAME", &game)
        .env("RENPY_CLOUD_BENCH_LABEL", package.display().to_string())
        .current_dir(root().join("wasm_client"));
    status(c)
}

/// Builds the Emscripten stand-in game and injects the client into it (the server URL is
/// set by each test page).
fn build_test_game(game: &Path) -> Result<()> {
    build_game_with(game, &dist())
}

/// The stand-in game with the renpy-cloud package found in `package`.
fn build_game_with(game: &Path, package: &Path) -> Result<()> {
    if game.exists() {
        fs::remove_dir_all(game)?;
    }
    fs::create_dir_all(game)?;
    let src = root().join("wasm_client/tests/emscripten");
    let mut c = Command::new("emcc");
    c.arg(src.join("main.c"))
        .args(["-O0", "--shell-file"])
        .arg(src.join("shell.html"))
        .args([
            "-lidbfs.js",
            "-sEXPORTED_RUNTIME_METHODS=['FS','ccall']",
            "-sFORCE_FILESYSTEM=1",
            "-o",
            "index.html",
        ])
        .current_dir(game);
    status(c)?;
    inject_package(
        game,
        package,
        &[
            ("server", "http://127.0.0.1:9".into()),
            ("gameId", "e2e-game".into()),
            ("saveDirectory", "E2E-1700000000".into()),
        ],
    )
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("missing {}", path.display()))?
        .len())
}

fn gzip_size(path: &Path) -> Result<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .context("gzip is needed to measure the compressed size")?;
    if !out.status.success() {
        bail!("gzip failed on {}", path.display());
    }
    Ok(out.stdout.len() as u64)
}

fn ensure_wasm_target() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        cmd("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    Ok(())
}

/// The `wasm-bindgen` version pinned in Cargo.lock (the CLI must match it exactly).
fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = fs::read_to_string(root().join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        let version = (line.trim() == "name = \"wasm-bindgen\"")
            .then(|| lines.next())
            .flatten()
            .and_then(|l| l.trim().strip_prefix("version = \""));
        if let Some(v) = version {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

fn ensure_wasm_bindgen() -> Result<()> {
    let want = locked_wasm_bindgen_version()?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    // Without --locked: the CLI's own lockfile pins a crate version the registry lacks.
    cmd(
        &cargo(),
        &["install", "wasm-bindgen-cli", "--version", &want],
    )
}

fn ensure_npm_packages() -> Result<()> {
    let dir = root().join("wasm_client");
    if dir.join("node_modules/.bin/wasm-opt").exists()
        && dir.join("node_modules/playwright-core").exists()
    {
        return Ok(());
    }
    let mut c = Command::new("npm");
    c.args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir);
    status(c)
}

fn ensure_browser_and_emscripten() -> Result<()> {
    ensure_debian_packages(&[
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
        ("/usr/bin/emcc", "emscripten"),
    ])
}

/// Installs (apt-get) each `(file, package)` whose file is missing.
pub(crate) fn ensure_debian_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root_user = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        if root_user {
            cmd("apt-get", args)
        } else {
            let mut all = vec!["apt-get"];
            all.extend_from_slice(args);
            cmd("sudo", &all)
        }
    };
    apt(&["update"])?;
    let mut args = vec!["install", "-y"];
    args.extend(missing);
    apt(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_goes_first_in_head_and_replaces_an_earlier_one() {
        let html = "<!doctype html>\n<html><head><title>x</title></head><body></body></html>";
        let at = head_end_of_open_tag(html).expect("head");
        assert_eq!(&html[at - 6..at], "<head>");
        let once = format!("{}\n{BEGIN}\nold\n{END}{}", &html[..at], &html[at..]);
        assert_eq!(strip_block(&once), html);
        assert_eq!(head_end_of_open_tag("<header>"), None);
    }

    #[test]
    fn config_values_cannot_close_the_script() {
        assert_eq!(
            json_string("a\"</script>"),
            "\"a\\\"\\u003c/script\\u003e\""
        );
    }
}

//! `cargo xtask demo-test`: the web demo end to end — the real server serving the demo
//! site, headless Chromium (playwright-core) driving both devices through the whole story.
//! Screenshots of the key moments go to `<target>/demo-artifacts/`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::run::{root, status};
use crate::{demo, web};

pub fn run(_args: &[String]) -> Result<()> {
    web::ensure_debian_packages(&[("/usr/bin/chromium", "chromium")])?;
    let site = demo::build_site()?;
    crate::run::build_workspace()?;
    ensure_playwright(&root().join("web_demo"))?;
    let artifacts = web::target_dir().join("demo-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let mut c = Command::new("node");
    c.args(["--test", "--test-concurrency=1", "tests/"])
        .env(
            "RENPY_CLOUD_SERVER_BIN",
            web::target_dir().join("debug/renpy-cloud-server"),
        )
        .env("RENPY_CLOUD_DEMO_SITE", &site)
        .env("RENPY_CLOUD_DEMO_ARTIFACTS", &artifacts)
        .current_dir(root().join("web_demo"));
    status(c)?;
    eprintln!(
        "\ndemo tests passed; screenshots in {}",
        artifacts.display()
    );
    Ok(())
}

fn ensure_playwright(dir: &Path) -> Result<()> {
    if dir.join("node_modules/playwright-core").exists() {
        return Ok(());
    }
    let mut c = Command::new("npm");
    c.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    status(c)
}

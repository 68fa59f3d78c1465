//! `cargo xtask demo`: build the web demo and start the embedded server serving it.
//!
//! The demo site (`<target>/web-demo/`) is `web_demo/`'s page files, the browser client
//! package of `web-build` under `renpy-cloud/`, and the Emscripten half of the stand-in game
//! under `game/`. The server serves it with `--web-root` on http://127.0.0.1:8787, and
//! allows both loopback names as origins (the page works opened under either name).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::run::{cargo, cmd, root, status};
use crate::web;

const DEFAULT_BIND: &str = "127.0.0.1:8787";

/// Files of `web_demo/` that make up the page (the rest is tests and docs).
const PAGE_FILES: [&str; 7] = [
    "index.html",
    "host.js",
    "device.html",
    "device.js",
    "boot.js",
    "savefile.js",
    "style.css",
];

/// Where the assembled site goes.
pub fn site_dir() -> PathBuf {
    web::target_dir().join("web-demo")
}

/// Builds the browser client and the stand-in game and assembles the site; returns its path.
pub fn build_site() -> Result<PathBuf> {
    web::ensure_debian_packages(&[("/usr/bin/emcc", "emscripten")])?;
    web::build(&[])?;
    let site = site_dir();
    if site.exists() {
        fs::remove_dir_all(&site).with_context(|| format!("cannot clear {}", site.display()))?;
    }
    fs::create_dir_all(site.join("game"))?;
    let src = root().join("web_demo");
    for file in PAGE_FILES {
        fs::copy(src.join(file), site.join(file))
            .with_context(|| format!("cannot copy web_demo/{file}"))?;
    }
    web::copy_dir(
        &root().join("wasm_client/dist/renpy-cloud"),
        &site.join("renpy-cloud"),
    )?;
    let mut c = Command::new("emcc");
    c.arg(src.join("game/main.c"))
        .args([
            "-O0",
            "-lidbfs.js",
            "-sEXPORTED_RUNTIME_METHODS=['FS']",
            "-sFORCE_FILESYSTEM=1",
            "-o",
            "game.js",
        ])
        .current_dir(site.join("game"));
    status(c)?;
    println!("demo site: {}", site.display());
    Ok(site)
}

/// The port of a `--bind` address (`8787` when it cannot be read).
fn port_of(bind: &str) -> &str {
    bind.rsplit_once(':').map_or("8787", |(_, p)| p)
}

pub fn run(args: &[String]) -> Result<()> {
    let site = build_site()?;
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
    let server = web::target_dir().join("release/renpy-cloud-server");
    let mut c = Command::new(server);
    let value_of = |flag: &str| {
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == flag {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                return Some(v.to_owned());
            }
        }
        None
    };
    let bind = value_of("--bind").unwrap_or_else(|| DEFAULT_BIND.to_owned());
    if value_of("--bind").is_none() {
        c.args(["--bind", DEFAULT_BIND]);
    }
    if value_of("--data-dir").is_none() {
        c.arg("--data-dir").arg(root().join("renpy-cloud-data"));
    }
    if value_of("--web-root").is_none() {
        c.arg("--web-root").arg(&site);
    }
    // The page under either loopback name (signed blob URLs use 127.0.0.1: CORS).
    let port = port_of(&bind);
    for host in ["127.0.0.1", "localhost"] {
        c.arg("--allow-origin").arg(format!("http://{host}:{port}"));
    }
    c.args(args).current_dir(root());
    println!("\nrenpy-cloud demo: open http://127.0.0.1:{port}/  (Ctrl-C stops the server)\n");
    status(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_comes_from_the_bind_address() {
        assert_eq!(port_of("127.0.0.1:9000"), "9000");
        assert_eq!(port_of("[::1]:8080"), "8080");
        assert_eq!(port_of("nonsense"), "8787");
    }
}

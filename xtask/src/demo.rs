//! `cargo xtask demo`: build and start the embedded server.

use std::process::Command;

use anyhow::Result;

use crate::run::{cargo, cmd, root, status};

pub fn run(args: &[String]) -> Result<()> {
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
    let server = root().join("target/release/renpy-cloud-server");
    let mut c = Command::new(server);
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    if !has("--bind") {
        c.args(["--bind", "127.0.0.1:8787"]);
    }
    if !has("--data-dir") {
        c.arg("--data-dir").arg(root().join("renpy-cloud-data"));
    }
    c.args(args).current_dir(root());
    status(c)
}

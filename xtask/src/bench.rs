//! `cargo xtask bench`: the benchmark program against a real server on loopback.

use anyhow::Result;

use crate::run::{cargo, cmd};

pub fn run(args: &[String]) -> Result<()> {
    let cargo = cargo();
    cmd(
        &cargo,
        &[
            "build",
            "--release",
            "-p",
            "backend",
            "--bin",
            "renpy-cloud-server",
        ],
    )?;
    let mut full = vec![
        "run",
        "--release",
        "-p",
        "native_client",
        "--example",
        "bench",
        "--",
    ];
    full.extend(args.iter().map(String::as_str));
    cmd(&cargo, &full)
}

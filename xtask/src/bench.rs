//! `cargo xtask bench`: the benchmark program against a real server on loopback;
//! `cargo xtask bench web-clicks` is the browser one (see `web.rs`).

use anyhow::Result;

use crate::run::{cargo, cmd};
use crate::web;

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("web-clicks") {
        return web::bench_clicks(&args[1..]);
    }
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

//! `cargo xtask test`: every check and test, with the set-up they need.

use anyhow::Result;

use crate::run::{cargo, cmd, output};

pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let cargo = cargo();
    ensure_wasm_target()?;

    cmd(&cargo, &["fmt", "--all", "--", "--check"])?;
    if !quick {
        cmd(
            &cargo,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }
    // sync_core must stay I/O-free and build for the browser.
    cmd(
        &cargo,
        &[
            "build",
            "-p",
            "sync_core",
            "--target",
            "wasm32-unknown-unknown",
        ],
    )?;
    cmd(
        "python3",
        &["sync_core/tests/fixtures/make_renpy_saves.py", "--check"],
    )?;
    // Integration tests start the real binaries.
    cmd(&cargo, &["build", "--workspace", "--bins"])?;
    cmd(&cargo, &["test", "--workspace"])?;
    // The desktop Python module, against the real server.
    crate::python::run(&[])?;
    // Real Ren'Py engines (8.0.3 and 8.3.4) running games headless against the real server.
    crate::renpy::run(&[])?;
    // The browser client: wasm-bindgen tests in headless Chromium, real Emscripten IDBFS,
    // Playwright against the real server.
    if !quick {
        crate::web::test(&[])?;
        crate::demo_test::run(&[])?;
    }
    // The AWS backend against moto on loopback, the template lint and the Lambda build.
    if quick {
        crate::aws::setup()?;
        crate::aws::test()?;
        crate::aws::e2e()?;
    } else {
        crate::aws::all()?;
    }
    eprintln!("\nall checks and tests passed");
    Ok(())
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

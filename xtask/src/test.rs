//! `cargo xtask test`: every check and test, with the set-up they need.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::run::{build_workspace, cargo, cmd, output, status, workspace_test};

pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let cargo = cargo();
    let mut stages = Stages::default();
    ensure_wasm_target()?;

    stages.run("fmt, codegen", || {
        cmd(&cargo, &["fmt", "--all", "--", "--check"])?;
        crate::codegen::run(&["--check".into()])
    })?;
    if !quick {
        stages.run("clippy", crate::run::clippy_workspace)?;
    }
    stages.run("core for wasm32", || {
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
        )
    })?;
    stages.run("cargo test", || {
        // The AWS suites in this run start moto from `.venv`.
        crate::aws::setup()?;
        // Integration tests start the real binaries, some of another package's.
        build_workspace()?;
        status(workspace_test(&[]))
    })?;
    // Schemathesis against the served OpenAPI document: no 5xx, responses as documented.
    stages.run("fuzz", || crate::fuzz::run(&[]))?;
    // The desktop Python module, against the real server.
    stages.run("python", || crate::python::run(&[]))?;
    // Real Ren'Py engines (8.0.3 and 8.3.4) running games headless against the real server.
    stages.run("renpy", || crate::renpy::run(&[]))?;
    // The browser client: wasm-bindgen tests in headless Chromium, real Emscripten IDBFS,
    // Playwright against the real server.
    if !quick {
        stages.run("web", || crate::web::test(&[]))?;
        stages.run("demo", || crate::demo_test::run(&[]))?;
    }
    // The AWS backend: its moto suites ran in `cargo test`; here the template lint, the HTTP
    // API suite and the CLI end-to-end test through the Lambda router on moto. The release
    // Lambda build (`cargo xtask aws lambda`) is a deployment step, not a test.
    stages.run("aws", || {
        if !quick {
            crate::aws::lint()?;
        }
        crate::aws::http_api_on_aws()?;
        crate::aws::e2e()
    })?;
    stages.report();
    eprintln!("\nall checks and tests passed");
    Ok(())
}

/// How long each stage took, printed after each one and at the end, so a CI log shows
/// where the time goes.
#[derive(Default)]
struct Stages(Vec<(&'static str, Duration)>);

impl Stages {
    fn run(&mut self, name: &'static str, stage: impl FnOnce() -> Result<()>) -> Result<()> {
        let started = Instant::now();
        let result = stage();
        let took = started.elapsed();
        eprintln!("\n== stage {name}: {:.0} s", took.as_secs_f64());
        self.0.push((name, took));
        if result.is_err() {
            self.report();
        }
        result
    }

    fn report(&self) {
        eprintln!("\nstage times:");
        for (name, took) in &self.0 {
            eprintln!("  {name:<16} {:>6.0} s", took.as_secs_f64());
        }
    }
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

//! Project automation: `cargo xtask <task>`.
//!
//! - `demo`: build and start the embedded server serving the web demo.
//! - `demo-test`: the web demo end to end in headless Chromium.
//! - `test`: install what the tests need if missing, then run every check and test.
//! - `codegen`: the Python and TypeScript error tables from the Rust enum (`--check`).
//! - `bench`: benchmarks against the real server on loopback; prints figures.
//! - `fuzz`: schemathesis against the real server's OpenAPI document (0 server errors).
//! - `python`: the Ren'Py desktop module (wheel into `.venv`, pytest).
//! - `renpy-test`: the real-engine suite (Ren'Py 8.0.3 and 8.3.4 headless, real server);
//!   `renpy-bench`: their launch-to-main-menu times.
//! - `aws`: the AWS backend's tooling (moto, cfn-lint, cargo-lambda).
//! - `web-build`, `web-inject`, `web-test`: the browser client.

mod aws;
mod bench;
mod codegen;
mod demo;
mod demo_test;
mod fuzz;
mod python;
mod renpy;
mod run;
mod test;
mod web;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(rest),
        Some("test") => test::run(rest),
        Some("demo-test") => demo_test::run(rest),
        Some("bench") => bench::run(rest),
        Some("codegen") => codegen::run(rest),
        Some("fuzz") => fuzz::run(rest),
        Some("aws") => aws::run(rest),
        Some("python") => python::run(rest),
        Some("renpy-test") => renpy::run(rest),
        Some("renpy-bench") => renpy::bench(rest),
        Some("web-build") => web::build(rest),
        Some("web-inject") => web::inject(rest),
        Some("web-test") => web::test(rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n\n{HELP}"),
    }
}

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  demo [--bind ADDR] [--data-dir DIR]   build and start renpy-cloud-server with the web demo at
                                        http://127.0.0.1:8787/
  demo-test                             the web demo end to end in headless Chromium (screenshots
                                        in target/demo-artifacts)
  test [--quick]                        install what is missing, then run every check and test
  codegen [--check]                     write (or check) the Python and TypeScript error tables
                                        generated from sync_core's ErrorCode
  bench [FILTER]                        run the benchmarks against a real server and print figures
  bench web-clicks [--package DIR]      syncs caused by a 100-click web session (Chromium, real
                                        server); --package: measure another build of the package
  fuzz [SCHEMATHESIS ARGS]              schemathesis (pinned, into .venv-fuzz) against a real server's
                                        /v1/openapi.json, bounded, derandomized: 0 server errors
  aws [setup|lint|test|e2e|lambda|all]  AWS backend: .venv (moto, cfn-lint, cargo-lambda), template
                                        lint, tests and CLI e2e on moto, Lambda build
  python                                build the renpy_cloud wheel into .venv and run its pytest suite
  renpy-test [PYTEST ARGS]              real Ren'Py 8.0.3 and 8.3.4 headless against the real server
                                        (installs both engines if missing; see integrations/renpy/tests)
  renpy-bench [integration] [ARGS]      launch-to-main-menu time on each real engine; with
                                        `integration`, what the drop-in adds to it
  web-build                             build the browser client (wasm_client/dist/renpy-cloud), print its size
  web-inject <game dir> --server URL --game-id ID --save-directory DIR
                                        add renpy-cloud to a web-exported Ren'Py game
  web-test                              browser tests (Chromium, Emscripten IDBFS, real server)";

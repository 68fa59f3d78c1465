//! The `renpy-cloud` command line: see `renpy-cloud --help`.

fn main() -> std::process::ExitCode {
    native_client::cli::main()
}

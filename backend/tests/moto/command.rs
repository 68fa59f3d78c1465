//! How the test harnesses start moto (shared by `aws_common` and `common::moto`).

use std::path::PathBuf;
use std::process::Command;

/// The moto server to run on `127.0.0.1:port`: `$MOTO_SERVER`, or the virtualenv's
/// Python running `tests/moto/serial_server.py` (moto with DynamoDB calls made one at a
/// time, as isolated as the real service's transactions).
pub fn moto_command(port: u16) -> Command {
    let mut command = match std::env::var_os("MOTO_SERVER") {
        Some(path) => Command::new(path),
        None => {
            let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let venv = manifest.join("../.venv/bin");
            assert!(
                venv.join("moto_server").exists(),
                "{} has no moto: run `cargo xtask aws setup` (creates .venv with \
                 moto[server]==5.1.22) or set MOTO_SERVER",
                venv.display()
            );
            let mut command = Command::new(venv.join("python"));
            command.arg(manifest.join("tests/moto/serial_server.py"));
            command
        }
    };
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    command
}

//! `renpy-cloud-lambda`: the API on DynamoDB + S3 + Cognito, as the AWS Lambda `bootstrap`
//! (or on a local port outside Lambda). Configuration: environment variables only, see
//! `backend::aws_env` and `backend::config::Cli`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = backend::config::Cli::parse();
    match backend::lambda::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("renpy-cloud-lambda: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! One router, two hosts: the API on the AWS stores, served by `lambda_http` when running
//! in AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set) and by a TCP listener otherwise (local
//! runs against moto). No endpoint logic lives here; it is all in [`crate::app::app`].

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::app::{AppState, app};
use crate::aws_env::{AwsSettings, sdk_config};
use crate::cognito::accounts::create_pool;
use crate::cognito::{CognitoAccounts, CognitoProxy, CognitoSessions, CognitoVerifier};
use crate::config::{Cli, SECRET_ENV};
use crate::server::{serve, shutdown_signal};
use crate::storage::dynamo::DynamoMetadataStore;
use crate::storage::s3::S3BlobStore;

/// Set by the Lambda runtime.
pub const LAMBDA_RUNTIME_ENV: &str = "AWS_LAMBDA_RUNTIME_API";
/// `1` re-hashes blobs on S3-compatible stores that do not verify checksums (moto).
pub const VERIFY_UPLOADS_ENV: &str = "RENPY_CLOUD_VERIFY_UPLOADS";
/// Local runs only (ignored in Lambda): `fresh` creates a new table and bucket named after
/// the configured ones plus a random suffix, and a new Cognito user pool and app client
/// (replacing the configured ones), so every local server starts empty (tests).
pub const CREATE_RESOURCES_ENV: &str = "RENPY_CLOUD_CREATE_RESOURCES";

/// The router on DynamoDB + S3 with Cognito accounts, configured from the environment (validated: a missing or
/// bad variable fails the start with its name).
pub async fn aws_router(
    cli: &Cli,
    bound: std::net::SocketAddr,
    create_fresh: bool,
) -> anyhow::Result<Router> {
    let mut settings = AwsSettings::from_env()?;
    if create_fresh {
        let suffix = &crate::storage::ids::new_id()?[..12];
        settings.table = format!("{}-{suffix}", settings.table);
        settings.bucket = format!("{}-{suffix}", settings.bucket);
    }
    let secret = std::env::var(SECRET_ENV)
        .with_context(|| format!("{SECRET_ENV} must hold the token-signing secret"))?;
    anyhow::ensure!(
        secret.len() >= 32,
        "{SECRET_ENV} must be at least 32 bytes long"
    );
    let sdk = sdk_config(&settings).await;
    if create_fresh {
        let (pool, client) = create_pool(&sdk, &settings.table).await?;
        settings = settings.with_user_pool(&pool, &client, None);
    }
    let meta = DynamoMetadataStore::new(&sdk, &settings.table);
    let verify = std::env::var(VERIFY_UPLOADS_ENV).is_ok_and(|v| v == "1");
    // Path-style addressing only for an endpoint override (moto has no bucket hostnames).
    let blobs = S3BlobStore::new(&sdk, &settings.bucket, settings.endpoint.is_some())
        .verifying_uploads(verify);
    if create_fresh {
        meta.create_table().await?;
        blobs.create_bucket().await?;
    }
    let accounts = CognitoProxy::new(
        CognitoAccounts::new(&sdk, &settings.user_pool_id, &settings.client_id),
        CognitoVerifier::from_settings(&settings)?,
        CognitoSessions::new(&sdk, &settings.table),
    );
    let config = cli.api_config(bound);
    Ok(app(AppState::with_accounts(
        config,
        secret.as_bytes(),
        Arc::new(meta),
        Arc::new(blobs),
        Arc::new(accounts),
    )))
}

/// Runs the AWS-backed API in Lambda or, outside it, on `--bind` (printing the address).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    if std::env::var_os(LAMBDA_RUNTIME_ENV).is_some() {
        let router = aws_router(&cli, cli.bind, false).await?;
        tracing::info!(
            init_ms = started.elapsed().as_millis() as u64,
            "router ready"
        );
        return lambda_http::run(router)
            .await
            .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"));
    }
    let listener = TcpListener::bind(cli.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cli.bind))?;
    let addr = listener.local_addr()?;
    let fresh = std::env::var(CREATE_RESOURCES_ENV).is_ok_and(|v| v == "fresh");
    let router = aws_router(&cli, addr, fresh).await?;
    tracing::info!(
        init_ms = started.elapsed().as_millis() as u64,
        "router ready"
    );
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    serve(listener, router, shutdown_signal()).await?;
    Ok(())
}

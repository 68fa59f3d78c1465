//! The moto harness: a real `moto_server` on 127.0.0.1 (S3, DynamoDB and Cognito wire
//! protocol), started per test and stopped when the handle drops.
//!
//! The server comes from the virtualenv `cargo xtask aws setup` creates (`.venv/` at the
//! workspace root), or from `$MOTO_SERVER`. Each test gets its own server on a free port, so
//! tests are isolated without resets; [`Moto::reset`] clears one server's state.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[path = "../moto/command.rs"]
mod command;
use command::moto_command;

use backend::aws_env::{AwsSettings, sdk_config};
use backend::storage::dynamo::DynamoMetadataStore;
use backend::storage::ids::new_id;
use backend::storage::s3::S3BlobStore;

/// How long moto may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub async fn start() -> Self {
        let http = reqwest::Client::new();
        for _ in 0..3 {
            let port = free_port();
            let child = moto_command(port)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto: {e}"));
            let mut moto = Self {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            let started = Instant::now();
            while started.elapsed() < READY_TIMEOUT {
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // exited: most likely the port was taken meanwhile
                }
                let ready = http
                    .get(format!("{}/moto-api/data.json", moto.endpoint))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return moto;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not become ready on 127.0.0.1");
    }

    /// Clears every bucket, table and pool.
    pub async fn reset(&self) {
        let status = reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .expect("reset moto")
            .status();
        assert!(status.is_success(), "moto reset answered {status}");
    }

    /// Settings as the Lambda would read them, pointing every service at this server.
    pub fn settings(&self, table: &str, bucket: &str, pool: &str, client: &str) -> AwsSettings {
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("RENPY_CLOUD_TABLE", table),
            ("RENPY_CLOUD_BUCKET", bucket),
            ("RENPY_CLOUD_USER_POOL_ID", pool),
            ("RENPY_CLOUD_CLIENT_ID", client),
            ("RENPY_CLOUD_AWS_ENDPOINT", &self.endpoint),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        AwsSettings::from_vars(&vars).expect("valid test settings")
    }

    /// The SDK configuration for this server. moto is one process with a listen backlog
    /// of 128: the 200-client check overflows it, so connection failures are retried more
    /// often than against AWS.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config(&self.settings("t", "b", "us-east-1_test", "client"))
            .await
            .to_builder()
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
            .build()
    }

    /// A new table, created as the template does.
    pub async fn fresh_table(&self) -> DynamoMetadataStore {
        let store = DynamoMetadataStore::new(&self.sdk().await, &format!("t-{}", short_id()));
        store.create_table().await.expect("create table");
        store
    }

    /// A new versioned bucket.
    pub async fn fresh_bucket(&self) -> (S3BlobStore, String) {
        let bucket = format!("b-{}", short_id());
        let store = S3BlobStore::new(&self.sdk().await, &bucket, true);
        store.create_bucket().await.expect("create bucket");
        (store, bucket)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 12 random hex characters for resource names.
pub fn short_id() -> String {
    new_id().expect("random id")[..12].to_owned()
}

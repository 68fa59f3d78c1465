//! [`BlobStore`] on Amazon S3.
//!
//! Layout: one object per blob at `blobs/<user id>/<game>/<sha256 hex>`, so a user's data is
//! one prefix and IAM or a lifecycle rule can address it. Objects are content-addressed and
//! never overwritten with other bytes: the version history of a save lives in DynamoDB and
//! points at these keys. Bucket versioning is on as a safety net (an accidental overwrite or
//! delete stays recoverable; a lifecycle rule expires non-current versions).
//!
//! Clients upload and download through presigned URLs (5 minutes at most). The presigned
//! PUT signs `x-amz-checksum-sha256` and `content-length`, so S3 itself refuses bytes that
//! do not hash to the declared SHA-256. [`BlobStore::put`] (bytes through the server) checks
//! the hash before sending and asks S3 to check it again.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sync_core::ContentHash;
use sync_core::hash::Hasher;
use sync_core::protocol::{UnixMillis, UploadTarget};

use super::ids::is_safe_id;
use super::{BlobStore, ByteStream, Scope, StorageError, StorageResult};

/// Longest validity of a presigned URL.
pub const MAX_PRESIGN: Duration = Duration::from_secs(5 * 60);

/// Save bytes in one S3 bucket.
#[derive(Clone, Debug)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    verify_uploads: bool,
}

impl S3BlobStore {
    /// A store on `bucket`. `force_path_style` is for endpoints without virtual-host
    /// buckets (moto on 127.0.0.1).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, force_path_style: bool) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(force_path_style)
            // Only the checksum we set ourselves: otherwise the SDK adds a CRC32 of an empty
            // body to presigned PUTs, which every real upload would then fail.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: bucket.to_owned(),
            verify_uploads: false,
        }
    }

    /// For S3-compatible stores that do not check `x-amz-checksum-sha256` (moto 5.1 stores
    /// whatever arrives): [`BlobStore::exists`] then reads each blob back and hashes it, and
    /// deletes an object whose bytes do not match, so a commit can never point at them.
    /// Amazon S3 refuses such uploads itself and does not need this.
    pub fn verifying_uploads(mut self, on: bool) -> Self {
        self.verify_uploads = on;
        self
    }

    /// Reads a blob back and checks its hash; removes it if it does not match.
    async fn verified(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
        let Some((_, mut body)) = self.get(scope, sha256).await? else {
            return Ok(false);
        };
        let mut hasher = Hasher::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| StorageError::Unavailable(format!("S3: cannot read a blob: {e}")))?;
            hasher.update(&chunk);
        }
        if hasher.finish() == *sha256 {
            return Ok(true);
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(Self::key(scope, sha256)?)
            .send()
            .await
            .map_err(|e| unavailable("remove a mismatched blob", e))?;
        Ok(false)
    }

    /// Creates the bucket with versioning on, as the SAM template does (tests, local runs).
    pub async fn create_bucket(&self) -> StorageResult<()> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| unavailable("create the bucket", e))?;
        self.client
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| unavailable("turn on versioning", e))?;
        Ok(())
    }

    /// Whether bucket versioning is on.
    pub async fn versioning_enabled(&self) -> StorageResult<bool> {
        let out = self
            .client
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| unavailable("read versioning", e))?;
        Ok(out.status() == Some(&BucketVersioningStatus::Enabled))
    }

    /// The object key of a blob. Refuses a user id that is not a plain identifier (ids are
    /// server-generated; this keeps one user's keys out of another's prefix).
    pub fn key(scope: &Scope, sha256: &ContentHash) -> StorageResult<String> {
        if !is_safe_id(&scope.user_id) {
            return Err(StorageError::Unavailable(format!(
                "refusing unsafe user id {:?} in a blob key",
                scope.user_id
            )));
        }
        Ok(format!(
            "blobs/{}/{}/{}",
            scope.user_id,
            scope.game.as_str(),
            sha256.to_hex()
        ))
    }
}

/// S3's form of a SHA-256: standard base64 of the 32 bytes.
pub fn checksum_header(sha256: &ContentHash) -> String {
    BASE64.encode(sha256.0)
}

fn unavailable<E, R>(what: &str, err: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match &err {
        SdkError::ServiceError(e) => format!(
            "{}: {}",
            e.err().code().unwrap_or("error"),
            e.err().message().unwrap_or_default()
        ),
        other => format!("{other}"),
    };
    StorageError::Unavailable(format!("S3: cannot {what}: {detail}"))
}

/// Whether an S3 error is a 404 (absent object).
fn is_not_found<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(e) => {
            matches!(e.err().code(), Some("NoSuchKey" | "NotFound" | "404"))
        }
        _ => false,
    }
}

fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMillis)
        .unwrap_or_default()
}

/// The validity to sign for a URL meant to expire at `expires_at`: at most five minutes and
/// at least one second. Returns it with the expiry it really gets.
fn presign_window(expires_at: UnixMillis) -> StorageResult<(PresigningConfig, UnixMillis)> {
    let now = now_millis();
    let wanted = Duration::from_millis(expires_at.saturating_sub(now).max(1_000) as u64);
    let ttl = wanted.min(MAX_PRESIGN);
    let config = PresigningConfig::expires_in(ttl)
        .map_err(|e| StorageError::Unavailable(format!("S3: bad presign window: {e}")))?;
    Ok((config, now + ttl.as_millis() as UnixMillis))
}

/// Headers a client must send with a presigned request (all but those HTTP clients set).
fn required_headers(req: &PresignedRequest) -> BTreeMap<String, String> {
    req.headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect()
}

/// Reads a body of exactly `size` bytes that hashes to `sha256`; stops as soon as it is
/// longer. Buffers it: the API caps one blob's size, and in AWS bytes go straight to S3.
async fn receive(mut body: ByteStream, sha256: &ContentHash, size: u64) -> StorageResult<Bytes> {
    let mut hasher = Hasher::new();
    let mut buf = BytesMut::with_capacity(size.min(8 * 1024 * 1024) as usize);
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| StorageError::Mismatch(format!("the upload was cut off: {e}")))?;
        if buf.len() as u64 + chunk.len() as u64 > size {
            return Err(StorageError::Mismatch(format!(
                "the body is longer than the declared {size} bytes"
            )));
        }
        hasher.update(&chunk);
        buf.extend_from_slice(&chunk);
    }
    if buf.len() as u64 != size {
        return Err(StorageError::Mismatch(format!(
            "the body has {} bytes, not the declared {size}",
            buf.len()
        )));
    }
    let got = hasher.finish();
    if got != *sha256 {
        return Err(StorageError::Mismatch(format!(
            "the body hashes to {got}, not {sha256}"
        )));
    }
    Ok(buf.freeze())
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn health(&self) -> StorageResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| unavailable("reach the bucket", e))?;
        Ok(())
    }

    async fn exists(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<bool> {
        let key = Self::key(scope, sha256)?;
        if self.verify_uploads {
            return self.verified(scope, sha256).await;
        }
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(unavailable("check a blob", e)),
        }
    }

    async fn put(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        size: u64,
        body: ByteStream,
    ) -> StorageResult<()> {
        let key = Self::key(scope, sha256)?;
        let bytes = receive(body, sha256, size).await?;
        if self.exists(scope, sha256).await? {
            // Content-addressed: the stored bytes are already these.
            return Ok(());
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_length(size as i64)
            .checksum_sha256(checksum_header(sha256))
            .body(S3Body::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable("store a blob", e))?;
        Ok(())
    }

    async fn delete(&self, scope: &Scope, sha256: &ContentHash) -> StorageResult<()> {
        // S3 answers 204 for a key that does not exist too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(Self::key(scope, sha256)?)
            .send()
            .await
            .map_err(|e| unavailable("delete a blob", e))?;
        Ok(())
    }

    async fn get(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
    ) -> StorageResult<Option<(u64, ByteStream)>> {
        let key = Self::key(scope, sha256)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(unavailable("read a blob", e)),
        };
        let size = out.content_length().unwrap_or_default().max(0) as u64;
        let stream = futures::stream::unfold(out.body, |mut body| async move {
            body.next()
                .await
                .map(|chunk| (chunk.map_err(std::io::Error::other), body))
        });
        Ok(Some((size, Box::pin(stream))))
    }

    async fn presign_upload(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        size: u64,
        expires_at: UnixMillis,
    ) -> StorageResult<Option<UploadTarget>> {
        let key = Self::key(scope, sha256)?;
        let (window, expires_at) = presign_window(expires_at)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_length(size as i64)
            .checksum_sha256(checksum_header(sha256))
            .presigned(window)
            .await
            .map_err(|e| unavailable("presign an upload", e))?;
        Ok(Some(UploadTarget {
            sha256: *sha256,
            size,
            present: false,
            url: Some(req.uri().to_owned()),
            method: req.method().to_owned(),
            headers: required_headers(&req),
            expires_at,
        }))
    }

    async fn presign_download(
        &self,
        scope: &Scope,
        sha256: &ContentHash,
        expires_at: UnixMillis,
    ) -> StorageResult<Option<String>> {
        let key = Self::key(scope, sha256)?;
        let (window, _) = presign_window(expires_at)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(window)
            .await
            .map_err(|e| unavailable("presign a download", e))?;
        Ok(Some(req.uri().to_owned()))
    }
}

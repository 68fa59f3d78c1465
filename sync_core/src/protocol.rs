//! Wire types of the `/v1` HTTP API, shared by every client and every backend.
//!
//! JSON field names are part of the protocol: change them only with a new API version.
//! Times on the wire are Unix milliseconds (`i64`). They are shown to people and used to
//! preserve file modification times; they are **never** used to detect conflicts: that is
//! what [`Entry::version`] and the commit's expected version are for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;
use crate::path::SavePath;
use crate::savemeta::SaveMeta;

/// Server-assigned version of one file: 1 for its first commit, then strictly increasing.
/// `0` in an expectation means "no entry exists yet".
pub type Version = u64;
/// Position in a game's change feed. Every change of a current entry takes the next number.
pub type Seq = u64;
/// Unix time in milliseconds.
pub type UnixMillis = i64;

/// Versions and cursors a client sends are at most this: stores keep them as signed 64-bit
/// integers, so a larger one is a bad request, not a storage failure.
pub const MAX_COUNTER: u64 = i64::MAX as u64;

/// `deserialize_with` for a [`Version`] or [`Seq`] a client sends: at most [`MAX_COUNTER`].
pub mod counter {
    use serde::{Deserialize, Deserializer};

    use super::MAX_COUNTER;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let value = u64::deserialize(d)?;
        if value > MAX_COUNTER {
            return Err(serde::de::Error::custom(format!(
                "{value} is above the largest version or cursor ({MAX_COUNTER})"
            )));
        }
        Ok(value)
    }

    /// The same for an optional field.
    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Checked(#[serde(deserialize_with = "deserialize")] u64);
        Ok(Option::<Checked>::deserialize(d)?.map(|c| c.0))
    }
}

/// The current state of one file in a game's remote manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub path: SavePath,
    /// Hash of the content; for a tombstone, of the content that was deleted.
    pub sha256: ContentHash,
    /// Size in bytes (of the deleted content for a tombstone).
    pub size: u64,
    pub version: Version,
    /// Feed position of this state; a changes request with `since >= seq` will not return it.
    pub seq: Seq,
    /// Device that wrote this version.
    pub device_id: String,
    /// Tombstone: the file was deleted. Its earlier content stays in history.
    pub deleted: bool,
    /// The file's own modification time on the device that uploaded it; clients restore it,
    /// because Ren'Py shows a slot's time from the file's mtime.
    pub mtime: Option<UnixMillis>,
    /// Server time of the commit (for display only).
    pub committed_at: UnixMillis,
    /// Metadata of a Ren'Py `.save` (absent for other files or unreadable saves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SaveMeta>,
}

/// A blob the client intends to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub sha256: ContentHash,
    pub size: u64,
}

/// `POST /v1/games/{game}/changes`: the first (and for a no-op sync the only) request of a sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangesRequest {
    /// The cursor of the client's base; `None` for a first sync (returns the whole manifest).
    #[serde(default, deserialize_with = "counter::optional")]
    pub since: Option<Seq>,
    /// Blobs the client may upload in this sync; the answer says where, or that the server
    /// already has them.
    #[serde(default)]
    pub uploads: Vec<BlobRef>,
}

/// Where and how to upload one blob (a signed URL, valid until `expires_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadTarget {
    pub sha256: ContentHash,
    pub size: u64,
    /// The server already holds these bytes for this user and game: skip the upload.
    pub present: bool,
    /// Absolute or server-relative URL for the upload (absent when `present`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP method, normally `PUT`.
    #[serde(default = "default_put")]
    pub method: String,
    /// Headers the upload must carry (for example the checksum S3 verifies).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub expires_at: UnixMillis,
}

fn default_put() -> String {
    "PUT".into()
}

/// Answer to [`ChangesRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesResponse {
    /// The feed position after these changes; send it as `since` next time.
    pub cursor: Seq,
    /// Current entries whose `seq > since`, tombstones included, ordered by `seq`.
    pub changes: Vec<Entry>,
    /// The answer is one page: ask again with `since = cursor` for the rest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub more: bool,
    /// Signed download URL per content hash for every non-deleted entry in `changes`.
    #[serde(default)]
    pub downloads: BTreeMap<ContentHash, String>,
    /// One target per requested upload, in request order.
    #[serde(default)]
    pub uploads: Vec<UploadTarget>,
}

/// What one commit operation does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CommitAction {
    /// Make this content the file's current version.
    Put {
        sha256: ContentHash,
        size: u64,
        mtime: Option<UnixMillis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<SaveMeta>,
    },
    /// Replace the current version with a tombstone (the content stays in history).
    Delete,
    /// Record this content in the file's history without making it current: how the losing
    /// side of a resolved conflict is kept. Never conflicts.
    Archive {
        sha256: ContentHash,
        size: u64,
        mtime: Option<UnixMillis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<SaveMeta>,
    },
}

/// One conditional change in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitOp {
    pub path: SavePath,
    /// The version the client based this change on (`0` = the file does not exist yet).
    /// `Put` and `Delete` apply only if it is still the current version.
    #[serde(deserialize_with = "counter::deserialize")]
    pub expect_version: Version,
    #[serde(flatten)]
    pub action: CommitAction,
}

/// `POST /v1/games/{game}/commit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitRequest {
    pub ops: Vec<CommitOp>,
}

/// The outcome of one [`CommitOp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommitOutcome {
    /// Applied; `entry` is the new current entry (for `Archive`, the unchanged current entry
    /// if any) and `version` the version the op's content received.
    Committed {
        version: Version,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<Entry>,
    },
    /// Not applied: the file moved on. `current` is what the server has now (`None`: the
    /// file has no entry although the op expected one).
    Conflict {
        current: Option<Entry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        download_url: Option<String>,
    },
}

/// Answer to [`CommitRequest`]: one outcome per op, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitResponse {
    /// Feed position after this commit.
    pub cursor: Seq,
    pub results: Vec<CommitOutcome>,
}

/// `POST /v1/games/{game}/downloads`: signed URLs for blobs of this game (history, restore,
/// conflict previews).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DownloadRequest {
    pub sha256: Vec<ContentHash>,
}

/// Answer to [`DownloadRequest`]: hashes the server does not hold are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DownloadResponse {
    pub downloads: BTreeMap<ContentHash, String>,
}

/// `GET /v1/games/{game}/manifest`: every current entry (tombstones included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestResponse {
    pub cursor: Seq,
    pub entries: Vec<Entry>,
    /// The answer is one page: ask `changes` with `since = cursor` for the rest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub more: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One stored version of a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryVersion {
    pub version: Version,
    pub sha256: ContentHash,
    pub size: u64,
    pub device_id: String,
    pub deleted: bool,
    /// Kept as the losing side of a conflict (never current).
    pub archived: bool,
    /// This is the file's current version.
    pub current: bool,
    pub mtime: Option<UnixMillis>,
    pub committed_at: UnixMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SaveMeta>,
}

/// `GET /v1/games/{game}/history?path=...`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub path: SavePath,
    pub versions: Vec<HistoryVersion>,
}

/// `POST /v1/games/{game}/restore`: make an old version current again, as a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub path: SavePath,
    #[serde(deserialize_with = "counter::deserialize")]
    pub version: Version,
}

/// Answer to [`RestoreRequest`]: the new current entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreResponse {
    pub entry: Entry,
    pub cursor: Seq,
}

// ---- accounts, devices, pairing ----

/// `POST /v1/auth/signup` and `POST /v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Name of the device signing in, shown in history and conflicts ("Alice's laptop").
    pub device_name: String,
}

/// Tokens for a signed-in device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub user_id: String,
    pub username: String,
    pub device_id: String,
    pub access_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// `POST /v1/auth/refresh` (rotates the refresh token) and `POST /v1/auth/logout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A device of the signed-in user (`GET /v1/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub name: String,
    pub created_at: UnixMillis,
    pub last_seen_at: Option<UnixMillis>,
    /// The device's Ren'Py save-token verifying keys (base64 DER public keys), so the
    /// account's other devices can trust saves and `persistent` it signed.
    #[serde(default)]
    pub renpy_keys: Vec<String>,
}

/// `PUT /v1/device-keys`: replaces the calling device's Ren'Py save-token verifying keys
/// (public keys only: the lines `verifying-key <b64>` of `tokens/security_keys.txt`, or the
/// public half of its `signing-key` lines).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeys {
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesResponse {
    pub devices: Vec<DeviceInfo>,
}

/// Answer to `POST /v1/pairing`: a short single-use code another device claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingCode {
    pub code: String,
    pub expires_at: UnixMillis,
}

/// `POST /v1/pairing/claim`: sign in a new device with a code, no password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingClaim {
    pub code: String,
    pub device_name: String,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub storage: String,
    pub version: String,
}

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_path`, `quota_exceeded`, `unauthorized`.
    pub code: String,
    /// One human-readable sentence naming the problem.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_op_wire_shape_is_flat_and_tagged() {
        let op = CommitOp {
            path: SavePath::new("1-1-LT1.save").unwrap_or_else(|e| panic!("{e}")),
            expect_version: 3,
            action: CommitAction::Delete,
        };
        let json = serde_json::to_value(&op).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"path": "1-1-LT1.save", "expect_version": 3, "op": "delete"})
        );
        let back: CommitOp = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, op);
    }

    #[test]
    fn versions_and_cursors_above_the_signed_range_fail_to_parse() {
        let too_big = MAX_COUNTER + 1;
        let op = format!(
            r#"{{"ops":[{{"path":"1-1-LT1.save","expect_version":{too_big},"op":"delete"}}]}}"#
        );
        assert!(serde_json::from_str::<CommitRequest>(&op).is_err());
        let ok = op.replace(&too_big.to_string(), &MAX_COUNTER.to_string());
        assert!(serde_json::from_str::<CommitRequest>(&ok).is_ok());
        let changes = format!(r#"{{"since":{too_big}}}"#);
        assert!(serde_json::from_str::<ChangesRequest>(&changes).is_err());
        let none: ChangesRequest = serde_json::from_str("{}").expect("since is optional");
        assert_eq!(none.since, None);
        let some: ChangesRequest = serde_json::from_str(r#"{"since":7}"#).expect("parses");
        assert_eq!(some.since, Some(7));
        let restore = format!(r#"{{"path":"1-1-LT1.save","version":{too_big}}}"#);
        assert!(serde_json::from_str::<RestoreRequest>(&restore).is_err());
    }

    #[test]
    fn bad_path_in_a_request_fails_to_parse() {
        let raw = r#"{"ops":[{"path":"../evil","expect_version":0,"op":"delete"}]}"#;
        assert!(serde_json::from_str::<CommitRequest>(raw).is_err());
    }
}

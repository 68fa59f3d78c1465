//! Every error code the server and the clients emit, in one enum. The server writes them in
//! its `{"error":{"code",...}}` bodies, the clients in their errors (the CLI's `--json`, the
//! Python exceptions' `code`, the browser client's rejected promises). Spelled snake_case on
//! the wire; `cargo xtask codegen` writes the Python and TypeScript tables from [`ErrorCode::ALL`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $wire:literal, )+) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $wire, )+
                }
            }

            /// What the code means, one sentence (the doc comment above).
            pub fn description(self) -> String {
                let lines: &[&str] = match self {
                    $( ErrorCode::$variant => &[$($doc),+], )+
                };
                lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
            }

            /// The code spelled `wire`, if it is one.
            pub fn parse(wire: &str) -> Option<ErrorCode> {
                match wire {
                    $( $wire => Some(ErrorCode::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // Requests the server refuses.
    /// The request body is not valid JSON.
    MalformedJson = "malformed_json",
    /// The body is JSON but not of the expected shape.
    InvalidBody = "invalid_body",
    /// A query parameter is missing or malformed.
    InvalidQuery = "invalid_query",
    /// The request body is larger than the server accepts.
    BodyTooLarge = "body_too_large",
    /// The body's content type is not one the route accepts.
    UnsupportedMediaType = "unsupported_media_type",
    /// No route has this path, or a file or folder is not there.
    NotFound = "not_found",
    /// The route exists but not with this method.
    MethodNotAllowed = "method_not_allowed",
    /// An upload URL was used with the wrong method.
    WrongMethod = "wrong_method",
    /// The game id is not a valid Ren'Py save directory name.
    InvalidGameId = "invalid_game_id",
    /// A save path is not one the rules allow.
    InvalidPath = "invalid_path",
    /// The same path appears twice in one commit.
    DuplicatePath = "duplicate_path",
    /// A commit carries more operations than the server accepts.
    BatchTooLarge = "batch_too_large",
    /// One file is larger than the server accepts.
    FileTooLarge = "file_too_large",
    /// A file's save metadata (name, play time, custom fields) is larger than the server
    /// accepts.
    MetaTooLarge = "meta_too_large",
    /// The change would exceed the game's storage quota.
    QuotaExceeded = "quota_exceeded",
    /// A content hash is not 64 hex digits.
    InvalidHash = "invalid_hash",
    /// Uploaded bytes do not have the declared SHA-256.
    HashMismatch = "hash_mismatch",
    /// Uploaded bytes do not have the declared size.
    SizeMismatch = "size_mismatch",
    /// A commit refers to bytes that were never uploaded.
    BlobMissing = "blob_missing",
    /// No stored bytes have this hash.
    BlobNotFound = "blob_not_found",
    /// An upload or download URL's signature does not match.
    BadSignature = "bad_signature",
    /// A signed URL or a pairing code has expired.
    Expired = "expired",
    /// The history has no such version of the file.
    NoSuchVersion = "no_such_version",
    /// The account has no such device.
    NoSuchDevice = "no_such_device",
    /// A device name is empty, too long or has control characters.
    InvalidDeviceName = "invalid_device_name",
    /// The device's Ren'Py save-token keys are malformed or too many.
    InvalidDeviceKeys = "invalid_device_keys",
    /// The record already exists.
    AlreadyExists = "already_exists",
    // Accounts and sessions.
    /// A username is empty, too long or has characters the server refuses.
    InvalidUsername = "invalid_username",
    /// A password is too long or not valid text.
    InvalidPassword = "invalid_password",
    /// A password is too short or too common.
    WeakPassword = "weak_password",
    /// The username belongs to another account.
    UsernameTaken = "username_taken",
    /// The identity provider holds the account in a state the server cannot use.
    AccountConflict = "account_conflict",
    /// Wrong username or password.
    InvalidCredentials = "invalid_credentials",
    /// The pairing code is unknown, used or expired.
    InvalidPairingCode = "invalid_pairing_code",
    /// The refresh token is unknown, revoked or expired: sign in again.
    InvalidRefreshToken = "invalid_refresh_token",
    /// The request has no valid access token, or the session was revoked.
    Unauthorized = "unauthorized",
    /// Too many requests: wait `Retry-After` seconds.
    RateLimited = "rate_limited",
    /// The server's storage (disk, database, S3, DynamoDB) is unavailable: retry later.
    StorageUnavailable = "storage_unavailable",
    /// Every upload slot of the server is taken: retry after `Retry-After` seconds.
    ServerBusy = "server_busy",
    /// An upload's body paused longer than the server waits between two chunks.
    BodyTimeout = "body_timeout",
    /// The server failed; the detail is in its log.
    Internal = "internal",
    // What clients add.
    /// The server refused with a code this client does not know (a newer server).
    Rejected = "rejected",
    /// The server cannot be reached.
    Offline = "offline",
    /// The server did not answer in time.
    Timeout = "timeout",
    /// The server failed (5xx) or is busy.
    ServerError = "server_error",
    /// The server's answer could not be read.
    Corrupt = "corrupt",
    /// The TLS connection to the server failed.
    Tls = "tls",
    /// The client has no session: sign in or pair first.
    NotSignedIn = "not_signed_in",
    /// A save changed while the sync ran; the next sync picks it up.
    ChangedLocally = "changed_locally",
    /// Reading or writing the save folder or the client's own data failed.
    LocalIo = "local_io",
    /// The client's record of the last sync is unreadable or inconsistent.
    SyncState = "sync_state",
    /// The signed-in profile file is unreadable.
    Profile = "profile",
    /// A save file is not a Ren'Py save this client can read.
    UnreadableSave = "unreadable_save",
    /// The device's Ren'Py save-token keys could not be read or sent.
    DeviceKeys = "device_keys",
    /// A bad argument from the caller (a command line, a page's call).
    Usage = "usage",
    /// A setting given to the desktop module is not valid.
    BadSetting = "bad_setting",
    /// Another operation of this client is running; try again soon.
    Busy = "busy",
    /// The web game has booted: pass its file system.
    Booted = "booted",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = String::deserialize(deserializer)?;
        ErrorCode::parse(&wire)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {wire:?}")))
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_snake_case_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in ErrorCode::ALL {
            let wire = code.as_str();
            assert!(seen.insert(wire), "{wire} twice");
            assert!(
                wire.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{wire} is not snake_case"
            );
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).ok(), Some(code));
            assert!(!code.description().is_empty());
        }
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
    }

    #[test]
    fn variant_names_are_the_wire_names_in_camel_case() {
        for &code in ErrorCode::ALL {
            let camel: String = code
                .as_str()
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            assert_eq!(format!("{code:?}"), camel);
        }
    }
}

//! Every schema of the document validates a value serialized from the real protocol type.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sync_core::protocol::*;
use sync_core::savemeta::SaveMeta;
use sync_core::{ContentHash, SavePath};

use crate::common::{delete_op, put_op};
use crate::{doc, errors};

/// A Ren'Py verifying key as a device publishes it: base64 of a P-256 public key's DER.
pub const P256_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==";

fn hash(s: &str) -> ContentHash {
    ContentHash::of(s.as_bytes())
}

fn path(s: &str) -> SavePath {
    SavePath::new(s).expect("valid path")
}

fn full_meta() -> SaveMeta {
    SaveMeta {
        save_name: Some("Chapter 2".into()),
        ctime: Some(1_700_000_000.5),
        game_runtime: Some(3600.25),
        version: Some("1.0".into()),
        renpy_version: Some(vec![8, 3, 7, 25031702]),
        extra: BTreeMap::from([("_custom".to_owned(), json!({"x": 1}))]),
        has_screenshot: true,
    }
}

pub fn entry(meta: Option<SaveMeta>, mtime: Option<i64>) -> Entry {
    Entry {
        path: path("1-1-LT1.save"),
        sha256: hash("a"),
        size: 10,
        version: 2,
        seq: 7,
        device_id: "d1".into(),
        deleted: false,
        mtime,
        committed_at: 1_700_000_000_000,
        meta,
    }
}

fn history_version(meta: Option<SaveMeta>) -> HistoryVersion {
    HistoryVersion {
        version: 1,
        sha256: hash("a"),
        size: 10,
        device_id: "d1".into(),
        deleted: false,
        archived: true,
        current: false,
        mtime: None,
        committed_at: 1,
        meta,
    }
}

#[test]
fn protocol_types_serialize_to_documented_shapes() {
    let full = entry(Some(full_meta()), Some(5));
    let bare = entry(None, None);
    let target = |present: bool| UploadTarget {
        sha256: hash("a"),
        size: 1,
        present,
        url: (!present).then(|| "http://127.0.0.1/v1/blobs/t".to_owned()),
        method: "PUT".into(),
        headers: BTreeMap::from([("x-amz-checksum-sha256".to_owned(), "abc".to_owned())]),
        expires_at: 9,
    };
    let put = put_op("a.save", 0, b"x");
    let mut put_with_meta = put.clone();
    if let CommitAction::Put { meta, .. } = &mut put_with_meta.action {
        *meta = Some(SaveMeta::default());
    }
    let archive = CommitOp {
        action: CommitAction::Archive {
            sha256: hash("b"),
            size: 1,
            mtime: None,
            meta: Some(full_meta()),
        },
        ..put.clone()
    };
    let delete = delete_op("a.save", 3);
    let tokens = TokenResponse {
        user_id: "u".into(),
        username: "alice".into(),
        device_id: "d".into(),
        access_token: "a.b".into(),
        expires_in: 900,
        refresh_token: "r".into(),
    };

    let mut checked = BTreeSet::new();
    let mut check = |name: &'static str, value: Value| {
        let errs = errors(name, &value);
        assert!(errs.is_empty(), "{name}: {errs:?}\n{value:#}");
        checked.insert(name);
    };
    let v = |x: &dyn erased::Ser| x.value();
    check(
        "ErrorBody",
        v(&ErrorBody {
            error: ErrorDetail {
                code: "invalid_path".into(),
                message: "m".into(),
            },
        }),
    );
    check(
        "ErrorDetail",
        v(&ErrorDetail {
            code: "quota_exceeded".into(),
            message: "m".into(),
        }),
    );
    check("Entry", v(&full));
    check("Entry", v(&bare));
    check("SaveMeta", v(&full_meta()));
    check("SaveMeta", v(&SaveMeta::default()));
    check(
        "BlobRef",
        v(&BlobRef {
            sha256: hash("a"),
            size: 1,
        }),
    );
    check(
        "ChangesRequest",
        v(&ChangesRequest {
            since: Some(3),
            uploads: vec![BlobRef {
                sha256: hash("a"),
                size: 1,
            }],
        }),
    );
    check("ChangesRequest", v(&ChangesRequest::default()));
    check("UploadTarget", v(&target(true)));
    check("UploadTarget", v(&target(false)));
    check(
        "ChangesResponse",
        v(&ChangesResponse {
            cursor: 7,
            changes: vec![full.clone(), bare.clone()],
            more: true,
            downloads: BTreeMap::from([(hash("a"), "http://x/v1/blobs/t".to_owned())]),
            uploads: vec![target(false)],
        }),
    );
    for op in [&put, &put_with_meta, &archive, &delete] {
        check("CommitOp", v(op));
    }
    check(
        "CommitRequest",
        v(&CommitRequest {
            ops: vec![put, archive, delete],
        }),
    );
    let outcomes = vec![
        CommitOutcome::Committed {
            version: 3,
            entry: Some(full.clone()),
        },
        CommitOutcome::Committed {
            version: 3,
            entry: None,
        },
        CommitOutcome::Conflict {
            current: Some(bare.clone()),
            download_url: Some("u".into()),
        },
        CommitOutcome::Conflict {
            current: None,
            download_url: None,
        },
    ];
    for o in &outcomes {
        check("CommitOutcome", v(o));
    }
    check(
        "CommitResponse",
        v(&CommitResponse {
            cursor: 3,
            results: outcomes,
        }),
    );
    check(
        "DownloadRequest",
        v(&DownloadRequest {
            sha256: vec![hash("a")],
        }),
    );
    check(
        "DownloadResponse",
        v(&DownloadResponse {
            downloads: BTreeMap::from([(hash("a"), "u".to_owned())]),
        }),
    );
    check(
        "ManifestResponse",
        v(&ManifestResponse {
            cursor: 1,
            entries: vec![full.clone()],
            more: false,
        }),
    );
    check("HistoryVersion", v(&history_version(Some(full_meta()))));
    check(
        "HistoryResponse",
        v(&HistoryResponse {
            path: path("a.save"),
            versions: vec![history_version(None)],
        }),
    );
    check(
        "RestoreRequest",
        v(&RestoreRequest {
            path: path("a.save"),
            version: 1,
        }),
    );
    check(
        "RestoreResponse",
        v(&RestoreResponse {
            entry: full,
            cursor: 9,
        }),
    );
    check(
        "Credentials",
        v(&Credentials {
            username: "alice".into(),
            password: "correct horse".into(),
            device_name: "pc".into(),
        }),
    );
    check("TokenResponse", v(&tokens));
    check(
        "RefreshRequest",
        v(&RefreshRequest {
            refresh_token: "r".into(),
        }),
    );
    check(
        "DeviceInfo",
        v(&DeviceInfo {
            device_id: "d".into(),
            name: "pc".into(),
            created_at: 1,
            last_seen_at: None,
            renpy_keys: vec![P256_KEY.into()],
        }),
    );
    check(
        "DevicesResponse",
        v(&DevicesResponse {
            devices: vec![DeviceInfo {
                device_id: "d".into(),
                name: "pc".into(),
                created_at: 1,
                last_seen_at: Some(2),
                renpy_keys: Vec::new(),
            }],
        }),
    );
    check(
        "DeviceKeys",
        v(&DeviceKeys {
            keys: vec![P256_KEY.into()],
        }),
    );
    check(
        "PairingCode",
        v(&PairingCode {
            code: "ABCD-EFGH".into(),
            expires_at: 1,
        }),
    );
    check(
        "PairingClaim",
        v(&PairingClaim {
            code: "abcdefgh".into(),
            device_name: "deck".into(),
        }),
    );
    check(
        "Health",
        v(&Health {
            status: "ok".into(),
            storage: "ok".into(),
            version: "0.1.0".into(),
        }),
    );

    // Every object schema of the document was exercised by a real type.
    let doc = doc();
    let objects: BTreeSet<&str> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .filter(|(_, s)| s.get("type") == Some(&json!("object")) || s.get("oneOf").is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    let missing: Vec<_> = objects.difference(&checked).collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
}

/// Object-safe serialization for the example table.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializes")
        }
    }
}

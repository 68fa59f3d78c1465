//! Item keys and attribute conversions of the single table (see `README.md` next to this
//! file for the design).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use sync_core::protocol::{Entry, HistoryVersion, Version};
use sync_core::savemeta::SaveMeta;
use sync_core::{ContentHash, SavePath};

use crate::storage::{Scope, StorageError, StorageResult};

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Sort key of the `by_seq` local secondary index: only current file entries carry it.
pub const SEQ: &str = "seq";
/// Name of the local secondary index over [`SEQ`].
pub const BY_SEQ: &str = "by_seq";
/// Partition key of the `by_expiry` global index: only blob leases carry it (= [`GC_LEASE`]).
pub const GC: &str = "gc";
pub const GC_LEASE: &str = "LEASE";
/// Sparse global index over leases by `expires_at`: the collector finds expired ones in any
/// game without scanning the table.
pub const BY_EXPIRY: &str = "by_expiry";
/// Sort key of [`BY_EXPIRY`] (milliseconds, as on the lease item).
pub const EXPIRES_AT: &str = "expires_at";
/// Epoch seconds after which DynamoDB's TTL deletes the item (tokens, pairing codes).
pub const TTL: &str = "expires";

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

/// The key of an item.
pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// Partition of a user's game: the scope item and the current file entries.
pub fn scope_pk(scope: &Scope) -> String {
    format!("SCOPE#{}#{}", scope.user_id, scope.game.as_str())
}
pub const SCOPE_SK: &str = "SCOPE";
pub fn file_sk(path: &SavePath) -> String {
    format!("FILE#{}", path.as_str())
}
/// Partition of one file's history. User ids and game ids never contain `#`, so the path
/// (everything after the third `#`) is unambiguous.
pub fn history_pk(scope: &Scope, path: &SavePath) -> String {
    format!(
        "HIST#{}#{}#{}",
        scope.user_id,
        scope.game.as_str(),
        path.as_str()
    )
}
/// Zero-padded so that string order is version order.
pub fn version_sk(version: Version) -> String {
    format!("V#{version:020}")
}

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}
pub const USER_SK: &str = "USER";
pub fn username_pk(username_key: &str) -> String {
    format!("UNAME#{username_key}")
}
pub const UNAME_SK: &str = "UNAME";
pub fn device_pk(device_id: &str) -> String {
    format!("DEVICE#{device_id}")
}
pub const DEVICE_SK: &str = "DEVICE";
/// In a user's partition: one pointer per device, so listing is one query.
pub fn device_pointer_sk(device_id: &str) -> String {
    format!("DEVICE#{device_id}")
}
pub fn refresh_pk(token: &ContentHash) -> String {
    format!("REFRESH#{}", token.to_hex())
}
pub const REFRESH_SK: &str = "REFRESH";
/// A rotated refresh token, remembered to recognise a replay.
pub fn spent_refresh_pk(token: &ContentHash) -> String {
    format!("SPENT#{}", token.to_hex())
}
pub const SPENT_SK: &str = "SPENT";
/// In a device's partition: one pointer per refresh token, so deleting a device finds them.
pub fn refresh_pointer_sk(token: &ContentHash) -> String {
    format!("REFRESH#{}", token.to_hex())
}
pub fn pairing_pk(code: &ContentHash) -> String {
    format!("PAIR#{}", code.to_hex())
}
pub const PAIR_SK: &str = "PAIR";

fn corrupt(what: &str, attr: &str) -> StorageError {
    StorageError::Unavailable(format!(
        "DynamoDB item {what}: attribute {attr} missing or invalid"
    ))
}

/// Typed reads of an item's attributes.
pub trait ItemExt {
    fn str_attr(&self, name: &str) -> StorageResult<String>;
    fn opt_str(&self, name: &str) -> StorageResult<Option<String>>;
    fn num<T: std::str::FromStr>(&self, name: &str) -> StorageResult<T>;
    fn opt_num<T: std::str::FromStr>(&self, name: &str) -> StorageResult<Option<T>>;
    fn flag(&self, name: &str) -> StorageResult<bool>;
}

impl ItemExt for Item {
    fn str_attr(&self, name: &str) -> StorageResult<String> {
        match self.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(corrupt("string", name)),
        }
    }

    fn opt_str(&self, name: &str) -> StorageResult<Option<String>> {
        match self.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(corrupt("string", name)),
        }
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> StorageResult<T> {
        self.opt_num(name)?.ok_or_else(|| corrupt("number", name))
    }

    fn opt_num<T: std::str::FromStr>(&self, name: &str) -> StorageResult<Option<T>> {
        match self.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| corrupt("number", name)),
            Some(_) => Err(corrupt("number", name)),
        }
    }

    fn flag(&self, name: &str) -> StorageResult<bool> {
        match self.get(name) {
            Some(AttributeValue::Bool(v)) => Ok(*v),
            _ => Err(corrupt("bool", name)),
        }
    }
}

fn hash_attr(item: &Item) -> StorageResult<ContentHash> {
    item.str_attr("sha256")?
        .parse()
        .map_err(|_| corrupt("hash", "sha256"))
}

fn meta_attr(item: &Item) -> StorageResult<Option<SaveMeta>> {
    match item.get("meta") {
        None => Ok(None),
        Some(AttributeValue::S(json)) => serde_json::from_str(json)
            .map(Some)
            .map_err(|_| corrupt("meta", "meta")),
        Some(_) => Err(corrupt("meta", "meta")),
    }
}

fn meta_value(meta: Option<&SaveMeta>) -> StorageResult<Option<AttributeValue>> {
    meta.map(|m| {
        serde_json::to_string(m)
            .map(s)
            .map_err(|e| StorageError::Unavailable(format!("cannot encode save metadata: {e}")))
    })
    .transpose()
}

/// The attributes shared by entries and versions.
struct Content<'a> {
    sha256: &'a ContentHash,
    size: u64,
    device_id: &'a str,
    deleted: bool,
    mtime: Option<i64>,
    committed_at: i64,
    meta: Option<&'a SaveMeta>,
}

impl Content<'_> {
    fn write_to(&self, item: &mut Item) -> StorageResult<()> {
        item.insert("sha256".into(), s(self.sha256.to_hex()));
        item.insert("size".into(), n(self.size));
        item.insert("device_id".into(), s(self.device_id));
        item.insert("deleted".into(), b(self.deleted));
        if let Some(mtime) = self.mtime {
            item.insert("mtime".into(), n(mtime));
        }
        item.insert("committed_at".into(), n(self.committed_at));
        if let Some(meta) = meta_value(self.meta)? {
            item.insert("meta".into(), meta);
        }
        Ok(())
    }
}

/// The file item of `path`: its current entry (if any) and the highest version it ever had.
pub fn file_item(
    scope: &Scope,
    path: &SavePath,
    current: Option<&Entry>,
    max_version: Version,
) -> StorageResult<Item> {
    let mut item = key(scope_pk(scope), &file_sk(path));
    item.insert("path".into(), s(path.as_str()));
    item.insert("max_version".into(), n(max_version));
    if let Some(e) = current {
        item.insert("version".into(), n(e.version));
        item.insert(SEQ.into(), n(e.seq));
        Content {
            sha256: &e.sha256,
            size: e.size,
            device_id: &e.device_id,
            deleted: e.deleted,
            mtime: e.mtime,
            committed_at: e.committed_at,
            meta: e.meta.as_ref(),
        }
        .write_to(&mut item)?;
    }
    Ok(item)
}

/// The current entry of a file item (`None` for a file that only has archived versions).
pub fn entry_from_item(item: &Item) -> StorageResult<Option<Entry>> {
    if !item.contains_key(SEQ) {
        return Ok(None);
    }
    let path = SavePath::new(&item.str_attr("path")?).map_err(|_| corrupt("path", "path"))?;
    Ok(Some(Entry {
        path,
        sha256: hash_attr(item)?,
        size: item.num("size")?,
        version: item.num("version")?,
        seq: item.num(SEQ)?,
        device_id: item.str_attr("device_id")?,
        deleted: item.flag("deleted")?,
        mtime: item.opt_num("mtime")?,
        committed_at: item.num("committed_at")?,
        meta: meta_attr(item)?,
    }))
}

pub fn version_item(scope: &Scope, path: &SavePath, v: &HistoryVersion) -> StorageResult<Item> {
    let mut item = key(history_pk(scope, path), &version_sk(v.version));
    item.insert("version".into(), n(v.version));
    item.insert("archived".into(), b(v.archived));
    Content {
        sha256: &v.sha256,
        size: v.size,
        device_id: &v.device_id,
        deleted: v.deleted,
        mtime: v.mtime,
        committed_at: v.committed_at,
        meta: v.meta.as_ref(),
    }
    .write_to(&mut item)?;
    Ok(item)
}

/// A history version; `current` is true when it is the file's current version.
pub fn version_from_item(item: &Item, current: Option<Version>) -> StorageResult<HistoryVersion> {
    let version = item.num("version")?;
    Ok(HistoryVersion {
        version,
        sha256: hash_attr(item)?,
        size: item.num("size")?,
        device_id: item.str_attr("device_id")?,
        deleted: item.flag("deleted")?,
        archived: item.flag("archived")?,
        current: current == Some(version),
        mtime: item.opt_num("mtime")?,
        committed_at: item.num("committed_at")?,
        meta: meta_attr(item)?,
    })
}

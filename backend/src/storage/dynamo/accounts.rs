//! Users, devices, refresh tokens and pairing codes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Put, ReturnValue, TransactWriteItem};
use sync_core::ContentHash;
use sync_core::protocol::UnixMillis;

use super::items::{
    DEVICE_SK, Item, ItemExt, PAIR_SK, REFRESH_SK, SK, SPENT_SK, TTL, UNAME_SK, USER_SK, device_pk,
    device_pointer_sk, key, n, pairing_pk, refresh_pk, refresh_pointer_sk, s, spent_refresh_pk,
    user_pk, username_pk,
};
use super::{DynamoMetadataStore, TxResult, build_err, is_condition_failure, unavailable};
use crate::storage::ids::{new_id, username_key};
use crate::storage::{DeviceRecord, RefreshRecord, StorageError, StorageResult, UserRecord};

/// A put that must not replace an existing item.
pub(super) fn put_new(table: &str, item: Item) -> StorageResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Seconds since the epoch for DynamoDB's TTL (a little after the logical expiry).
fn ttl_seconds(expires_at: UnixMillis) -> i64 {
    expires_at.div_euclid(1000) + 3600
}

/// A refresh record's attributes (live or spent token), expiring by TTL with it.
fn refresh_item(mut item: Item, record: &RefreshRecord) -> Item {
    item.insert("user_id".into(), s(&record.user_id));
    item.insert("device_id".into(), s(&record.device_id));
    item.insert("expires_at".into(), n(record.expires_at));
    item.insert(TTL.into(), n(ttl_seconds(record.expires_at)));
    item
}

fn refresh_from_item(item: &Item) -> StorageResult<RefreshRecord> {
    Ok(RefreshRecord {
        user_id: item.str_attr("user_id")?,
        device_id: item.str_attr("device_id")?,
        expires_at: item.num("expires_at")?,
    })
}

fn user_from_item(item: &Item) -> StorageResult<UserRecord> {
    Ok(UserRecord {
        user_id: item.str_attr("user_id")?,
        username: item.str_attr("username")?,
        password_hash: item.str_attr("password_hash")?,
        created_at: item.num("created_at")?,
    })
}

fn device_from_item(item: &Item) -> StorageResult<DeviceRecord> {
    Ok(DeviceRecord {
        device_id: item.str_attr("device_id")?,
        user_id: item.str_attr("user_id")?,
        name: item.str_attr("name")?,
        created_at: item.num("created_at")?,
        last_seen_at: item.opt_num("last_seen_at")?,
        // A JSON array in one string attribute; absent until the device publishes keys.
        renpy_keys: item
            .opt_str("renpy_keys")?
            .and_then(|raw| serde_json::from_str(&raw).ok())
            .unwrap_or_default(),
    })
}

impl DynamoMetadataStore {
    /// A strongly consistent read of one item.
    pub(super) async fn get(&self, pk: String, sk: &str) -> StorageResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("read an item", e))?;
        Ok(out.item)
    }

    pub(super) async fn health_check(&self) -> StorageResult<()> {
        self.get("HEALTH".into(), "HEALTH").await.map(|_| ())
    }

    /// The user item and the username item in one transaction: the second one's condition
    /// makes the case-folded name unique.
    pub(super) async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
    ) -> StorageResult<UserRecord> {
        let user = UserRecord {
            user_id: new_id()?,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now,
        };
        let mut name_item = key(username_pk(&username_key(username)), UNAME_SK);
        name_item.insert("user_id".into(), s(&user.user_id));
        let mut user_item = key(user_pk(&user.user_id), USER_SK);
        user_item.insert("user_id".into(), s(&user.user_id));
        user_item.insert("username".into(), s(username));
        user_item.insert("password_hash".into(), s(password_hash));
        user_item.insert("created_at".into(), n(now));
        let result = self
            .transact(vec![
                put_new(&self.table, name_item)?,
                put_new(&self.table, user_item)?,
            ])
            .await?;
        match result {
            TxResult::Committed => Ok(user),
            r if r.condition_failed(0) => Err(StorageError::AlreadyExists(format!(
                "the username {username:?} is taken"
            ))),
            r => Err(StorageError::Unavailable(format!(
                "DynamoDB: creating a user was cancelled: {r:?}"
            ))),
        }
    }

    pub(super) async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRecord>> {
        let Some(name) = self
            .get(username_pk(&username_key(username)), UNAME_SK)
            .await?
        else {
            return Ok(None);
        };
        self.user_by_id(&name.str_attr("user_id")?).await
    }

    pub(super) async fn user_by_id(&self, user_id: &str) -> StorageResult<Option<UserRecord>> {
        self.get(user_pk(user_id), USER_SK)
            .await?
            .map(|item| user_from_item(&item))
            .transpose()
    }

    /// The device item and its pointer in the user's partition, in one transaction.
    pub(super) async fn create_device(
        &self,
        user_id: &str,
        name: &str,
        now: UnixMillis,
    ) -> StorageResult<DeviceRecord> {
        let device = DeviceRecord::new(user_id, name, now)?;
        let mut item = key(device_pk(&device.device_id), DEVICE_SK);
        item.insert("device_id".into(), s(&device.device_id));
        item.insert("user_id".into(), s(user_id));
        item.insert("name".into(), s(name));
        item.insert("created_at".into(), n(now));
        let pointer = key(user_pk(user_id), &device_pointer_sk(&device.device_id));
        match self
            .transact(vec![
                put_new(&self.table, item)?,
                put_new(&self.table, pointer)?,
            ])
            .await?
        {
            TxResult::Committed => Ok(device),
            r => Err(StorageError::Unavailable(format!(
                "DynamoDB: creating a device was cancelled: {r:?}"
            ))),
        }
    }

    pub(super) async fn device(&self, device_id: &str) -> StorageResult<Option<DeviceRecord>> {
        self.get(device_pk(device_id), DEVICE_SK)
            .await?
            .map(|item| device_from_item(&item))
            .transpose()
    }

    /// One query for the user's pointers, then a consistent read per device.
    pub(super) async fn list_devices(&self, user_id: &str) -> StorageResult<Vec<DeviceRecord>> {
        let pointers = self
            .query_prefix(user_pk(user_id), &device_pointer_sk(""))
            .await?;
        let mut devices = Vec::with_capacity(pointers.len());
        for pointer in pointers {
            let sk = pointer.str_attr(SK)?;
            let device_id = sk.trim_start_matches(&device_pointer_sk(""));
            // A pointer without a device is a delete in progress: skip it.
            if let Some(d) = self.device(device_id).await? {
                devices.push(d);
            }
        }
        devices.sort_by(|a, b| (a.created_at, &a.device_id).cmp(&(b.created_at, &b.device_id)));
        Ok(devices)
    }

    /// Every item of partition `pk` whose sort key starts with `prefix` (consistent reads).
    pub(super) async fn query_prefix(&self, pk: String, prefix: &str) -> StorageResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("query items", e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn touch_device(&self, device_id: &str, now: UnixMillis) -> StorageResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(device_id), DEVICE_SK)))
            .update_expression("SET last_seen_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Touching a device that was deleted meanwhile is a no-op, as in SQLite.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable("touch a device", e)),
        }
    }

    /// Replaces the device's Ren'Py keys if the device is the user's.
    pub(super) async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[String],
    ) -> StorageResult<bool> {
        let json =
            serde_json::to_string(keys).map_err(|e| StorageError::Unavailable(e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(device_id), DEVICE_SK)))
            .update_expression("SET renpy_keys = :keys")
            .condition_expression("attribute_exists(pk) AND user_id = :user")
            .expression_attribute_values(":keys", s(&json))
            .expression_attribute_values(":user", s(user_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("set device keys", e)),
        }
    }

    /// Deletes the device item if it is the user's, then its pointer and refresh tokens.
    pub(super) async fn delete_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> StorageResult<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(device_id), DEVICE_SK)))
            .condition_expression("user_id = :uid")
            .expression_attribute_values(":uid", s(user_id))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => return Ok(false),
            Err(e) => return Err(unavailable("delete a device", e)),
        }
        // Tokens are put only while the device item exists (see `put_refresh_token`), so
        // after the delete above no new pointer can appear.
        for pointer in self
            .query_prefix(device_pk(device_id), &refresh_pointer_sk_prefix())
            .await?
        {
            let sk = pointer.str_attr(SK)?;
            let token_pk = format!(
                "REFRESH#{}",
                sk.trim_start_matches(&refresh_pointer_sk_prefix())
            );
            self.delete_items(&[
                (token_pk, REFRESH_SK.to_owned()),
                (device_pk(device_id), sk),
            ])
            .await?;
        }
        self.delete_items(&[(user_pk(user_id), device_pointer_sk(device_id))])
            .await?;
        Ok(true)
    }

    pub(super) async fn delete_items(&self, keys: &[(String, String)]) -> StorageResult<()> {
        for (pk, sk) in keys {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), sk)))
                .send()
                .await
                .map_err(|e| unavailable("delete an item", e))?;
        }
        Ok(())
    }

    /// The token and its pointer, only while the device exists (a condition check in the
    /// same transaction), so a device delete cannot miss a token put at the same moment.
    pub(super) async fn put_refresh_token(
        &self,
        token: &ContentHash,
        record: &RefreshRecord,
    ) -> StorageResult<()> {
        let item = refresh_item(key(refresh_pk(token), REFRESH_SK), record);
        let mut pointer = key(device_pk(&record.device_id), &refresh_pointer_sk(token));
        pointer.insert(TTL.into(), n(ttl_seconds(record.expires_at)));
        let device_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(&record.device_id), DEVICE_SK)))
            .condition_expression("user_id = :uid")
            .expression_attribute_values(":uid", s(&record.user_id))
            .build()
            .map_err(build_err)?;
        let result = self
            .transact(vec![
                TransactWriteItem::builder()
                    .condition_check(device_exists)
                    .build(),
                put_new(&self.table, item)?,
                put_new(&self.table, pointer)?,
            ])
            .await?;
        match result {
            TxResult::Committed => Ok(()),
            r if r.condition_failed(0) => Err(StorageError::Unavailable(format!(
                "device {} of user {} does not exist",
                record.device_id, record.user_id
            ))),
            r => Err(StorageError::Unavailable(format!(
                "DynamoDB: storing a refresh token was cancelled: {r:?}"
            ))),
        }
    }

    /// One `DeleteItem` returning the old item: of two concurrent takes, one gets it.
    pub(super) async fn take_refresh_token(
        &self,
        token: &ContentHash,
    ) -> StorageResult<Option<RefreshRecord>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(token), REFRESH_SK)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("take a refresh token", e))?;
        let Some(old) = out.attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let record = refresh_from_item(&old)?;
        self.delete_items(&[(device_pk(&record.device_id), refresh_pointer_sk(token))])
            .await?;
        Ok(Some(record))
    }

    /// One item with a TTL; forgotten with the device by checking the device when read.
    pub(super) async fn put_spent_refresh_token(
        &self,
        token: &ContentHash,
        record: &RefreshRecord,
        spent_at: UnixMillis,
    ) -> StorageResult<()> {
        let mut item = refresh_item(key(spent_refresh_pk(token), SPENT_SK), record);
        item.insert("spent_at".into(), n(spent_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("remember a spent refresh token", e))?;
        Ok(())
    }

    pub(super) async fn spent_refresh_token(
        &self,
        token: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<(RefreshRecord, UnixMillis)>> {
        let Some(item) = self.get(spent_refresh_pk(token), SPENT_SK).await? else {
            return Ok(None);
        };
        let record = refresh_from_item(&item)?;
        if record.expires_at < now || self.device(&record.device_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some((record, item.num("spent_at")?)))
    }

    pub(super) async fn put_pairing_code(
        &self,
        code: &ContentHash,
        user_id: &str,
        expires_at: UnixMillis,
    ) -> StorageResult<()> {
        let mut item: HashMap<_, _> = key(pairing_pk(code), PAIR_SK);
        item.insert("user_id".into(), s(user_id));
        item.insert("expires_at".into(), n(expires_at));
        item.insert(TTL.into(), n(ttl_seconds(expires_at)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| unavailable("store a pairing code", e))?;
        Ok(())
    }

    /// A conditional delete (`expires_at > now`) returning the old item: single use under
    /// concurrent claims. An expired code is deleted too (TTL would, later).
    pub(super) async fn claim_pairing_code(
        &self,
        code: &ContentHash,
        now: UnixMillis,
    ) -> StorageResult<Option<String>> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pairing_pk(code), PAIR_SK)))
            .condition_expression("expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes.filter(|a| !a.is_empty()) {
                Some(old) => Ok(Some(old.str_attr("user_id")?)),
                None => Ok(None),
            },
            Err(e) if is_condition_failure(&e) => {
                self.delete_items(&[(pairing_pk(code), PAIR_SK.to_owned())])
                    .await?;
                Ok(None)
            }
            Err(e) => Err(unavailable("claim a pairing code", e)),
        }
    }
}

fn refresh_pointer_sk_prefix() -> String {
    "REFRESH#".to_owned()
}

//! What the Cognito accounts keep next to the metadata, in the same DynamoDB table (see
//! `storage/dynamo/README.md`, "Cognito sessions"):
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | access binding | `CACCESS#<jti or origin:origin_jti>` | `CACCESS` | `sub`, `user_id`, `device_id`, `valid_until`?, `expires` (TTL)? |
//! | device's Cognito session | `DEVICE#<device_id>` | `COGNITO` | `user_id`, `refresh_token`, `created_at` |
//!
//! Cognito access tokens carry no device, so every token the API hands out is bound to its
//! device by its `jti`. The device's Cognito refresh token stays server-side: clients get the
//! API's own rotating refresh tokens, and a refresh or a pairing claim asks Cognito for a new
//! access token with it.

use aws_sdk_dynamodb::Client;
use sync_core::protocol::UnixMillis;

use crate::storage::StorageResult;
use crate::storage::dynamo::items::{Item, ItemExt, TTL, device_pk, key, n, s};
use crate::storage::dynamo::{is_condition_failure, unavailable};

const ACCESS_SK: &str = "CACCESS";
/// In the device's partition, next to its `DEVICE` item.
const SESSION_SK: &str = "COGNITO";

fn access_pk(token_key: &str) -> String {
    format!("CACCESS#{token_key}")
}

/// Whose device a Cognito access token (or sign-in session) was handed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Cognito user the token must name.
    pub sub: String,
    pub user_id: String,
    pub device_id: String,
    /// The API's own limit on the token's use (Unix ms; the API's access-token lifetime,
    /// which may be shorter than Cognito's). `None`: Cognito's expiry only.
    pub valid_until: Option<UnixMillis>,
}

/// Bindings and device sessions in the API's table.
#[derive(Clone, Debug)]
pub struct CognitoSessions {
    client: Client,
    table: String,
}

impl CognitoSessions {
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self {
            client: Client::new(sdk),
            table: table.to_owned(),
        }
    }

    fn binding_item(token_key: &str, binding: &Binding, expires: Option<i64>) -> Item {
        let mut item = key(access_pk(token_key), ACCESS_SK);
        item.insert("sub".into(), s(&binding.sub));
        item.insert("user_id".into(), s(&binding.user_id));
        item.insert("device_id".into(), s(&binding.device_id));
        if let Some(until) = binding.valid_until {
            item.insert("valid_until".into(), n(until));
        }
        if let Some(expires) = expires {
            item.insert(TTL.into(), n(expires));
        }
        item
    }

    /// Binds a token (by `jti`) to a device until `expires` (epoch seconds; TTL cleans up).
    pub async fn bind(
        &self,
        token_key: &str,
        binding: &Binding,
        expires: i64,
    ) -> StorageResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::binding_item(token_key, binding, Some(expires))))
            .send()
            .await
            .map_err(|e| unavailable("bind an access token", e))?;
        Ok(())
    }

    /// Binds a sign-in session unless one is bound already; `false` if another request won.
    pub async fn bind_new(&self, token_key: &str, binding: &Binding) -> StorageResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::binding_item(token_key, binding, None)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("bind a sign-in session", e)),
        }
    }

    /// The binding of a token or session (strongly consistent: a token is used at once).
    pub async fn binding(&self, token_key: &str) -> StorageResult<Option<Binding>> {
        let Some(item) = self.get(access_pk(token_key), ACCESS_SK).await? else {
            return Ok(None);
        };
        Ok(Some(Binding {
            sub: item.str_attr("sub")?,
            user_id: item.str_attr("user_id")?,
            device_id: item.str_attr("device_id")?,
            valid_until: item.opt_num("valid_until")?,
        }))
    }

    /// Keeps the device's Cognito refresh token.
    pub async fn put_refresh_token(
        &self,
        device_id: &str,
        user_id: &str,
        refresh_token: &str,
        now: UnixMillis,
    ) -> StorageResult<()> {
        let mut item = key(device_pk(device_id), SESSION_SK);
        item.insert("user_id".into(), s(user_id));
        item.insert("refresh_token".into(), s(refresh_token));
        item.insert("created_at".into(), n(now));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("keep a Cognito session", e))?;
        Ok(())
    }

    /// The device's Cognito refresh token, if it belongs to `user_id`.
    pub async fn refresh_token(
        &self,
        device_id: &str,
        user_id: &str,
    ) -> StorageResult<Option<String>> {
        let Some(item) = self.get(device_pk(device_id), SESSION_SK).await? else {
            return Ok(None);
        };
        if item.str_attr("user_id")? != user_id {
            return Ok(None);
        }
        item.str_attr("refresh_token").map(Some)
    }

    /// Forgets a device's Cognito session (signed out or deleted).
    pub async fn forget_device(&self, device_id: &str) -> StorageResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(device_id), SESSION_SK)))
            .send()
            .await
            .map_err(|e| unavailable("forget a Cognito session", e))?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> StorageResult<Option<Item>> {
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
}

//! Users, devices, refresh tokens, pairing codes.

use std::sync::Arc;

use sync_core::ContentHash;

use super::fixtures::unique;
use super::{Check, CheckFailure, CheckResult};
use crate::storage::ids::new_id;
use crate::storage::{MetadataStore, RefreshRecord, StorageError};

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("health_ok", |s| Box::pin(health_ok(s))),
        ("users_unique_case_insensitively", |s| {
            Box::pin(users_unique_case_insensitively(s))
        }),
        ("devices_list_touch_delete", |s| {
            Box::pin(devices_list_touch_delete(s))
        }),
        ("device_keys_are_per_device_and_owner_only", |s| {
            Box::pin(device_keys_are_per_device_and_owner_only(s))
        }),
        ("deleting_a_device_removes_its_refresh_tokens", |s| {
            Box::pin(deleting_a_device_removes_its_refresh_tokens(s))
        }),
        ("refresh_tokens_are_single_use", |s| {
            Box::pin(refresh_tokens_are_single_use(s))
        }),
        (
            "spent_refresh_tokens_are_remembered_with_their_device",
            |s| Box::pin(spent_refresh_tokens_are_remembered_with_their_device(s)),
        ),
        ("pairing_codes_are_single_use", |s| {
            Box::pin(pairing_codes_are_single_use(s))
        }),
        ("expired_pairing_codes_cannot_be_claimed", |s| {
            Box::pin(expired_pairing_codes_cannot_be_claimed(s))
        }),
    ]
}

/// A random token digest (what the API stores for a fresh token).
pub fn random_digest() -> Result<ContentHash, CheckFailure> {
    Ok(ContentHash::of(new_id()?.as_bytes()))
}

async fn health_ok<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    store.health().await?;
    Ok(())
}

async fn users_unique_case_insensitively<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let name = unique("Alice")?;
    let alice = store.create_user(&name, "hash-a", 100).await?;
    ensure_eq!(alice.username, name, "the username is kept as typed");
    ensure_eq!(alice.password_hash, "hash-a", "password hash");
    ensure_eq!(alice.created_at, 100, "created_at");
    ensure!(!alice.user_id.is_empty(), "empty user id");

    let shouted = name.to_uppercase();
    match store.create_user(&shouted, "hash-b", 101).await {
        Err(StorageError::AlreadyExists(_)) => {}
        other => {
            return Err(CheckFailure(format!(
                "{shouted:?} after {name:?}: {other:?}"
            )));
        }
    }
    ensure_eq!(
        store.user_by_name(&name.to_lowercase()).await?,
        Some(alice.clone()),
        "lookup ignores case"
    );
    ensure_eq!(
        store.user_by_id(&alice.user_id).await?,
        Some(alice.clone()),
        "by id"
    );
    ensure_eq!(
        store.user_by_name(&unique("nobody")?).await?,
        None,
        "unknown name"
    );
    ensure_eq!(store.user_by_id(&new_id()?).await?, None, "unknown id");

    let bob = store.create_user(&unique("bob")?, "hash-c", 102).await?;
    ensure!(bob.user_id != alice.user_id, "two users got one id");
    Ok(())
}

async fn device_keys_are_per_device_and_owner_only<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let alice = store.create_user(&unique("alice")?, "h", 1).await?;
    let bob = store.create_user(&unique("bob")?, "h", 1).await?;
    let laptop = store.create_device(&alice.user_id, "Laptop", 10).await?;
    let phone = store.create_device(&alice.user_id, "Phone", 20).await?;
    ensure_eq!(
        laptop.renpy_keys,
        Vec::<String>::new(),
        "a new device has no keys"
    );
    let keys = vec!["a2V5IG9uZQ==".to_owned(), "a2V5IHR3bw==".to_owned()];
    ensure!(
        store
            .set_device_keys(&alice.user_id, &laptop.device_id, &keys)
            .await?,
        "setting the owner's device keys"
    );
    ensure!(
        !store
            .set_device_keys(&bob.user_id, &phone.device_id, &keys)
            .await?,
        "bob set keys on alice's device"
    );
    let listed = store.list_devices(&alice.user_id).await?;
    let keys_of = |id: &str| {
        listed
            .iter()
            .find(|d| d.device_id == id)
            .map(|d| d.renpy_keys.clone())
    };
    ensure_eq!(
        keys_of(&laptop.device_id),
        Some(keys.clone()),
        "listed keys, in order"
    );
    ensure_eq!(
        keys_of(&phone.device_id),
        Some(Vec::new()),
        "the other device has none"
    );
    let replaced = vec!["a2V5IHRocmVl".to_owned()];
    store
        .set_device_keys(&alice.user_id, &laptop.device_id, &replaced)
        .await?;
    ensure_eq!(
        store.device(&laptop.device_id).await?.map(|d| d.renpy_keys),
        Some(replaced),
        "keys are replaced, not appended"
    );
    Ok(())
}

async fn devices_list_touch_delete<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let alice = store.create_user(&unique("alice")?, "h", 1).await?;
    let bob = store.create_user(&unique("bob")?, "h", 1).await?;
    let laptop = store.create_device(&alice.user_id, "Laptop", 10).await?;
    let phone = store.create_device(&alice.user_id, "Phone ☎", 20).await?;
    let bobs = store.create_device(&bob.user_id, "Bob's", 30).await?;
    ensure_eq!(laptop.user_id, alice.user_id, "device owner");
    ensure_eq!(laptop.name, "Laptop", "device name");
    ensure_eq!(laptop.created_at, 10, "device created_at");
    ensure_eq!(laptop.last_seen_at, None, "a new device was never seen");
    ensure!(
        laptop.device_id != phone.device_id,
        "two devices got one id"
    );

    let mut ids: Vec<String> = store
        .list_devices(&alice.user_id)
        .await?
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    ids.sort();
    let mut want = vec![laptop.device_id.clone(), phone.device_id.clone()];
    want.sort();
    ensure_eq!(ids, want, "alice's devices");

    store.touch_device(&laptop.device_id, 500).await?;
    let seen = store.device(&laptop.device_id).await?;
    ensure_eq!(
        seen.and_then(|d| d.last_seen_at),
        Some(500),
        "touched device"
    );

    ensure!(
        !store.delete_device(&bob.user_id, &laptop.device_id).await?,
        "bob deleted alice's device"
    );
    ensure!(
        store.device(&laptop.device_id).await?.is_some(),
        "device gone after a refused delete"
    );
    ensure!(
        store
            .delete_device(&alice.user_id, &laptop.device_id)
            .await?,
        "delete refused"
    );
    ensure_eq!(
        store.device(&laptop.device_id).await?,
        None,
        "deleted device still found"
    );
    ensure!(
        !store
            .delete_device(&alice.user_id, &laptop.device_id)
            .await?,
        "deleted twice"
    );
    let left: Vec<String> = store
        .list_devices(&alice.user_id)
        .await?
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    ensure_eq!(
        left,
        vec![phone.device_id],
        "alice's devices after the delete"
    );
    ensure_eq!(
        store.list_devices(&bob.user_id).await?,
        vec![bobs],
        "bob's devices"
    );
    Ok(())
}

async fn deleting_a_device_removes_its_refresh_tokens<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let user = store.create_user(&unique("carol")?, "h", 1).await?;
    let gone = store.create_device(&user.user_id, "old", 1).await?;
    let kept = store.create_device(&user.user_id, "new", 1).await?;
    let (t1, t2) = (random_digest()?, random_digest()?);
    let record = |device_id: &str| RefreshRecord {
        user_id: user.user_id.clone(),
        device_id: device_id.to_owned(),
        expires_at: 9_999,
    };
    store
        .put_refresh_token(&t1, &record(&gone.device_id))
        .await?;
    store
        .put_refresh_token(&t2, &record(&kept.device_id))
        .await?;
    ensure!(
        store.delete_device(&user.user_id, &gone.device_id).await?,
        "delete refused"
    );
    ensure_eq!(
        store.take_refresh_token(&t1).await?,
        None,
        "token of a deleted device"
    );
    ensure_eq!(
        store.take_refresh_token(&t2).await?,
        Some(record(&kept.device_id)),
        "token of another device"
    );
    Ok(())
}

async fn refresh_tokens_are_single_use<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let user = store.create_user(&unique("dave")?, "h", 1).await?;
    let device = store.create_device(&user.user_id, "d", 1).await?;
    let token = random_digest()?;
    let record = RefreshRecord {
        user_id: user.user_id.clone(),
        device_id: device.device_id.clone(),
        expires_at: 1_234_567,
    };
    store.put_refresh_token(&token, &record).await?;
    ensure_eq!(
        store.take_refresh_token(&random_digest()?).await?,
        None,
        "unknown token"
    );
    ensure_eq!(
        store.take_refresh_token(&token).await?,
        Some(record),
        "first take"
    );
    ensure_eq!(store.take_refresh_token(&token).await?, None, "second take");
    Ok(())
}

async fn spent_refresh_tokens_are_remembered_with_their_device<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let user = store.create_user(&unique("dora")?, "h", 1).await?;
    let device = store.create_device(&user.user_id, "d", 1).await?;
    let token = random_digest()?;
    let record = RefreshRecord {
        user_id: user.user_id.clone(),
        device_id: device.device_id.clone(),
        expires_at: 10_000,
    };
    store.put_spent_refresh_token(&token, &record, 500).await?;
    ensure_eq!(
        store.spent_refresh_token(&token, 9_999).await?,
        Some((record.clone(), 500)),
        "remembered until it expires"
    );
    ensure_eq!(
        store.spent_refresh_token(&token, 10_001).await?,
        None,
        "forgotten after"
    );
    ensure_eq!(
        store.spent_refresh_token(&random_digest()?, 1).await?,
        None,
        "an unknown token"
    );
    store
        .delete_device(&user.user_id, &device.device_id)
        .await?;
    ensure_eq!(
        store.spent_refresh_token(&token, 9_999).await?,
        None,
        "forgotten with its device"
    );
    Ok(())
}

async fn pairing_codes_are_single_use<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let user = store.create_user(&unique("erin")?, "h", 1).await?;
    let code = random_digest()?;
    store.put_pairing_code(&code, &user.user_id, 10_000).await?;
    ensure_eq!(
        store.claim_pairing_code(&random_digest()?, 5_000).await?,
        None,
        "unknown code"
    );
    ensure_eq!(
        store.claim_pairing_code(&code, 5_000).await?,
        Some(user.user_id.clone()),
        "first claim"
    );
    ensure_eq!(
        store.claim_pairing_code(&code, 5_001).await?,
        None,
        "second claim"
    );
    Ok(())
}

async fn expired_pairing_codes_cannot_be_claimed<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let user = store.create_user(&unique("frank")?, "h", 1).await?;
    let (old, fresh) = (random_digest()?, random_digest()?);
    store.put_pairing_code(&old, &user.user_id, 1_000).await?;
    store
        .put_pairing_code(&fresh, &user.user_id, 100_000)
        .await?;
    ensure_eq!(
        store.claim_pairing_code(&old, 60_000).await?,
        None,
        "expired code"
    );
    // Claiming an expired code must not disturb live ones.
    ensure_eq!(
        store.claim_pairing_code(&fresh, 60_000).await?,
        Some(user.user_id),
        "live code"
    );
    Ok(())
}

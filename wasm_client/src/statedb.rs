//! The client's own IndexedDB database (`renpy-cloud` by default): the engine's durable
//! state (base, cursor, scan cache, decisions) and the session tokens, each under a string
//! key. Separate from IDBFS, so the game's syncs never see or wipe it.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbTransactionMode};

use crate::js;

/// Version of the client database's schema (one object store `kv`).
const CLIENT_DB_VERSION: u32 = 1;
const KV: &str = "kv";

/// A handle to the client database; cheap to clone.
#[derive(Clone)]
pub struct ClientDb {
    db: Rc<IdbDatabase>,
}

impl ClientDb {
    /// Opens (creating if needed) the database `name`.
    pub async fn open(name: &str) -> Result<Self, String> {
        let db = js::open_db(name, CLIENT_DB_VERSION, "client")
            .await
            .map_err(|e| format!("cannot open IndexedDB {name}: {}", js::describe(&e)))?;
        Ok(Self { db: Rc::new(db) })
    }

    /// The string stored under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let run = async {
            let tx = self
                .db
                .transaction_with_str_and_mode(KV, IdbTransactionMode::Readonly)?;
            js::request(tx.object_store(KV)?.get(&JsValue::from_str(key))).await
        };
        let value = run
            .await
            .map_err(|e| format!("read {key}: {}", js::describe(&e)))?;
        Ok(value.as_string())
    }

    /// Stores `value` under `key` durably (resolves after the transaction commits).
    pub async fn put(&self, key: &str, value: &str) -> Result<(), String> {
        self.write(key, Some(value)).await
    }

    /// Removes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        self.write(key, None).await
    }

    async fn write(&self, key: &str, value: Option<&str>) -> Result<(), String> {
        let run = async {
            let tx = self
                .db
                .transaction_with_str_and_mode(KV, IdbTransactionMode::Readwrite)?;
            let done: Promise = js::tx_done(&tx);
            let store = tx.object_store(KV)?;
            match value {
                Some(v) => store.put_with_key(&JsValue::from_str(v), &JsValue::from_str(key))?,
                None => store.delete(&JsValue::from_str(key))?,
            };
            JsFuture::from(done).await
        };
        run.await
            .map(|_| ())
            .map_err(|e| format!("write {key}: {}", js::describe(&e)))
    }
}

impl Drop for ClientDb {
    fn drop(&mut self) {
        if Rc::strong_count(&self.db) == 1 {
            self.db.close();
        }
    }
}

/// Where one game's engine state lives in the client database.
#[derive(Clone)]
pub struct StateSlot {
    pub db: ClientDb,
    pub key: String,
}

impl StateSlot {
    pub async fn load(&self) -> Result<Option<Vec<u8>>, String> {
        Ok(self.db.get(&self.key).await?.map(String::into_bytes))
    }

    pub async fn save(&self, state: &[u8]) -> Result<(), String> {
        // The engine's state is JSON (`SyncState::encode`), so always UTF-8.
        let text = std::str::from_utf8(state).map_err(|e| format!("state is not UTF-8: {e}"))?;
        self.db.put(&self.key, text).await
    }
}

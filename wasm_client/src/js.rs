//! Bindings to `bridge.js` and small helpers for JS values.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction};

#[wasm_bindgen(module = "/src/bridge.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen)]
    pub(crate) fn idb_open(name: &str, version: u32, kind: &str) -> Promise;
    #[wasm_bindgen(js_name = idbDone)]
    pub(crate) fn idb_done(request: &IdbRequest) -> Promise;
    #[wasm_bindgen(js_name = txDone)]
    pub(crate) fn tx_done(tx: &IdbTransaction) -> Promise;

    #[wasm_bindgen(js_name = httpFetch)]
    pub(crate) fn http_fetch(
        url: &str,
        method: &str,
        headers: &JsValue,
        body: &JsValue,
        keepalive: bool,
        timeout_ms: u32,
    ) -> Promise;
    #[wasm_bindgen(js_name = nowMs)]
    pub(crate) fn now_ms() -> f64;

    #[wasm_bindgen(catch, js_name = fsList)]
    pub(crate) fn fs_list(fs: &JsValue, root: &str) -> Result<js_sys::Array, JsValue>;
    #[wasm_bindgen(catch, js_name = fsStat)]
    pub(crate) fn fs_stat(fs: &JsValue, path: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = fsRead)]
    pub(crate) fn fs_read(fs: &JsValue, path: &str) -> Result<js_sys::Uint8Array, JsValue>;
    #[wasm_bindgen(catch, js_name = fsWrite)]
    pub(crate) fn fs_write(
        fs: &JsValue,
        root: &str,
        path: &str,
        bytes: &[u8],
        mtime_ms: f64,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = fsUnlink)]
    pub(crate) fn fs_unlink(fs: &JsValue, path: &str) -> Result<(), JsValue>;
}

/// A readable one-line description of a thrown JS value (`Name: message`).
pub(crate) fn describe(value: &JsValue) -> String {
    let field = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => value.as_string().unwrap_or_else(|| format!("{value:?}")),
    }
}

/// The `name` of a thrown DOMException or Error (`TimeoutError`, `TypeError`, ...).
pub(crate) fn error_name(value: &JsValue) -> Option<String> {
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()
        .and_then(|v| v.as_string())
}

/// Reads a property of a JS object (`undefined` when absent or not an object).
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Sets a property on a plain object (cannot fail on one we created).
pub(crate) fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// Opens a database of `kind` (`"idbfs"` or `"client"`).
pub(crate) async fn open_db(name: &str, version: u32, kind: &str) -> Result<IdbDatabase, JsValue> {
    let db = wasm_bindgen_futures::JsFuture::from(idb_open(name, version, kind)).await?;
    db.dyn_into::<IdbDatabase>()
}

/// Waits for an IndexedDB request; its result.
pub(crate) async fn request(req: Result<IdbRequest, JsValue>) -> Result<JsValue, JsValue> {
    wasm_bindgen_futures::JsFuture::from(idb_done(&req?)).await
}

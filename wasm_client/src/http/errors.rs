//! How HTTP answers and fetch failures become [`TransportError`]s.

use sync_core::transport::{TransportError, TransportErrorKind};
use wasm_bindgen::JsValue;

use crate::js;

/// The status mapping is shared by every client (tested in `sync_core`).
pub use sync_core::transport::classify;

/// A rejected `fetch`: a timeout (`TimeoutError`) or the network (`TypeError`: offline,
/// DNS, refused, CORS — the browser does not say which).
pub fn from_fetch_error(e: &JsValue, url: &str) -> TransportError {
    let kind = match js::error_name(e).as_deref() {
        Some("TimeoutError") | Some("AbortError") => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Offline,
    };
    let shown = url.split_once('?').map_or(url, |(base, _)| base);
    TransportError::new(kind, format!("{shown}: {}", js::describe(e)))
}

//! The one conversion point from the client's errors to JavaScript: every rejected promise
//! of the binding is a JS `Error` carrying [`ClientError`]'s fields — `code` (stable, the
//! server's own code where it sent one: `offline`, `unauthorized`, `server_error`,
//! `local_io`, `changed_locally`, `sync_state`, `usage`, `busy`, …), `class` (`settings`,
//! `auth`, `network`, `server`, `local`), `transient` (retrying later may work) and, when
//! the server asked for a pause, `retryAfter` (seconds).

use sync_core::client::ErrorCode;
use sync_core::client::errors::{ClientError, ErrorClass};
use wasm_bindgen::JsValue;

use crate::js;

/// `e` as a JS `Error` with the fields above.
pub fn to_js(e: impl Into<ClientError>) -> JsValue {
    let e: ClientError = e.into();
    let error = js_sys::Error::new(&e.message);
    js::set(&error, "code", &JsValue::from_str(e.code.as_str()));
    js::set(&error, "class", &JsValue::from_str(e.class.as_str()));
    js::set(&error, "transient", &JsValue::from_bool(e.transient));
    if let Some(seconds) = e.retry_after {
        js::set(&error, "retryAfter", &JsValue::from_f64(seconds as f64));
    }
    error.into()
}

/// A bad argument from the calling page (the CLI's `usage`).
pub fn usage(message: impl std::fmt::Display) -> JsValue {
    to_js(ClientError::new(
        ErrorClass::Settings,
        ErrorCode::Usage,
        message.to_string(),
    ))
}

/// Another operation of this client is running (they must not overlap); try again soon.
pub fn busy() -> JsValue {
    let mut e = ClientError::new(
        ErrorClass::Local,
        ErrorCode::Busy,
        "another sync is running",
    );
    e.transient = true;
    to_js(e)
}

/// The game's boot load has started: IndexedDB is the game's now, pass its `FS`.
pub fn booted() -> JsValue {
    to_js(ClientError::new(
        ErrorClass::Local,
        ErrorCode::Booted,
        "the game has booted: pass its FS",
    ))
}

/// A failure of the client's own database (`statedb`) or of a JS call.
pub fn local_io(message: impl Into<String>) -> JsValue {
    to_js(ClientError::new(
        ErrorClass::Local,
        ErrorCode::LocalIo,
        message,
    ))
}

//! `renpy_cloud._native`: the sync engine of `sync_core` over `native_client`'s file-system
//! store and HTTP transport, as a Python extension for desktop Ren'Py games.
//!
//! Thin on purpose: the logic lives in `sync_core` and `native_client`; this crate adds a
//! background worker, an in-memory status, and the conversion to Python. Structured values
//! cross the boundary as JSON text (decoded by the pure-Python `renpy_cloud` package) and
//! screenshots as `bytes`. Every blocking call releases the GIL (`py.detach`).

mod client;
mod conflicts;
mod error;
mod ops;
mod py_errors;
mod settings;
mod status;
mod worker;

use pyo3::prelude::*;

pub use error::{ErrorClass, OpError};
pub use settings::{RawSettings, Settings, SettingsError};

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Client>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_errors::register(m)
}

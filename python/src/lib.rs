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
mod keys;
mod ops;
mod py_errors;
mod settings;
mod status;
mod worker;

use pyo3::prelude::*;

pub use error::{ErrorClass, OpError};
pub use keys::merge_security_keys;
pub use settings::{RawSettings, Settings, SettingsError};

/// Appends `verifying-key` lines for `keys` (base64 DER public keys) to
/// `<tokens_dir>/security_keys.txt` unless already trusted; returns the keys added.
#[pyfunction]
#[pyo3(name = "merge_security_keys")]
fn py_merge_security_keys(
    py: Python<'_>,
    tokens_dir: std::path::PathBuf,
    keys: Vec<String>,
) -> PyResult<Vec<String>> {
    py.detach(|| keys::merge_security_keys(&tokens_dir, &keys))
        .map_err(|e| py_errors::to_py(py, e))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Client>()?;
    m.add_function(wrap_pyfunction!(py_merge_security_keys, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_errors::register(m)
}

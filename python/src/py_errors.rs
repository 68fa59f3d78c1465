//! The one conversion point from [`OpError`] to Python exceptions. Each exception carries
//! `code` (stable, the same as `renpy-cloud --json`) and `transient` attributes.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{PyErr, Python, create_exception};

use crate::error::{ErrorClass, OpError};

create_exception!(
    renpy_cloud,
    RenpyCloudError,
    PyException,
    "Base of every renpy_cloud error."
);
create_exception!(
    renpy_cloud,
    SettingsError,
    RenpyCloudError,
    "A setting or argument cannot work."
);
create_exception!(
    renpy_cloud,
    AuthError,
    RenpyCloudError,
    "Not signed in, wrong password or a revoked session."
);
create_exception!(
    renpy_cloud,
    NetworkError,
    RenpyCloudError,
    "The server could not be reached, timed out or failed (5xx)."
);
create_exception!(
    renpy_cloud,
    ServerError,
    RenpyCloudError,
    "The server refused the request (4xx, quota)."
);
create_exception!(
    renpy_cloud,
    LocalError,
    RenpyCloudError,
    "The save folder, the profile or the sync state failed."
);

/// The Python exception for `e`, with `code` and `transient` set.
pub fn to_py(py: Python<'_>, e: OpError) -> PyErr {
    let err = match e.class {
        ErrorClass::Settings => SettingsError::new_err(e.message.clone()),
        ErrorClass::Auth => AuthError::new_err(e.message.clone()),
        ErrorClass::Network => NetworkError::new_err(e.message.clone()),
        ErrorClass::Server => ServerError::new_err(e.message.clone()),
        ErrorClass::Local => LocalError::new_err(e.message.clone()),
    };
    let value = err.value(py);
    // Exception instances always accept attributes; a failure would only lose the extras.
    let _ = value.setattr("code", e.code.as_str());
    let _ = value.setattr("transient", e.transient);
    err
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RenpyCloudError", py.get_type::<RenpyCloudError>())?;
    m.add("SettingsError", py.get_type::<SettingsError>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    m.add("NetworkError", py.get_type::<NetworkError>())?;
    m.add("ServerError", py.get_type::<ServerError>())?;
    m.add("LocalError", py.get_type::<LocalError>())?;
    Ok(())
}

//! The client layer: rules every client surface (the desktop module, the CLI, the browser
//! client) shares, so each lives once. Sans-I/O like the rest of the core: callers read and
//! write files and make requests; these functions decide.

pub mod codes;
pub mod conflicts;
pub mod errors;
pub mod savetokens;
pub mod scheduler;
pub mod session;

pub use codes::ErrorCode;

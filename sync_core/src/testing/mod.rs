//! Test kits shared across crates (feature `testing`, never in a release build).
//!
//! - [`store_suite`]: the `SaveStore` conformance suite. Every store — the desktop folder,
//!   both browser stores, the simulator's — runs it, so the guards the engine relies on
//!   (atomic replace, kept mtimes, the `Expect` check, deletes of missing files, state
//!   round trips) hold the same way everywhere.

pub mod store_suite;

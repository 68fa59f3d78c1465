//! The I/O-free heart of renpy-cloud.
//!
//! Everything here is deterministic and runs unchanged natively, in the browser
//! (wasm32-unknown-unknown) and inside the backend:
//!
//! - [`path`]: validated relative save paths.
//! - [`rules`]: which files of a save folder sync (Ren'Py defaults plus game globs).
//! - [`savemeta`]: reading a Ren'Py `.save` zip's `json` metadata and screenshot.
//! - [`hash`]: SHA-256 content hashes.
//! - [`protocol`]: the wire types shared by clients and the backend (`/v1` API); [`routes`]:
//!   its paths.
//! - [`ledger`]: the server-side rule for a conditional commit, shared by every backend.
//! - [`locations`]: Ren'Py's several save locations, kept in step with the synced folder.
//! - [`planner`] and [`policy`]: the three-way sync planner and conflict policies.
//! - [`client`]: rules every client surface shares (Ren'Py save-token keys, ...).
//! - [`engine`]: the async sync engine, generic over a [`store::SaveStore`] and a
//!   [`transport::Transport`]; no `Send` bound so it also runs in a browser.

pub mod client;
pub mod engine;
pub mod hash;
pub mod ledger;
pub mod locations;
pub mod path;
pub mod planner;
pub mod policy;
pub mod protocol;
pub mod routes;
pub mod rules;
pub mod savemeta;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use hash::ContentHash;
pub use path::{GameId, SavePath};

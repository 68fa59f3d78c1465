//! renpy-cloud in the browser, for web-exported Ren'Py games.
//!
//! The sync engine of `sync_core`, unchanged, over two local sides and one remote side:
//!
//! - [`idbfs::IdbfsStore`]: Emscripten IDBFS records in IndexedDB, written directly —
//!   only before the game's boot-time `FS.syncfs(true)`;
//! - [`emfs::FsStore`]: the running game's Emscripten `FS` (then `FS.syncfs(false)`);
//! - each with a mirror of Ren'Py's second save location, `<savedir>/sync`
//!   ([`files::GameFiles`] over `sync_core::locations::Locations`);
//! - [`http::FetchTransport`]: the `/v1` API over `fetch`, with token refresh.
//!
//! The engine's state (base, cursor, scan cache) and the session live in the client's own
//! database ([`statedb`]), so a reload or a closed tab loses no pending upload: whatever is
//! in IDBFS and not in the base is uploaded by the next sync. [`api::Client`] is the class
//! the glue script (`js/renpy-cloud.js`) drives, on the timer of [`SyncScheduler`] (the
//! core's scheduler); [`errors`] is the one conversion to JS errors. [`savetokens`] makes a
//! player's browsers trust each other's Ren'Py save-token keys.

pub mod api;
pub mod conflicts;
pub mod emfs;
pub mod errors;
pub mod files;
pub mod http;
pub mod idbfs;
mod js;
pub mod savetokens;
pub mod scheduler;
pub mod statedb;

pub use api::Client;
pub use scheduler::SyncScheduler;

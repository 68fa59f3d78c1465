//! renpy-cloud desktop client: the file-system [`fs_store::FsSaveStore`], a game's save
//! locations ([`desktop`]), the HTTP [`http::HttpTransport`], the [`profile::Profile`] of
//! signed-in sessions, save-token trust ([`savetokens`]), the conflict view with device names
//! ([`conflicts`]), and the `renpy-cloud` command line ([`cli`]).

pub mod cli;
pub mod conflicts;
pub mod desktop;
pub mod fs_store;
pub mod http;
pub mod profile;
pub mod savetokens;
pub mod session;

//! renpy-cloud desktop client: the file-system [`fs_store::FsSaveStore`], the HTTP
//! [`http::HttpTransport`], the [`profile::Profile`] of signed-in sessions, and the
//! `renpy-cloud` command line ([`cli`]).

pub mod cli;
pub mod fs_store;
pub mod http;
pub mod profile;
pub mod session;

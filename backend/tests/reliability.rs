//! Reliability under abuse (issue 11): the real server binary on 127.0.0.1, killed with
//! SIGKILL while clients sync, and flooded with oversized failed logins while its memory is
//! watched. Both tests need the embedded backend (its data dir, its process's memory); on
//! the AWS backend they say so and return.

mod common;

#[path = "reliability/crash.rs"]
mod crash;
#[path = "reliability/login_flood.rs"]
mod login_flood;
#[path = "reliability/net.rs"]
mod net;

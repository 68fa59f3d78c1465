//! Amazon Cognito: verifying access tokens ([`verify`]), the account calls the API
//! proxies in Cognito mode ([`accounts`]), and the [`Accounts`](crate::api::accounts::Accounts)
//! implementation that wires both into the API ([`proxy`], with [`sessions`]).

pub mod accounts;
pub mod proxy;
pub mod sessions;
pub mod verify;

pub use accounts::{AccountError, CognitoAccounts, CognitoTokens};
pub use proxy::CognitoProxy;
pub use sessions::CognitoSessions;
pub use verify::{AccessClaims, CognitoVerifier, TokenRejected};

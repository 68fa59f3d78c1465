//! Amazon Cognito: verifying access tokens ([`verify`]) and the account calls the API
//! proxies in Cognito mode ([`accounts`]).

pub mod accounts;
pub mod verify;

pub use accounts::{AccountError, CognitoAccounts, CognitoTokens};
pub use verify::{AccessClaims, CognitoVerifier, TokenRejected};

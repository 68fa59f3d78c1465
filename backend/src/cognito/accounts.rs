//! Cognito's public account API, called by the backend on behalf of clients: the API's own
//! `/v1/auth/*` endpoints proxy to it in Cognito mode, so both clients stay unchanged.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;

/// Why a Cognito account call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the username is taken")]
    UsernameTaken,
    /// The password does not meet the pool's policy (Cognito's message says why).
    #[error("the password is not accepted: {0}")]
    WeakPassword(String),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("the refresh token is not valid")]
    BadRefreshToken,
    #[error("Cognito is unavailable: {0}")]
    Unavailable(String),
}

/// Tokens Cognito issued for one sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoTokens {
    pub access_token: String,
    /// Absent on a refresh (Cognito keeps the one it issued at sign-in).
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// One user pool and app client.
#[derive(Clone, Debug)]
pub struct CognitoAccounts {
    client: Client,
    pool_id: String,
    client_id: String,
}

fn code_and_message<E, R>(err: &SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(e) => (
            e.err().code().unwrap_or("error").to_owned(),
            e.err().message().unwrap_or_default().to_owned(),
        ),
        other => ("transport".to_owned(), format!("{other:?}")),
    }
}

impl CognitoAccounts {
    pub fn new(sdk: &aws_config::SdkConfig, pool_id: &str, client_id: &str) -> Self {
        Self {
            client: Client::new(sdk),
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// Creates and confirms a user (players have no e-mail step); returns the user's `sub`.
    pub async fn sign_up(&self, username: &str, password: &str) -> Result<String, AccountError> {
        let out = self
            .client
            .sign_up()
            .client_id(&self.client_id)
            .username(username)
            .password(password)
            .send()
            .await
            .map_err(|e| match code_and_message(&e) {
                (code, _) if code == "UsernameExistsException" => AccountError::UsernameTaken,
                (code, msg) if code == "InvalidPasswordException" => {
                    AccountError::WeakPassword(msg)
                }
                (code, msg) => AccountError::Unavailable(format!("{code}: {msg}")),
            })?;
        self.client
            .admin_confirm_sign_up()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| {
                let (code, msg) = code_and_message(&e);
                AccountError::Unavailable(format!("{code}: {msg}"))
            })?;
        Ok(out.user_sub)
    }

    /// Signs in with a password (`USER_PASSWORD_AUTH`).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<CognitoTokens, AccountError> {
        self.initiate(
            AuthFlowType::UserPasswordAuth,
            &[("USERNAME", username), ("PASSWORD", password)],
            AccountError::BadCredentials,
        )
        .await
    }

    /// A new access token for a refresh token (`REFRESH_TOKEN_AUTH`).
    pub async fn refresh(&self, refresh_token: &str) -> Result<CognitoTokens, AccountError> {
        self.initiate(
            AuthFlowType::RefreshTokenAuth,
            &[("REFRESH_TOKEN", refresh_token)],
            AccountError::BadRefreshToken,
        )
        .await
    }

    async fn initiate(
        &self,
        flow: AuthFlowType,
        params: &[(&str, &str)],
        refused: AccountError,
    ) -> Result<CognitoTokens, AccountError> {
        let mut req = self
            .client
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(flow);
        for (k, v) in params {
            req = req.auth_parameters(*k, *v);
        }
        let out = req.send().await.map_err(|e| match code_and_message(&e) {
            (code, _) if code == "NotAuthorizedException" || code == "UserNotFoundException" => {
                refused.clone()
            }
            (code, msg) => AccountError::Unavailable(format!("{code}: {msg}")),
        })?;
        let result = out
            .authentication_result
            .ok_or_else(|| AccountError::Unavailable("Cognito asked for a challenge".into()))?;
        Ok(CognitoTokens {
            access_token: result
                .access_token
                .ok_or_else(|| AccountError::Unavailable("no access token".into()))?,
            refresh_token: result.refresh_token,
            expires_in: result.expires_in.max(0) as u64,
        })
    }
}

/// Creates a user pool and app client shaped like `infra/template.yaml`'s (long
/// passphrases without character-class rules, case-insensitive usernames, password and
/// refresh-token sign-in): local runs and tests against an emulator. Returns
/// `(pool_id, client_id)`.
pub async fn create_pool(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<(String, String), AccountError> {
    use aws_sdk_cognitoidentityprovider::types::{
        ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType, UsernameConfigurationType,
    };
    let client = Client::new(sdk);
    let failed = |what: &str, code: (String, String)| {
        AccountError::Unavailable(format!("{what}: {}: {}", code.0, code.1))
    };
    let policy = PasswordPolicyType::builder()
        .minimum_length(10)
        .require_uppercase(false)
        .require_lowercase(false)
        .require_numbers(false)
        .require_symbols(false)
        .build();
    let username_config = UsernameConfigurationType::builder()
        .case_sensitive(false)
        .build()
        .map_err(|e| AccountError::Unavailable(e.to_string()))?;
    let pool = client
        .create_user_pool()
        .pool_name(name)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(policy)
                .build(),
        )
        .username_configuration(username_config)
        .send()
        .await
        .map_err(|e| failed("create a user pool", code_and_message(&e)))?;
    let pool_id = pool
        .user_pool
        .and_then(|p| p.id)
        .ok_or_else(|| AccountError::Unavailable("the new pool has no id".into()))?;
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("api")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(|e| failed("create an app client", code_and_message(&e)))?;
    let client_id = app
        .user_pool_client
        .and_then(|c| c.client_id)
        .ok_or_else(|| AccountError::Unavailable("the new app client has no id".into()))?;
    Ok((pool_id, client_id))
}

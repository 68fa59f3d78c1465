//! Cognito against moto: sign-up, login and refresh through the account proxy, and access
//! tokens verified with the pool's JWKS fetched from moto's `/<pool>/.well-known/jwks.json`.

mod aws_common;

use aws_common::Moto;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType,
};
use backend::cognito::{AccountError, CognitoAccounts, CognitoVerifier, TokenRejected};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

struct Pool {
    moto: Moto,
    pool_id: String,
    client_id: String,
    sdk: aws_config::SdkConfig,
}

impl Pool {
    async fn create() -> Self {
        let moto = Moto::start().await;
        let sdk = moto.sdk().await;
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
        let pool = idp
            .create_user_pool()
            .pool_name("players")
            // The template's policy: long passphrases, no character-class rules.
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(
                        PasswordPolicyType::builder()
                            .minimum_length(10)
                            .require_uppercase(false)
                            .require_lowercase(false)
                            .require_numbers(false)
                            .require_symbols(false)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("create pool");
        let pool_id = pool.user_pool.and_then(|p| p.id).expect("pool id");
        let client = idp
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("api")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .expect("create client");
        let client_id = client
            .user_pool_client
            .and_then(|c| c.client_id)
            .expect("client id");
        Self {
            moto,
            pool_id,
            client_id,
            sdk,
        }
    }

    fn accounts(&self) -> CognitoAccounts {
        CognitoAccounts::new(&self.sdk, &self.pool_id, &self.client_id)
    }

    /// A verifier configured exactly as the Lambda would be from its environment.
    fn verifier(&self) -> CognitoVerifier {
        let s = self.moto.settings("t", "b", &self.pool_id, &self.client_id);
        CognitoVerifier::from_settings(&s).expect("verifier")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Replaces the token's claims, keeping header and signature.
fn with_claims(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    edit(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
    format!("{}.{payload}.{}", parts[0], parts[2])
}

fn with_header(token: &str, header: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        parts[1],
        parts[2]
    )
}

#[tokio::test]
async fn sign_up_login_refresh_and_verify_against_moto() {
    let pool = Pool::create().await;
    let accounts = pool.accounts();
    let sub = accounts
        .sign_up("alice", "correct horse battery")
        .await
        .expect("sign up");
    assert_eq!(
        accounts.sign_up("alice", "another password").await,
        Err(AccountError::UsernameTaken)
    );
    assert_eq!(
        accounts.login("alice", "wrong password").await,
        Err(AccountError::BadCredentials)
    );
    let tokens = accounts
        .login("alice", "correct horse battery")
        .await
        .expect("login");
    assert!(tokens.expires_in > 0);
    let verifier = pool.verifier();
    let claims = verifier
        .verify(&tokens.access_token, now())
        .await
        .expect("a fresh access token verifies");
    assert_eq!(claims.sub, sub);
    assert_eq!(claims.token_use, "access");
    assert_eq!(claims.client_id, pool.client_id);

    let refreshed = accounts
        .refresh(tokens.refresh_token.as_deref().expect("refresh token"))
        .await
        .expect("refresh");
    let again = verifier
        .verify(&refreshed.access_token, now())
        .await
        .expect("a refreshed token verifies");
    assert_eq!(again.sub, sub);
    assert_eq!(
        accounts.refresh("not-a-refresh-token").await,
        Err(AccountError::BadRefreshToken)
    );
}

#[tokio::test]
async fn bad_tokens_are_rejected() {
    let pool = Pool::create().await;
    let accounts = pool.accounts();
    accounts
        .sign_up("bob", "correct horse battery")
        .await
        .expect("sign up");
    let token = accounts
        .login("bob", "correct horse battery")
        .await
        .expect("login")
        .access_token;
    let verifier = pool.verifier();
    let exp = verifier.verify(&token, now()).await.expect("valid").exp;

    assert_eq!(
        verifier.verify(&token, exp).await,
        Err(TokenRejected::Expired),
        "at its expiry"
    );
    let tampered = with_claims(&token, |c| c["sub"] = "someone-else".into());
    assert_eq!(
        verifier.verify(&tampered, now()).await,
        Err(TokenRejected::BadSignature)
    );
    let unsigned = format!(
        "{}.",
        with_header(&token, r#"{"alg":"none","kid":"dummy"}"#)
            .rsplit_once('.')
            .expect("three parts")
            .0
    );
    assert_eq!(
        verifier.verify(&unsigned, now()).await,
        Err(TokenRejected::Algorithm("none".into()))
    );
    assert_eq!(
        verifier
            .verify(
                &with_header(&token, r#"{"alg":"RS256","kid":"other"}"#),
                now()
            )
            .await,
        Err(TokenRejected::UnknownKey)
    );

    let s = pool.moto.settings("t", "b", &pool.pool_id, &pool.client_id);
    let other_pool = CognitoVerifier::new(
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other",
        &s.client_id,
        &s.jwks_url,
    )
    .expect("verifier")
    .for_emulator(true);
    assert!(matches!(
        other_pool.verify(&token, now()).await,
        Err(TokenRejected::WrongIssuer(_))
    ));
    let other_client = CognitoVerifier::new(&s.issuer, "someotherclient", &s.jwks_url)
        .expect("verifier")
        .for_emulator(true);
    assert_eq!(
        other_client.verify(&token, now()).await,
        Err(TokenRejected::WrongClient)
    );

    // An ID token is signed by the same key but is not an access token.
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&pool.sdk);
    let id_token = idp
        .initiate_auth()
        .client_id(&pool.client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "bob")
        .auth_parameters("PASSWORD", "correct horse battery")
        .send()
        .await
        .expect("login")
        .authentication_result
        .and_then(|r| r.id_token)
        .expect("id token");
    assert_eq!(
        verifier.verify(&id_token, now()).await,
        Err(TokenRejected::WrongTokenUse("id".into()))
    );
}

#[tokio::test]
async fn unreachable_keys_are_reported_as_such() {
    let verifier = CognitoVerifier::new(
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
        "client",
        "http://127.0.0.1:9/us-east-1_x/.well-known/jwks.json",
    )
    .expect("verifier");
    let token = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#),
        URL_SAFE_NO_PAD.encode("{}")
    );
    assert!(matches!(
        verifier.verify(&token, now()).await,
        Err(TokenRejected::KeysUnavailable(_))
    ));
}

/// The router with Cognito accounts on moto's stores, served on 127.0.0.1 from this runtime.
async fn serve_cognito_api(pool: &Pool) -> String {
    use backend::app::{AppState, app};
    use backend::cognito::{CognitoProxy, CognitoSessions};
    let meta = pool.moto.fresh_table().await;
    let (blobs, _) = pool.moto.fresh_bucket().await;
    let accounts = CognitoProxy::new(
        pool.accounts(),
        pool.verifier(),
        CognitoSessions::new(&pool.sdk, meta.table_name()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = AppState::with_accounts(
        backend::config::ApiConfig::new(&base),
        &[7u8; 32],
        std::sync::Arc::new(meta),
        std::sync::Arc::new(blobs),
        std::sync::Arc::new(accounts),
    );
    tokio::spawn(backend::server::serve(
        listener,
        app(state),
        std::future::pending(),
    ));
    base
}

async fn devices(base: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/devices"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v1/devices");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn tokens_minted_by_cognito_directly_get_a_device_per_sign_in_session() {
    let pool = Pool::create().await;
    let base = serve_cognito_api(&pool).await;
    let signup: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/signup"))
        .json(&serde_json::json!({
            "username": "carol", "password": "correct horse battery", "device_name": "laptop"
        }))
        .send()
        .await
        .expect("sign up through the API")
        .json()
        .await
        .expect("token response");
    let api_token = signup["access_token"].as_str().expect("access token");
    assert_eq!(devices(&base, api_token).await.0, 200);

    // A client that signs in with Cognito's own API: first sight creates one device for
    // its sign-in session, and a refreshed token of the same session reuses it.
    let direct = pool
        .accounts()
        .login("carol", "correct horse battery")
        .await
        .expect("direct login");
    let (status, body) = devices(&base, &direct.access_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["devices"].as_array().expect("devices").len(), 2);
    let refreshed = pool
        .accounts()
        .refresh(direct.refresh_token.as_deref().expect("refresh token"))
        .await
        .expect("direct refresh");
    let (status, body) = devices(&base, &refreshed.access_token).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Cognito sign-in"), "{names:?}");

    // The API's token still belongs to the laptop, and is refused once it is deleted.
    let laptop = signup["device_id"].as_str().expect("device id");
    let deleted = reqwest::Client::new()
        .delete(format!("{base}/v1/devices/{laptop}"))
        .bearer_auth(&refreshed.access_token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(devices(&base, api_token).await.0, 401);
}

//! Configuration of the AWS backend, read from environment variables and validated at start.
//!
//! | variable | meaning |
//! |---|---|
//! | `RENPY_CLOUD_TABLE` | DynamoDB table (required) |
//! | `RENPY_CLOUD_BUCKET` | S3 bucket for save bytes (required) |
//! | `RENPY_CLOUD_USER_POOL_ID` | Cognito user pool id, e.g. `eu-west-1_AbC123` (required) |
//! | `RENPY_CLOUD_CLIENT_ID` | Cognito app client id (required) |
//! | `AWS_REGION` | region of all three services (required; Lambda sets it) |
//! | `RENPY_CLOUD_AWS_ENDPOINT` | endpoint override for every service (tests: moto) |
//! | `RENPY_CLOUD_JWKS_URL` | where to fetch the pool's keys (default: the issuer's) |
//!
//! The API's own settings (allowed origins, quotas) are read by `config::ApiConfig`.

use std::collections::BTreeMap;

/// Why the AWS configuration was refused; the message names the variable to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
}

/// Where the AWS backend keeps its data and whose tokens it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub table: String,
    pub bucket: String,
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// Endpoint override for S3, DynamoDB and Cognito (moto in tests); `None` in AWS.
    pub endpoint: Option<String>,
    /// The `iss` every access token must carry.
    pub issuer: String,
    pub jwks_url: String,
}

impl AwsSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, AwsConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the given variables (the environment, or a test's map).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, AwsConfigError> {
        let get = |name: &'static str| -> Result<String, AwsConfigError> {
            match vars.get(name).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(AwsConfigError::Missing(name)),
            }
        };
        let optional = |name: &'static str| get(name).ok();
        let region = get("AWS_REGION")?;
        check_chars("AWS_REGION", &region, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
        let table = get("RENPY_CLOUD_TABLE")?;
        check_chars("RENPY_CLOUD_TABLE", &table, |c| {
            c.is_ascii_alphanumeric() || "_-.".contains(c)
        })?;
        let bucket = get("RENPY_CLOUD_BUCKET")?;
        check_chars("RENPY_CLOUD_BUCKET", &bucket, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)
        })?;
        let user_pool_id = get("RENPY_CLOUD_USER_POOL_ID")?;
        if !user_pool_id.starts_with(&format!("{region}_")) {
            return Err(AwsConfigError::Invalid {
                name: "RENPY_CLOUD_USER_POOL_ID",
                why: format!("{user_pool_id:?} is not a pool of region {region} (<region>_<id>)"),
            });
        }
        check_chars("RENPY_CLOUD_USER_POOL_ID", &user_pool_id, |c| {
            c.is_ascii_alphanumeric() || "_-".contains(c)
        })?;
        let client_id = get("RENPY_CLOUD_CLIENT_ID")?;
        check_chars("RENPY_CLOUD_CLIENT_ID", &client_id, |c| {
            c.is_ascii_alphanumeric()
        })?;
        let endpoint = optional("RENPY_CLOUD_AWS_ENDPOINT")
            .map(|e| check_url("RENPY_CLOUD_AWS_ENDPOINT", e))
            .transpose()?;
        let jwks_override = optional("RENPY_CLOUD_JWKS_URL")
            .map(|url| check_url("RENPY_CLOUD_JWKS_URL", url))
            .transpose()?;
        let settings = Self {
            table,
            bucket,
            region,
            user_pool_id: String::new(),
            client_id: String::new(),
            endpoint,
            issuer: String::new(),
            jwks_url: String::new(),
        };
        Ok(settings.with_user_pool(&user_pool_id, &client_id, jwks_override))
    }

    /// These settings for another user pool and app client (local runs that create their
    /// own pool); the issuer and the JWKS URL follow, unless `jwks_url` overrides the latter.
    pub fn with_user_pool(self, pool_id: &str, client_id: &str, jwks_url: Option<String>) -> Self {
        let issuer = format!(
            "https://cognito-idp.{}.amazonaws.com/{pool_id}",
            self.region
        );
        let jwks_url = jwks_url.unwrap_or_else(|| match &self.endpoint {
            // moto serves the pool's keys on its own host, under the same path as AWS.
            Some(e) => format!("{e}/{pool_id}/.well-known/jwks.json"),
            None => format!("{issuer}/.well-known/jwks.json"),
        });
        Self {
            user_pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
            issuer,
            jwks_url,
            ..self
        }
    }
}

fn check_chars(
    name: &'static str,
    value: &str,
    ok: impl Fn(char) -> bool,
) -> Result<(), AwsConfigError> {
    match value.chars().find(|c| !ok(*c)) {
        None if value.len() <= 255 => Ok(()),
        None => Err(AwsConfigError::Invalid {
            name,
            why: "longer than 255 characters".into(),
        }),
        Some(c) => Err(AwsConfigError::Invalid {
            name,
            why: format!("{value:?} contains {c:?}"),
        }),
    }
}

fn check_url(name: &'static str, url: String) -> Result<String, AwsConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(AwsConfigError::Invalid {
            name,
            why: format!("{url:?} is not an http(s) URL"),
        })
    }
}

/// The shared SDK configuration: the region, the endpoint override if any (with dummy
/// credentials when none are in the environment, as moto accepts any), else the default
/// credential chain (the Lambda role).
pub async fn sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(settings.region.clone()));
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "static",
            ));
        }
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("RENPY_CLOUD_TABLE", "renpy-cloud"),
        ("RENPY_CLOUD_BUCKET", "renpy-cloud-saves"),
        ("RENPY_CLOUD_USER_POOL_ID", "eu-west-1_AbC123"),
        ("RENPY_CLOUD_CLIENT_ID", "abc123def"),
    ];

    #[test]
    fn complete_settings_derive_issuer_and_keys() {
        let s = AwsSettings::from_vars(&vars(GOOD)).expect("valid");
        assert_eq!(
            s.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
        assert_eq!(s.jwks_url, format!("{}/.well-known/jwks.json", s.issuer));
        let mut with_moto = vars(GOOD);
        with_moto.insert(
            "RENPY_CLOUD_AWS_ENDPOINT".into(),
            "http://127.0.0.1:5000/".into(),
        );
        let s = AwsSettings::from_vars(&with_moto).expect("valid");
        assert_eq!(
            s.jwks_url,
            "http://127.0.0.1:5000/eu-west-1_AbC123/.well-known/jwks.json"
        );
    }

    #[test]
    fn each_missing_or_bad_variable_is_named() {
        for (name, _) in GOOD {
            let mut v = vars(GOOD);
            v.remove(*name);
            assert_eq!(
                AwsSettings::from_vars(&v),
                Err(AwsConfigError::Missing(name_static(name)))
            );
        }
        for (name, bad) in [
            ("RENPY_CLOUD_BUCKET", "Upper_Case"),
            ("RENPY_CLOUD_USER_POOL_ID", "us-east-1_AbC123"),
            ("RENPY_CLOUD_AWS_ENDPOINT", "localhost:5000"),
        ] {
            let mut v = vars(GOOD);
            v.insert(name.into(), bad.into());
            let err = AwsSettings::from_vars(&v).expect_err("invalid");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    fn name_static(name: &str) -> &'static str {
        GOOD.iter()
            .map(|(n, _)| *n)
            .find(|n| *n == name)
            .expect("known name")
    }
}

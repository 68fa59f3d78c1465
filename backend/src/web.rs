//! Static files next to the API (`--web-root`): the web demo and the browser client package.
//!
//! Requests under `/v1` always go to the API (so unknown API paths keep their JSON 404);
//! everything else is a file of the web root. Static answers carry a Content-Security-Policy
//! whose `frame-ancestors` (and `frame-src`/`connect-src`) list the configured allowed
//! origins, so only those pages may embed the demo in an iframe.

use std::convert::Infallible;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::ServiceExt;
use tower::util::service_fn;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::ApiConfig;

/// Whether a request path belongs to the API rather than to the web root.
fn is_api_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// `origin` if it can be used as a CSP source expression (scheme://host[:port], nothing
/// that could end the directive or add another source).
fn csp_source(origin: &str) -> Option<&str> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, rest) = origin.split_once("://")?;
    let scheme_ok = scheme == "http" || scheme == "https";
    let rest_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '*'));
    (scheme_ok && rest_ok).then_some(origin)
}

/// The scheme://host[:port] part of a URL.
fn origin_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').map_or(url.len(), |i| scheme.len() + 3 + i);
            &url[..end]
        }
        None => url,
    }
}

/// The Content-Security-Policy of static files for this configuration.
pub fn content_security_policy(config: &ApiConfig) -> String {
    let origins: Vec<&str> = config
        .allowed_origins
        .iter()
        .filter_map(|o| csp_source(o))
        .collect();
    let list = |extra: Option<&str>| {
        let mut s = String::from("'self'");
        for o in extra.into_iter().chain(origins.iter().copied()) {
            s.push(' ');
            s.push_str(o);
        }
        s
    };
    // Signed blob URLs point at the public URL, which may be another origin than the page.
    let public = csp_source(origin_of(&config.public_url));
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src {}; frame-src {}; frame-ancestors {}; \
         object-src 'none'; base-uri 'none'; form-action 'none'",
        list(public),
        list(None),
        list(None),
    )
}

/// Serves `api` under `/v1` and the files of `dir` everywhere else (`index.html` for
/// directories), with the CSP of [`content_security_policy`].
pub fn with_web_root(api: Router, dir: &Path, config: &ApiConfig) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(config))
        .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'self'"));
    let files = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Rebuilt files show up at once; the files are small and served from loopback.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        .service(ServeDir::new(dir).append_index_html_on_directories(true));
    let dispatch = service_fn(move |req: Request| {
        let api = api.clone();
        let files = files.clone();
        async move {
            if is_api_path(req.uri().path()) {
                api.oneshot(req).await
            } else {
                let response = files.oneshot(req).await?;
                Ok::<Response, Infallible>(response.map(Body::new))
            }
        }
    });
    Router::new().fallback_service(dispatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_v1_paths_are_api_paths() {
        assert!(is_api_path("/v1/health"));
        assert!(is_api_path("/v1"));
        assert!(!is_api_path("/v1x"));
        assert!(!is_api_path("/renpy-cloud/renpy-cloud.js"));
        assert!(!is_api_path("/"));
    }

    #[test]
    fn csp_lists_allowed_origins_and_drops_unsafe_ones() {
        let mut config = ApiConfig::new("http://127.0.0.1:8787/");
        config.allowed_origins = vec![
            "http://localhost:8787".into(),
            "https://portal.example/".into(),
            "https://evil.example; script-src *".into(),
            "*".into(),
        ];
        let csp = content_security_policy(&config);
        assert!(
            csp.contains("frame-ancestors 'self' http://localhost:8787 https://portal.example;"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:8787 http://localhost:8787"),
            "{csp}"
        );
        assert!(!csp.contains("evil"), "{csp}");
        assert_eq!(csp.matches("script-src").count(), 1, "{csp}");
    }

    #[test]
    fn origin_of_strips_the_path() {
        assert_eq!(origin_of("https://a.example/x/y"), "https://a.example");
        assert_eq!(origin_of("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }
}

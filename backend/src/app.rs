//! The one router of the API, served by the binary over TCP and by AWS Lambda.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_http::cors::{AllowOrigin, CorsLayer};

use sync_core::routes;

use crate::api::{auth, blobs, devices, error, health, history, openapi, pairing, sync};
pub use crate::state::{AppInner, AppState};

/// One entry of the route table: method, axum path and the handler registered for it.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

/// Every route of the API. The router is built from this table, and the OpenAPI test checks
/// the document against it.
pub static ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: routes::HEALTH,
        handler: |m| on(m, health::health),
    },
    Route {
        method: Method::GET,
        path: routes::OPENAPI,
        handler: |m| on(m, openapi::document),
    },
    Route {
        method: Method::POST,
        path: routes::SIGNUP,
        handler: |m| on(m, auth::signup),
    },
    Route {
        method: Method::POST,
        path: routes::LOGIN,
        handler: |m| on(m, auth::login),
    },
    Route {
        method: Method::POST,
        path: routes::REFRESH,
        handler: |m| on(m, auth::refresh),
    },
    Route {
        method: Method::POST,
        path: routes::LOGOUT,
        handler: |m| on(m, auth::logout),
    },
    Route {
        method: Method::GET,
        path: routes::DEVICES,
        handler: |m| on(m, devices::list),
    },
    Route {
        method: Method::DELETE,
        path: routes::DEVICE,
        handler: |m| on(m, devices::delete),
    },
    Route {
        method: Method::PUT,
        path: routes::DEVICE_KEYS,
        handler: |m| on(m, devices::put_keys),
    },
    Route {
        method: Method::POST,
        path: routes::PAIRING,
        handler: |m| on(m, pairing::create),
    },
    Route {
        method: Method::POST,
        path: routes::PAIRING_CLAIM,
        handler: |m| on(m, pairing::claim),
    },
    Route {
        method: Method::POST,
        path: routes::CHANGES,
        handler: |m| on(m, sync::changes),
    },
    Route {
        method: Method::POST,
        path: routes::COMMIT,
        handler: |m| on(m, sync::commit),
    },
    Route {
        method: Method::GET,
        path: routes::MANIFEST,
        handler: |m| on(m, sync::manifest),
    },
    Route {
        method: Method::POST,
        path: routes::DOWNLOADS,
        handler: |m| on(m, sync::downloads),
    },
    Route {
        method: Method::GET,
        path: routes::HISTORY,
        handler: |m| on(m, history::history),
    },
    Route {
        method: Method::POST,
        path: routes::RESTORE,
        handler: |m| on(m, history::restore),
    },
    Route {
        method: Method::PUT,
        path: routes::BLOB,
        handler: |m| on(m, blobs::upload),
    },
    Route {
        method: Method::GET,
        path: routes::BLOB,
        handler: |m| on(m, blobs::download),
    },
];

fn method_filter(method: &Method) -> MethodFilter {
    match *method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::OPTIONS,
    }
}

/// The API router. No listener-specific logic: the same router runs behind `axum::serve`
/// and behind `lambda_http`.
pub fn app(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for route in ROUTES {
        router = router.route(route.path, (route.handler)(method_filter(&route.method)));
    }
    let json_limit = state.config.limits.max_json_body;
    let cors = cors_layer(&state.config.allowed_origins);
    let router = router
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        // Applies to buffered bodies (JSON); blob uploads stream and are bounded by their ticket.
        .layer(DefaultBodyLimit::max(json_limit))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for the configured origins only; `None` (no CORS headers at all) when there are none.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static("content-length"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

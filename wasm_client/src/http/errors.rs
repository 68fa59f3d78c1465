//! How HTTP answers and fetch failures become [`TransportError`]s.

use sync_core::protocol::ErrorBody;
use sync_core::transport::{TransportError, TransportErrorKind};
use wasm_bindgen::JsValue;

use super::RawResponse;
use crate::js;

/// A 2xx answer's body, or the error its status means.
pub fn classify(response: RawResponse) -> Result<Vec<u8>, TransportError> {
    let RawResponse {
        status,
        retry_after,
        body,
    } = response;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let detail = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .map(|b| b.error);
    let message = detail.as_ref().map_or_else(
        || format!("server answered HTTP {status}"),
        |d| format!("{} (HTTP {status})", d.message),
    );
    let kind = match status {
        401 => TransportErrorKind::Unauthorized,
        413 | 429 => TransportErrorKind::Quota,
        500..=599 => TransportErrorKind::Server { status },
        _ => TransportErrorKind::Rejected {
            status,
            code: detail.map_or_else(|| format!("http_{status}"), |d| d.code),
        },
    };
    let mut error = TransportError::new(kind, message);
    error.retry_after = retry_after;
    Err(error)
}

/// A rejected `fetch`: a timeout (`TimeoutError`) or the network (`TypeError`: offline,
/// DNS, refused, CORS — the browser does not say which).
pub fn from_fetch_error(e: &JsValue, url: &str) -> TransportError {
    let kind = match js::error_name(e).as_deref() {
        Some("TimeoutError") | Some("AbortError") => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Offline,
    };
    let shown = url.split_once('?').map_or(url, |(base, _)| base);
    TransportError::new(kind, format!("{shown}: {}", js::describe(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn success_passes_the_body_through() {
        assert_eq!(classify(raw(200, "{}")), Ok(b"{}".to_vec()));
    }

    #[test]
    fn error_statuses_map_to_kinds_and_keep_the_server_code() {
        let body = r#"{"error":{"code":"invalid_path","message":"bad path"}}"#;
        let e = classify(raw(400, body)).expect_err("400 is an error");
        assert_eq!(
            e.kind,
            TransportErrorKind::Rejected {
                status: 400,
                code: "invalid_path".into()
            }
        );
        assert!(e.message.contains("bad path"));
        let kind = |s| classify(raw(s, "")).expect_err("error").kind;
        assert_eq!(kind(401), TransportErrorKind::Unauthorized);
        assert_eq!(kind(413), TransportErrorKind::Quota);
        assert_eq!(kind(429), TransportErrorKind::Quota);
        assert_eq!(kind(503), TransportErrorKind::Server { status: 503 });
        assert_eq!(
            kind(404),
            TransportErrorKind::Rejected {
                status: 404,
                code: "http_404".into()
            }
        );
    }

    #[test]
    fn retry_after_is_kept_and_makes_the_error_transient() {
        let mut r = raw(429, "");
        r.retry_after = Some(7);
        let e = classify(r).expect_err("429 is an error");
        assert_eq!(e.retry_after, Some(7));
        assert!(e.is_transient());
    }
}

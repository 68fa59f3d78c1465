//! How HTTP answers and `ureq` failures become [`TransportError`]s.

use std::io;

use sync_core::protocol::ErrorBody;
use sync_core::transport::{TransportError, TransportErrorKind};

/// A raw answer: status, the `Retry-After` seconds if any, and the body.
pub(crate) struct RawResponse {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// A 2xx answer's body, or the error its status means.
pub(crate) fn classify(response: RawResponse) -> Result<Vec<u8>, TransportError> {
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

/// Maps a failure to reach the server, send, or receive.
pub(crate) fn from_ureq(error: ureq::Error, url: &str) -> TransportError {
    use ureq::Error as E;
    use ureq::Timeout as T;
    let kind = match &error {
        // A server we cannot even connect to is offline; one that stops answering is slow.
        E::Timeout(T::Connect | T::Resolve) | E::HostNotFound | E::ConnectionFailed => {
            TransportErrorKind::Offline
        }
        E::Timeout(_) => TransportErrorKind::Timeout,
        E::Io(e) => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Offline,
        },
        E::BodyExceedsLimit(_) | E::Protocol(_) | E::BadUri(_) | E::Http(_) => {
            TransportErrorKind::Corrupt
        }
        E::Tls(_) | E::Pem(_) | E::Rustls(_) | E::TlsRequired | E::RequireHttpsOnly(_) => {
            TransportErrorKind::Rejected {
                status: 0,
                code: "tls".into(),
            }
        }
        _ => TransportErrorKind::Offline,
    };
    TransportError::new(kind, format!("{}: {error}", strip_query(url)))
}

/// A response body that is not the JSON we expected.
pub(crate) fn corrupt(what: &str, url: &str, reason: impl std::fmt::Display) -> TransportError {
    TransportError::new(
        TransportErrorKind::Corrupt,
        format!("{what} from {}: {reason}", strip_query(url)),
    )
}

/// URLs in messages lose their query: signed URLs carry credentials there.
pub(crate) fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and ignored).
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

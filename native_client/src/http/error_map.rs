//! How HTTP answers and `ureq` failures become [`TransportError`]s.

use std::io;

use sync_core::client::ErrorCode;
use sync_core::transport::{TransportError, TransportErrorKind};

pub(crate) use sync_core::transport::{RawResponse, classify};

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
                code: ErrorCode::Tls.as_str().into(),
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

//! CORS: only configured origins get CORS headers.

use crate::common::Server;

const PREFLIGHT: [(&str, &str); 2] = [
    ("access-control-request-method", "POST"),
    (
        "access-control-request-headers",
        "authorization,content-type",
    ),
];

#[test]
fn configured_origin_is_allowed_and_others_are_not() {
    let server = Server::start(&["--allow-origin", "https://play.example.org"]);
    let client = server.client();

    let mut headers = vec![("origin", "https://play.example.org")];
    headers.extend(PREFLIGHT);
    let ok = client.options("/v1/games/g/commit", &headers);
    assert!(ok.status < 300, "preflight status {}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("https://play.example.org")
    );
    let methods = ok
        .header("access-control-allow-methods")
        .expect("allowed methods")
        .to_ascii_uppercase();
    for m in ["GET", "POST", "PUT", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = ok
        .header("access-control-allow-headers")
        .expect("allowed headers")
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    let simple = client.get_with("/v1/health", &[("origin", "https://play.example.org")]);
    assert_eq!(
        simple.header("access-control-allow-origin").as_deref(),
        Some("https://play.example.org")
    );

    let mut headers = vec![("origin", "https://evil.example.com")];
    headers.extend(PREFLIGHT);
    let refused = client.options("/v1/games/g/commit", &headers);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let simple = client.get_with("/v1/health", &[("origin", "https://evil.example.com")]);
    assert_eq!(simple.header("access-control-allow-origin"), None);
}

#[test]
fn no_cors_headers_by_default() {
    let server = Server::start(&[]);
    let client = server.client();
    let mut headers = vec![("origin", "https://play.example.org")];
    headers.extend(PREFLIGHT);
    let resp = client.options("/v1/games/g/commit", &headers);
    assert_eq!(resp.header("access-control-allow-origin"), None);
    let simple = client.get_with("/v1/health", &[("origin", "https://play.example.org")]);
    assert_eq!(simple.header("access-control-allow-origin"), None);
}

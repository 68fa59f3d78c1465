//! `--web-root`: static files next to the API, with the right content types and a
//! Content-Security-Policy whose `frame-ancestors` come from `--allow-origin`.

mod common;

use std::process::{Command, Stdio};

use common::Server;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp web root");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .expect("index");
    std::fs::create_dir(dir.path().join("renpy-cloud")).expect("subdir");
    std::fs::write(
        dir.path().join("renpy-cloud/wasm_client_bg.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .expect("wasm");
    std::fs::write(dir.path().join("renpy-cloud/renpy-cloud.js"), "export {};").expect("js");
    dir
}

#[test]
fn files_are_served_with_content_types_and_the_csp() {
    let root = site();
    let root_arg = root.path().to_str().expect("utf-8 temp path");
    let server = Server::start(&[
        "--web-root",
        root_arg,
        "--allow-origin",
        "https://portal.example",
    ]);
    let client = server.client();

    let index = client.get("/");
    index.expect_status(200);
    assert!(String::from_utf8_lossy(&index.body).contains("<title>demo</title>"));
    assert!(
        index
            .header("content-type")
            .expect("type")
            .starts_with("text/html")
    );
    let csp = index.header("content-security-policy").expect("csp");
    assert!(
        csp.contains("frame-ancestors 'self' https://portal.example"),
        "{csp}"
    );
    assert_eq!(
        index.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );

    let wasm = client.get("/renpy-cloud/wasm_client_bg.wasm");
    wasm.expect_status(200);
    assert_eq!(
        wasm.header("content-type").as_deref(),
        Some("application/wasm")
    );
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    let js = client.get("/renpy-cloud/renpy-cloud.js");
    assert!(
        js.header("content-type")
            .expect("type")
            .starts_with("text/javascript"),
        "{:?}",
        js.header("content-type")
    );

    client.get("/missing.html").expect_status(404);
    client.get("/../Cargo.toml").expect_status(404);
}

#[test]
fn api_paths_stay_the_api() {
    let root = site();
    let root_arg = root.path().to_str().expect("utf-8 temp path");
    let server = Server::start(&["--web-root", root_arg]);
    let client = server.client();
    client.get("/v1/health").expect_status(200);
    // An unknown API path is still the API's JSON 404, not a missing static file.
    client
        .get("/v1/no-such-endpoint")
        .expect_error(404, "not_found");
    client
        .delete("/v1/health")
        .expect_error(405, "method_not_allowed");
    // API answers carry no page CSP; pages carry only 'self' when no origin is allowed.
    assert!(
        client
            .get("/v1/health")
            .header("content-security-policy")
            .is_none()
    );
    let csp = client
        .get("/index.html")
        .header("content-security-policy")
        .expect("csp");
    assert!(csp.contains("frame-ancestors 'self';"), "{csp}");
}

#[test]
fn a_web_root_without_index_html_is_refused_at_start() {
    let data = tempfile::tempdir().expect("data dir");
    let empty = tempfile::tempdir().expect("empty web root");
    let out = Command::new(env!("CARGO_BIN_EXE_renpy-cloud-server"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--web-root")
        .arg(empty.path())
        .env_remove("RENPY_CLOUD_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run the server");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no index.html"));
}

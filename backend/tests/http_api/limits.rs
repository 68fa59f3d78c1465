//! Quotas (bytes and files per game) and the per-user request rate.

use crate::common::{Server, delete_op, put_op};

#[test]
fn file_and_byte_quotas_refuse_the_whole_commit_with_413() {
    let server = Server::start(&["--max-game-files", "2", "--max-game-bytes", "30"]);
    let (alice, _) = server.client().signup("alice");
    alice.put_file("g", "a.save", 0, b"0123456789");
    alice.put_file("g", "b.save", 0, b"0123456789");
    let before = alice.manifest("g");

    // A third file.
    alice.upload("g", b"third");
    alice
        .commit("g", vec![put_op("c.save", 0, b"third")])
        .expect_error(413, "quota_exceeded");
    assert_eq!(alice.manifest("g"), before);

    // Growing a file past the byte quota (10 + 21 > 30).
    let big = b"012345678901234567890";
    alice.upload("g", big);
    alice
        .commit("g", vec![put_op("a.save", 1, big)])
        .expect_error(413, "quota_exceeded");
    assert_eq!(alice.manifest("g"), before);

    // Deleting makes room again, and another game has its own quota.
    alice
        .commit("g", vec![delete_op("b.save", 1)])
        .expect_status(200);
    alice
        .commit("g", vec![put_op("c.save", 0, b"third")])
        .expect_status(200);
    alice.put_file("other", "c.save", 0, b"0123456789");
}

#[test]
fn per_user_request_rate_answers_429_with_retry_after() {
    let server = Server::start(&["--rate-limit", "0.5", "--rate-burst", "5"]);
    let anon = server.client();
    let (alice, _) = anon.signup("alice");
    let (bob, _) = anon.signup("bob");
    let mut limited = None;
    for _ in 0..10 {
        let resp = alice.get("/v1/games/g/manifest");
        if resp.status == 429 {
            limited = Some(resp);
            break;
        }
        resp.expect_status(200);
    }
    let limited = limited.expect("rate limit reached within 10 requests");
    limited.expect_error(429, "rate_limited");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // Bob has his own budget.
    bob.get("/v1/games/g/manifest").expect_status(200);
}

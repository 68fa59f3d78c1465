//! Two devices commit the same file expecting the same version at the same moment: exactly
//! one wins each round; the other gets a conflict carrying the winner's entry.

use std::sync::{Arc, Barrier};

use sync_core::protocol::{CommitOutcome, CommitResponse, Entry, TokenResponse};

use crate::common::{Client, Server, put_op};

const ROUNDS: u64 = 25;

#[test]
fn concurrent_conditional_commits_have_exactly_one_winner() {
    let server = Server::start(&["--rate-burst", "1000"]);
    let anon = server.client();
    let (laptop, _) = anon.signup("alice");
    let phone_tokens: TokenResponse = anon.login("alice", "correct horse").json();
    let phone = anon.with_token(&phone_tokens.access_token);
    let clients = [laptop, phone];

    for round in 0..ROUNDS {
        let contents: Vec<Vec<u8>> = (0..2)
            .map(|who| format!("round {round} by device {who}").into_bytes())
            .collect();
        for (client, bytes) in clients.iter().zip(&contents) {
            client.upload("g", bytes);
        }
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = clients
            .iter()
            .zip(contents.clone())
            .map(|(client, bytes): (&Client, Vec<u8>)| {
                let client = client.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let resp = client.commit("g", vec![put_op("race.save", round, &bytes)]);
                    resp.expect_status(200);
                    let answer: CommitResponse = resp.json();
                    answer.results.into_iter().next().expect("one outcome")
                })
            })
            .collect();
        let outcomes: Vec<CommitOutcome> = handles
            .into_iter()
            .map(|h| h.join().expect("committer thread"))
            .collect();
        let winners: Vec<&Entry> = outcomes
            .iter()
            .filter_map(|o| match o {
                CommitOutcome::Committed { version, entry } => {
                    assert_eq!(*version, round + 1);
                    entry.as_ref()
                }
                CommitOutcome::Conflict { .. } => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let winner = winners[0];
        let conflict = outcomes
            .iter()
            .find_map(|o| match o {
                CommitOutcome::Conflict {
                    current,
                    download_url,
                } => Some((current, download_url)),
                CommitOutcome::Committed { .. } => None,
            })
            .expect("the other committer conflicts");
        assert_eq!(conflict.0.as_ref(), Some(winner), "round {round}");
        let url = conflict
            .1
            .as_deref()
            .expect("conflict carries a download URL");
        let winning_bytes = contents
            .iter()
            .find(|c| sync_core::ContentHash::of(c) == winner.sha256)
            .expect("winner's content is one of the two");
        assert_eq!(&anon.get(url).body, winning_bytes);
        assert_eq!(clients[0].manifest("g").entries, vec![winner.clone()]);
    }
}

//! Concurrent clients: one winner per conditional write, no lost or doubled seq numbers.

use std::collections::BTreeSet;
use std::sync::Arc;

use sync_core::protocol::{CommitOutcome, Entry};
use tokio::task::JoinSet;

use super::accounts::random_digest;
use super::fixtures::{NO_QUOTA, commit, commit_with, new_scope, path, put, unique};
use super::{Check, CheckFailure, CheckResult};
use crate::storage::{MetadataStore, RefreshRecord, Scope, StorageResult};

/// Tasks racing for one file.
const RACERS: usize = 32;
/// Clients of the load check, as many as the server must serve at once.
const CLIENTS: usize = 200;

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("concurrent_committers_on_one_file_have_one_winner", |s| {
            Box::pin(concurrent_committers_on_one_file_have_one_winner(s))
        }),
        ("concurrent_first_puts_have_one_winner", |s| {
            Box::pin(concurrent_first_puts_have_one_winner(s))
        }),
        (
            "concurrent_refresh_and_pairing_claims_have_one_winner",
            |s| Box::pin(concurrent_refresh_and_pairing_claims_have_one_winner(s)),
        ),
        ("two_hundred_concurrent_clients", |s| {
            Box::pin(two_hundred_concurrent_clients(s))
        }),
    ]
}

async fn join_all<T: Send + 'static>(
    mut set: JoinSet<StorageResult<T>>,
) -> Result<Vec<T>, CheckFailure> {
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let result = joined.map_err(|e| CheckFailure(format!("a client task panicked: {e}")))?;
        out.push(result?);
    }
    Ok(out)
}

/// Races `RACERS` puts expecting `expect` and checks exactly one won with `want_version`.
async fn race<M: MetadataStore>(
    store: Arc<M>,
    scope: &Scope,
    expect: u64,
    want_version: u64,
) -> CheckResult {
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let (store, scope) = (Arc::clone(&store), scope.clone());
        set.spawn(async move {
            let op = put("race.save", expect, format!("racer {i}").as_bytes());
            commit_with(
                store.as_ref(),
                &scope,
                &format!("dev{i}"),
                &[op],
                NO_QUOTA,
                100 + i as i64,
            )
            .await
        });
    }
    let results = join_all(set).await?;
    let mut winners: Vec<Entry> = Vec::new();
    let mut seen_by_losers: Vec<Option<Entry>> = Vec::new();
    for (_, outcomes) in results {
        match outcomes.into_iter().next() {
            Some(CommitOutcome::Committed {
                version,
                entry: Some(e),
            }) if version == want_version => winners.push(e),
            Some(CommitOutcome::Conflict { current, .. }) => seen_by_losers.push(current),
            other => return Err(CheckFailure(format!("unexpected outcome {other:?}"))),
        }
    }
    ensure_eq!(winners.len(), 1, "winners among {RACERS} racers");
    let winner = Some(winners[0].clone());
    ensure!(
        seen_by_losers.iter().all(|c| *c == winner),
        "every loser must see the winner's entry"
    );
    let history = store.history(scope, &path("race.save")).await?;
    ensure_eq!(history.len() as u64, want_version, "versions stored");
    let (_, changes) = store.changes_since(scope, None).await?;
    ensure_eq!(
        changes,
        winner.into_iter().collect::<Vec<_>>(),
        "current entry"
    );
    Ok(())
}

async fn concurrent_committers_on_one_file_have_one_winner<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Race").await?;
    commit(
        store.as_ref(),
        &scope,
        "d",
        &[put("race.save", 0, b"base")],
        1,
    )
    .await?;
    race(store, &scope, 1, 2).await
}

async fn concurrent_first_puts_have_one_winner<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "FirstRace").await?;
    race(store, &scope, 0, 1).await
}

async fn concurrent_refresh_and_pairing_claims_have_one_winner<M: MetadataStore>(
    store: Arc<M>,
) -> CheckResult {
    let user = store.create_user(&unique("racer")?, "h", 1).await?;
    let device = store.create_device(&user.user_id, "d", 1).await?;
    let (token, code) = (random_digest()?, random_digest()?);
    let record = RefreshRecord {
        user_id: user.user_id.clone(),
        device_id: device.device_id,
        expires_at: 10_000,
    };
    store.put_refresh_token(&token, &record).await?;
    store.put_pairing_code(&code, &user.user_id, 10_000).await?;
    let mut takes = JoinSet::new();
    let mut claims = JoinSet::new();
    for _ in 0..RACERS {
        let s = Arc::clone(&store);
        takes.spawn(async move { s.take_refresh_token(&token).await });
        let s = Arc::clone(&store);
        claims.spawn(async move { s.claim_pairing_code(&code, 5_000).await });
    }
    let took = join_all(takes).await?.into_iter().flatten().count();
    let claimed = join_all(claims).await?.into_iter().flatten().count();
    ensure_eq!(
        (took, claimed),
        (1, 1),
        "(token takes, code claims) that succeeded"
    );
    Ok(())
}

/// Many clients at once, each committing its own file and reading the feed: all succeed,
/// and the feed positions are exactly 1..=CLIENTS.
async fn two_hundred_concurrent_clients<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let scope = new_scope(store.as_ref(), "Crowd").await?;
    let mut set = JoinSet::new();
    for i in 0..CLIENTS {
        let (store, scope) = (Arc::clone(&store), scope.clone());
        set.spawn(async move {
            let p = format!("client-{i}.save");
            let (_, out) = commit_with(
                store.as_ref(),
                &scope,
                &format!("dev{i}"),
                &[put(&p, 0, p.as_bytes())],
                NO_QUOTA,
                i as i64,
            )
            .await?;
            store.changes_since(&scope, None).await?;
            store.usage(&scope).await?;
            Ok(out)
        });
    }
    let mut seqs = BTreeSet::new();
    for outcomes in join_all(set).await? {
        match outcomes.first() {
            Some(CommitOutcome::Committed { entry: Some(e), .. }) => {
                seqs.insert(e.seq);
            }
            other => return Err(CheckFailure(format!("a client's commit: {other:?}"))),
        }
    }
    ensure_eq!(
        seqs,
        (1..=CLIENTS as u64).collect::<BTreeSet<_>>(),
        "feed positions"
    );
    let (cursor, changes) = store.changes_since(&scope, None).await?;
    ensure_eq!(
        (cursor, changes.len()),
        (CLIENTS as u64, CLIENTS),
        "(cursor, entries)"
    );
    Ok(())
}

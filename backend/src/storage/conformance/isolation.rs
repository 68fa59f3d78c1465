//! Scopes never see each other: not between users, not between one user's games.

use std::sync::Arc;

use sync_core::ContentHash;

use super::fixtures::{NO_QUOTA, commit, game, new_scope, path, put};
use super::{Check, CheckResult};
use crate::storage::{MetadataStore, Scope, Usage};

pub fn checks<M: MetadataStore>() -> Vec<Check<M>> {
    vec![
        ("scopes_are_isolated_between_users", |s| {
            Box::pin(scopes_are_isolated_between_users(s))
        }),
        ("scopes_are_isolated_between_games", |s| {
            Box::pin(scopes_are_isolated_between_games(s))
        }),
    ]
}

async fn scopes_are_isolated_between_users<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let alice = new_scope(store.as_ref(), "SharedGame").await?;
    let bob = new_scope(store.as_ref(), "SharedGame").await?;
    check_isolated(store.as_ref(), &alice, &bob).await
}

async fn scopes_are_isolated_between_games<M: MetadataStore>(store: Arc<M>) -> CheckResult {
    let first = new_scope(store.as_ref(), "GameOne").await?;
    let second = Scope {
        user_id: first.user_id.clone(),
        game: game("GameTwo"),
    };
    // Ids that are prefixes of each other must not leak either.
    let third = Scope {
        user_id: first.user_id.clone(),
        game: game("GameOne-2"),
    };
    check_isolated(store.as_ref(), &first, &second).await?;
    check_isolated(store.as_ref(), &first, &third).await
}

/// Writes the same path in both scopes and checks each sees only its own.
async fn check_isolated<M: MetadataStore>(store: &M, a: &Scope, b: &Scope) -> CheckResult {
    let p = path("1-1-LT1.save");
    commit(store, a, "da", &[put("1-1-LT1.save", 0, b"from a")], 1).await?;
    commit(store, a, "da", &[put("only-a.save", 0, b"a")], 2).await?;
    // The same expectation succeeds in b: a's file does not exist there.
    let (cursor_b, out) = commit(store, b, "db", &[put("1-1-LT1.save", 0, b"from b!")], 3).await?;
    ensure_eq!(
        cursor_b,
        1,
        "b's cursor starts at its own first commit: {out:?}"
    );

    let (cursor_a, changes_a) = store.changes_since(a, None).await?;
    ensure_eq!(cursor_a, 2, "a's cursor");
    ensure_eq!(changes_a.len(), 2, "a's changes");
    let (_, changes_b) = store.changes_since(b, None).await?;
    ensure_eq!(changes_b.len(), 1, "b's changes");
    ensure_eq!(
        changes_b[0].sha256,
        ContentHash::of(b"from b!"),
        "b's content"
    );

    ensure_eq!(store.history(a, &p).await?.len(), 1, "a's history");
    ensure_eq!(store.history(b, &p).await?.len(), 1, "b's history");
    ensure_eq!(
        store.history(b, &path("only-a.save")).await?,
        vec![],
        "a's file from b"
    );
    ensure_eq!(
        store.usage(a).await?,
        Usage { bytes: 7, files: 2 },
        "a's usage"
    );
    ensure_eq!(
        store.usage(b).await?,
        Usage { bytes: 7, files: 1 },
        "b's usage"
    );
    ensure_eq!(
        store
            .restore(b, &path("only-a.save"), 1, "db", NO_QUOTA, 4)
            .await?,
        None,
        "restore of a's file in b"
    );
    Ok(())
}

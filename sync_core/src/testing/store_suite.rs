//! The `SaveStore` conformance suite. [`run`] takes a factory for fresh, empty stores and
//! checks each rule on its own store; the first broken rule is the error, naming it.
//! Stores change files only through their own `write`/`delete` here (with `Expect::Any`
//! standing in for the game saving), so the suite needs nothing but the trait.

use std::future::Future;

use crate::path::SavePath;
use crate::store::{Expect, SaveStore, StoreErrorKind};

/// A broken rule: which check and what was seen.
pub type Failure = String;

fn path(s: &str) -> SavePath {
    SavePath::new(s).expect("suite paths are valid")
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Runs every check, each on a fresh store from `fresh`.
pub async fn run<S, F, Fut>(fresh: F) -> Result<(), Failure>
where
    S: SaveStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    writes_read_back_and_list(&fresh().await).await?;
    mtimes_are_kept(&fresh().await).await?;
    nested_paths_get_their_folders(&fresh().await).await?;
    expect_guards_writes_and_deletes(&fresh().await).await?;
    deleting_a_missing_file_succeeds(&fresh().await).await?;
    verify_checks_without_writing(&fresh().await).await?;
    state_round_trips_outside_the_files(&fresh().await).await?;
    merge_deliveries_leave_the_file_alone(&fresh().await).await?;
    Ok(())
}

async fn writes_read_back_and_list<S: SaveStore>(s: &S) -> Result<(), Failure> {
    ensure!(
        s.list().await.map_err(|e| e.to_string())?.is_empty(),
        "a fresh store lists files"
    );
    let p = path("1-1-LT1.save");
    s.write(&p, b"first", None, Expect::Absent)
        .await
        .map_err(|e| format!("create: {e}"))?;
    s.write(&p, b"second", None, Expect::Any)
        .await
        .map_err(|e| format!("replace: {e}"))?;
    let read = s.read(&p).await.map_err(|e| format!("read: {e}"))?;
    ensure!(read == b"second", "read after replace gave {read:?}");
    let listed = s.list().await.map_err(|e| e.to_string())?;
    // Ren'Py's `sync/` location may live inside the folder (a mirror); nothing else may
    // appear.
    let own: Vec<_> = listed
        .iter()
        .filter(|f| !f.path.as_str().starts_with("sync/"))
        .collect();
    ensure!(
        own.len() == 1 && own[0].path == p && own[0].size == 6,
        "list after one write: {listed:?}"
    );
    let missing = s.read(&path("2-1-LT1.save")).await;
    ensure!(
        missing
            .as_ref()
            .is_err_and(|e| e.kind == StoreErrorKind::NotFound),
        "reading a missing file: {missing:?}"
    );
    Ok(())
}

async fn mtimes_are_kept<S: SaveStore>(s: &S) -> Result<(), Failure> {
    // Ren'Py shows a slot's time from its file's mtime: a download must keep the origin's.
    let p = path("1-2-LT1.save");
    let mtime = 1_700_000_123_000;
    s.write(&p, b"x", Some(mtime), Expect::Absent)
        .await
        .map_err(|e| e.to_string())?;
    let listed = s.list().await.map_err(|e| e.to_string())?;
    let got = listed.iter().find(|f| f.path == p).map(|f| f.mtime);
    ensure!(got == Some(mtime), "mtime {mtime} was stored as {got:?}");
    Ok(())
}

async fn nested_paths_get_their_folders<S: SaveStore>(s: &S) -> Result<(), Failure> {
    let p = path("sync/persistent");
    s.write(&p, b"nested", None, Expect::Any)
        .await
        .map_err(|e| format!("nested write: {e}"))?;
    let listed = s.list().await.map_err(|e| e.to_string())?;
    ensure!(
        listed.iter().any(|f| f.path == p),
        "nested file not listed: {listed:?}"
    );
    ensure!(
        s.read(&p).await.map_err(|e| e.to_string())? == b"nested",
        "nested read"
    );
    Ok(())
}

async fn expect_guards_writes_and_deletes<S: SaveStore>(s: &S) -> Result<(), Failure> {
    let p = path("1-3-LT1.save");
    s.write(&p, b"scanned", Some(1_000), Expect::Absent)
        .await
        .map_err(|e| e.to_string())?;
    let scanned = Expect::Unchanged {
        size: 7,
        mtime: 1_000,
    };
    let absent = s.write(&p, b"new", None, Expect::Absent).await;
    ensure!(
        absent
            .as_ref()
            .is_err_and(|e| e.kind == StoreErrorKind::Changed),
        "Expect::Absent over an existing file: {absent:?}"
    );
    // The game saves after the scan: the engine's replace and delete must both refuse.
    s.write(&p, b"the game's", Some(2_000), Expect::Any)
        .await
        .map_err(|e| e.to_string())?;
    let replace = s.write(&p, b"download", None, scanned).await;
    ensure!(
        replace
            .as_ref()
            .is_err_and(|e| e.kind == StoreErrorKind::Changed),
        "replace over a newer save: {replace:?}"
    );
    let delete = s.delete(&p, scanned).await;
    ensure!(
        delete
            .as_ref()
            .is_err_and(|e| e.kind == StoreErrorKind::Changed),
        "delete of a newer save: {delete:?}"
    );
    ensure!(
        s.read(&p).await.map_err(|e| e.to_string())? == b"the game's",
        "the game's save was touched"
    );
    // As scanned, both go through.
    let now = Expect::Unchanged {
        size: 10,
        mtime: 2_000,
    };
    s.write(&p, b"download", Some(3_000), now)
        .await
        .map_err(|e| format!("replace as scanned: {e}"))?;
    let then = Expect::Unchanged {
        size: 8,
        mtime: 3_000,
    };
    s.delete(&p, then)
        .await
        .map_err(|e| format!("delete as scanned: {e}"))?;
    ensure!(s.read(&p).await.is_err(), "deleted file still readable");
    Ok(())
}

async fn deleting_a_missing_file_succeeds<S: SaveStore>(s: &S) -> Result<(), Failure> {
    s.delete(&path("9-9-LT1.save"), Expect::Any)
        .await
        .map_err(|e| format!("delete missing: {e}"))?;
    s.delete(&path("9-9-LT1.save"), Expect::Absent)
        .await
        .map_err(|e| format!("delete missing, expected absent: {e}"))?;
    Ok(())
}

async fn verify_checks_without_writing<S: SaveStore>(s: &S) -> Result<(), Failure> {
    let p = path("1-4-LT1.save");
    s.verify(&p, Expect::Absent)
        .await
        .map_err(|e| format!("verify absent: {e}"))?;
    s.write(&p, b"four", Some(4_000), Expect::Absent)
        .await
        .map_err(|e| e.to_string())?;
    s.verify(
        &p,
        Expect::Unchanged {
            size: 4,
            mtime: 4_000,
        },
    )
    .await
    .map_err(|e| format!("verify as is: {e}"))?;
    let stale = s
        .verify(
            &p,
            Expect::Unchanged {
                size: 4,
                mtime: 3_999,
            },
        )
        .await;
    ensure!(
        stale
            .as_ref()
            .is_err_and(|e| e.kind == StoreErrorKind::Changed),
        "verify with a stale mtime: {stale:?}"
    );
    let gone = s.verify(&p, Expect::Absent).await;
    ensure!(gone.is_err(), "verify absent of an existing file passed");
    Ok(())
}

async fn state_round_trips_outside_the_files<S: SaveStore>(s: &S) -> Result<(), Failure> {
    ensure!(
        s.load_state().await.map_err(|e| e.to_string())?.is_none(),
        "a fresh store has state"
    );
    s.save_state(b"{\"v\":1}")
        .await
        .map_err(|e| format!("save state: {e}"))?;
    s.save_state(b"{\"v\":2}")
        .await
        .map_err(|e| format!("replace state: {e}"))?;
    let state = s.load_state().await.map_err(|e| e.to_string())?;
    ensure!(
        state.as_deref() == Some(b"{\"v\":2}".as_slice()),
        "state read back as {state:?}"
    );
    let listed = s.list().await.map_err(|e| e.to_string())?;
    ensure!(
        listed.is_empty(),
        "the state shows up as a save file: {listed:?}"
    );
    Ok(())
}

async fn merge_deliveries_leave_the_file_alone<S: SaveStore>(s: &S) -> Result<(), Failure> {
    let p = path("persistent");
    s.write(&p, b"mine", Some(5_000), Expect::Absent)
        .await
        .map_err(|e| e.to_string())?;
    s.deliver_for_merge(&p, b"theirs")
        .await
        .map_err(|e| format!("deliver: {e}"))?;
    ensure!(
        s.read(&p).await.map_err(|e| e.to_string())? == b"mine",
        "delivery replaced the file"
    );
    let listed = s.list().await.map_err(|e| e.to_string())?;
    let own = listed.iter().find(|f| f.path == p).map(|f| f.mtime);
    ensure!(
        own == Some(5_000),
        "delivery touched the file's mtime: {own:?}"
    );
    Ok(())
}

//! The CLI against Ren'Py's real folder layout, through the real server: a save folder
//! (`~/.renpy/<game>`), the other save locations Ren'Py shows the newest copy from
//! (`<game>/saves`, `<savedir>/sync`) and the tokens folder with `security_keys.txt`.
//! Needs `cargo build -p backend --bin renpy-cloud-server`.

mod e2e_support;

use std::fs;
use std::path::{Path, PathBuf};

use e2e_support::{Clock, Device, Server, edited, fixture};
use serde_json::Value;

const KEY_A: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqg==";
const KEY_B: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7uw==";

/// A computer with a Ren'Py game: HOME/.renpy/<game> (savedir, with sync/), the game's own
/// game/saves, and HOME/.renpy/tokens.
struct Computer {
    device: Device,
    game_dir: PathBuf,
    tokens: PathBuf,
}

impl Computer {
    fn new(root: &Path, name: &str, server: &str, key: Option<&str>) -> Self {
        let home = root.join(name);
        let save_dir = home.join(".renpy").join(e2e_support::GAME);
        let game_dir = home.join("TheGame").join("game");
        for dir in [save_dir.join("sync"), game_dir.join("saves")] {
            fs::create_dir_all(dir).expect("location");
        }
        let tokens = home.join(".renpy").join("tokens");
        if let Some(key) = key {
            fs::create_dir_all(&tokens).expect("tokens");
            fs::write(
                tokens.join("security_keys.txt"),
                format!("signing-key cHJpdmF0ZQ== {key}\n"),
            )
            .expect("keys");
        }
        let device = Device {
            name: name.into(),
            profile: home.join("config").join("profile.json"),
            dir: save_dir,
            server: server.into(),
        };
        Self {
            device,
            game_dir,
            tokens,
        }
    }

    fn sync(&self) -> Value {
        let game_dir = self.game_dir.to_string_lossy().into_owned();
        self.device.json(&["sync", "--game-dir", &game_dir], 0)
    }

    /// The same file in every location Ren'Py reads: savedir, game/saves, savedir/sync.
    fn copies(&self, name: &str) -> [Option<Vec<u8>>; 3] {
        [
            self.device.dir.join(name),
            self.game_dir.join("saves").join(name),
            self.device.dir.join("sync").join(name),
        ]
        .map(|p| fs::read(p).ok())
    }

    /// What Ren'Py saving does: the same file in every location.
    fn game_save(&self, name: &str, bytes: &[u8], clock: &mut Clock) {
        let t = clock.tick();
        self.device.write(name, bytes, t);
        for dir in [self.game_dir.join("saves"), self.device.dir.join("sync")] {
            fs::write(dir.join(name), bytes).expect("mirror copy");
        }
    }

    fn game_delete(&self, name: &str) {
        for dir in [
            self.device.dir.clone(),
            self.game_dir.join("saves"),
            self.device.dir.join("sync"),
        ] {
            let _ = fs::remove_file(dir.join(name));
        }
    }

    fn key_file(&self) -> Option<String> {
        fs::read_to_string(self.tokens.join("security_keys.txt")).ok()
    }
}

fn list(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing in {report}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn downloads_deletions_persistent_and_keys_follow_renpys_layout() {
    let server = Server::start();
    let root = tempfile::tempdir().expect("tempdir");
    let a = Computer::new(root.path(), "a", &server.url, Some(KEY_A));
    let b = Computer::new(root.path(), "b", &server.url, Some(KEY_B));
    let mut clock = Clock::new();
    a.device.json(
        &["signup", "--user", "ren", "--password", "correct horse 1"],
        0,
    );
    let code = a.device.json(&["pair"], 0)["code"]
        .as_str()
        .expect("code")
        .to_owned();
    b.device.json(&["pair", "--code", &code], 0);

    // A played: a slot and its persistent. B played too: its own persistent and an older,
    // different copy of the same slot in every location, with a newer mtime than A's.
    let slot = "1-1-LT1.save";
    let a_slot = edited(&fixture(slot), "from A");
    let a_persistent = fixture("persistent");
    a.game_save(slot, &a_slot, &mut clock);
    a.game_save("persistent", &a_persistent, &mut clock);
    let report = a.sync();
    assert_eq!(report["device_keys"]["published"], 1, "{report}");
    let b_persistent = edited(&fixture("1-2-LT1.save"), "B's persistent stand-in");
    b.game_save("persistent", &b_persistent, &mut clock);

    let report = b.sync();
    // A's key is trusted on B before the persistent arrives, appended once, never twice.
    assert_eq!(list(&report["device_keys"], "added"), [KEY_A], "{report}");
    let keys = b.key_file().expect("key file");
    assert!(keys.contains(&format!("verifying-key {KEY_A}\n")), "{keys}");
    assert!(
        keys.starts_with(&format!("signing-key cHJpdmF0ZQ== {KEY_B}\n")),
        "{keys}"
    );
    // The slot is in every location, with A's mtime.
    assert_eq!(
        b.copies(slot),
        [
            Some(a_slot.clone()),
            Some(a_slot.clone()),
            Some(a_slot.clone())
        ]
    );
    assert_eq!(b.device.mtime_ms(slot), a.device.mtime_ms(slot));
    // B's own persistent stays; A's waits in game/saves for Ren'Py to merge at its start.
    assert_eq!(list(&report, "merged"), ["persistent"], "{report}");
    assert_eq!(
        b.copies("persistent"),
        [
            Some(b_persistent.clone()),
            Some(a_persistent.clone()),
            Some(b_persistent.clone())
        ]
    );

    // A learns B's key at its next sync.
    let report = a.sync();
    assert_eq!(list(&report["device_keys"], "added"), [KEY_B], "{report}");
    let report = b.sync();
    assert!(
        report["device_keys"]["added"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{report}"
    );
    assert_eq!(
        b.key_file().expect("keys").matches("verifying-key").count(),
        1
    );

    // A deletes the slot in the game (Ren'Py removes every copy): gone from B's every
    // location, and it stays gone.
    a.game_delete(slot);
    assert_eq!(list(&a.sync(), "deleted_remote"), [slot]);
    assert_eq!(list(&b.sync(), "deleted_local"), [slot]);
    assert_eq!(b.copies(slot), [None, None, None]);
    let report = b.sync();
    assert!(
        list(&report, "downloaded").is_empty() && list(&report, "uploaded").is_empty(),
        "{report}"
    );
    assert_eq!(b.copies(slot), [None, None, None]);
}

#[test]
fn the_key_file_is_never_created() {
    let server = Server::start();
    let root = tempfile::tempdir().expect("tempdir");
    let a = Computer::new(root.path(), "a", &server.url, None);
    a.device.json(
        &[
            "signup",
            "--user",
            "nokeys",
            "--password",
            "correct horse 1",
        ],
        0,
    );
    let report = a.sync();
    assert!(report.get("device_keys").is_none(), "{report}");
    assert!(!a.tokens.exists(), "the tokens folder must not be created");
}

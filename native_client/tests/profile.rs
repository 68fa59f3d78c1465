//! The profile file and where engine state files go.

use native_client::profile::Profile;
use native_client::session::Session;
use sync_core::GameId;

fn session(user: &str) -> Session {
    Session {
        username: user.into(),
        user_id: format!("id-{user}"),
        device_id: "dev".into(),
        access_token: "access".into(),
        access_expires_at: 42,
        access_obtained_at: 2,
        refresh_token: format!("refresh-{user}"),
    }
}

#[test]
fn sessions_are_kept_per_server_and_survive_reloads() {
    let root = tempfile::tempdir().expect("tempdir");
    let profile = Profile::open(Some(root.path().join("cfg/profile.json"))).expect("open");
    assert_eq!(profile.session("http://a.example").expect("read"), None);

    profile
        .set_session("http://a.example/", Some(&session("alice")))
        .expect("write a");
    profile
        .set_session("http://b.example", Some(&session("bob")))
        .expect("write b");
    let reopened = Profile::open(Some(profile.path().to_path_buf())).expect("open");
    assert_eq!(
        reopened.session("http://a.example").expect("read"),
        Some(session("alice")),
        "a trailing slash names the same server"
    );
    reopened
        .set_session("http://a.example", None)
        .expect("sign out a");
    assert_eq!(reopened.session("http://a.example").expect("read"), None);
    assert_eq!(
        reopened.session("http://b.example").expect("read"),
        Some(session("bob"))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(profile.path())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_damaged_profile_is_an_error_not_an_empty_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join("profile.json");
    std::fs::write(&path, b"{not json").expect("write");
    let profile = Profile::open(Some(path)).expect("open");
    assert!(profile.session("http://a.example").is_err());
    assert!(profile.set_session("http://a.example", None).is_err());
}

#[test]
fn state_files_are_per_server_game_and_folder_beside_the_profile() {
    let root = tempfile::tempdir().expect("tempdir");
    let profile = Profile::open(Some(root.path().join("profile.json"))).expect("open");
    let saves = root.path().join("game/saves");
    std::fs::create_dir_all(&saves).expect("mkdir");
    let game = GameId::new("MyGame-1").expect("game");
    let other_game = GameId::new("MyGame-2").expect("game");

    let state = profile.state_file("http://a.example", &game, &saves);
    assert_eq!(
        state.parent(),
        Some(root.path().join("profile.json.d").as_path())
    );
    assert!(!state.starts_with(&saves));
    let same_folder = saves.join("..").join("saves");
    assert_eq!(
        profile.state_file("http://a.example/", &game, &same_folder),
        state
    );
    for different in [
        profile.state_file("http://b.example", &game, &saves),
        profile.state_file("http://a.example", &other_game, &saves),
        profile.state_file("http://a.example", &game, root.path()),
    ] {
        assert_ne!(different, state);
    }
}

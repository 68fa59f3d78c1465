//! Reads the committed saves written by `tests/fixtures/make_renpy_saves.py`, which writes
//! them exactly as Ren'Py's `SaveRecord.write_file` does (see `tests/fixtures/README.md`).

use std::collections::BTreeMap;

use serde_json::json;
use sync_core::SavePath;
use sync_core::rules::SyncRules;
use sync_core::savemeta::{SaveMeta, SaveReadError, is_save_file, read_save, read_save_meta};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name)).as_slice()
    };
}

const SCREENSHOT: &[u8] = fixture!("screenshot.png");
const SCREENSHOT_AUTO: &[u8] = fixture!("screenshot-auto.png");
/// Every fixture's `_ctime` (`FIXED_CTIME` in the generator).
const CTIME: f64 = 1_742_245_450.25;
const RENPY_8_3_7: [i64; 4] = [8, 3, 7, 25_031_702];

fn modern(name: &str, runtime: f64) -> SaveMeta {
    SaveMeta {
        save_name: Some(name.to_owned()),
        ctime: Some(CTIME),
        game_runtime: Some(runtime),
        version: Some("1.0".to_owned()),
        renpy_version: Some(RENPY_8_3_7.to_vec()),
        extra: BTreeMap::new(),
        has_screenshot: true,
    }
}

/// Asserts both readers agree on `bytes` and returns what `read_save` found.
fn read_both(bytes: &[u8]) -> (SaveMeta, Option<Vec<u8>>) {
    let info = read_save(bytes).expect("fixture reads");
    assert_eq!(read_save_meta(bytes).as_ref(), Ok(&info.meta));
    (info.meta, info.screenshot)
}

#[test]
fn normal_slot_with_screenshot() {
    let (meta, screenshot) = read_both(fixture!("1-1-LT1.save"));
    assert_eq!(meta, modern("Chapter 2 \u{2014} Caf\u{e9}", 1234.5678));
    assert_eq!(screenshot.as_deref(), Some(SCREENSHOT));
    assert!(SCREENSHOT.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn auto_save_has_an_empty_name() {
    let (meta, screenshot) = read_both(fixture!("auto-1-LT1.save"));
    assert_eq!(meta, modern("", 600.0));
    assert_eq!(screenshot.as_deref(), Some(SCREENSHOT_AUTO));
}

#[test]
fn quick_save() {
    let (meta, screenshot) = read_both(fixture!("quick-1-LT1.save"));
    assert_eq!(meta, modern("In the garden", 987.25));
    assert_eq!(screenshot.as_deref(), Some(SCREENSHOT));
}

#[test]
fn extra_json_keys_are_kept_unchanged() {
    let (meta, screenshot) = read_both(fixture!("1-2-LT1.save"));
    let extra: BTreeMap<String, serde_json::Value> = [
        ("chapter".to_owned(), json!(3)),
        ("route".to_owned(), json!("lily")),
        (
            "flags".to_owned(),
            json!({"met_lily": true, "ending": null}),
        ),
    ]
    .into_iter()
    .collect();
    let want = SaveMeta {
        save_name: Some("Route: Lily".to_owned()),
        ctime: Some(CTIME),
        game_runtime: Some(4321.0),
        version: Some("2.1b".to_owned()),
        renpy_version: Some(vec![8, 5, 3, 26_051_504]),
        extra,
        has_screenshot: true,
    };
    assert_eq!(meta, want);
    assert_eq!(screenshot.as_deref(), Some(SCREENSHOT));
}

#[test]
fn save_without_screenshot() {
    let (meta, screenshot) = read_both(fixture!("1-3-LT1.save"));
    let want = SaveMeta {
        has_screenshot: false,
        ..modern("No picture", 12.5)
    };
    assert_eq!(meta, want);
    assert_eq!(screenshot, None);
}

#[test]
fn save_without_json_uses_extra_info() {
    let (meta, screenshot) = read_both(fixture!("1-4-LT1.save"));
    let want = SaveMeta {
        save_name: Some("Old save".to_owned()),
        has_screenshot: true,
        ..SaveMeta::default()
    };
    assert_eq!(meta, want);
    assert_eq!(screenshot.as_deref(), Some(SCREENSHOT));
}

#[test]
fn legacy_tga_save_has_no_png_screenshot() {
    let (meta, screenshot) = read_both(fixture!("1-5-LT1.save"));
    let want = SaveMeta {
        save_name: Some("Ancient save".to_owned()),
        ..SaveMeta::default()
    };
    assert_eq!(meta, want);
    assert_eq!(screenshot, None);
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let truncated = fixture!("truncated-LT1.save");
    assert!(matches!(
        read_save(truncated),
        Err(SaveReadError::Corrupt(_))
    ));
    assert!(matches!(
        read_save_meta(truncated),
        Err(SaveReadError::Corrupt(_))
    ));
    assert_eq!(
        read_save(fixture!("not-a-zip-LT1.save")),
        Err(SaveReadError::NotAZip)
    );
    // The persistent file is a zlib stream, not a zip.
    assert_eq!(
        read_save_meta(fixture!("persistent")),
        Err(SaveReadError::NotAZip)
    );
}

#[test]
fn every_prefix_of_a_real_save_is_an_error_and_no_panic() {
    let save = fixture!("1-1-LT1.save");
    let truncated = fixture!("truncated-LT1.save");
    assert!(save.starts_with(truncated) && truncated.len() < save.len());
    for len in 0..save.len() {
        let cut = save.get(..len).expect("in range");
        assert!(read_save(cut).is_err(), "prefix of {len} bytes");
        assert!(read_save_meta(cut).is_err(), "prefix of {len} bytes");
    }
}

#[test]
fn every_single_byte_change_of_a_real_save_is_handled() {
    let save = fixture!("1-2-LT1.save");
    let mut mutated = save.to_vec();
    for i in 0..save.len() {
        for value in [0x00, 0xff, save[i] ^ 0x01] {
            mutated[i] = value;
            // Either outcome is fine; a panic fails the test.
            let full = read_save(&mutated);
            let meta = read_save_meta(&mutated);
            if let Ok(info) = full {
                assert_eq!(meta, Ok(info.meta), "byte {i} = {value:#x}");
            }
        }
        mutated[i] = save[i];
    }
}

#[test]
fn fixture_names_follow_the_sync_rules() {
    let rules = SyncRules::renpy_default();
    for name in [
        "1-1-LT1.save",
        "auto-1-LT1.save",
        "quick-1-LT1.save",
        "1-2-LT1.save",
        "persistent",
    ] {
        let path = SavePath::new(name).expect("valid path");
        assert!(rules.is_synced(&path), "{name}");
        assert_eq!(is_save_file(&path), name.ends_with(".save"), "{name}");
    }
}

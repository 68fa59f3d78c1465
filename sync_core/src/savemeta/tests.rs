use proptest::prelude::*;
use serde_json::json;

use super::zip::crc32;
use super::*;

/// How the test zip builder stores a member.
#[derive(Clone, Copy)]
enum Method {
    Stored,
    Deflated,
}

/// One member for [`build_zip`], with knobs to break it.
#[derive(Clone)]
struct Member {
    name: &'static str,
    data: Vec<u8>,
    method: Method,
    /// Overrides the uncompressed size written to the central directory.
    declared_size: Option<u32>,
    /// Overrides the CRC written to the central directory.
    crc: Option<u32>,
    flags: u16,
    method_id: Option<u16>,
}

fn member(name: &'static str, data: impl Into<Vec<u8>>) -> Member {
    Member {
        name,
        data: data.into(),
        method: Method::Deflated,
        declared_size: None,
        crc: None,
        flags: 0,
        method_id: None,
    }
}

/// A minimal zip writer (local headers, central directory, EOCD), like Python's for a
/// seekable file; `prefix` is prepended before the archive, `comment` appended.
fn build_zip_with(prefix: &[u8], members: &[Member], comment: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut central = Vec::new();
    for m in members {
        let (payload, method) = match m.method {
            Method::Stored => (m.data.clone(), 0u16),
            Method::Deflated => (miniz_oxide::deflate::compress_to_vec(&m.data, 6), 8u16),
        };
        let method = m.method_id.unwrap_or(method);
        let crc = m.crc.unwrap_or_else(|| crc32(&m.data));
        let size = m
            .declared_size
            .unwrap_or(u32::try_from(m.data.len()).expect("test data fits"));
        let csize = u32::try_from(payload.len()).expect("test data fits");
        let name_len = u16::try_from(m.name.len()).expect("short name");
        let offset = u32::try_from(out.len() - prefix.len()).expect("small archive");
        let mut fields = Vec::new();
        fields.extend_from_slice(&m.flags.to_le_bytes());
        fields.extend_from_slice(&method.to_le_bytes());
        fields.extend_from_slice(&[0x82, 0xa8, 0x71, 0x5a]); // DOS time and date
        fields.extend_from_slice(&crc.to_le_bytes());
        fields.extend_from_slice(&csize.to_le_bytes());
        fields.extend_from_slice(&size.to_le_bytes());
        fields.extend_from_slice(&name_len.to_le_bytes());
        fields.extend_from_slice(&0u16.to_le_bytes()); // extra length

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&fields);
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(&payload);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x0314u16.to_le_bytes()); // made by: Unix, 2.0
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&fields);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(0o600u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(m.name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len() - prefix.len()).expect("small archive");
    let count = u16::try_from(members.len()).expect("few members");
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(central.len())
            .expect("small directory")
            .to_le_bytes(),
    );
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(
        &u16::try_from(comment.len())
            .expect("short comment")
            .to_le_bytes(),
    );
    out.extend_from_slice(comment);
    out
}

fn build_zip(members: &[Member]) -> Vec<u8> {
    build_zip_with(&[], members, &[])
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n pretend image data";

fn typical_save() -> Vec<u8> {
    build_zip(&[
        member("screenshot.png", PNG),
        member("extra_info", "Chapter 1"),
        member(
            "json",
            r#"{"_save_name": "Chapter 1", "_renpy_version": [8, 3, 7, 25031702], "_version": "1.0", "_game_runtime": 61.5, "_ctime": 1700000000.5, "route": "a"}"#,
        ),
        member("renpy_version", "Ren'Py 8.3.7.25031702"),
        member("log", vec![0x80, 2, b'.']),
        member("signatures", "signature a b\n"),
    ])
}

#[test]
fn reads_typical_save() {
    let info = read_save(&typical_save()).expect("valid save");
    let want = SaveMeta {
        save_name: Some("Chapter 1".into()),
        ctime: Some(1_700_000_000.5),
        game_runtime: Some(61.5),
        version: Some("1.0".into()),
        renpy_version: Some(vec![8, 3, 7, 25_031_702]),
        extra: [("route".to_owned(), json!("a"))].into_iter().collect(),
        has_screenshot: true,
    };
    assert_eq!(info.meta, want);
    assert_eq!(info.screenshot.as_deref(), Some(PNG));
    assert_eq!(read_save_meta(&typical_save()), Ok(want));
}

#[test]
fn lenient_types_and_unexpected_ones_kept_in_extra() {
    let save = build_zip(&[member(
        "json",
        r#"{"_save_name": null, "_game_runtime": 12, "_ctime": 1700000000,
            "_version": 1.5, "_renpy_version": [8, "3"], "n": {"deep": [1, null]}}"#,
    )]);
    let meta = read_save_meta(&save).expect("valid json");
    assert_eq!(meta.save_name, None);
    assert_eq!(meta.game_runtime, Some(12.0));
    assert_eq!(meta.ctime, Some(1_700_000_000.0));
    assert_eq!(meta.version, None);
    assert_eq!(meta.renpy_version, None);
    let extra: BTreeMap<String, Value> = [
        ("_version".to_owned(), json!(1.5)),
        ("_renpy_version".to_owned(), json!([8, "3"])),
        ("n".to_owned(), json!({"deep": [1, null]})),
    ]
    .into_iter()
    .collect();
    assert_eq!(meta.extra, extra);
    assert!(!meta.has_screenshot);
}

#[test]
fn missing_json_falls_back_to_extra_info() {
    let save = build_zip(&[member("screenshot.png", PNG), member("extra_info", "Früh")]);
    let info = read_save(&save).expect("valid save");
    assert_eq!(
        info.meta,
        SaveMeta {
            save_name: Some("Früh".into()),
            has_screenshot: true,
            ..SaveMeta::default()
        }
    );
    let bad_utf8 = build_zip(&[member("extra_info", vec![0xff, 0xfe])]);
    assert!(matches!(
        read_save_meta(&bad_utf8),
        Err(SaveReadError::Corrupt(_))
    ));
    let none = build_zip(&[member("log", "x"), member("screenshot.png", PNG)]);
    assert_eq!(read_save_meta(&none), Err(SaveReadError::NoMetadata));
}

#[test]
fn bad_json_is_an_error() {
    for text in ["{", "[1, 2]", "\"name\"", "{\"_game_runtime\": NaN}", ""] {
        let save = build_zip(&[member("extra_info", "x"), member("json", text)]);
        assert!(
            matches!(read_save_meta(&save), Err(SaveReadError::BadJson(_))),
            "{text:?}"
        );
    }
}

#[test]
fn legacy_tga_screenshot_is_not_a_screenshot() {
    let save = build_zip(&[
        member("screenshot.tga", vec![0; 30]),
        member("extra_info", "Old"),
    ]);
    let info = read_save(&save).expect("valid save");
    assert!(!info.meta.has_screenshot);
    assert_eq!(info.screenshot, None);
}

#[test]
fn stored_members_prefix_comment_and_duplicates() {
    let mut stored = member("json", r#"{"_save_name": "first"}"#);
    stored.method = Method::Stored;
    let mut png = member("screenshot.png", PNG);
    png.method = Method::Stored;
    let later = member("json", r#"{"_save_name": "second"}"#);
    let save = build_zip_with(
        b"#!stub\n",
        &[stored, png, later],
        b"PK\x05\x06 in a comment",
    );
    let info = read_save(&save).expect("valid save");
    // As in Python's zipfile, the last of duplicate names wins.
    assert_eq!(info.meta.save_name.as_deref(), Some("second"));
    assert_eq!(info.screenshot.as_deref(), Some(PNG));
}

#[test]
fn meta_never_inflates_the_screenshot() {
    let mut broken_png = member("screenshot.png", PNG);
    broken_png.crc = Some(0xdead_beef);
    let save = build_zip(&[broken_png, member("json", "{}")]);
    let meta = read_save_meta(&save).expect("screenshot not read");
    assert!(meta.has_screenshot);
    assert_eq!(
        read_save(&save),
        Err(SaveReadError::Corrupt("member CRC-32 mismatch".into()))
    );
}

#[test]
fn damaged_members_are_errors() {
    let mut bad_crc = member("json", "{}");
    bad_crc.crc = Some(1);
    let mut lying_size = member("json", vec![b' '; 4096]);
    lying_size.declared_size = Some(10);
    let mut encrypted = member("json", "{}");
    encrypted.flags = 1;
    let mut bzip2 = member("json", "{}");
    bzip2.method_id = Some(12);
    let mut stored_mismatch = member("json", "{}");
    stored_mismatch.method = Method::Stored;
    stored_mismatch.declared_size = Some(3);
    let cases = [
        (bad_crc, "Corrupt"),
        (lying_size, "Corrupt"),
        (encrypted, "Unsupported"),
        (bzip2, "Unsupported"),
        (stored_mismatch, "Corrupt"),
    ];
    for (m, want) in cases {
        let got = read_save_meta(&build_zip(&[m]));
        let kind = match &got {
            Err(SaveReadError::Corrupt(_)) => "Corrupt",
            Err(SaveReadError::Unsupported(_)) => "Unsupported",
            _ => "other",
        };
        assert_eq!(kind, want, "{got:?}");
    }
}

#[test]
fn zip_bombs_stop_at_the_caps() {
    let zeros = vec![0u8; MAX_SCREENSHOT_BYTES + 1];
    let save = build_zip(&[
        member("json", "{}"),
        member("screenshot.png", zeros.clone()),
    ]);
    assert!(save.len() < 100_000, "the bomb is small: {}", save.len());
    assert_eq!(read_save(&save), Err(SaveReadError::TooLarge));
    let big_json = build_zip(&[member("json", vec![b' '; MAX_JSON_BYTES + 1])]);
    assert_eq!(read_save_meta(&big_json), Err(SaveReadError::TooLarge));
    // A header claiming a small size cannot make us inflate the whole stream.
    let mut liar = member("screenshot.png", zeros);
    liar.declared_size = Some(100);
    let save = build_zip(&[member("json", "{}"), liar]);
    assert!(matches!(read_save(&save), Err(SaveReadError::Corrupt(_))));
}

#[test]
fn structural_damage_is_an_error() {
    assert_eq!(read_save_meta(b""), Err(SaveReadError::NotAZip));
    assert_eq!(
        read_save_meta(b"hello, not a zip at all"),
        Err(SaveReadError::NotAZip)
    );
    let save = typical_save();
    // Cut anywhere: the EOCD is gone or no longer matches.
    let truncated = save.get(..save.len() - 30).expect("long enough");
    assert!(matches!(
        read_save_meta(truncated),
        Err(SaveReadError::Corrupt(_))
    ));

    // zip64 sentinel in the EOCD.
    let mut zip64 = save.clone();
    let eocd = zip64.len() - 22;
    zip64.splice(eocd + 16..eocd + 20, [0xff; 4]);
    assert!(matches!(
        read_save_meta(&zip64),
        Err(SaveReadError::Unsupported(_))
    ));

    // Multi-disk.
    let mut multi = save.clone();
    multi.splice(eocd + 4..eocd + 6, [1, 0]);
    assert!(matches!(
        read_save_meta(&multi),
        Err(SaveReadError::Unsupported(_))
    ));

    // A local header whose name differs from the central directory.
    let mut renamed = save.clone();
    let at = renamed
        .windows(4)
        .position(|w| w == b"json")
        .expect("local json header");
    renamed.splice(at..at + 4, *b"jsox");
    assert!(matches!(
        read_save_meta(&renamed),
        Err(SaveReadError::Corrupt(_))
    ));
}

#[test]
fn is_save_file_checks_the_file_name() {
    let path = |p| SavePath::new(p).expect("valid path");
    assert!(is_save_file(&path("1-1-LT1.save")));
    assert!(is_save_file(&path("sync/auto-1-LT1.save")));
    assert!(!is_save_file(&path("1-1-LT1.save.new")));
    assert!(!is_save_file(&path("persistent")));
    assert!(!is_save_file(&path("save/persistent")));
}

#[test]
fn crc32_known_values() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414F_A339
    );
}

/// Reading must end in a value or an error, never a panic.
fn read_everything(bytes: &[u8]) {
    let full = read_save(bytes);
    let meta = read_save_meta(bytes);
    if let Ok(info) = &full {
        assert_eq!(meta.as_ref(), Ok(&info.meta));
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    let save = typical_save();
    for len in 0..save.len() {
        let cut = save.get(..len).expect("in range");
        assert!(read_save_meta(cut).is_err(), "prefix of {len} bytes");
        read_everything(cut);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        read_everything(&bytes);
    }

    #[test]
    fn mutated_saves_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        keep_tail in any::<bool>(),
    ) {
        let mut save = typical_save();
        for (at, value) in flips {
            let i = at.index(save.len());
            if let Some(byte) = save.get_mut(i) {
                *byte = value;
            }
        }
        let end = if keep_tail { save.len() } else { cut.index(save.len() + 1) };
        read_everything(save.get(..end).unwrap_or_default());
    }

    #[test]
    fn any_json_object_round_trips_its_extra_keys(
        key in "[a-z]{1,8}",
        value in prop_oneof![any::<i64>().prop_map(Value::from), "\\PC{0,20}".prop_map(Value::from)],
    ) {
        let object = json!({ key.clone(): value.clone(), "_save_name": "s" });
        let save = build_zip(&[member("json", object.to_string())]);
        let meta = read_save_meta(&save).expect("valid save");
        prop_assert_eq!(meta.save_name.as_deref(), Some("s"));
        prop_assert_eq!(meta.extra.get(&key), Some(&value));
    }
}

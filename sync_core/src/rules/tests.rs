use proptest::prelude::*;

use super::*;

fn path(raw: &str) -> SavePath {
    SavePath::new(raw).expect("test path is valid")
}

fn glob_matches(pattern: &str, raw_path: &str) -> bool {
    let glob = Glob::parse(pattern).expect("test pattern is valid");
    let p = path(raw_path);
    glob.matches(&p.segments().collect::<Vec<_>>())
}

#[test]
fn renpy_default_syncs_slots_and_persistent_only() {
    let rules = SyncRules::renpy_default();
    assert_eq!(rules, SyncRules::default());
    for synced in [
        "1-1-LT1.save",
        "12-6-LT1.save",
        "auto-3-LT1.save",
        "quick-1-LT1.save",
        "_reload-1-LT1.save",
        "_auto-LT1.save",
        "persistent",
    ] {
        assert!(rules.is_synced(&path(synced)), "{synced} should sync");
    }
    for skipped in [
        "1-1-LT1.save.new",
        "1-1-LT1.save.tmp",
        "persistent.new",
        "persistent.tmp",
        "persistent.bak",
        "1-1-LT1.save.bak",
        "1-1-LT1.SAVE",
        "Persistent",
        "navigation.json",
        "log.txt",
        "sync/persistent",
        "sync/1-1-LT1.save",
        "tokens/security_keys.txt",
        "a/b/auto-1-LT1.save",
        "persistent/1-1-LT1.save",
    ] {
        assert!(
            !rules.is_synced(&path(skipped)),
            "{skipped} should not sync"
        );
    }
}

#[test]
fn game_globs_extend_the_defaults_and_excludes_win() {
    let rules = SyncRules::renpy_default()
        .with_include("extra/*.json")
        .and_then(|r| r.with_exclude("auto-*"))
        .and_then(|r| r.with_exclude("extra/secret.json"))
        .expect("valid globs");
    assert!(rules.is_synced(&path("extra/progress.json")));
    assert!(rules.is_synced(&path("1-1-LT1.save")));
    assert!(!rules.is_synced(&path("extra/secret.json")));
    assert!(!rules.is_synced(&path("auto-1-LT1.save")));
    assert!(!rules.is_synced(&path("extra/deeper/progress.json")));

    // An exclude of something no include matches changes nothing; order of calls does not matter.
    let excluded_first = SyncRules::renpy_default()
        .with_exclude("persistent")
        .and_then(|r| r.with_include("persistent"))
        .expect("valid globs");
    assert!(!excluded_first.is_synced(&path("persistent")));
}

#[test]
fn glob_table() {
    // (pattern, path, expected)
    let table: &[(&str, &str, bool)] = &[
        ("*.save", "1-1-LT1.save", true),
        ("*.save", ".save", true),
        ("*.save", "sync/1-1-LT1.save", false),
        ("*.save", "1-1-LT1.save.new", false),
        ("persistent", "persistent", true),
        ("persistent", "persistent.new", false),
        ("persistent", "sync/persistent", false),
        ("?-?-LT1.save", "1-2-LT1.save", true),
        ("?-?-LT1.save", "10-2-LT1.save", false),
        ("?", "é", true),
        ("?", "ab", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        (
            "*a*a*a*b",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            false,
        ),
        ("*", "anything", true),
        ("*", "a/b", false),
        ("**", "a", true),
        ("**", "a/b/c", true),
        ("**/*.save", "1-1-LT1.save", true),
        ("**/*.save", "a/b/1-1-LT1.save", true),
        ("**/*.save", "a/b/1-1-LT1.txt", false),
        ("sync/**", "sync/persistent", true),
        ("sync/**", "sync/a/b", true),
        ("sync/**", "sync", false),
        ("sync/**", "syncx/a", false),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/c", false),
        ("a/**/b", "x/a/b", false),
        ("**/x/**", "x/y", true),
        ("**/x/**", "a/x/y/z", true),
        ("**/x/**", "a/x", false),
        ("*/persistent", "sync/persistent", true),
        ("*/persistent", "persistent", false),
        ("Café *.save", "Café 1.save", true),
        ("a+b(1).save", "a+b(1).save", true),
        ("a.save", "aXsave", false),
    ];
    for &(pattern, raw, expected) in table {
        assert_eq!(
            glob_matches(pattern, raw),
            expected,
            "{pattern:?} vs {raw:?}"
        );
    }
}

#[test]
fn bad_patterns_are_refused_with_their_reason() {
    let long = "a".repeat(MAX_GLOB_BYTES + 1);
    let table: Vec<(&str, GlobErrorReason)> = vec![
        ("", GlobErrorReason::Empty),
        (&long, GlobErrorReason::TooLong),
        ("/persistent", GlobErrorReason::Absolute),
        ("sync\\persistent", GlobErrorReason::Backslash),
        ("../x", GlobErrorReason::DotSegment),
        ("a/./b", GlobErrorReason::DotSegment),
        ("..", GlobErrorReason::DotSegment),
        ("a//b", GlobErrorReason::EmptySegment),
        ("a/", GlobErrorReason::EmptySegment),
        ("a\nb", GlobErrorReason::ControlCharacter),
        ("a\0b", GlobErrorReason::ControlCharacter),
        ("a**", GlobErrorReason::DoubleStarInSegment),
        ("***", GlobErrorReason::DoubleStarInSegment),
        ("a/**b/c", GlobErrorReason::DoubleStarInSegment),
        ("[0-9].save", GlobErrorReason::Unsupported('[')),
        ("{a,b}.save", GlobErrorReason::Unsupported('{')),
        ("!persistent", GlobErrorReason::Unsupported('!')),
    ];
    for (pattern, reason) in table {
        let want = GlobError {
            pattern: pattern.to_owned(),
            reason,
        };
        assert_eq!(
            SyncRules::renpy_default().with_include(pattern),
            Err(want.clone()),
            "{pattern:?}"
        );
        assert_eq!(
            SyncRules::renpy_default().with_exclude(pattern),
            Err(want),
            "{pattern:?}"
        );
    }
    let message = SyncRules::renpy_default()
        .with_include("a\\b")
        .expect_err("backslash is refused")
        .to_string();
    assert!(
        message.contains("\"a\\\\b\"") && message.contains("backslash"),
        "{message}"
    );
    // Exactly the limit is fine.
    assert!(Glob::parse(&"a".repeat(MAX_GLOB_BYTES)).is_ok());
}

/// The specification, written the obvious (exponential) recursive way.
fn reference_match(pattern: &[&str], segments: &[&str]) -> bool {
    fn segment(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|k| segment(rest, &s[k..])),
            Some(('?', rest)) => !s.is_empty() && segment(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && segment(rest, &s[1..]),
        }
    }
    match pattern.split_first() {
        None => segments.is_empty(),
        Some((&"**", [])) => !segments.is_empty(),
        Some((&"**", rest)) => (0..=segments.len()).any(|k| reference_match(rest, &segments[k..])),
        Some((p, rest)) => match segments.split_first() {
            Some((s, more)) => {
                let pc: Vec<char> = p.chars().collect();
                let sc: Vec<char> = s.chars().collect();
                segment(&pc, &sc) && reference_match(rest, more)
            }
            None => false,
        },
    }
}

fn pattern_strategy() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("**".to_owned()),
        "[ab*?]{1,4}".prop_filter("no ** inside a segment", |s| !s.contains("**")),
    ];
    prop::collection::vec(segment, 1..4).prop_map(|segments| segments.join("/"))
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec("[ab]{1,4}", 1..5).prop_map(|segments| segments.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_agrees_with_the_reference(pattern in pattern_strategy(), raw in path_strategy()) {
        let parts: Vec<&str> = pattern.split('/').collect();
        let segments: Vec<&str> = raw.split('/').collect();
        prop_assert_eq!(glob_matches(&pattern, &raw), reference_match(&parts, &segments));
    }

    #[test]
    fn a_literal_pattern_matches_only_itself(a in path_strategy(), b in path_strategy()) {
        prop_assert!(glob_matches(&a, &a));
        prop_assert_eq!(glob_matches(&a, &b), a == b);
    }

    #[test]
    fn parse_never_panics(pattern in "\\PC{0,40}") {
        let _ = Glob::parse(&pattern);
    }
}

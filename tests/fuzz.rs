//! Fuzzing on stable Rust, bounded for CI: property tests that throw mutated real traffic and
//! random input at the parsers that face clients and config authors. Each property runs a fixed
//! number of cases (seconds in all); the seeds in `tests/fuzz/` are frames the e2e suite sends.
//! A found failure is minimized by proptest and saved under `proptest-regressions/` to rerun.
//! (SSE event bounds, names and URIs, and argument → Cedar conversion have properties beside
//! their code: `upstream/sse_bound`, `mcp/names.rs`, `authz/tests/typed.rs`.)

use std::collections::HashSet;

use agentmux::jsonrpc::{Message, RawObject};
use proptest::prelude::*;
use serde_json::value::RawValue;

fn seeds() -> Vec<Vec<u8>> {
    include_str!("fuzz/jsonrpc-seeds.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// One edit of a byte string: flip, insert, delete, truncate or splice in JSON syntax.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let syntax = prop::sample::select(vec![
        b"{".to_vec(),
        b"}".to_vec(),
        b"[".to_vec(),
        b"\"".to_vec(),
        b",\"id\":1".to_vec(),
        b",\"method\":\"x\"".to_vec(),
        b"\\u0000".to_vec(),
        b"\\ud800".to_vec(),
        b"1e999".to_vec(),
        b"-0.0".to_vec(),
        "\u{feff}".as_bytes().to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![syntax, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(i, b) if !bytes.is_empty() => bytes[i % len] = *b,
            Edit::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Edit::Delete(i, n) if !bytes.is_empty() => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Whether a JSON text has a duplicate key in any object (the reference, by full parse).
fn has_duplicate_keys(text: &str) -> bool {
    // serde_json keeps the last duplicate; count keys token by token instead.
    struct Check(bool);
    impl<'de> serde::de::Visitor<'de> for &mut Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("json")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(k) = map.next_key::<String>()? {
                self.0 |= !seen.insert(k);
                map.next_value_seed(&mut *self)?;
            }
            Ok(())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(&mut *self)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    impl<'de> serde::de::DeserializeSeed<'de> for &mut Check {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    let mut check = Check(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(&mut check, &mut de).is_ok();
    parsed && check.0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Framing never panics, and what it accepts is one object with a consistent kind.
    #[test]
    fn jsonrpc_framing_survives_mutated_traffic(seed in prop::sample::select(seeds()), edits in prop::collection::vec(edit(), 0..6)) {
        let bytes = apply(seed, &edits);
        if let Ok(message) = Message::parse(&bytes) {
            let _ = message.kind();
            let text = std::str::from_utf8(&bytes).unwrap_or("");
            prop_assert!(!has_duplicate_keys_top(text), "a frame with a duplicate top-level key was accepted: {text}");
        }
    }

    /// Members stay raw and in order, and a duplicate key anywhere at the top is refused.
    #[test]
    fn raw_objects_refuse_duplicates(keys in prop::collection::vec("[a-c]{1,2}", 0..6), values in prop::collection::vec(any::<i32>(), 6)) {
        let members: Vec<String> = keys.iter().zip(&values).map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let text = format!("{{{}}}", members.join(","));
        let raw = RawValue::from_string(text.clone()).unwrap();
        let unique = keys.iter().collect::<HashSet<_>>().len() == keys.len();
        match RawObject::parse(&raw) {
            Ok(object) => {
                prop_assert!(unique, "{text}");
                let order: Vec<&str> = object.0.iter().map(|(k, _)| &**k).collect();
                prop_assert_eq!(order, keys.iter().map(String::as_str).collect::<Vec<_>>());
                let written = object.to_raw();
                prop_assert_eq!(written.get(), text.as_str());
            }
            Err(e) => prop_assert!(!unique && e.message.contains("duplicate key"), "{text}: {}", e.message),
        }
    }

    /// Arguments are read as exactly one JSON object without duplicates at any depth.
    #[test]
    fn arguments_parse_agrees_with_a_full_parse(seed in prop::sample::select(seeds()), edits in prop::collection::vec(edit(), 0..4)) {
        let bytes = apply(seed, &edits);
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        let Ok(raw) = RawValue::from_string(text.clone()) else { return Ok(()) };
        let reference: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        match agentmux::arguments::parse(Some(&raw)) {
            Ok(value) => {
                prop_assert!(!has_duplicate_keys(&text), "{text}");
                prop_assert_eq!(Some(value), reference);
            }
            Err(_) => prop_assert!(
                has_duplicate_keys(&text) || !reference.as_ref().is_some_and(serde_json::Value::is_object),
                "refused a plain object: {text}"
            ),
        }
    }
}

/// Duplicate keys among the top-level members only (what framing must refuse).
fn has_duplicate_keys_top(text: &str) -> bool {
    let Ok(raw) = serde_json::from_str::<&RawValue>(text) else {
        return false;
    };
    RawObject::parse(raw).is_err() && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// A config file, however broken, loads or fails with problems: it never panics, and a
    /// failure names the file.
    #[test]
    fn config_loading_never_panics(lines in prop::collection::vec(config_line(), 0..12)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentmux.yaml");
        std::fs::write(&path, lines.join("\n")).unwrap();
        if let Err(e) = agentmux::config::load(&path) {
            // Every problem names where it is: the config file or a path it points to.
            let dir = dir.path().display().to_string();
            prop_assert!(e.to_string().contains(&dir), "{e}");
        }
    }
}

fn config_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "listen",
        "registry",
        "policies",
        "mcp",
        "  prefix",
        "  separator",
        "  max_sessions",
        "auth",
        "  issuers",
        "  - issuer",
        "    audiences",
        "    jwks",
        "  api_keys",
        "server",
        "  trusted_proxies",
        "audit",
        "  hash_key",
        "state",
        "unknown_key",
    ]);
    let value = prop::sample::select(vec![
        "",
        " 127.0.0.1:0",
        " 999.1.1.1:99999",
        " registry/",
        " always",
        " \"__\"",
        " -1",
        " 18446744073709551616",
        " [a, b]",
        " {x: 1}",
        " ${env:AGENTMUX_FUZZ_UNSET}",
        " ${file:/nonexistent}",
        " http://idp/jwks",
        " \"\\u0000\"",
        " &a",
        " *a",
        " !!binary AAA",
        " ~",
        " 1e400",
    ]);
    (key, value).prop_map(|(k, v)| format!("{k}:{v}"))
}

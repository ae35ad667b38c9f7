//! Federated names: `{upstream}{separator}{name}` for tools and prompts, `agentmux://{upstream}/{uri}`
//! for resources, and their reversal.
//!
//! Names are never parsed back: every exposed name is looked up in the catalog, which maps it to
//! its owner and original name. That keeps shortened names (cut to a length cap, with a hash
//! suffix) reversible and stops a client from addressing anything the catalog does not serve.

use sha2::{Digest, Sha256};

/// Scheme of rewritten resource URIs. `agentmux://fs/file:///tmp/a.txt` is a valid URI whose
/// path holds the original verbatim, so the mapping is a plain prefix and templates keep working.
pub const URI_SCHEME: &str = "agentmux://";

/// The federated name of an upstream's tool or prompt.
pub fn prefixed(upstream: &str, separator: &str, name: &str) -> String {
    let mut out = String::with_capacity(upstream.len() + separator.len() + name.len());
    out.push_str(upstream);
    out.push_str(separator);
    out.push_str(name);
    out
}

/// Cuts `name` to `max` characters, deterministically, keeping it unique: the first part of the
/// name, `_`, and 8 hex digits of the SHA-256 of the whole name.
pub fn shorten(name: String, max: usize) -> String {
    if name.len() <= max {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    // Names are ASCII per MCP; find a char boundary anyway so odd upstream names cannot panic.
    let keep = max.saturating_sub(hash.len() + 1);
    let cut = (0..=keep).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
    format!("{}_{hash}", &name[..cut])
}

pub fn prefixed_uri(upstream: &str, uri: &str) -> String {
    let mut out = String::with_capacity(URI_SCHEME.len() + upstream.len() + 1 + uri.len());
    out.push_str(URI_SCHEME);
    out.push_str(upstream);
    out.push('/');
    out.push_str(uri);
    out
}

/// `agentmux://{upstream}/{original}` → (upstream, original).
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix(URI_SCHEME)?.split_once('/')
}

/// Longest resource URI a client may name.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Whether a URI a client names (one no list serves as it is) means one thing to everyone who
/// reads it. Filters and policies compare URIs as text, while upstreams resolve paths: so
/// `file:///public/../secret` would pass a `file:///public/*` rule and read `/secret`. Dot
/// segments, percent-encoded separators and dots, backslashes and control characters are
/// refused rather than normalized: the URI the policy saw is exactly the one the upstream gets.
pub fn check_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_BYTES {
        return Err(format!("resource URI is longer than {MAX_URI_BYTES} bytes"));
    }
    if uri.chars().any(char::is_control) {
        return Err("resource URI holds control characters".into());
    }
    if uri.contains('\\') {
        return Err("resource URI holds a backslash".into());
    }
    let lower = uri.to_ascii_lowercase();
    if let Some(escape) = ["%2f", "%5c", "%2e", "%00"].iter().find(|e| lower.contains(*e)) {
        return Err(format!(
            "resource URI holds a percent-encoded separator or dot (`{escape}`)"
        ));
    }
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return Err("resource URI holds a `.` or `..` segment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, failure_persistence: None, ..Default::default() })]

        /// Mapping is reversible, shortening bounded and stable, and an accepted URI has no
        /// segment that resolves elsewhere, however it is written.
        #[test]
        fn names_and_uris_map_one_to_one(
            upstream in "[a-z0-9][a-z0-9-]{0,20}",
            uri in "[a-z]{1,6}:(//)?[a-zA-Z0-9./%\\\\?#_~-]{0,40}",
            name in "[A-Za-z0-9_.-]{1,200}",
            max in 16usize..128,
        ) {
            let exposed = prefixed_uri(&upstream, &uri);
            proptest::prop_assert_eq!(split_uri(&exposed), Some((upstream.as_str(), uri.as_str())));
            let short = shorten(prefixed(&upstream, "__", &name), max);
            proptest::prop_assert!(short.len() <= max, "{short}");
            proptest::prop_assert_eq!(&short, &shorten(prefixed(&upstream, "__", &name), max));
            if check_uri(&uri).is_ok() {
                let path = uri.split(['?', '#']).next().unwrap_or("");
                let decoded = path.to_ascii_lowercase().replace("%2e", ".").replace("%2f", "/").replace("%5c", "/");
                proptest::prop_assert!(!decoded.replace('\\', "/").split('/').any(|s| s == "." || s == ".."), "{uri}");
            }
        }
    }

    #[test]
    fn uris_that_mean_two_things_are_refused() {
        for ok in [
            "file:///public/a.txt",
            "file:///public/a..b/c",
            "agentmux://fs/file:///tmp/a b.txt",
            "test://static/resource/1?x=../y",
            "https://example.com/a%20b",
        ] {
            assert_eq!(check_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "file:///public/../secret",
            "file:///public/./a",
            "file:///public/..",
            "file:///public/%2e%2e/secret",
            "file:///public/%2E%2e/secret",
            "file:///public%2f..%2fsecret",
            "file:///public\\..\\secret",
            "file:///public/a\u{0}b",
            "agentmux://fs/file:///public/../secret",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
        assert!(check_uri(&format!("file:///{}", "a".repeat(MAX_URI_BYTES))).is_err());
    }

    #[test]
    fn prefixes_and_splits() {
        assert_eq!(prefixed("github", "__", "create_issue"), "github__create_issue");
        let uri = prefixed_uri("fs", "file:///tmp/a b.txt");
        assert_eq!(uri, "agentmux://fs/file:///tmp/a b.txt");
        assert_eq!(split_uri(&uri), Some(("fs", "file:///tmp/a b.txt")));
        assert_eq!(split_uri("file:///x"), None);
    }

    #[test]
    fn shortening_is_deterministic_bounded_and_distinct() {
        let a = "x".repeat(100) + "a";
        let b = "x".repeat(100) + "b";
        let (sa, sb) = (shorten(a.clone(), 64), shorten(b, 64));
        assert_eq!(sa.len(), 64);
        assert_ne!(sa, sb);
        assert_eq!(sa, shorten(a, 64));
        assert_eq!(shorten("short".into(), 64), "short");
    }
}

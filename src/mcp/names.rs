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

#[cfg(test)]
mod tests {
    use super::*;

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

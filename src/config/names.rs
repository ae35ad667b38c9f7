//! The one spelling of names agentmux mints from config: upstreams and issuer namespaces share
//! it, so it is a leaf both import. Imports nothing from `config`.

/// Whether `name` matches `[a-z0-9][a-z0-9-]*`.
pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

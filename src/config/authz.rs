//! `authz:`: what a caller hears about a tool its policies deny. Reads `raw` only; the policies
//! themselves are loaded by the authorization layer, not here.

use super::raw::{RawAuthz, RawDenied};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Hidden,
    Forbidden,
}

/// `authz.denied`; default `hidden`.
pub(super) fn resolve(raw: &RawAuthz) -> Denied {
    match raw.denied {
        None | Some(RawDenied::Hidden) => Denied::Hidden,
        Some(RawDenied::Forbidden) => Denied::Forbidden,
    }
}

//! Hub cursors for paging merged lists.
//!
//! Lists are served from the cached merged view, so a cursor is a position in it. It is opaque to
//! clients (base64url) and versioned (`v1:`) so its contents can change without breaking them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::jsonrpc::{INVALID_PARAMS, RpcError};

pub fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{offset}"))
}

pub fn decode(cursor: &str) -> Result<usize, RpcError> {
    let invalid = || {
        RpcError::new(
            INVALID_PARAMS,
            "invalid cursor: pass back the `nextCursor` of the previous page",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    text.strip_prefix("v1:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_junk() {
        assert_eq!(decode(&encode(1234)).unwrap(), 1234);
        assert!(decode("nope!").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("v2:1")).is_err());
    }
}

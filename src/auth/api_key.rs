//! API keys for machine clients. Config holds only `sha256:<hex>` of each key; a presented key is
//! hashed and compared with every configured hash in constant time.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ApiKeySpec;
use crate::identity::{Principal, PrincipalKind};

/// What generated keys start with, so that they are recognisable in a leaked-secret scan.
pub const PREFIX: &str = "amx_";

pub(super) struct ApiKey {
    hash: [u8; 32],
    principal: Arc<Principal>,
}

impl ApiKey {
    pub fn new(spec: &ApiKeySpec) -> Result<Self, String> {
        let hash = spec
            .hash
            .0
            .strip_prefix("sha256:")
            .and_then(parse_hex)
            .ok_or_else(|| format!("api key `{}`: `hash` must be `sha256:` and 64 hex digits", spec.name))?;
        Ok(Self {
            hash,
            principal: Arc::new(Principal {
                fingerprint: Default::default(),
                kind: PrincipalKind::ApiKey,
                id: spec.name.clone(),
                issuer: None,
                groups: spec.groups.clone(),
                scopes: Vec::new(),
                claims: serde_json::Map::new(),
            }),
        })
    }
}

/// The principal of the configured key `presented` matches. Every configured hash is compared,
/// each in constant time, so timing tells nothing about how close a guess came.
pub(super) fn find(keys: &[ApiKey], presented: &str) -> Option<Arc<Principal>> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for key in keys {
        if bool::from(key.hash.ct_eq(&digest)) && found.is_none() {
            found = Some(Arc::clone(&key.principal));
        }
    }
    found
}

/// `sha256:<hex>` of a key, as config stores it.
pub fn hash(key: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(key.as_bytes()))
}

/// A new key: `amx_` and 32 random bytes in base64url (43 characters).
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

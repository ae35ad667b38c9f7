//! What authz remembers is keyed by a SHA-256 of exactly what policies can see: the key writer
//! and the bounded cache that decisions and scenes share.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Attrs, Target};

/// A cache of at most `capacity` entries (old ones go first); an entry lives ten minutes at
/// most, a bound on memory rather than something correctness needs.
pub fn cache<T: Send + Sync + 'static>(capacity: u64) -> moka::sync::Cache<[u8; 32], Arc<T>> {
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .time_to_live(Duration::from_secs(600))
        .build()
}

/// A SHA-256 of fields, each length-prefixed so that no two different field lists write the
/// same bytes: the keys of remembered decisions and of scenes.
pub struct Key(Sha256);

impl Key {
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    pub fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Everything policies can see of a target.
    pub fn target(&mut self, t: &Target<'_>) {
        self.field(t.action.id().as_bytes());
        self.field(t.upstream.as_bytes());
        self.field(t.name.as_bytes());
        match t.attrs {
            Attrs::None => self.field(&[0]),
            Attrs::Tool(hints) => self.field(&[
                1,
                u8::from(hints.read_only),
                u8::from(hints.destructive),
                u8::from(hints.idempotent),
                u8::from(hints.open_world),
            ]),
        }
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

//! What authz remembers is keyed by a SHA-256 of exactly what policies can see: the key writer
//! and the bounded cache that decisions and scenes share.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Attrs, Target};

/// A cache of at most `capacity` entries. Most calls with new arguments are never asked again,
/// so the cache must be cheap to miss and to fill: `quick_cache` (S3-FIFO, sharded locks) keeps
/// one-time entries from pushing out the ones asked often, at a third of the cost of `moka`'s
/// admission bookkeeping per insert (docs/benchmarks.md). Entries never go stale: a key covers
/// everything the answer depends on, and a policy reload builds a new cache.
pub type Cache<T> = quick_cache::sync::Cache<[u8; 32], Arc<T>>;

pub fn cache<T>(capacity: usize) -> Cache<T> {
    Cache::new(capacity)
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
            Attrs::Agent { skills } => {
                self.field(&[2]);
                self.field(&(skills.len() as u64).to_le_bytes());
                for skill in skills {
                    self.field(skill.as_bytes());
                }
            }
            Attrs::Model { provider, model } => {
                self.field(&[3]);
                self.field(provider.as_bytes());
                self.field(model.as_bytes());
            }
        }
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

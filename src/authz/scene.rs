//! What one caller's calls of one tool share, whatever their arguments: the Cedar entities (the
//! caller, its groups, the target and its upstream) and the policies that can apply. Building
//! them cost about as much as evaluating; calls that differ only in their arguments (each a new
//! decision, never remembered) now build only their context. Kept per policy set, keyed by
//! the principal's fingerprint (everything policies can see of it) and the target.

use std::sync::Arc;
use std::time::Duration;

use cedar_policy::Entities;
use sha2::{Digest, Sha256};

use super::slice::Slice;
use super::{Attrs, Caller, Target};

/// Scenes kept, at most; old ones go first.
const CAPACITY: u64 = 4_096;

pub struct Scene {
    pub entities: Entities,
    pub policies: Arc<Slice>,
}

pub struct Scenes {
    cache: moka::sync::Cache<[u8; 32], Arc<Scene>>,
}

impl Scenes {
    pub fn new() -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    /// The scene of `caller` acting on `target`, built by `build` the first time.
    pub fn get_or_build(
        &self,
        caller: &Caller,
        target: &Target<'_>,
        build: impl FnOnce() -> Result<Scene, String>,
    ) -> Result<Arc<Scene>, String> {
        let key = key(caller, target);
        if let Some(scene) = self.cache.get(&key) {
            return Ok(scene);
        }
        let scene = Arc::new(build()?);
        self.cache.insert(key, Arc::clone(&scene));
        Ok(scene)
    }
}

fn key(caller: &Caller, target: &Target<'_>) -> [u8; 32] {
    let mut key = Key::new();
    key.field(&caller.principal.fingerprint());
    key.target(target);
    key.finish()
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

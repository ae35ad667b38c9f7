//! What one caller's calls of one tool share, whatever their arguments: the Cedar entities (the
//! caller, its groups, the target and its upstream) and the policies that can apply. Building
//! them cost about as much as evaluating; calls that differ only in their arguments (each a new
//! decision, never remembered) now build only their context. Kept per policy set, keyed by
//! the principal's fingerprint (everything policies can see of it) and the target.

use std::sync::Arc;

use super::keyed::{self, Key};
use super::slice::Slice;
use super::{Caller, Target};
use cedar_policy::Entities;

/// Scenes kept, at most; old ones go first.
const CAPACITY: usize = 4_096;

pub struct Scene {
    pub entities: Entities,
    pub policies: Arc<Slice>,
}

pub struct Scenes {
    cache: keyed::Cache<Scene>,
}

impl Scenes {
    pub fn new() -> Self {
        Self {
            cache: keyed::cache(CAPACITY),
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

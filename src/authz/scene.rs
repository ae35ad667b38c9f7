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

fn key(caller: &Caller, t: &Target<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    // Every field length-prefixed, so no two different scenes write the same bytes.
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&caller.principal.fingerprint());
    field(t.action.id().as_bytes());
    field(t.upstream.as_bytes());
    field(t.name.as_bytes());
    match t.attrs {
        Attrs::None => field(&[0]),
        Attrs::Tool(hints) => field(&[
            1,
            u8::from(hints.read_only),
            u8::from(hints.destructive),
            u8::from(hints.idempotent),
            u8::from(hints.open_world),
        ]),
    }
    h.finalize().into()
}

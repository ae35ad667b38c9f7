//! State that outlives one request and must be the same on every replica: which principal
//! owns an A2A task or context, and how much of a rate limit's window is spent. One interface, one backend per deployment: in this process now
//! (bounded, expiring), a shared store such as Redis when agentmux runs as several replicas.
//!
//! Every call can fail (a remote store can be down), and callers fail closed: an owner that
//! cannot be read is not the caller.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A principal's fingerprint, as `identity::Principal::fingerprint` gives it.
pub type Owner = [u8; 32];

/// Owners remembered by the in-process store, at most (the least recently used go first).
const OWNERS_CAPACITY: u64 = 1_000_000;
/// An owner not read or claimed for this long is forgotten.
const OWNERS_IDLE: Duration = Duration::from_secs(24 * 3600);
/// Counters kept by the in-process store, at most.
const COUNTERS_CAPACITY: u64 = 1_000_000;
/// A counter lives this long after it is created: its key names its window (a minute), so a
/// window's count is gone soon after the window is over.
const COUNTER_LIFE: Duration = Duration::from_secs(180);

/// The store could not answer; the reason is for logs and audit, not for callers.
#[derive(Debug)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state store: {}", self.0)
    }
}

impl std::error::Error for StateError {}

/// The shared state, whatever holds it. A closed set of backends, so calls stay static.
pub struct StateStore {
    backend: Backend,
}

enum Backend {
    Memory(Memory),
}

impl StateStore {
    /// State held in this process: right for one replica, lost on restart.
    pub fn in_memory() -> Self {
        Self {
            backend: Backend::Memory(Memory::new(OWNERS_CAPACITY, OWNERS_IDLE, COUNTER_LIFE)),
        }
    }

    /// The owner recorded for `key`, if any; a read keeps the record alive.
    pub async fn owner(&self, key: &str) -> Result<Option<Owner>, StateError> {
        match &self.backend {
            Backend::Memory(memory) => Ok(memory.owners.get(key)),
        }
    }

    /// Adds `amount` (negative to give back) to the counter `key` and returns the total now,
    /// never below zero; concurrent adds all count. A counter is forgotten a few minutes after
    /// it is created, so keys name a window (`…/<minute>`).
    pub async fn add(&self, key: &str, amount: i64) -> Result<i64, StateError> {
        match &self.backend {
            Backend::Memory(memory) => {
                let counter = memory
                    .counters
                    .get_with_by_ref(key, || std::sync::Arc::new(AtomicI64::new(0)));
                let before = counter
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some((n + amount).max(0)))
                    .unwrap_or(0);
                Ok((before + amount).max(0))
            }
        }
    }

    /// Records `owner` for `key` unless another owner is recorded; the owner now recorded
    /// (the first claim wins, atomically).
    pub async fn claim(&self, key: &str, owner: &Owner) -> Result<Owner, StateError> {
        match &self.backend {
            Backend::Memory(memory) => {
                let entry = memory.owners.entry_by_ref(key).or_insert(*owner);
                Ok(entry.into_value())
            }
        }
    }
}

struct Memory {
    owners: moka::sync::Cache<String, Owner>,
    counters: moka::sync::Cache<String, std::sync::Arc<AtomicI64>>,
}

impl Memory {
    fn new(capacity: u64, idle: Duration, counter_life: Duration) -> Self {
        Self {
            owners: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
            counters: moka::sync::Cache::builder()
                .max_capacity(COUNTERS_CAPACITY)
                .time_to_live(counter_life)
                .build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_claim_wins() {
        let store = StateStore::in_memory();
        let (alice, bob) = ([1; 32], [2; 32]);
        assert_eq!(store.owner("t1").await.unwrap(), None);
        assert_eq!(store.claim("t1", &alice).await.unwrap(), alice);
        assert_eq!(
            store.claim("t1", &alice).await.unwrap(),
            alice,
            "claiming again is fine"
        );
        assert_eq!(store.claim("t1", &bob).await.unwrap(), alice);
        assert_eq!(store.owner("t1").await.unwrap(), Some(alice));
        assert_eq!(store.owner("t2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn counters_add_up_and_never_go_below_zero() {
        let store = StateStore::in_memory();
        assert_eq!(store.add("w/1", 5).await.unwrap(), 5);
        assert_eq!(store.add("w/1", 7).await.unwrap(), 12);
        assert_eq!(store.add("w/1", -20).await.unwrap(), 0);
        assert_eq!(store.add("w/2", 1).await.unwrap(), 1, "one counter per key");
    }

    #[test]
    fn the_memory_store_forgets_idle_records() {
        let memory = Memory::new(10, Duration::from_millis(50), Duration::from_millis(50));
        memory.owners.insert("t1".into(), [1; 32]);
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(memory.owners.get("t1"), None);
    }
}

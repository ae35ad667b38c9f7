//! Who created each task and context. An agent sees agentmux's credentials, not the caller's,
//! so it cannot keep one caller from another's tasks: agentmux records the principal that
//! first received each task id and context id in a response, and answers everyone else as if
//! the task did not exist. Bounded and expiring; in this process for now (a shared store can
//! hold it for several replicas behind the same interface).

use std::time::Duration;

/// Ids remembered, at most (old ones go first).
const CAPACITY: u64 = 1_000_000;
/// An id not used for this long is forgotten (its owner's calls then find no task).
const IDLE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Task,
    Context,
}

/// What agentmux knows of an id for one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Own,
    /// Another principal's.
    Other,
    /// Never seen (or forgotten).
    Unknown,
}

pub struct Owners {
    /// (agent, kind, id) → the owner's fingerprint.
    ids: moka::sync::Cache<(String, u8, String), [u8; 32]>,
}

impl Owners {
    pub fn new() -> Self {
        Self {
            ids: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(IDLE)
                .build(),
        }
    }

    fn key(agent: &str, kind: Kind, id: &str) -> (String, u8, String) {
        (agent.to_string(), kind as u8, id.to_string())
    }

    pub fn access(&self, agent: &str, kind: Kind, id: &str, owner: &[u8; 32]) -> Access {
        match self.ids.get(&Self::key(agent, kind, id)) {
            Some(found) if &found == owner => Access::Own,
            Some(_) => Access::Other,
            None => Access::Unknown,
        }
    }

    /// Records `owner` for an id seen in a response to it, unless the id is someone else's:
    /// then `false` (the response must not reach this caller).
    pub fn claim(&self, agent: &str, kind: Kind, id: &str, owner: &[u8; 32]) -> bool {
        let entry = self.ids.entry(Self::key(agent, kind, id)).or_insert(*owner);
        entry.value() == owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_owner_keeps_the_id() {
        let owners = Owners::new();
        let (alice, bob) = ([1; 32], [2; 32]);
        assert_eq!(owners.access("planner", Kind::Task, "t1", &alice), Access::Unknown);
        assert!(owners.claim("planner", Kind::Task, "t1", &alice));
        assert!(
            owners.claim("planner", Kind::Task, "t1", &alice),
            "claiming again is fine"
        );
        assert!(!owners.claim("planner", Kind::Task, "t1", &bob));
        assert_eq!(owners.access("planner", Kind::Task, "t1", &alice), Access::Own);
        assert_eq!(owners.access("planner", Kind::Task, "t1", &bob), Access::Other);
        assert_eq!(
            owners.access("other", Kind::Task, "t1", &bob),
            Access::Unknown,
            "per agent"
        );
        assert_eq!(
            owners.access("planner", Kind::Context, "t1", &alice),
            Access::Unknown,
            "per kind"
        );
    }
}

//! Who created each task and context. An agent sees agentmux's credentials, not the caller's,
//! so it cannot keep one caller from another's tasks: agentmux records the principal that
//! first received each task id and context id in a response, and answers everyone else as if
//! the task did not exist. The records live in the `StateStore`, so replicas share them.

use std::sync::Arc;

use crate::state::{Owner, StateError, StateStore};

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
    store: Arc<StateStore>,
}

impl Owners {
    pub fn new(store: Arc<StateStore>) -> Self {
        Self { store }
    }

    /// Ids are the agent's, so the key names the agent; the kind keeps a task id and a
    /// context id that happen to be equal apart.
    fn key(agent: &str, kind: Kind, id: &str) -> String {
        let kind = match kind {
            Kind::Task => "task",
            Kind::Context => "context",
        };
        format!("a2a/{agent}/{kind}/{id}")
    }

    pub async fn access(&self, agent: &str, kind: Kind, id: &str, owner: &Owner) -> Result<Access, StateError> {
        Ok(match self.store.owner(&Self::key(agent, kind, id)).await? {
            Some(found) if &found == owner => Access::Own,
            Some(_) => Access::Other,
            None => Access::Unknown,
        })
    }

    /// Records `owner` for an id seen in a response to it, unless the id is someone else's:
    /// then `false` (the response must not reach this caller).
    pub async fn claim(&self, agent: &str, kind: Kind, id: &str, owner: &Owner) -> Result<bool, StateError> {
        Ok(&self.store.claim(&Self::key(agent, kind, id), owner).await? == owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_owner_keeps_the_id() {
        let owners = Owners::new(Arc::new(StateStore::in_memory()));
        let (alice, bob) = ([1; 32], [2; 32]);
        let access = |agent, kind, who| owners.access(agent, kind, "t1", who);
        assert_eq!(access("planner", Kind::Task, &alice).await.unwrap(), Access::Unknown);
        assert!(owners.claim("planner", Kind::Task, "t1", &alice).await.unwrap());
        assert!(
            owners.claim("planner", Kind::Task, "t1", &alice).await.unwrap(),
            "claiming again is fine"
        );
        assert!(!owners.claim("planner", Kind::Task, "t1", &bob).await.unwrap());
        assert_eq!(access("planner", Kind::Task, &alice).await.unwrap(), Access::Own);
        assert_eq!(access("planner", Kind::Task, &bob).await.unwrap(), Access::Other);
        assert_eq!(
            access("other", Kind::Task, &bob).await.unwrap(),
            Access::Unknown,
            "per agent"
        );
        assert_eq!(
            access("planner", Kind::Context, &alice).await.unwrap(),
            Access::Unknown,
            "per kind"
        );
    }
}

//! What an upstream's refresh task must fetch again: a set of dirty lists and a wake-up, so
//! that a storm of `list_changed` notifications costs one refetch per list, not one per note.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use super::catalog::ListKind;

/// What one upstream's next refresh must fetch, and the wake-up of its task.
#[derive(Default)]
pub(super) struct RefreshQueue {
    dirty: Mutex<Dirty>,
    /// Holds at most one permit: many wake-ups before the task looks are one.
    wake: Notify,
}

/// Lists to fetch again; `all` (a new connection, the TTL) covers every kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Dirty {
    pub(super) all: bool,
    pub(super) kinds: HashSet<ListKind>,
}

// === impl RefreshQueue ===

impl RefreshQueue {
    /// Marks `kind` (every list when `None`) dirty and wakes the task; never waits.
    pub(super) fn request(&self, kind: Option<ListKind>) {
        {
            let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
            match kind {
                None => dirty.all = true,
                Some(kind) => {
                    dirty.kinds.insert(kind);
                }
            }
        }
        self.wake.notify_one();
    }

    /// Resolves when something was marked dirty since the task last looked.
    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Takes what is dirty, leaving the set empty; `None` when nothing is.
    pub(super) fn take(&self) -> Option<Dirty> {
        let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut *dirty);
        (taken != Dirty::default()).then_some(taken)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn requests_accumulate_until_taken() {
        let queue = RefreshQueue::default();
        assert_eq!(queue.take(), None);
        for _ in 0..10_000 {
            queue.request(Some(ListKind::Tools));
        }
        queue.request(Some(ListKind::Prompts));
        let taken = queue.take();
        assert_eq!(
            taken,
            Some(Dirty {
                all: false,
                kinds: [ListKind::Tools, ListKind::Prompts].into(),
            })
        );
        assert_eq!(queue.take(), None);
        queue.request(None);
        assert!(queue.take().is_some_and(|d| d.all));
    }

    #[tokio::test]
    async fn many_wake_ups_before_the_task_looks_are_one() {
        let queue = RefreshQueue::default();
        for _ in 0..1000 {
            queue.request(Some(ListKind::Tools));
        }
        // One stored permit: the first wait returns at once, the second would block.
        queue.woken().await;
        let second = tokio::time::timeout(Duration::from_millis(20), queue.woken()).await;
        assert!(second.is_err());
    }
}

//! Who may do what at the hub: the gate (policies) and audit log installed at start, what a
//! denial looks like, and the per-caller list filtering remembered for a few seconds.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::audit::Audit;
use crate::authz::Gate;
use crate::config::Denied;

/// What decides and records calls.
pub struct Security {
    pub gate: Option<Arc<dyn Gate>>,
    pub audit: Arc<Audit>,
    pub denied: Denied,
}

pub struct Access {
    /// Set once at start; unset = no gate, no audit.
    security: OnceLock<Security>,
    /// List filtering per caller, by (caller, view, kind, policy generation): the positions of
    /// the entries shown.
    visibility: moka::sync::Cache<[u8; 32], Arc<Vec<u32>>>,
}

impl Access {
    pub fn new() -> Self {
        Self {
            security: OnceLock::new(),
            // Short-lived: time-of-day policies must not be outlived by a cached answer.
            visibility: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(10))
                .build(),
        }
    }

    /// Installs authorization and audit. Only the first call counts.
    pub fn secure(&self, security: Security) {
        let _ = self.security.set(security);
    }

    pub fn gate(&self) -> Option<&Arc<dyn Gate>> {
        self.security.get().and_then(|s| s.gate.as_ref())
    }

    /// The audit log, when one is written.
    pub fn audit(&self) -> Option<&Audit> {
        self.security.get().map(|s| &*s.audit).filter(|a| a.enabled())
    }

    pub fn denied(&self) -> Denied {
        self.security.get().map_or(Denied::Hidden, |s| s.denied)
    }

    pub fn shown(&self, key: &[u8; 32]) -> Option<Arc<Vec<u32>>> {
        self.visibility.get(key)
    }

    pub fn remember_shown(&self, key: [u8; 32], positions: Arc<Vec<u32>>) {
        self.visibility.insert(key, positions);
    }
}

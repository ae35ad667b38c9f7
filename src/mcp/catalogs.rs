//! What the hub serves: per upstream its catalog (or why it has none), the merged views built
//! from them with pins applied, and each upstream's refresh queue. Views are swapped in whole
//! (`ArcSwap`), so a request reads one consistent snapshot.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use super::catalog::{ListKind, UpstreamCatalog, Views};
use super::dirty::RefreshQueue;
use super::pinning::{Finding, Pins};
use crate::config::McpSettings;
use crate::mcp::upstream::Upstream;

pub struct Catalogs {
    /// Per upstream; `None` while it is down or its lists could not be fetched.
    current: Mutex<Vec<Option<Arc<UpstreamCatalog>>>>,
    /// Why an upstream's catalog is missing, when fetching it failed.
    errors: Mutex<Vec<Option<String>>>,
    views: ArcSwap<Views>,
    /// Tool pinning (`pinning:` in the config): the approved definitions, applied to every view.
    pins: Option<Arc<Pins>>,
    /// Per upstream: the lists its refresh task must fetch again. One task per upstream, so an
    /// older fetch never overwrites a newer one.
    refresh: Vec<RefreshQueue>,
}

impl Catalogs {
    pub fn new(upstreams: &[Arc<Upstream>], settings: &McpSettings, pins: Option<Arc<Pins>>) -> Self {
        let empty = vec![None; upstreams.len()];
        Self {
            views: ArcSwap::from_pointee(Views::build(upstreams, &empty, settings, pins.as_deref())),
            current: Mutex::new(empty),
            errors: Mutex::new(vec![None; upstreams.len()]),
            pins,
            refresh: upstreams.iter().map(|_| RefreshQueue::default()).collect(),
        }
    }

    pub fn views(&self) -> arc_swap::Guard<Arc<Views>> {
        self.views.load()
    }

    pub fn get(&self, upstream: usize) -> Option<Arc<UpstreamCatalog>> {
        self.lock().get(upstream).cloned().flatten()
    }

    /// Every upstream's catalog as it is now.
    pub fn snapshot(&self) -> Vec<Option<Arc<UpstreamCatalog>>> {
        self.lock().clone()
    }

    pub fn error(&self, upstream: usize) -> Option<String> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)[upstream].clone()
    }

    pub fn set_error(&self, upstream: usize, error: Option<String>) {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)[upstream] = error;
    }

    pub fn refresh_queue(&self, upstream: usize) -> &RefreshQueue {
        &self.refresh[upstream]
    }

    /// Replaces one upstream's catalog and rebuilds every view; returns the pin findings not
    /// reported before (for the audit log).
    pub fn replace(
        &self,
        upstream: usize,
        catalog: Option<Arc<UpstreamCatalog>>,
        upstreams: &[Arc<Upstream>],
        settings: &McpSettings,
    ) -> Vec<Finding> {
        let mut catalogs = self.lock();
        catalogs[upstream] = catalog;
        let views = Views::build(upstreams, &catalogs, settings, self.pins.as_deref());
        for (i, up) in upstreams.iter().enumerate() {
            let tools = views.single[i].listing(ListKind::Tools).map_or(0, |l| l.entries.len());
            crate::metrics::metrics().upstream(up.name(), catalogs[i].is_some(), tools);
        }
        for conflict in &views.federated.conflicts {
            tracing::warn!(%conflict, "served by more than one upstream; not served with `mcp.prefix: never`");
        }
        let findings = match &self.pins {
            Some(pins) => pins.report(&views.pinned).into_iter().cloned().collect(),
            None => Vec::new(),
        };
        self.views.store(Arc::new(views));
        findings
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Option<Arc<UpstreamCatalog>>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

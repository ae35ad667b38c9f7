//! Catalog refreshes: one long-lived task per upstream, driven by a dirty set.
//!
//! What asks for a refresh (a connect, a `list_changed` notification, the TTL) only marks lists
//! dirty and wakes the upstream's task; the task fetches what is dirty, one refresh at a time.
//! However many notifications an upstream sends, it gets at most one refresh in flight and one
//! pending, and no more than one start per [`MIN_GAP`]: a `list_changed` storm costs agentmux
//! and the upstream a few list requests a second, not one task and one fetch per notification.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::catalog::{ListKind, UpstreamCatalog};
use super::dirty::Dirty;
use super::hub::Hub;
use crate::mcp::upstream::{Upstream, UpstreamError};

/// How often each upstream's task looks for a missing or expired catalog.
const REFRESH_TICK: Duration = Duration::from_secs(15);
/// Least time between the starts of two refreshes of one upstream: a burst of notifications
/// settles into one fetch, and a storm into a few per second.
const MIN_GAP: Duration = Duration::from_millis(500);

// === impl Hub ===

impl Hub {
    /// Asks for `upstream`'s lists to be fetched again (`kind`, or all of them).
    pub(super) fn request_refresh(&self, upstream: usize, kind: Option<ListKind>) {
        self.refresh_queue(upstream).request(kind);
    }

    /// The one refresh task of `upstream`; ends on `shutdown`.
    pub(super) async fn refresher(self: Arc<Self>, upstream: usize, shutdown: CancellationToken) {
        let queue = self.refresh_queue(upstream);
        let mut tick = tokio::time::interval(REFRESH_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut fetched_at = Instant::now();
        let mut last_start: Option<Instant> = None;
        loop {
            tokio::select! {
                () = queue.woken() => {}
                _ = tick.tick() => {
                    let stale = fetched_at.elapsed() >= self.settings().catalog_ttl;
                    if self.upstream(upstream).link().is_ok() && (self.catalog(upstream).is_none() || stale) {
                        queue.request(None);
                    }
                }
                () = shutdown.cancelled() => return,
            }
            if let Some(earliest) = last_start.map(|t| t + MIN_GAP) {
                tokio::select! {
                    () = tokio::time::sleep_until(earliest.into()) => {}
                    () = shutdown.cancelled() => return,
                }
            }
            // Taken only now, so what arrived during the gap joins this refresh.
            let Some(dirty) = queue.take() else { continue };
            let now = Instant::now();
            last_start = Some(now);
            if dirty.all {
                fetched_at = now;
            }
            tokio::select! {
                () = self.refresh(upstream, dirty) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Fetches an upstream's dirty lists (all of them after a new connection) and swaps in new
    /// views.
    async fn refresh(&self, upstream: usize, dirty: Dirty) {
        let up = &self.upstream(upstream);
        let Some(init) = up.init() else { return };
        let kinds: Vec<ListKind> = ListKind::ALL
            .into_iter()
            .filter(|k| dirty.all || dirty.kinds.contains(k))
            .collect();
        let fetched = match (self.catalog(upstream), kinds.split_first()) {
            (Some(current), Some((first, rest))) if !dirty.all && Arc::ptr_eq(&current.init, &init) => {
                refetch(&current, up, *first, rest).await
            }
            _ => UpstreamCatalog::fetch(up, init).await,
        };
        match fetched {
            Ok(catalog) => {
                let counts: Vec<String> = catalog
                    .lists
                    .iter()
                    .map(|(k, items)| format!("{}={}", k.field(), items.len()))
                    .collect();
                info!(upstream = %up.name(), lists = %counts.join(" "), "catalog fetched");
                self.set_catalog(upstream, Some(Arc::new(catalog)));
                self.set_catalog_error(upstream, None);
                self.announce_list_changed(upstream, &kinds);
            }
            Err(e) => {
                // Its items stay absent (or stale) until a later refresh succeeds.
                warn!(upstream = %up.name(), error = %e, "could not fetch the catalog; retrying in the background");
                self.set_catalog_error(upstream, Some(e.to_string()));
            }
        }
        up.mark_tried();
    }
}

/// `current` with `first` and `rest` fetched again, the other lists kept.
async fn refetch(
    current: &UpstreamCatalog,
    up: &Upstream,
    first: ListKind,
    rest: &[ListKind],
) -> Result<UpstreamCatalog, UpstreamError> {
    let mut next = current.refetch(up, first).await?;
    for kind in rest {
        next = next.refetch(up, *kind).await?;
    }
    Ok(next)
}

#[cfg(test)]
impl Hub {
    /// Fetches every list of `upstream` now, as its refresh task does after a connect.
    pub(super) async fn refresh_all(&self, upstream: usize) {
        let all = Dirty {
            all: true,
            ..Dirty::default()
        };
        self.refresh(upstream, all).await;
    }
}

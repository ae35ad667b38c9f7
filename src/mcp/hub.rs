//! The hub's shared state: upstreams, their catalogs, the merged views and the client sessions.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use super::catalog::ListKind;
use super::catalog::{UpstreamCatalog, View, Views};
use super::dirty::RefreshQueue;
use super::pinning::{LockError, Pin, Pins, Served};
use super::progress::ProgressRoutes;
use super::session::Scope;
use super::sessions::Sessions;
use crate::audit::Audit;
use crate::authz::Gate;
use crate::config::{Config, Denied, McpSettings};
use crate::mcp::upstream::{Upstream, UpstreamEvent};

/// Events queued from upstreams to the hub before their readers wait.
const EVENT_QUEUE: usize = 4096;

pub struct Hub {
    pub(super) settings: McpSettings,
    pub(super) upstreams: Vec<Arc<Upstream>>,
    /// Per upstream; `None` while it is down or its lists could not be fetched.
    pub(super) catalogs: Mutex<Vec<Option<Arc<UpstreamCatalog>>>>,
    /// Why an upstream's catalog is missing, when fetching it failed.
    pub(super) catalog_errors: Mutex<Vec<Option<String>>>,
    /// Per upstream: the lists its refresh task must fetch again. One task per upstream, so an
    /// older fetch never overwrites a newer one.
    pub(super) refresh: Vec<RefreshQueue>,
    pub(super) views: ArcSwap<Views>,
    /// Tool pinning (`pinning:` in the config): the approved definitions, applied to every view.
    pub(super) pins: Option<Arc<Pins>>,
    pub sessions: Sessions,
    pub(super) progress: Arc<ProgressRoutes>,
    pub(super) events: mpsc::Sender<UpstreamEvent>,
    /// Authorization and audit, set once at start; unset = no gate, no audit.
    pub(super) security: OnceLock<Security>,
    /// List filtering per caller, by (caller, view, kind, policy generation).
    pub(super) visibility: moka::sync::Cache<[u8; 32], Arc<Vec<u32>>>,
}

/// What decides and records calls.
pub struct Security {
    pub gate: Option<Arc<dyn Gate>>,
    pub audit: Arc<Audit>,
    pub denied: Denied,
}

impl Hub {
    /// Builds the hub; fails only when pinning is on and its lock file cannot be read: serving
    /// tools nobody can check against their approval would defeat the point of pinning.
    pub fn new(config: &Config) -> Result<(Arc<Self>, mpsc::Receiver<UpstreamEvent>), LockError> {
        let pins = config.pinning.as_ref().map(Pins::load).transpose()?.map(Arc::new);
        let upstreams: Vec<_> = config
            .upstreams
            .iter()
            .enumerate()
            .map(|(i, spec)| Upstream::new(i, spec.clone()))
            .collect();
        let (events, inbox) = mpsc::channel(EVENT_QUEUE);
        let hub = Arc::new(Self {
            settings: config.mcp.clone(),
            catalogs: Mutex::new(vec![None; upstreams.len()]),
            catalog_errors: Mutex::new(vec![None; upstreams.len()]),
            refresh: upstreams.iter().map(|_| RefreshQueue::default()).collect(),
            views: ArcSwap::from_pointee(Views::build(
                &upstreams,
                &vec![None; upstreams.len()],
                &config.mcp,
                pins.as_deref(),
            )),
            pins,
            sessions: Sessions::new(super::SessionLimits {
                idle: config.mcp.session_idle_timeout,
                max: config.mcp.max_sessions,
                per_caller: config.mcp.max_sessions_per_caller,
                opens_per_second: config.mcp.sessions_per_second,
            }),
            progress: Arc::default(),
            upstreams,
            events,
            security: OnceLock::new(),
            // Short-lived: time-of-day policies must not be outlived by a cached answer.
            visibility: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(10))
                .build(),
        });
        Ok((hub, inbox))
    }

    /// Installs authorization and audit. Only the first call counts.
    pub fn secure(&self, security: Security) {
        let _ = self.security.set(security);
    }

    pub(super) fn gate(&self) -> Option<&Arc<dyn Gate>> {
        self.security.get().and_then(|s| s.gate.as_ref())
    }

    pub(super) fn audit(&self) -> Option<&Audit> {
        self.security.get().map(|s| &*s.audit).filter(|a| a.enabled())
    }

    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }

    pub fn upstream_index(&self, name: &str) -> Option<usize> {
        self.upstreams.iter().position(|u| u.name() == name)
    }

    /// Whether every required upstream has been tried at least once and, with policies, a
    /// policy set is in force (`/readyz`).
    pub fn ready(&self) -> bool {
        self.upstreams_tried() && self.gate().is_none_or(|g| g.loaded())
    }

    pub fn upstreams_tried(&self) -> bool {
        self.upstreams.iter().filter(|u| u.spec.required).all(|u| u.tried())
    }

    /// Every upstream's tools as the registry admits them (include/exclude), pins not applied:
    /// what an operator approves is what the upstream offers, not what the last approval lets
    /// through (`agentmux tools approve` and `diff`).
    pub fn served_tools(&self) -> Vec<Served> {
        self.upstreams()
            .iter()
            .enumerate()
            .map(|(i, up)| {
                let tools = match self.catalog(i) {
                    Some(catalog) => Ok(catalog
                        .lists
                        .get(&ListKind::Tools)
                        .into_iter()
                        .flatten()
                        .filter(|item| up.spec.tools.admits(&item.key))
                        .map(|item| (item.key.clone(), Pin::of(&item.fields)))
                        .collect()),
                    None => Err(self
                        .unavailable_reason(i)
                        .unwrap_or_else(|| "it serves no catalog".into())),
                };
                Served {
                    upstream: up.name().to_string(),
                    tools,
                }
            })
            .collect()
    }

    /// What is missing for readiness, for `/readyz`.
    pub fn waiting_for(&self) -> Vec<String> {
        let mut waiting: Vec<String> = self
            .upstreams
            .iter()
            .filter(|u| u.spec.required && !u.tried())
            .map(|u| u.name().to_string())
            .collect();
        if self.gate().is_some_and(|g| !g.loaded()) {
            waiting.push("policies (not loaded yet, or refused: see the log)".into());
        }
        waiting
    }

    /// Every tool's `inputSchema`, for the policy schema's argument types.
    pub fn tool_input_schemas(&self) -> Vec<serde_json::Value> {
        let catalogs = self.lock_catalogs().clone();
        catalogs
            .iter()
            .flatten()
            .flat_map(|c| c.lists.get(&super::ListKind::Tools).into_iter().flatten())
            .filter_map(|item| serde_json::from_str(item.fields.get("inputSchema")?.get()).ok())
            .collect()
    }

    pub fn views(&self) -> arc_swap::Guard<Arc<Views>> {
        self.views.load()
    }

    pub(super) fn lock_catalogs(&self) -> std::sync::MutexGuard<'_, Vec<Option<Arc<UpstreamCatalog>>>> {
        self.catalogs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn set_catalog_error(&self, upstream: usize, error: Option<String>) {
        self.catalog_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[upstream] = error;
    }

    /// Why an upstream serves nothing right now, if it does not.
    pub fn unavailable_reason(&self, upstream: usize) -> Option<String> {
        if let Err(e) = self.upstreams[upstream].link() {
            return Some(e.to_string());
        }
        if self.catalog(upstream).is_some() {
            return None;
        }
        let error = self
            .catalog_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[upstream]
            .clone();
        Some(error.map_or_else(
            || "its catalog is still being fetched".to_string(),
            |e| format!("its catalog could not be fetched: {e}"),
        ))
    }

    pub(super) fn catalog(&self, upstream: usize) -> Option<Arc<UpstreamCatalog>> {
        self.lock_catalogs().get(upstream).cloned().flatten()
    }

    /// Replaces one upstream's catalog and rebuilds every view.
    pub(super) fn set_catalog(&self, upstream: usize, catalog: Option<Arc<UpstreamCatalog>>) {
        let mut catalogs = self.lock_catalogs();
        catalogs[upstream] = catalog;
        let views = Views::build(&self.upstreams, &catalogs, &self.settings, self.pins.as_deref());
        for (i, up) in self.upstreams.iter().enumerate() {
            let tools = views.single[i]
                .listing(super::ListKind::Tools)
                .map_or(0, |l| l.entries.len());
            crate::metrics::metrics().upstream(up.name(), catalogs[i].is_some(), tools);
        }
        for conflict in &views.federated.conflicts {
            tracing::warn!(%conflict, "served by more than one upstream; not served with `mcp.prefix: never`");
        }
        if let Some(pins) = &self.pins {
            for finding in pins.report(&views.pinned) {
                self.audit_pin(finding);
            }
        }
        self.views.store(Arc::new(views));
    }
}

impl Views {
    pub fn view(&self, scope: Scope) -> &View {
        match scope {
            Scope::Federated => &self.federated,
            Scope::Single(i) => &self.single[i],
        }
    }
}

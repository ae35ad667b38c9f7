//! The hub: its upstreams, what they serve (`Catalogs`), client sessions (`Sessions`) and the
//! upstream subscriptions they share (`Subscribers`), progress routes, and who may do what
//! (`Access`). Each part owns its state behind its own methods; the request path
//! (`dispatch.rs`, `forward.rs`, `authorize.rs`) and background work (`lifecycle.rs`,
//! `refresh.rs`) reach them through the accessors below.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::access::{Access, Security};
use super::bridge::ToolBridge;
use super::catalog::ListKind;
use super::catalog::{UpstreamCatalog, View, Views};
use super::catalogs::Catalogs;
use super::dirty::RefreshQueue;
use super::pinning::{LockError, Pin, Pins, Served};
use super::progress::ProgressRoutes;
use super::session::Scope;
use super::sessions::Sessions;
use super::subscribers::Subscribers;
use crate::audit::Audit;
use crate::authz::Gate;
use crate::config::{Config, McpSettings};
use crate::mcp::upstream::{Upstream, UpstreamEvent};

/// Events queued from upstreams to the hub before their readers wait.
const EVENT_QUEUE: usize = 4096;

pub struct Hub {
    settings: McpSettings,
    upstreams: Vec<Arc<Upstream>>,
    catalogs: Catalogs,
    sessions: Sessions,
    subscribers: Arc<Subscribers>,
    progress: Arc<ProgressRoutes>,
    events: mpsc::Sender<UpstreamEvent>,
    access: Access,
}

impl Hub {
    /// Builds the hub; fails only when pinning is on and its lock file cannot be read: serving
    /// tools nobody can check against their approval would defeat the point of pinning.
    /// The hub over the config's MCP servers and, through `bridge`, its A2A agents' skills
    /// (`None`: agents are not offered as tools).
    pub fn new(
        config: &Config,
        bridge: Option<Arc<dyn ToolBridge>>,
    ) -> Result<(Arc<Self>, mpsc::Receiver<UpstreamEvent>), LockError> {
        let pins = config.pinning.as_ref().map(Pins::load).transpose()?.map(Arc::new);
        let servers = config.upstreams.iter().map(|spec| (spec.clone(), None));
        let agents = config
            .agents
            .iter()
            .filter(|_| bridge.is_some())
            .map(|agent| (agent.as_upstream(), bridge.clone()));
        let upstreams: Vec<_> = servers
            .chain(agents)
            .enumerate()
            .map(|(i, (spec, bridge))| Upstream::bridged(i, spec, bridge))
            .collect();
        let (events, inbox) = mpsc::channel(EVENT_QUEUE);
        let subscribers = Subscribers::new(&upstreams);
        // However a session ends, what it held upstream is let go.
        let released = Arc::clone(&subscribers);
        let hub = Arc::new(Self {
            settings: config.mcp.clone(),
            catalogs: Catalogs::new(&upstreams, &config.mcp, pins),
            sessions: Sessions::new(
                super::SessionLimits {
                    idle: config.mcp.session_idle_timeout,
                    max: config.mcp.max_sessions,
                    per_caller: config.mcp.max_sessions_per_caller,
                    opens_per_second: config.mcp.sessions_per_second,
                },
                move |session| released.release(session.end_subscriptions()),
            ),
            subscribers,
            progress: Arc::default(),
            upstreams,
            events,
            access: Access::new(),
        });
        Ok((hub, inbox))
    }

    /// Installs authorization and audit. Only the first call counts.
    pub fn secure(&self, security: Security) {
        self.access.secure(security);
    }

    pub(super) fn access(&self) -> &Access {
        &self.access
    }

    pub(super) fn gate(&self) -> Option<&Arc<dyn Gate>> {
        self.access.gate()
    }

    pub(super) fn audit(&self) -> Option<&Audit> {
        self.access.audit()
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub(super) fn subscribers(&self) -> &Arc<Subscribers> {
        &self.subscribers
    }

    pub(super) fn settings(&self) -> &McpSettings {
        &self.settings
    }

    pub(super) fn progress(&self) -> &Arc<ProgressRoutes> {
        &self.progress
    }

    pub(super) fn events(&self) -> &mpsc::Sender<UpstreamEvent> {
        &self.events
    }

    pub(super) fn upstream(&self, index: usize) -> &Arc<Upstream> {
        &self.upstreams[index]
    }

    pub(super) fn refresh_queue(&self, upstream: usize) -> &RefreshQueue {
        self.catalogs.refresh_queue(upstream)
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
        let catalogs = self.catalogs.snapshot();
        catalogs
            .iter()
            .flatten()
            .flat_map(|c| c.lists.get(&super::ListKind::Tools).into_iter().flatten())
            .filter_map(|item| serde_json::from_str(item.fields.get("inputSchema")?.get()).ok())
            .collect()
    }

    pub fn views(&self) -> arc_swap::Guard<Arc<Views>> {
        self.catalogs.views()
    }

    pub(super) fn set_catalog_error(&self, upstream: usize, error: Option<String>) {
        self.catalogs.set_error(upstream, error);
    }

    /// Why an upstream serves nothing right now, if it does not.
    pub fn unavailable_reason(&self, upstream: usize) -> Option<String> {
        if let Err(e) = self.upstreams[upstream].link() {
            // The reason alone: callers put it after "unavailable: " themselves.
            return Some(match e {
                crate::mcp::upstream::UpstreamError::Unavailable { reason } => reason,
                other => other.to_string(),
            });
        }
        if self.catalog(upstream).is_some() {
            return None;
        }
        let error = self.catalogs.error(upstream);
        Some(error.map_or_else(
            || "its catalog is still being fetched".to_string(),
            |e| format!("its catalog could not be fetched: {e}"),
        ))
    }

    pub(super) fn catalog(&self, upstream: usize) -> Option<Arc<UpstreamCatalog>> {
        self.catalogs.get(upstream)
    }

    /// Replaces one upstream's catalog and rebuilds every view.
    pub(super) fn set_catalog(&self, upstream: usize, catalog: Option<Arc<UpstreamCatalog>>) {
        for finding in self
            .catalogs
            .replace(upstream, catalog, &self.upstreams, &self.settings)
        {
            self.audit_pin(&finding);
        }
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

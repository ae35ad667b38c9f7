//! The composition root: builds the hub and the HTTP listener from a config, and runs them until
//! a signal asks for a graceful stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::a2a::A2a;
use crate::audit::Audit;
use crate::auth::Authenticator;
use crate::authz::Authz;
use crate::authz::Gate;
use crate::config::{Config, RuntimeFlavor};
use crate::http::{self, Inputs, Protocol};
use crate::llm::Llm;
use crate::mcp::bridge::{BridgeCall, BridgeFuture, ToolBridge};
use crate::mcp::transport;
use crate::mcp::upstream::Status;
use crate::mcp::{Hub, Security};
use crate::state::StateStore;

/// How long stopped upstreams (child processes) get to finish during shutdown.
const UPSTREAM_STOP: Duration = Duration::from_secs(5);

/// The hub and its upstreams, without any listener (`serve`, `stdio` and `tools` add theirs).
pub struct Core {
    pub hub: Arc<Hub>,
    pub a2a: Arc<A2a>,
    pub llm: Arc<Llm>,
    pub config: Arc<Config>,
    audit: Arc<Audit>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Core {
    /// Starts the upstreams (failing when the pinning lock file cannot be read), the audit sink and (with `policies:`) the policy engine, whose
    /// first set loads once the upstreams' catalogs are in: until then every call is denied.
    pub fn start(config: Config) -> anyhow::Result<Self> {
        let audit = Audit::open(&config.audit)
            .with_context(|| format!("cannot open the audit sink {:?}", config.audit.sink))?;
        let audit = Arc::new(audit);
        let claims = config.auth.as_ref().map(|a| a.claims.clone()).unwrap_or_default();
        let authz = config.policies.as_ref().map(|dir| Arc::new(Authz::new(dir, claims)));
        let gate = authz.clone().map(|a| a as Arc<dyn Gate>);
        let state = Arc::new(StateStore::in_memory());
        let a2a = Arc::new(A2a::new(
            &config,
            crate::a2a::Security {
                gate: gate.clone(),
                audit: Arc::clone(&audit),
                denied: config.denied,
                state: Arc::clone(&state),
            },
        )?);
        let llm = Arc::new(Llm::new(
            &config,
            crate::llm::Security {
                gate: gate.clone(),
                audit: Arc::clone(&audit),
                denied: config.denied,
                state,
            },
        )?);
        let bridge = Arc::new(AgentTools(Arc::clone(&a2a)));
        let (hub, inbox) = Hub::new(&config, Some(bridge))?;
        hub.secure(Security {
            gate,
            audit: Arc::clone(&audit),
            denied: config.denied,
        });
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        hub.start(inbox, &tasks, &shutdown);
        a2a.start(&tasks, &shutdown);
        if let Some(authz) = authz {
            tasks.spawn(watch_policies(Arc::clone(&hub), authz, shutdown.clone()));
        }
        Ok(Self {
            hub,
            a2a,
            llm,
            config: Arc::new(config),
            audit,
            tasks,
            shutdown,
        })
    }

    /// Waits until every required upstream has been tried, at most `limit`.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.hub.ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Stops supervisors (and so child processes) and waits for them.
    pub async fn stop(self) {
        self.hub.sessions().close_all();
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(UPSTREAM_STOP, self.tasks.wait()).await.is_err() {
            warn!("some upstreams did not stop in time");
        }
        // The audit's last lines reach the sink before the process ends.
        self.audit.close();
    }

    /// One line per upstream (an A2A agent is one, its skills its tools): connected with what,
    /// or failed and why.
    pub fn summary(&self) -> Vec<String> {
        let views = self.hub.views();
        self.hub
            .upstreams()
            .iter()
            .map(|up| {
                let view = views.view(crate::mcp::Scope::Single(up.index));
                let count = |k| view.listing(k).map_or(0, |l| l.entries.len());
                use crate::mcp::ListKind::*;
                match up.status() {
                    Status::Ready { .. } => format!(
                        "  {:<20} connected ({}): {} tools, {} prompts, {} resources",
                        up.name(),
                        up.spec.transport.kind(),
                        count(Tools),
                        count(Prompts),
                        count(Resources)
                    ),
                    Status::Connecting => format!("  {:<20} connecting ({})", up.name(), up.spec.transport.kind()),
                    Status::Failed { reason } => {
                        format!("  {:<20} FAILED ({}): {reason}", up.name(), up.spec.transport.kind())
                    }
                }
            })
            .collect()
    }
}

/// A running gateway: the core plus its HTTP listener.
pub struct Gateway {
    pub core: Core,
    pub local_addr: SocketAddr,
    /// Installed before anything else, so a signal at any time after start stops gracefully.
    signals: Signals,
    stop_accepting: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let signals = Signals::install()?;
        let listen = config.listen;
        let per_core = match config.server.runtime {
            RuntimeFlavor::PerCore => config.server.worker_threads.unwrap_or_else(cores),
            _ => 1,
        };
        let listener =
            http::listener::bind(listen, per_core > 1).with_context(|| format!("cannot listen on {listen}"))?;
        let local_addr = listener.local_addr()?;
        // Before the upstreams start: a JWKS file that cannot be read stops the gateway here.
        let auth = Arc::new(Authenticator::new(config.auth.as_ref())?);
        let core = Core::start(config)?;
        let router = http::router(Arc::new(Inputs {
            config: Arc::clone(&core.config),
            auth,
            protocols: vec![
                Arc::new(McpProtocol(Arc::clone(&core.hub))),
                Arc::new(A2aProtocol(Arc::clone(&core.a2a))),
                Arc::new(LlmProtocol(Arc::clone(&core.llm))),
            ],
        }));
        let stop_accepting = CancellationToken::new();
        // Per core: this thread serves too, and the others each on their own socket.
        let others = http::listener::spawn_threads(local_addr, per_core - 1, &router, &stop_accepting)
            .with_context(|| format!("cannot listen on {local_addr} from {per_core} threads"))?;
        let here = http::listener::serve(listener, router, stop_accepting.clone());
        let server = tokio::spawn(async move {
            let here = here.await;
            for other in others {
                other.await.unwrap_or(Ok(()))?;
            }
            here
        });
        Ok(Self {
            core,
            local_addr,
            signals,
            stop_accepting,
            server,
        })
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully. `on_ready` runs once every
    /// upstream has been tried (unless a signal comes first).
    pub async fn run(mut self, ready_within: Duration, on_ready: impl FnOnce(&Core)) {
        tokio::select! {
            _ = self.core.wait_ready(ready_within) => on_ready(&self.core),
            () = self.signals.wait() => return self.stop().await,
        }
        self.signals.wait().await;
        self.stop().await;
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, then stops the
    /// upstreams.
    pub async fn stop(mut self) {
        info!("shutting down");
        self.stop_accepting.cancel();
        // Session streams never end by themselves; ending them lets connections drain.
        self.core.hub.sessions().close_all();
        let grace = self.core.config.server.shutdown_grace;
        if tokio::time::timeout(grace, &mut self.server).await.is_err() {
            warn!(
                grace_ms = grace.as_millis() as u64,
                "requests still running after the grace period; stopping anyway"
            );
            self.server.abort();
        }
        self.core.stop().await;
        info!("stopped");
    }
}

/// The MCP hub as the edge mounts it.
struct McpProtocol(Arc<Hub>);

impl Protocol for McpProtocol {
    fn router(&self) -> axum::Router {
        transport::router(Arc::clone(&self.0))
    }

    fn resource_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        transport::resource_of(path)
    }

    fn serves_resource(&self, path: &str) -> bool {
        transport::serves_resource(&self.0, path)
    }

    fn waiting_for(&self) -> Vec<String> {
        self.0.waiting_for()
    }

    fn sessions(&self) -> u64 {
        self.0.sessions().count()
    }
}

/// The A2A agents' skills as the hub's tools (`mcp::bridge`): `mcp` and `a2a` meet here.
struct AgentTools(Arc<A2a>);

impl ToolBridge for AgentTools {
    fn list_tools(&self, upstream: &str) -> Result<crate::jsonrpc::Raw, String> {
        self.0.tools_of(upstream).map(|tools| crate::jsonrpc::to_raw(&tools))
    }

    fn changes(&self, upstream: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.0.tool_changes(upstream)
    }

    fn call_tool(&self, call: BridgeCall) -> BridgeFuture {
        let a2a = Arc::clone(&self.0);
        Box::pin(async move {
            a2a.call_skill(call.principal, call.upstream, call.arguments, call.progress)
                .await
                .map(|result| crate::jsonrpc::to_raw(&result))
        })
    }
}

/// The A2A router as the edge mounts it.
/// The LLM routes as the edge mounts them.
struct LlmProtocol(Arc<Llm>);

impl Protocol for LlmProtocol {
    fn router(&self) -> axum::Router {
        Arc::clone(&self.0).router()
    }

    fn resource_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        Llm::resource_of(path)
    }

    fn serves_resource(&self, _path: &str) -> bool {
        false
    }

    fn waiting_for(&self) -> Vec<String> {
        Vec::new()
    }

    fn sessions(&self) -> u64 {
        0
    }

    fn refusal(&self, path: &str, status: ::http::StatusCode, message: &str) -> Option<axum::response::Response> {
        crate::llm::refusal(path, status, message)
    }
}

struct A2aProtocol(Arc<A2a>);

impl Protocol for A2aProtocol {
    fn router(&self) -> axum::Router {
        Arc::clone(&self.0).router()
    }

    fn resource_of<'p>(&self, path: &'p str) -> Option<&'p str> {
        A2a::resource_of(path)
    }

    fn serves_resource(&self, _path: &str) -> bool {
        // Agents share the root's protected-resource document.
        false
    }

    fn waiting_for(&self) -> Vec<String> {
        self.0.waiting_for()
    }

    fn sessions(&self) -> u64 {
        0
    }
}

/// How often the policy directory is checked for changes.
const POLICY_POLL: Duration = Duration::from_secs(2);

/// Loads the policy set once every required upstream has been tried (so the schema knows the
/// catalog's arguments), then reloads it whenever its files change and follows catalog changes.
async fn watch_policies(hub: Arc<Hub>, authz: Arc<Authz>, shutdown: CancellationToken) {
    while !hub.upstreams_tried() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let mut catalog = hub.views().generation;
    reload_off_runtime(&authz, catalog_arguments(&hub)).await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(POLICY_POLL) => {}
        }
        let now = hub.views().generation;
        // Reading the directory is file I/O: done on a blocking thread, never on a worker that
        // serves requests.
        let changed = {
            let authz = Arc::clone(&authz);
            tokio::task::spawn_blocking(move || authz.changed_on_disk())
                .await
                .unwrap_or(false)
        };
        if changed || authz.loaded().is_none() && now != catalog {
            reload_off_runtime(&authz, catalog_arguments(&hub)).await;
        } else if now != catalog {
            authz.set_arguments(catalog_arguments(&hub));
        }
        catalog = now;
    }
}

/// Reads, parses and validates the policy directory on a blocking thread. Errors are logged and
/// counted by `reload`; the running set stays.
async fn reload_off_runtime(authz: &Arc<Authz>, arguments: crate::authz::Arguments) {
    let authz = Arc::clone(authz);
    let _ = tokio::task::spawn_blocking(move || authz.reload(arguments)).await;
}

pub fn catalog_arguments(hub: &Hub) -> crate::authz::Arguments {
    crate::authz::Arguments::from_input_schemas(&hub.tool_input_schemas())
}

/// SIGTERM and SIGINT, listened for from the moment they are installed.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// The machine's cores, as the runtimes count them (one when it cannot be told).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

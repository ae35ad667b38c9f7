//! Client sessions of the stateful MCP era, and where their notifications go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracing::debug;

use super::subscribers::Subscription;
use crate::authz::Caller;
use crate::identity::Principal;

/// What a client addresses: every upstream (`/mcp`) or one (`/mcp/{upstream}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Federated,
    Single(usize),
}

impl Scope {
    pub fn single(self) -> Option<usize> {
        match self {
            Self::Federated => None,
            Self::Single(u) => Some(u),
        }
    }

    pub fn covers(self, upstream: usize) -> bool {
        match self {
            Self::Federated => true,
            Self::Single(u) => u == upstream,
        }
    }
}

/// Requests of one legacy `/sse` session being answered at once; more get 429.
pub const MAX_RELAYED: usize = 64;

/// Resource subscriptions one session may hold.
pub const MAX_SUBSCRIPTIONS: usize = 1_000;

/// Frames waiting for a client's GET stream; past this, new ones are dropped (and logged).
const OUTBOX: usize = 256;

/// A client's request that is being served by an upstream: how to cancel it.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub cancel: tokio_util::sync::CancellationToken,
}

/// One client session. Small on purpose: thousands sit idle between requests.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub scope: Scope,
    pub protocol_version: String,
    /// Who opened it; a request from anyone else does not find it.
    pub principal: Arc<Principal>,
    /// Who opened it, and through what: what decides which upstream-wide notifications (logs,
    /// resource updates) it may receive.
    pub caller: Caller,
    /// Sender side of the client's GET stream, while one is open.
    stream: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    /// Client request id (raw JSON text) → where it is being served.
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// Exposed URIs the client subscribed to, and what each is upstream.
    subscriptions: Mutex<Subscriptions>,
    log_level: Mutex<Option<u8>>,
    /// Set for a stateless client's `subscriptions/listen` stream: which changes it asked for.
    pub listen: Option<Listen>,
    /// When it was last used (ms since agentmux started), to evict a caller's least recent.
    pub last_seen: AtomicU64,
    /// Requests being answered on its stream (legacy `/messages`).
    relayed: Arc<std::sync::atomic::AtomicUsize>,
}

/// A session's resource subscriptions; once it has ended, it takes no more.
#[derive(Debug, Default)]
struct Subscriptions {
    held: HashMap<String, Subscription>,
    ended: bool,
}

/// What [`Session::subscribe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// The session holds it now, and did not before.
    New,
    Already,
    /// It holds [`MAX_SUBSCRIPTIONS`] already, or has ended.
    Refused,
}

/// One request being answered on a session's stream; frees its slot when dropped.
pub struct Relaying(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Relaying {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a `subscriptions/listen` stream asked for (2026-07-28); every notification on it is
/// tagged with the listen request's id.
#[derive(Debug)]
pub struct Listen {
    /// The listen request's JSON-RPC id, raw.
    pub id: crate::jsonrpc::Raw,
    pub kinds: Vec<super::ListKind>,
}

impl Listen {
    /// `params` of a notification on this stream: `{"_meta":{"…/subscriptionId": id}}` plus `rest`.
    pub fn tagged_params(&self, rest: &str) -> crate::jsonrpc::Raw {
        crate::jsonrpc::raw(format!(
            "{{\"_meta\":{{\"io.modelcontextprotocol/subscriptionId\":{}}}{rest}}}",
            self.id.get()
        ))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is one map operation; a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Session {
    pub fn new(scope: Scope, protocol_version: String, caller: Caller) -> Arc<Self> {
        Self::build(scope, protocol_version, caller, None)
    }

    /// The state behind one `subscriptions/listen` stream (it lives as long as the stream).
    pub fn listener(scope: Scope, listen: Listen, caller: Caller) -> Arc<Self> {
        Self::build(scope, "2026-07-28".to_string(), caller, Some(listen))
    }

    fn build(scope: Scope, protocol_version: String, caller: Caller, listen: Option<Listen>) -> Arc<Self> {
        Arc::new(Self {
            id: new_session_id(),
            scope,
            protocol_version,
            principal: Arc::clone(&caller.principal),
            caller,
            stream: Mutex::new(None),
            in_flight: Mutex::default(),
            subscriptions: Mutex::default(),
            log_level: Mutex::new(None),
            listen,
            last_seen: AtomicU64::new(uptime_ms()),
            relayed: Arc::default(),
        })
    }

    /// A slot for one more request answered on its stream; `None` when [`MAX_RELAYED`] are.
    pub fn relay_slot(&self) -> Option<Relaying> {
        let taken = self.relayed.fetch_add(1, Ordering::Relaxed);
        let slot = Relaying(Arc::clone(&self.relayed));
        (taken < MAX_RELAYED).then_some(slot)
    }

    /// Marks it used now.
    pub fn touch(&self) {
        self.last_seen.store(uptime_ms(), Ordering::Relaxed);
    }

    /// Opens the GET stream, replacing an older one (the spec allows one at a time).
    pub fn open_stream(&self) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel(OUTBOX);
        *lock(&self.stream) = Some(tx);
        rx
    }

    /// The open stream's sender, to write what must not be dropped (responses) with waiting.
    pub fn stream_sender(&self) -> Option<mpsc::Sender<Vec<u8>>> {
        lock(&self.stream).clone()
    }

    pub fn close_stream(&self) {
        *lock(&self.stream) = None;
    }

    /// Queues a frame for the GET stream; without an open stream there is nowhere to send it.
    pub fn push(&self, frame: Vec<u8>) {
        let guard = lock(&self.stream);
        if let Some(tx) = guard.as_ref()
            && tx.try_send(frame).is_err()
        {
            debug!(session = %self.id, "client stream full or closed; dropped a notification");
        }
    }

    pub fn begin(&self, request_id: &str, target: InFlight) {
        lock(&self.in_flight).insert(request_id.to_string(), target);
    }

    pub fn end(&self, request_id: &str) {
        lock(&self.in_flight).remove(request_id);
    }

    pub fn in_flight(&self, request_id: &str) -> Option<InFlight> {
        lock(&self.in_flight).get(request_id).cloned()
    }

    /// Subscribes to the exposed `uri`, which is `upstream`'s subscription, within
    /// [`MAX_SUBSCRIPTIONS`].
    pub fn subscribe(&self, uri: &str, upstream: Subscription) -> Subscribed {
        let mut subscriptions = lock(&self.subscriptions);
        if subscriptions.held.contains_key(uri) {
            return Subscribed::Already;
        }
        if subscriptions.ended || subscriptions.held.len() >= MAX_SUBSCRIPTIONS {
            return Subscribed::Refused;
        }
        subscriptions.held.insert(uri.to_string(), upstream);
        Subscribed::New
    }

    /// Unsubscribes from the exposed `uri`: the upstream's subscription it held, if it did.
    pub fn unsubscribe(&self, uri: &str) -> Option<Subscription> {
        lock(&self.subscriptions).held.remove(uri)
    }

    /// Ends every subscription, for good (the session is closing): what they were upstream.
    pub fn end_subscriptions(&self) -> Vec<Subscription> {
        let mut subscriptions = lock(&self.subscriptions);
        subscriptions.ended = true;
        subscriptions.held.drain().map(|(_, upstream)| upstream).collect()
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).held.contains_key(uri)
    }

    pub fn set_log_level(&self, level: u8) {
        *lock(&self.log_level) = Some(level);
    }

    /// Whether an upstream-wide `notifications/message` at `level` reaches this client: only
    /// once it asked for logs with `logging/setLevel`, and at or above that level. (Logs of its
    /// own requests travel with them; see [`Session::log_level`].)
    pub fn wants_log(&self, level: u8) -> bool {
        lock(&self.log_level).is_some_and(|min| level >= min)
    }

    /// The least severe level this client wants (every level until it sets one).
    pub fn log_level(&self) -> u8 {
        lock(&self.log_level).unwrap_or(0)
    }
}

/// RFC 5424 severities as MCP names them, least severe first.
pub fn log_level_rank(name: &str) -> Option<u8> {
    [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ]
    .iter()
    .position(|l| *l == name)
    .map(|p| p as u8)
}

/// Milliseconds since the first call: a monotonic clock that fits an atomic.
fn uptime_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

/// Enough of a session id to correlate log and audit lines, not enough to use it.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// 256 random bits, hex: unguessable, and visible ASCII as the spec requires.
fn new_session_id() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    format!("{}{}", a.simple(), b.simple())
}

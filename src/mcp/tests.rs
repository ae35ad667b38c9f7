//! The hub's request path, tested below the e2e suite: dispatch, forwarding, progress and
//! cancellation through [`Hub::handle`], against upstreams the test plays itself over an
//! in-memory link (no process, no socket).
//!
//! The hub is built from a real `Config` and each upstream's catalog is fetched through the
//! hub's own refresh, so names and views are the ones clients get. The test then plays the
//! upstream by hand: it receives each call, says what it likes on the call's stream, and answers
//! when it chooses. Nothing waits on a clock; [`soon`] only keeps a broken test from hanging.

mod cancel;
mod dispatch;
mod forward;
mod subscriptions;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{Hub, Outbox, Request, Scope, Session};
use crate::authz::Caller;
use crate::jsonrpc::{Raw, RpcError, to_raw};
use crate::mcp::upstream::{Call, Inbound, InitializeResult, MemoryLink, UpstreamError, UpstreamEvent};

/// Longest a test waits for what should happen at once; reached only when something is broken.
const PATIENCE: Duration = Duration::from_secs(10);

/// `what`, or a failed test if it does not come.
async fn soon<T>(what: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, what)
        .await
        .expect("waited 10 s for something that should have happened at once")
}

// === the upstream's side ===

/// One request as the upstream received it, and the means to answer it.
struct Received {
    call: Call,
    reply: oneshot::Sender<Result<Raw, UpstreamError>>,
}

impl Received {
    fn params(&self) -> Value {
        let params = self.call.params.as_ref().expect("the request has params");
        serde_json::from_str(params.get()).unwrap()
    }

    /// Says something about this request on its stream, as the upstream would.
    async fn notify(&self, method: &str, params: Value) {
        let sink = self.call.sink.as_ref().expect("agentmux gave the request a stream");
        let note = Inbound {
            method: method.to_string(),
            params: Some(to_raw(&params)),
        };
        sink.send(note)
            .await
            .expect("agentmux still reads the request's stream");
    }

    fn answer(self, result: Value) {
        self.reply.send(Ok(to_raw(&result))).unwrap();
    }

    fn fail(self, error: UpstreamError) {
        self.reply.send(Err(error)).unwrap();
    }
}

/// The test's end of one upstream: the calls it receives (lists are answered by themselves) and
/// the notifications agentmux sends it.
struct Upstream {
    calls: mpsc::UnboundedReceiver<Received>,
    notified: mpsc::UnboundedReceiver<Inbound>,
    link: Arc<MemoryLink>,
}

impl Upstream {
    async fn next_call(&mut self) -> Received {
        soon(self.calls.recv()).await.expect("the upstream link is alive")
    }

    async fn next_notification(&mut self) -> Inbound {
        soon(self.notified.recv()).await.expect("the upstream link is alive")
    }
}

/// A link whose upstream serves `tools` and hands every other request to the test.
fn memory_upstream(tools: Value) -> Upstream {
    let (calls_tx, calls) = mpsc::unbounded_channel();
    let tools = to_raw(&json!({ "tools": tools }));
    let (link, notified) = MemoryLink::new(move |call: Call| {
        let tools = tools.clone();
        let calls_tx = calls_tx.clone();
        async move {
            if call.method == "tools/list" {
                return Ok(tools);
            }
            let (reply, answer) = oneshot::channel();
            calls_tx
                .send(Received { call, reply })
                .map_err(|_| UpstreamError::Closed)?;
            // The test dropped the call without answering: as if the connection closed.
            answer.await.unwrap_or(Err(UpstreamError::Closed))
        }
    });
    Upstream { calls, notified, link }
}

fn init(name: &str) -> Arc<InitializeResult> {
    let result = json!({
        "protocolVersion": "2025-11-25",
        "capabilities": { "tools": {} },
        "serverInfo": { "name": name, "version": "1" },
    });
    Arc::new(InitializeResult {
        protocol_version: "2025-11-25".into(),
        raw: to_raw(&result),
        capabilities: result["capabilities"].clone(),
        instructions: None,
        server_info: result["serverInfo"].clone(),
    })
}

/// A tool as an upstream lists it.
fn tool(name: &str) -> Value {
    json!({
        "name": name,
        "description": format!("the {name} tool"),
        "inputSchema": { "type": "object" },
    })
}

// === the client's side ===

/// A hub built from a config naming each upstream, every one connected over a memory link.
struct Bench {
    hub: Arc<Hub>,
    caller: Caller,
    _events: mpsc::Receiver<UpstreamEvent>,
    _dir: tempfile::TempDir,
}

/// What one request produced: its outcome, and every frame its outbox received before it.
struct Answer {
    outcome: Result<Raw, RpcError>,
    frames: Vec<Value>,
}

impl Answer {
    fn result(&self) -> Value {
        match &self.outcome {
            Ok(raw) => serde_json::from_str(raw.get()).unwrap(),
            Err(e) => panic!("expected a result, got error {e:?}"),
        }
    }

    fn error(&self) -> &RpcError {
        match &self.outcome {
            Ok(raw) => panic!("expected an error, got {}", raw.get()),
            Err(e) => e,
        }
    }
}

impl Bench {
    /// The hub of a config whose registry names `upstreams` (name, tools), each connected and its
    /// catalog fetched as after a connect. Returns the test's end of each upstream, in order.
    async fn start(upstreams: &[(&str, Value)]) -> (Self, Vec<Upstream>) {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("registry");
        std::fs::create_dir(&registry).unwrap();
        for (name, _) in upstreams {
            // Never started: the memory link stands in for the process.
            let entry = format!("mcp:\n  command: /nonexistent/{name}\n");
            std::fs::write(registry.join(format!("{name}.yaml")), entry).unwrap();
        }
        let file = dir.path().join("agentmux.yaml");
        std::fs::write(&file, "registry: registry\n").unwrap();
        let config = crate::config::load(&file).unwrap();
        let (hub, events) = Hub::new(&config, None).unwrap();
        let mut ends = Vec::new();
        for (name, tools) in upstreams {
            let end = memory_upstream(tools.clone());
            let index = hub.upstream_index(name).expect("the registry names it");
            hub.upstream(index).connect_memory(Arc::clone(&end.link), init(name));
            hub.refresh_all(index).await;
            ends.push(end);
        }
        let bench = Self {
            hub,
            caller: Caller::local("/mcp", "2025-11-25"),
            _events: events,
            _dir: dir,
        };
        (bench, ends)
    }

    /// A client session on the federated endpoint (what `initialize` would open).
    fn session(&self) -> Arc<Session> {
        Session::new(Scope::Federated, "2025-11-25".into(), self.caller.clone())
    }

    /// Sends one request of the federated endpoint through [`Hub::handle`], as a transport does.
    async fn request(&self, session: Option<&Arc<Session>>, id: Value, method: &str, params: Value) -> Answer {
        self.request_raw(session, id, method, to_raw(&params)).await
    }

    /// [`Bench::request`] with params exactly as written.
    async fn request_raw(&self, session: Option<&Arc<Session>>, id: Value, method: &str, params: Raw) -> Answer {
        let (outbox, mut frames) = Outbox::channel(64, None);
        let id = to_raw(&id);
        let req = Request {
            scope: Scope::Federated,
            session,
            id: &id,
            method,
            params: Some(&params),
            caller: &self.caller,
        };
        let outcome = self.hub.handle(&req, &outbox).await;
        drop(outbox);
        // Whatever the request sent is queued by now: it came before the response.
        let mut sent = Vec::new();
        while let Ok(frame) = frames.try_recv() {
            sent.push(serde_json::from_slice(&frame).unwrap());
        }
        Answer { outcome, frames: sent }
    }

    async fn call(&self, id: Value, params: Value) -> Answer {
        self.request(None, id, "tools/call", params).await
    }
}

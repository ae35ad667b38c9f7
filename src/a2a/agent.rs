//! One A2A agent from the registry: its card, fetched at start and kept fresh by a supervisor
//! task, and how agentmux reaches it (agentmux's own headers and OAuth token, never a
//! caller's). An agent whose card cannot be read is marked failed and tried again with backoff;
//! it affects nobody else.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use http::HeaderMap;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::card::{Card, MAX_CARD_BYTES};
use crate::config::AgentSpec;
use crate::egress::EgressError;
use crate::egress::credentials::{self, Credentials};
use crate::egress::http_client::{self, describe};

/// Retry delays after a failed card fetch.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub enum Status {
    Connecting,
    Ready,
    Failed { reason: String },
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Ready => "ready",
            Self::Failed { .. } => "failed",
        }
    }
}

pub struct Agent {
    pub spec: AgentSpec,
    client: reqwest::Client,
    headers: HeaderMap,
    credentials: Option<Credentials>,
    card: ArcSwapOption<Card>,
    status: ArcSwap<Status>,
    /// Set once the first fetch has ended (either way): readiness waits for it.
    tried: std::sync::atomic::AtomicBool,
    /// Asks the supervisor to fetch the card now.
    refetch: tokio::sync::Notify,
    /// Counts the card fetches that have ended, either way (its skills may have changed).
    fetches: tokio::sync::watch::Sender<u64>,
}

impl Agent {
    pub fn new(spec: AgentSpec) -> anyhow::Result<Self> {
        let client = http_client::client(&spec.timeouts)?;
        let headers = http_client::header_map(&spec.headers)?;
        let credentials = spec
            .oauth
            .as_ref()
            .map(|o| Credentials::new(&spec.name, o, &spec.timeouts))
            .transpose()?;
        Ok(Self {
            spec,
            client,
            headers,
            credentials,
            card: ArcSwapOption::empty(),
            status: ArcSwap::from_pointee(Status::Connecting),
            tried: std::sync::atomic::AtomicBool::new(false),
            refetch: tokio::sync::Notify::new(),
            fetches: tokio::sync::watch::Sender::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn card(&self) -> Option<Arc<Card>> {
        self.card.load_full()
    }

    pub fn status(&self) -> Arc<Status> {
        self.status.load_full()
    }

    /// Changes after every card fetch (0 before the first has ended).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.fetches.subscribe()
    }

    pub fn tried(&self) -> bool {
        self.tried.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fetches the card again now (a request could not reach the agent, or found no interface
    /// for its binding). A fetch in flight, or a burst of failures, asks once.
    pub fn refresh_soon(&self) {
        self.refetch.notify_one();
    }

    /// A request to the agent with agentmux's headers and token (renewed once on a 401).
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, EgressError> {
        // This thread's client: with one runtime per core, the agent's connection is then driven
        // by the thread that serves the caller, and no event crosses threads on its way.
        let client = http_client::on_this_thread(&self.spec.timeouts).unwrap_or_else(|_| self.client.clone());
        credentials::send(self.credentials.as_ref(), |bearer| {
            let mut request = build(&client).headers(self.headers.clone());
            if let Some(bearer) = bearer {
                request = request.header(http::header::AUTHORIZATION, bearer);
            }
            async move { request.send().await.map_err(|e| EgressError::Transport(describe(&e))) }
        })
        .await
    }

    /// The events of the agent's event stream, each bounded by `limit` bytes; errors name the
    /// agent.
    pub fn events(
        &self,
        response: reqwest::Response,
        limit: usize,
    ) -> impl futures_util::Stream<Item = Result<eventsource_stream::Event, String>> + Unpin + use<> {
        use futures_util::StreamExt;
        let name = self.name().to_string();
        let bytes = response
            .bytes_stream()
            .map(move |c| c.map_err(|e| format!("agent `{name}`: its stream broke off: {}", describe(&e))));
        crate::egress::sse_bound::events(bytes, AgentStream(self.name().to_string()), limit)
    }

    async fn fetch_card(&self) -> Result<Card, String> {
        let url = &self.spec.card_url;
        let timeout = self.spec.timeouts.list.max(Duration::from_secs(1));
        let response = tokio::time::timeout(timeout, self.send(|c| c.get(url)))
            .await
            .map_err(|_| format!("no card from {url} within {timeout:?}"))?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let (body, truncated) = tokio::time::timeout(timeout, http_client::read_prefix(response, MAX_CARD_BYTES))
            .await
            .map_err(|_| format!("the card at {url} did not finish within {timeout:?}"))?
            .map_err(|e| describe(&e))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        if truncated {
            return Err(format!("the card at {url} is larger than {MAX_CARD_BYTES} bytes"));
        }
        Card::parse(&body)
    }

    /// Keeps the card fresh until shutdown: every `refresh`, on request, and with backoff after
    /// a failure. A failed refresh keeps serving the last good card.
    pub async fn supervise(self: Arc<Self>, shutdown: CancellationToken) {
        let mut retry = FIRST_RETRY;
        loop {
            let fetched = tokio::time::Instant::now();
            // Until the next fetch, and the earliest a request's ask can bring it.
            let (wait, earliest) = match self.fetch_card().await {
                Ok(card) => {
                    if !matches!(**self.status.load(), Status::Ready) {
                        info!(agent = %self.name(), skills = card.skills.len(), "agent card fetched");
                    }
                    crate::metrics::metrics().upstream(self.name(), true, card.skills.len());
                    self.card.store(Some(Arc::new(card)));
                    self.status.store(Arc::new(Status::Ready));
                    retry = FIRST_RETRY;
                    (self.spec.refresh, FIRST_RETRY)
                }
                Err(reason) => {
                    warn!(agent = %self.name(), %reason, "cannot read the agent's card; retrying in {retry:?}");
                    if self.card.load().is_none() {
                        crate::metrics::metrics().upstream(self.name(), false, 0);
                        self.status.store(Arc::new(Status::Failed { reason }));
                    }
                    let wait = retry;
                    retry = (retry * 2).min(LAST_RETRY);
                    (wait, wait)
                }
            };
            self.tried.store(true, std::sync::atomic::Ordering::Relaxed);
            self.fetches.send_modify(|n| *n += 1);
            // A request's ask for a fresh card shortens the wait, but never below a second after
            // a good fetch or the backoff after a failed one: callers of a broken agent cannot
            // make agentmux hammer its card URL.
            let asked = async {
                self.refetch.notified().await;
                tokio::time::sleep_until(fetched + earliest).await;
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = asked => {}
            }
        }
    }
}

/// An agent's event stream fails with the agent's name.
struct AgentStream(String);

impl crate::egress::sse_bound::StreamErrors<String> for AgentStream {
    fn too_large(&self, limit: usize) -> String {
        format!("agent `{}` sent an event larger than {limit} bytes", self.0)
    }

    fn invalid(&self, problem: String) -> String {
        format!("agent `{}`: {problem}", self.0)
    }
}

//! Upstreams that speak MCP Streamable HTTP (stateful era: 2025-03-26 … 2025-11-25).
//!
//! Each request is a POST answered with JSON or an SSE stream that carries notifications before
//! the response. A GET stream carries what the server sends unasked. When the server forgets our
//! session (404), the link initializes again and retries, so the clients' sessions never notice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::correlate::response_outcome;
use super::handshake::{answer_server_request, initialize_params, parse_initialize};
use super::http_body::{bounded, bounded_unlimited, error_status, read_bounded};
use super::stateless;
use super::{Inbound, InitializeResult, NotificationSink, UpstreamError, UpstreamEvent};
use crate::config::{Secret, Timeouts, UpstreamProtocol};
use crate::egress::credentials::{self, Credentials};
use crate::egress::http_client::{self, describe, is_event_stream};
use crate::egress::sse_bound;
use crate::jsonrpc::{self, Kind, Message, Raw};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

pub struct HttpLink {
    name: Arc<str>,
    index: usize,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    /// agentmux's own token for the upstream, when it has `oauth`.
    credentials: Option<Arc<Credentials>>,
    session: ArcSwapOption<HeaderValue>,
    /// Set when the server answered `server/discover`: requests are stateless (2026-07-28).
    stateless: AtomicBool,
    protocol_version: ArcSwapOption<HeaderValue>,
    reinit: tokio::sync::Mutex<()>,
    timeouts: Timeouts,
    /// The largest JSON body or SSE event read (`max_message_bytes`).
    max_message: usize,
    events: mpsc::Sender<UpstreamEvent>,
    pub(super) closed: CancellationToken,
}

pub struct Target<'a> {
    pub name: &'a str,
    pub index: usize,
    pub url: &'a str,
    pub headers: &'a std::collections::BTreeMap<String, Secret>,
    pub protocol: UpstreamProtocol,
    pub credentials: Option<Arc<Credentials>>,
    pub timeouts: Timeouts,
    pub max_message: usize,
    pub events: mpsc::Sender<UpstreamEvent>,
}

impl HttpLink {
    /// Connects and initializes; returns the link and the server's `initialize` result.
    pub async fn connect(target: Target<'_>) -> Result<(Arc<Self>, Arc<InitializeResult>), UpstreamError> {
        let client = http_client::client(&target.timeouts)?;
        let headers = http_client::header_map(target.headers)?;
        let link = Arc::new(Self {
            name: target.name.into(),
            index: target.index,
            url: http_client::url(target.url)?,
            client,
            headers,
            credentials: target.credentials,
            session: ArcSwapOption::empty(),
            protocol_version: ArcSwapOption::empty(),
            stateless: AtomicBool::new(false),
            reinit: tokio::sync::Mutex::new(()),
            timeouts: target.timeouts,
            max_message: target.max_message,
            events: target.events,
            closed: CancellationToken::new(),
        });
        let discovered = match target.protocol {
            UpstreamProtocol::Stateful => None,
            UpstreamProtocol::Auto => link.discover().await?,
            UpstreamProtocol::Stateless => Some(link.discover().await?.ok_or_else(|| {
                UpstreamError::Protocol(
                    "`protocol: 2026-07-28` is set, but the server did not answer server/discover".into(),
                )
            })?),
        };
        let init = match discovered {
            Some(init) => init,
            None => link.handshake().await?,
        };
        tokio::spawn(Arc::clone(&link).listen());
        Ok((link, init))
    }

    /// Asks for the stateless era first; `None` means the server speaks only the stateful one
    /// (it answered with an error, a 4xx, or without 2026-07-28 among its versions).
    async fn discover(&self) -> Result<Option<Arc<InitializeResult>>, UpstreamError> {
        let body = jsonrpc::request_frame(Some("0"), "server/discover", Some(&stateless::discover_params()));
        let mut extra = stateless::headers("server/discover", None);
        if let Ok(v) = HeaderValue::from_str(stateless::VERSION) {
            extra.push((HeaderName::from_static(VERSION_HEADER), v));
        }
        let response = self.post_with(body, &extra).await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let Ok(result) = self.read_response(response, 0, None).await else {
            return Ok(None);
        };
        let Some(init) = stateless::parse_discover(result) else {
            return Ok(None);
        };
        self.stateless.store(true, Ordering::Release);
        self.protocol_version
            .store(HeaderValue::from_str(stateless::VERSION).ok().map(Arc::new));
        Ok(Some(init))
    }

    async fn handshake(&self) -> Result<Arc<InitializeResult>, UpstreamError> {
        self.session.store(None);
        self.protocol_version.store(None);
        let body = jsonrpc::request_frame(Some("0"), "initialize", Some(&initialize_params()));
        let response = self.post(body).await?;
        let session = response.headers().get(SESSION_HEADER).cloned();
        let result = self.read_response(response, 0, None).await?;
        let init = parse_initialize(result)?;
        self.session.store(session.map(Arc::new));
        self.protocol_version
            .store(HeaderValue::from_str(&init.protocol_version).ok().map(Arc::new));
        self.notify("notifications/initialized", None).await?;
        Ok(init)
    }

    pub async fn request(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        let total = self.timeouts.total;
        match tokio::time::timeout(total, self.request_once_or_reinit(id, method, params, sink)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(UpstreamError::Timeout {
                phase: "the response",
                after_ms: total.as_millis(),
            }),
        }
    }

    async fn request_once_or_reinit(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        if self.stateless.load(Ordering::Acquire) {
            let (params, headers) = stateless::prepare(method, params)?;
            let body = jsonrpc::request_frame(Some(&id.to_string()), method, Some(&params));
            let response = self.post_with(body, &headers).await?;
            return self.read_response(response, id, sink).await;
        }
        let body = Bytes::from(jsonrpc::request_frame(Some(&id.to_string()), method, params));
        let sent_session = self.session.load_full();
        let mut response = self.post(body.clone()).await?;
        if response.status() == StatusCode::NOT_FOUND && sent_session.is_some() {
            self.reinitialize(sent_session).await?;
            response = self.post(body).await?;
        }
        self.read_response(response, id, sink).await
    }

    /// The server forgot our session: start a new one, once, however many requests noticed.
    async fn reinitialize(&self, expired: Option<Arc<HeaderValue>>) -> Result<(), UpstreamError> {
        let _guard = self.reinit.lock().await;
        let current = self.session.load_full();
        if current.as_deref() == expired.as_deref() {
            info!(upstream = %self.name, "upstream session expired; initializing a new one");
            self.handshake().await?;
        }
        Ok(())
    }

    pub async fn notify(&self, method: &str, params: Option<&RawValue>) -> Result<(), UpstreamError> {
        if self.stateless.load(Ordering::Acquire) {
            // Stateless servers take no notifications over HTTP: a request is cancelled by
            // closing its stream, which dropping the request future does.
            return Ok(());
        }
        let response = self
            .post(Bytes::from(jsonrpc::request_frame(None, method, params)))
            .await?;
        if !response.status().is_success() {
            return Err(UpstreamError::Transport(format!(
                "notification `{method}` got HTTP {}",
                response.status()
            )));
        }
        Ok(())
    }

    /// The configured headers, the session's, and agentmux's token when it has one.
    fn request_headers(&self, accept: &'static str, auth: Option<HeaderValue>) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(auth) = auth {
            headers.insert(header::AUTHORIZATION, auth);
        }
        if let Some(session) = self.session.load_full() {
            headers.insert(SESSION_HEADER, (*session).clone());
        }
        if let Some(version) = self.protocol_version.load_full() {
            headers.insert(VERSION_HEADER, (*version).clone());
        }
        headers
    }

    async fn post(&self, body: impl Into<Bytes>) -> Result<reqwest::Response, UpstreamError> {
        self.post_with(body, &[]).await
    }

    /// POSTs one frame with `extra` headers and agentmux's token (sent again with a new token
    /// after a 401).
    async fn post_with(
        &self,
        body: impl Into<Bytes>,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<reqwest::Response, UpstreamError> {
        let body = &body.into();
        credentials::send(self.credentials.as_deref(), |auth| {
            self.post_once(body.clone(), extra, auth)
        })
        .await
    }

    /// One POST; waits at most `first_byte` for the response headers.
    async fn post_once(
        &self,
        body: Bytes,
        extra: &[(HeaderName, HeaderValue)],
        auth: Option<HeaderValue>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut headers = self.request_headers("application/json, text/event-stream", auth);
        for (name, value) in extra {
            headers.insert(name.clone(), value.clone());
        }
        let request = http_client::on_this_thread(&self.timeouts)?
            .post(self.url.clone())
            .headers(headers)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send();
        match tokio::time::timeout(self.timeouts.first_byte, request).await {
            Err(_) => Err(UpstreamError::Timeout {
                phase: "response headers",
                after_ms: self.timeouts.first_byte.as_millis(),
            }),
            Ok(Err(e)) => {
                let error = UpstreamError::Transport(describe(&e));
                if e.is_connect() {
                    // Nothing listens there any more: let the supervisor reconnect with backoff.
                    self.closed.cancel();
                }
                Err(error)
            }
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Reads a POST's answer: a JSON body, or an SSE stream that ends with our response.
    async fn read_response(
        &self,
        response: reqwest::Response,
        id: u64,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        let status = response.status();
        if !status.is_success() {
            return Err(error_status(response).await);
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("text/event-stream") {
            let stream = bounded(response.bytes_stream());
            return self
                .read_stream(stream, Some(id), sink)
                .await?
                .ok_or_else(|| UpstreamError::Protocol("the event stream ended before the response".into()));
        }
        let body = read_bounded(response, &self.name, self.max_message).await?;
        let message = Message::parse(&body).map_err(|e| UpstreamError::Protocol(e.message))?;
        match message.kind() {
            Ok(Kind::Response { id: got }) if got.get() == id.to_string() => response_outcome(message),
            _ => Err(UpstreamError::Protocol(
                "the body is not the response to the request".into(),
            )),
        }
    }

    /// Reads SSE events; returns the response to `id` when it arrives (`None` for the GET stream).
    async fn read_stream(
        &self,
        stream: impl Stream<Item = Result<Bytes, UpstreamError>> + Unpin,
        id: Option<u64>,
        sink: Option<&NotificationSink>,
    ) -> Result<Option<Raw>, UpstreamError> {
        let wanted = id.map(|id| id.to_string());
        let mut events = sse_bound::events(stream, super::error::StreamOf(Arc::clone(&self.name)), self.max_message);
        while let Some(event) = events.next().await {
            let event = event?;
            if event.data.trim().is_empty() {
                continue; // priming events carry only an id
            }
            let message = match Message::parse(event.data.as_bytes()) {
                Ok(m) => m,
                Err(e) => {
                    warn!(upstream = %self.name, error = %e.message, "ignored an event that is not JSON-RPC");
                    continue;
                }
            };
            match message.kind() {
                Ok(Kind::Response { id: got }) if Some(got.get()) == wanted.as_deref() => {
                    return response_outcome(message).map(Some);
                }
                Ok(Kind::Response { id: got }) => {
                    debug!(upstream = %self.name, id = got.get(), "unexpected response")
                }
                Ok(Kind::Notification { method }) => {
                    let inbound = Inbound {
                        method: method.to_string(),
                        params: message.params.map(ToOwned::to_owned),
                    };
                    self.deliver(inbound, sink).await;
                }
                Ok(Kind::Request { id: req_id, method }) => self.answer(req_id, method).await,
                Err(e) => {
                    warn!(upstream = %self.name, error = %e.message, "ignored an invalid message")
                }
            }
        }
        Ok(None)
    }

    async fn deliver(&self, inbound: Inbound, sink: Option<&NotificationSink>) {
        match sink {
            Some(sink) => {
                let _ = sink.send(inbound).await;
            }
            None => {
                let _ = self
                    .events
                    .send(UpstreamEvent::Notification {
                        upstream: self.index,
                        message: inbound,
                    })
                    .await;
            }
        }
    }

    async fn answer(&self, id: &RawValue, method: &str) {
        let frame = match answer_server_request(method) {
            Ok(result) => jsonrpc::result_frame(id, &result),
            Err(e) => jsonrpc::error_frame(Some(id), &e),
        };
        if let Err(e) = self.post(frame).await {
            debug!(upstream = %self.name, error = %e, "could not answer a server request");
        }
    }

    /// The GET stream: notifications the server sends outside any request. Reopened while the
    /// link lives; a server without one (405) is fine.
    async fn listen(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        while !self.closed.is_cancelled() {
            let request = credentials::send(self.credentials.as_deref(), |auth| async {
                let sent = self.open_listen_request(auth).send().await;
                sent.map_err(|e| UpstreamError::Transport(describe(&e)))
            });
            let response = tokio::select! {
                r = request => r,
                () = self.closed.cancelled() => return,
            };
            match response {
                // No stream on offer: 405 (stateful servers without GET), or 404 / a JSON answer
                // (stateless servers without `subscriptions/listen`).
                Ok(r) if matches!(r.status(), StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND) => return,
                Ok(r) if r.status().is_success() && !is_event_stream(&r) => return,
                Ok(r) if r.status().is_success() => {
                    backoff = Duration::from_millis(500);
                    let stream = bounded_unlimited(r.bytes_stream());
                    tokio::select! {
                        outcome = self.read_stream(stream, None, None) => {
                            if let Err(e) = outcome {
                                debug!(upstream = %self.name, error = %e, "GET stream ended");
                            }
                        }
                        () = self.closed.cancelled() => return,
                    }
                }
                Ok(r) => debug!(upstream = %self.name, status = %r.status(), "GET stream refused"),
                Err(e) => debug!(upstream = %self.name, error = %e, "GET stream failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.closed.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// The request that opens the stream of unasked notifications: GET in the stateful era,
    /// `subscriptions/listen` (a POST answered with a long-lived SSE stream) in the stateless one.
    fn open_listen_request(&self, auth: Option<HeaderValue>) -> reqwest::RequestBuilder {
        if !self.is_stateless() {
            let headers = self.request_headers("text/event-stream", auth);
            return self.client.get(self.url.clone()).headers(headers);
        }
        let mut headers = self.request_headers("application/json, text/event-stream", auth);
        for (name, value) in stateless::headers("subscriptions/listen", None) {
            headers.insert(name, value);
        }
        let body = jsonrpc::request_frame(
            Some("\"agentmux-listen\""),
            "subscriptions/listen",
            Some(&stateless::listen_params()),
        );
        self.client
            .post(self.url.clone())
            .headers(headers)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    pub fn is_stateless(&self) -> bool {
        self.stateless.load(Ordering::Acquire)
    }

    /// Ends the upstream session (DELETE) and stops the GET stream.
    pub async fn shutdown(&self) {
        self.closed.cancel();
        if self.session.load().is_some() {
            let delete = credentials::send(self.credentials.as_deref(), |auth| async {
                let headers = self.request_headers("application/json", auth);
                let sent = self.client.delete(self.url.clone()).headers(headers).send().await;
                sent.map_err(|e| UpstreamError::Transport(describe(&e)))
            });
            let _ = tokio::time::timeout(Duration::from_secs(2), delete).await;
        }
    }
}

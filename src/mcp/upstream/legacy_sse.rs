//! Upstreams on the legacy HTTP+SSE transport (protocol 2024-11-05): a GET opens an event
//! stream whose first `endpoint` event names the URL to POST messages to; every response and
//! notification comes back on that one stream, matched to requests like on stdio.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, header};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use super::correlate::Correlator;
use super::handshake::{initialize_params, parse_initialize};
use super::http_body::bounded_unlimited;
use super::{InitializeResult, NotificationSink, UpstreamError, UpstreamEvent};
use crate::config::{Secret, Timeouts};
use crate::egress::credentials::{self, Credentials};
use crate::egress::http_client::{self, describe};
use crate::egress::sse_bound;
use crate::jsonrpc::{self, Message, Raw};

pub struct SseLink {
    name: Arc<str>,
    client: reqwest::Client,
    headers: HeaderMap,
    credentials: Option<Arc<Credentials>>,
    /// Where messages are POSTed, from the stream's `endpoint` event.
    post_url: reqwest::Url,
    correlator: Arc<Correlator>,
    timeouts: Timeouts,
    pub(super) closed: CancellationToken,
    /// The stream's reader; dropping the link aborts it, which closes the stream.
    _reader: AbortOnDropHandle<()>,
}

pub struct SseTarget<'a> {
    pub name: &'a str,
    pub index: usize,
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, Secret>,
    pub credentials: Option<Arc<Credentials>>,
    pub timeouts: Timeouts,
    /// The largest event accepted on the stream; a bigger one ends the connection.
    pub max_message: usize,
    pub events: mpsc::Sender<UpstreamEvent>,
}

impl SseLink {
    /// Opens the stream, waits for the endpoint, and initializes.
    pub async fn connect(target: SseTarget<'_>) -> Result<(Arc<Self>, Arc<InitializeResult>), UpstreamError> {
        let url = http_client::url(target.url)?;
        let client = http_client::client(&target.timeouts)?;
        let headers = http_client::header_map(target.headers)?;
        let credentials = target.credentials;
        let response = credentials::send(credentials.as_deref(), |auth| {
            let opened = client
                .get(url.clone())
                .headers(with_auth(&headers, auth))
                .header(header::ACCEPT, "text/event-stream")
                .send();
            async move {
                tokio::time::timeout(target.timeouts.first_byte, opened)
                    .await
                    .map_err(|_| UpstreamError::Timeout {
                        phase: "the event stream",
                        after_ms: target.timeouts.first_byte.as_millis(),
                    })?
                    .map_err(|e| UpstreamError::Transport(describe(&e)))
            }
        })
        .await?;
        if !response.status().is_success() {
            return Err(UpstreamError::Transport(format!(
                "GET {url}: HTTP {}",
                response.status()
            )));
        }

        let correlator: Arc<Correlator> = Arc::default();
        let closed = CancellationToken::new();
        let (endpoint_tx, endpoint_rx) = oneshot::channel();
        let reader = Reader {
            name: target.name.into(),
            index: target.index,
            base: url,
            max_event: target.max_message,
            correlator: Arc::clone(&correlator),
            events: target.events,
            closed: closed.clone(),
            client: client.clone(),
            headers: headers.clone(),
            credentials: credentials.clone(),
        };
        // Owned from here on: if anything below fails (or the supervisor gives up on the whole
        // connect), dropping the handle ends the reader and with it the upstream connection.
        let reader = AbortOnDropHandle::new(tokio::spawn(reader.run(response, endpoint_tx)));
        let post_url = tokio::time::timeout(target.timeouts.first_byte, endpoint_rx)
            .await
            .map_err(|_| UpstreamError::Protocol("no `endpoint` event on the stream".into()))?
            .map_err(|_| UpstreamError::Closed)?;

        let link = Arc::new(Self {
            name: target.name.into(),
            client,
            headers,
            credentials,
            post_url,
            correlator,
            timeouts: target.timeouts,
            closed,
            _reader: reader,
        });
        let result = link.request(0, "initialize", Some(&initialize_params()), None).await?;
        let init = parse_initialize(result)?;
        link.notify("notifications/initialized", None).await?;
        Ok((link, init))
    }

    pub async fn request(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        let waiter = self.correlator.register(id, params, sink);
        self.post(jsonrpc::request_frame(Some(&id.to_string()), method, params))
            .await?;
        waiter.wait(self.timeouts.total).await
    }

    pub async fn notify(&self, method: &str, params: Option<&RawValue>) -> Result<(), UpstreamError> {
        self.post(jsonrpc::request_frame(None, method, params)).await
    }

    async fn post(&self, frame: Vec<u8>) -> Result<(), UpstreamError> {
        let to = Destination {
            client: &self.client,
            url: &self.post_url,
            headers: &self.headers,
            credentials: self.credentials.as_deref(),
        };
        post(to, frame, self.timeouts.first_byte).await
    }

    pub async fn shutdown(&self) {
        debug!(upstream = %self.name, "closing the event stream");
        self.closed.cancel();
    }
}

/// Where a link's messages go, and with what credentials.
#[derive(Clone, Copy)]
struct Destination<'a> {
    client: &'a reqwest::Client,
    url: &'a reqwest::Url,
    headers: &'a HeaderMap,
    credentials: Option<&'a Credentials>,
}

/// The configured headers and agentmux's token, when it has one.
fn with_auth(headers: &HeaderMap, auth: Option<HeaderValue>) -> HeaderMap {
    let mut headers = headers.clone();
    if let Some(auth) = auth {
        headers.insert(header::AUTHORIZATION, auth);
    }
    headers
}

async fn post(to: Destination<'_>, frame: Vec<u8>, limit: Duration) -> Result<(), UpstreamError> {
    let Destination {
        client,
        url,
        headers,
        credentials,
    } = to;
    let frame = Bytes::from(frame);
    let response = credentials::send(credentials, |auth| {
        let sent = client
            .post(url.clone())
            .headers(with_auth(headers, auth))
            .header(header::CONTENT_TYPE, "application/json")
            .body(frame.clone())
            .send();
        async move {
            tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| UpstreamError::Timeout {
                    phase: "the POST",
                    after_ms: limit.as_millis(),
                })?
                .map_err(|e| UpstreamError::Transport(describe(&e)))
        }
    })
    .await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(UpstreamError::Transport(format!(
            "POST {url}: HTTP {}",
            response.status()
        )))
    }
}

struct Reader {
    name: Arc<str>,
    index: usize,
    base: reqwest::Url,
    max_event: usize,
    correlator: Arc<Correlator>,
    events: mpsc::Sender<UpstreamEvent>,
    closed: CancellationToken,
    client: reqwest::Client,
    headers: HeaderMap,
    credentials: Option<Arc<Credentials>>,
}

impl Reader {
    async fn run(self, response: reqwest::Response, endpoint: oneshot::Sender<reqwest::Url>) {
        let mut endpoint = Some(endpoint);
        let mut post_url: Option<reqwest::Url> = None;
        let bytes = bounded_unlimited(response.bytes_stream());
        let mut stream = sse_bound::events(bytes, super::error::StreamOf(Arc::clone(&self.name)), self.max_event);
        let mut failure = UpstreamError::Closed;
        loop {
            let event = tokio::select! {
                e = stream.next() => e,
                () = self.closed.cancelled() => None,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    warn!(upstream = %self.name, error = %e, "the event stream failed; closing");
                    failure = e;
                    break;
                }
                None => break,
            };
            if event.event == "endpoint" {
                match self.base.join(event.data.trim()) {
                    Ok(url) => {
                        post_url = Some(url.clone());
                        if let Some(tx) = endpoint.take() {
                            let _ = tx.send(url);
                        }
                    }
                    Err(e) => warn!(upstream = %self.name, error = %e, "invalid endpoint event"),
                }
                continue;
            }
            let message = match Message::parse(event.data.as_bytes()) {
                Ok(m) => m,
                Err(e) => {
                    warn!(upstream = %self.name, error = %e.message, "ignored an event that is not JSON-RPC");
                    continue;
                }
            };
            match self
                .correlator
                .handle(message, &self.name, self.index, &self.events)
                .await
            {
                Ok(Some(answer)) => {
                    if let Some(url) = &post_url {
                        let to = Destination {
                            client: &self.client,
                            url,
                            headers: &self.headers,
                            credentials: self.credentials.as_deref(),
                        };
                        let _ = post(to, answer, Duration::from_secs(10)).await;
                    }
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        self.closed.cancel();
        self.correlator.fail_all_with(&failure);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server that opens the event stream but never names an endpoint: the failed connect
    /// must close the stream, not leave a reader holding it.
    #[tokio::test]
    async fn a_failed_connect_closes_its_stream() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sse", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await.unwrap();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(b"c\r\n: keepalive\n\r\n").await.unwrap();
            // Until agentmux hangs up: EOF (0) or a reset.
            let mut rest = [0u8; 1024];
            tokio::time::timeout(Duration::from_secs(5), socket.read(&mut rest)).await
        });
        let (events, _inbox) = mpsc::channel(8);
        let timeouts = Timeouts {
            first_byte: Duration::from_millis(300),
            ..Timeouts::DEFAULT
        };
        let headers = BTreeMap::new();
        let outcome = SseLink::connect(SseTarget {
            name: "quiet",
            index: 0,
            url: &url,
            headers: &headers,
            credentials: None,
            timeouts,
            max_message: 1 << 20,
            events,
        })
        .await;
        assert!(
            matches!(outcome, Err(UpstreamError::Protocol(_))),
            "{:?}",
            outcome.err()
        );
        let hung_up = server.await.unwrap();
        assert!(
            matches!(hung_up, Ok(Ok(0)) | Ok(Err(_))),
            "the stream stayed open after the connect failed: {hung_up:?}"
        );
    }
}

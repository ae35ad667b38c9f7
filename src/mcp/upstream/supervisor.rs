//! Keeps one upstream connected: connect, handshake, watch, reconnect with backoff.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::bridge::BridgeLink;
use super::handshake::{initialize_params, parse_initialize};
use super::legacy_sse::{SseLink, SseTarget};
use super::stdio::{Launch, StdioLink};
use super::streamable_http::{HttpLink, Target};
use super::{InitializeResult, Link, Status, Upstream, UpstreamError, UpstreamEvent};
use crate::config::{TransportSpec, UpstreamSpec};
use crate::egress::credentials::Credentials;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Runs until `shutdown`; then stops the upstream (child processes included) and returns.
pub async fn supervise(up: Arc<Upstream>, events: mpsc::Sender<UpstreamEvent>, shutdown: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    // Made once, so a token outlives reconnects.
    let credentials = credentials_for(&up.spec);
    loop {
        up.set_status(Status::Connecting);
        let startup = up.spec.timeouts.startup;
        let attempt = tokio::select! {
            a = tokio::time::timeout(startup, connect(&up, credentials.clone(), events.clone())) => a,
            () = shutdown.cancelled() => return,
        };
        let outcome = match attempt {
            Ok(outcome) => outcome,
            Err(_) => Err(UpstreamError::Timeout {
                phase: "start-up and initialize",
                after_ms: startup.as_millis(),
            }),
        };
        let reason = match outcome {
            Ok((link, init)) => {
                let since = Instant::now();
                let link = Arc::new(link);
                up.init.store(Some(Arc::clone(&init)));
                up.link.store(Some(Arc::clone(&link)));
                up.set_status(Status::Ready { since });
                info!(upstream = %up.name(), transport = up.spec.transport.kind(), protocol = %init.protocol_version, "connected");
                let _ = events
                    .send(UpstreamEvent::Connected {
                        upstream: up.index,
                        init,
                    })
                    .await;
                tokio::select! {
                    () = link.closed() => {}
                    () = shutdown.cancelled() => {
                        up.link.store(None);
                        link.shutdown().await;
                        return;
                    }
                }
                up.link.store(None);
                link.shutdown().await;
                if since.elapsed() > STABLE_AFTER {
                    backoff = FIRST_BACKOFF;
                }
                "the connection closed".to_string()
            }
            Err(e) => e.to_string(),
        };
        warn!(upstream = %up.name(), reason = %reason, retry_in_ms = backoff.as_millis() as u64, "upstream unavailable");
        up.set_status(Status::Failed { reason: reason.clone() });
        up.mark_tried();
        let _ = events
            .send(UpstreamEvent::Disconnected {
                upstream: up.index,
                reason,
            })
            .await;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(
    up: &Upstream,
    credentials: Result<Option<Arc<Credentials>>, UpstreamError>,
    events: mpsc::Sender<UpstreamEvent>,
) -> Result<(Link, Arc<InitializeResult>), UpstreamError> {
    let credentials = credentials?;
    let spec = &up.spec;
    match &spec.transport {
        TransportSpec::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let link = StdioLink::spawn(Launch {
                name: &spec.name,
                index: up.index,
                command,
                args,
                env,
                cwd: cwd.as_deref(),
                timeouts: spec.timeouts,
                max_message: spec.max_message_bytes,
                events,
            })?;
            let result = link
                .request(up.next_id(), "initialize", Some(&initialize_params()), None)
                .await?;
            let init = parse_initialize(result)?;
            link.notify("notifications/initialized", None).await?;
            Ok((Link::Stdio(link), init))
        }
        TransportSpec::StreamableHttp {
            url, headers, protocol, ..
        } => {
            let target = Target {
                name: &spec.name,
                index: up.index,
                protocol: *protocol,
                url,
                headers,
                credentials,
                timeouts: spec.timeouts,
                max_message: spec.max_message_bytes,
                events,
            };
            let (link, init) = HttpLink::connect(target).await?;
            Ok((Link::Http(link), init))
        }
        TransportSpec::Sse { url, headers, .. } => {
            let target = SseTarget {
                name: &spec.name,
                index: up.index,
                url,
                headers,
                credentials,
                timeouts: spec.timeouts,
                max_message: spec.max_message_bytes,
                events,
            };
            let (link, init) = SseLink::connect(target).await?;
            Ok((Link::Sse(link), init))
        }
        TransportSpec::Agent => {
            let bridge = up.bridge.clone().ok_or_else(|| UpstreamError::Unavailable {
                reason: "no A2A router to offer this agent's skills".into(),
            })?;
            let (link, init) = BridgeLink::connect(&spec.name, up.index, bridge, events).await?;
            Ok((Link::Bridge(link), init))
        }
        TransportSpec::WebSocket { .. } => Err(UpstreamError::Unavailable {
            reason: "the websocket transport is not supported yet; use streamable-http, sse or stdio".into(),
        }),
    }
}

/// agentmux's own OAuth credentials for an HTTP upstream with an `oauth` block.
fn credentials_for(spec: &UpstreamSpec) -> Result<Option<Arc<Credentials>>, UpstreamError> {
    match &spec.transport {
        TransportSpec::StreamableHttp { oauth: Some(oauth), .. } | TransportSpec::Sse { oauth: Some(oauth), .. } => {
            Ok(Some(Arc::new(Credentials::new(&spec.name, oauth, &spec.timeouts)?)))
        }
        _ => Ok(None),
    }
}

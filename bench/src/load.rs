//! Load generation: closed-loop workers for a fixed time (for MCP each with its own session).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Client;

pub const ACCEPT: &str = "application/json, text/event-stream";

/// Opens an MCP session at `url`; returns its id (None for servers without sessions).
pub async fn initialize(client: &Client, url: &str) -> anyhow::Result<Option<String>> {
    let body = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"agentmux-bench","version":"1"}}}"#;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .body(body)
        .send()
        .await
        .with_context(|| format!("initialize at {url}"))?;
    if !response.status().is_success() {
        bail!("initialize at {url}: HTTP {}", response.status());
    }
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = response.bytes().await?;
    Ok(session)
}

/// One POST; returns the response body.
pub async fn call(
    client: &Client,
    url: &str,
    session: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> anyhow::Result<bytes_len::Len> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .body(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    let body = response.bytes().await?;
    if !body.windows(9).any(|w| w == b"\"result\":") {
        bail!(
            "not a result: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    Ok(bytes_len::Len(body.len()))
}

pub mod bytes_len {
    pub struct Len(pub usize);
}

pub struct Run {
    pub calls: usize,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u32>,
}

impl Run {
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[at]) / 1000.0
    }
}

/// `concurrency` workers call `body` at `url` for `duration` after `warmup`.
pub async fn closed_loop(
    url: &str,
    body: &'static str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    closed_loop_with(url, move |_| body.to_string(), concurrency, warmup, duration).await
}

/// The same, each call's body made by `body` from a number unique to the call.
pub async fn closed_loop_with(
    url: &str,
    body: impl Fn(u64) -> String + Send + Sync + Clone + 'static,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let client = Client::builder().pool_max_idle_per_host(concurrency * 2).build()?;
    let mut sessions = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        sessions.push(initialize(&client, url).await?);
    }
    let sessions = Arc::new(sessions);
    let url: Arc<str> = url.into();
    closed_loop_calls(concurrency, warmup, duration, move |worker, n| {
        let (client, url, sessions, body) = (client.clone(), url.clone(), sessions.clone(), body.clone());
        async move {
            call(&client, &url, sessions[worker].as_deref(), body(n)).await?;
            Ok(())
        }
    })
    .await
}

/// `concurrency` workers each run `call(worker, n)` one after another for `duration` after
/// `warmup` (`n` unique to the call); the latencies of the calls started after the warm-up.
pub async fn closed_loop_calls<F, Fut>(
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let call = call.clone();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut n = (worker as u64) << 32;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                n += 1;
                call(worker, n).await?;
                if sent >= measure_from {
                    latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies_us = Vec::new();
    while let Some(done) = workers.join_next().await {
        latencies_us.extend(done??);
    }
    latencies_us.sort_unstable();
    Ok(Run {
        calls: latencies_us.len(),
        elapsed: duration,
        latencies_us,
    })
}

//! LLM routes: OpenAI chat completions against the fast fake provider (`agentmux-bench
//! llm-upstream`), directly, through agentmux and through LiteLLM's proxy, in one run.
//! Non-streamed completions in closed loops at concurrency 1 and 64; then streams of many
//! chunks one after another (time to the first chunk, and each gateway's CPU per chunk).
//! Optionally a second agentmux whose provider speaks Anthropic's Messages API, so every chunk
//! is translated on the way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Client;
use tokio::process::{Child, Command};

use crate::{TempDir, load, process, start_agentmux_with};

/// Each cell's warm-up before its measured seconds (LiteLLM's first requests import modules).
const WARMUP: Duration = Duration::from_secs(2);
/// LiteLLM's admin key (its docs: set one, starting with `sk-`); the only key it accepts here.
const MASTER_KEY: &str = "sk-agentmux-bench-master-key";

pub struct Options {
    pub agentmux: PathBuf,
    pub seconds: Duration,
    pub litellm: Option<PathBuf>,
    pub chunks: usize,
    pub translated: bool,
}

/// One way to reach the fake provider.
struct Target {
    name: &'static str,
    /// `…/v1/chat/completions`
    url: String,
    model: &'static str,
    bearer: Option<&'static str>,
    /// The process whose CPU and memory count (the gateway; for `direct` the provider itself).
    pid: u32,
}

struct Cell {
    run: load::Run,
    cpu_us: f64,
    rss_kib: u64,
}

struct Streams {
    count: usize,
    events: usize,
    first_p50_ms: f64,
    whole_p50_ms: f64,
    cpu_us_per_chunk: f64,
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    let mut up = Command::new(&me);
    up.args(["llm-upstream", "--chunks", &opts.chunks.to_string()]);
    let (upstream, up_addr) = process::start(up, "listening on", None).await?;
    let up_pid = upstream.id().context("upstream pid")?;

    // LiteLLM first: its start takes seconds of CPU that must not fall into another cell.
    let litellm = match &opts.litellm {
        Some(bin) => Some(LiteLlm::start(bin, &up_addr).await?),
        None => None,
    };
    let entry = format!("llm:\n  provider: openai-compatible\n  url: http://{up_addr}/v1\n  models: [\"*\"]\n");
    let gw = start_agentmux_with(&opts.agentmux, &[("fast".to_string(), entry)], None, "").await?;

    let mut targets = vec![
        Target {
            name: "direct",
            url: format!("http://{up_addr}/v1/chat/completions"),
            model: "gpt-bench",
            bearer: None,
            pid: up_pid,
        },
        Target {
            name: "agentmux",
            url: format!("http://{}/v1/chat/completions", gw.addr),
            model: "fast/gpt-bench",
            bearer: None,
            pid: gw.child.id().context("agentmux pid")?,
        },
    ];
    if let Some(l) = &litellm {
        targets.push(Target {
            name: "LiteLLM",
            url: format!("http://{}/v1/chat/completions", l.addr),
            model: "gpt-bench",
            bearer: Some(MASTER_KEY),
            pid: l.child.id().context("litellm pid")?,
        });
        // Its first requests pay for lazy imports and client set-up.
        let client = Client::new();
        for _ in 0..20 {
            chat_call(&client, &targets[2], &Arc::from(chat_body(targets[2].model, false))).await?;
        }
    }
    let version = match &litellm {
        Some(l) => format!(", LiteLLM {}", l.version),
        None => String::new(),
    };

    let secs = opts.seconds.as_secs();
    println!("## LLM routes: non-streamed chat completions\n");
    println!(
        "Method: `agentmux-bench llm` (one run, loopback, 2 cores shared by all); closed-loop workers POST a small `/v1/chat/completions` to the fake provider directly, through agentmux (`fast/gpt-bench`, no auth, no policies){version}, {secs} s per cell after {} s of warm-up; CPU is the gateway process tree's user+system from /proc over the measured seconds divided by its requests (on the direct rows: the fake provider's own), RSS after the c=64 cell.\n",
        WARMUP.as_secs()
    );
    println!("| concurrency | path | requests/s | p50 ms | p99 ms | added p50 ms | CPU µs/request | RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut cells: Vec<Vec<Cell>> = Vec::new();
    for concurrency in [1usize, 64] {
        let mut row = Vec::new();
        for t in &targets {
            row.push(chat_loop(t, concurrency, opts.seconds).await?);
        }
        let direct_p50 = row[0].run.percentile_ms(0.5);
        for (t, c) in targets.iter().zip(&row) {
            let added = if t.name == "direct" {
                "–".to_string()
            } else {
                format!("{:+.3}", c.run.percentile_ms(0.5) - direct_p50)
            };
            let cpu = if t.name == "direct" {
                format!("({:.1})", c.cpu_us)
            } else {
                format!("{:.1}", c.cpu_us)
            };
            println!(
                "| {concurrency} | {} | {:.0} | {:.3} | {:.3} | {added} | {cpu} | {:.1} |",
                t.name,
                c.run.throughput(),
                c.run.percentile_ms(0.5),
                c.run.percentile_ms(0.99),
                c.rss_kib as f64 / 1024.0
            );
        }
        cells.push(row);
    }

    let chunks = opts.chunks;
    println!("\n## LLM routes: streamed chat completions, {chunks} chunks each\n");
    println!(
        "Method: one stream at a time for {secs} s per path (after 3 to warm up), each asking `stream_options.include_usage`; the fake provider writes its {chunks} `chat.completion.chunk` events, the usage chunk and `[DONE]` at once; first chunk is the time from sending to the first `data:` bytes at the client; CPU per chunk is the gateway's CPU over the streams divided by streams × {chunks} (each stream's request handling included; the last column takes off one non-streamed request's CPU at c=1 per stream).\n"
    );
    println!(
        "| path | streams | events/stream | first chunk p50 ms | added ms | whole stream p50 ms | CPU µs/chunk | less one request |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // Each path's streams, with its CPU per non-streamed request at c=1 (what a stream's request
    // costs without its chunks).
    let mut rows = Vec::new();
    for (at, t) in targets.iter().enumerate() {
        rows.push((t.name, streams(t, opts.seconds, chunks).await?, cells[0][at].cpu_us));
    }
    if opts.translated {
        // A second agentmux, whose one provider speaks Anthropic's Messages API: the same
        // OpenAI request is translated to `/v1/messages` and every event back.
        let entry = format!("llm:\n  provider: anthropic\n  url: http://{up_addr}\n  models: [\"*\"]\n");
        let claude = start_agentmux_with(&opts.agentmux, &[("claude".to_string(), entry)], None, "").await?;
        let t = Target {
            name: "agentmux, translated to Anthropic",
            url: format!("http://{}/v1/chat/completions", claude.addr),
            model: "claude/claude-bench",
            bearer: None,
            pid: claude.child.id().context("agentmux pid")?,
        };
        rows.push((t.name, streams(&t, opts.seconds, chunks).await?, cells[0][1].cpu_us));
    }
    print_streams(&rows, chunks);
    if litellm.is_some() {
        print_side_by_side(&cells, &rows);
    }
    drop(gw);
    drop(litellm);
    drop(upstream);
    Ok(())
}

fn print_streams(rows: &[(&str, Streams, f64)], chunks: usize) {
    let first_direct = rows[0].1.first_p50_ms;
    for (name, s, request_cpu_us) in rows {
        let net = s.cpu_us_per_chunk - request_cpu_us / chunks as f64;
        let (added, cpu, net) = if *name == "direct" {
            (
                "–".to_string(),
                format!("({:.2})", s.cpu_us_per_chunk),
                format!("({net:.2})"),
            )
        } else {
            (
                format!("{:+.3}", s.first_p50_ms - first_direct),
                format!("{:.2}", s.cpu_us_per_chunk),
                format!("{net:.2}"),
            )
        };
        println!(
            "| {name} | {} | {} | {:.3} | {added} | {:.3} | {cpu} | {net} |",
            s.count, s.events, s.first_p50_ms, s.whole_p50_ms
        );
    }
}

/// agentmux (the second path) against LiteLLM (the third), cell by cell.
fn print_side_by_side(cells: &[Vec<Cell>], rows: &[(&str, Streams, f64)]) {
    let (a1, l1) = (&cells[0][1], &cells[0][2]);
    let (a64, l64) = (&cells[1][1], &cells[1][2]);
    let d1 = cells[0][0].run.percentile_ms(0.5);
    let (sd, sa, sl) = (&rows[0].1, &rows[1].1, &rows[2].1);
    println!("\n## LLM routes: agentmux and LiteLLM side by side\n");
    println!(
        "Method: the tables above, same run; the last column is how many times agentmux is better (higher throughput, less added latency, CPU or memory).\n"
    );
    println!("| measure | agentmux | LiteLLM | agentmux better by |");
    println!("|---|---|---|---|");
    // (what, agentmux, LiteLLM, decimals or None for milliseconds, true when more is better)
    let measures = [
        (
            "requests/s at c=64",
            a64.run.throughput(),
            l64.run.throughput(),
            Some(0),
            true,
        ),
        (
            "requests/s at c=1",
            a1.run.throughput(),
            l1.run.throughput(),
            Some(0),
            true,
        ),
        (
            "added p50 at c=1 vs direct",
            a1.run.percentile_ms(0.5) - d1,
            l1.run.percentile_ms(0.5) - d1,
            None,
            false,
        ),
        ("CPU µs/request at c=64", a64.cpu_us, l64.cpu_us, Some(1), false),
        ("CPU µs/request at c=1", a1.cpu_us, l1.cpu_us, Some(1), false),
        (
            "added first-chunk p50",
            sa.first_p50_ms - sd.first_p50_ms,
            sl.first_p50_ms - sd.first_p50_ms,
            None,
            false,
        ),
        (
            "CPU µs/chunk, streamed",
            sa.cpu_us_per_chunk,
            sl.cpu_us_per_chunk,
            Some(2),
            false,
        ),
        (
            "RSS MiB after c=64",
            a64.rss_kib as f64 / 1024.0,
            l64.rss_kib as f64 / 1024.0,
            Some(1),
            false,
        ),
    ];
    for (what, a, l, decimals, more_is_better) in measures {
        let show = |v: f64| match decimals {
            Some(d) => format!("{v:.d$}"),
            None => format!("{v:+.3} ms"),
        };
        let better = if more_is_better { a / l } else { l / a };
        println!("| {what} | {} | {} | {better:.1}× |", show(a), show(l));
    }
}

fn chat_body(model: &str, stream: bool) -> String {
    let messages =
        r#"[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}]"#;
    if stream {
        format!(
            r#"{{"model":"{model}","messages":{messages},"max_tokens":256,"stream":true,"stream_options":{{"include_usage":true}}}}"#
        )
    } else {
        format!(r#"{{"model":"{model}","messages":{messages},"max_tokens":256}}"#)
    }
}

fn post(client: &Client, t: &Target, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    let request = client
        .post(&t.url)
        .header("content-type", "application/json")
        .body(body);
    match t.bearer {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

async fn chat_call(client: &Client, t: &Target, body: &Arc<str>) -> anyhow::Result<()> {
    let response = post(client, t, body.to_string()).send().await?;
    let status = response.status();
    let answer = response.bytes().await?;
    if !status.is_success() || !answer.windows(17).any(|w| w == b"\"chat.completion\"") {
        bail!(
            "{}: HTTP {status}: {}",
            t.name,
            String::from_utf8_lossy(&answer[..answer.len().min(300)])
        );
    }
    Ok(())
}

/// Closed-loop non-streamed completions; CPU from the end of the warm-up to the end.
async fn chat_loop(t: &Target, concurrency: usize, seconds: Duration) -> anyhow::Result<Cell> {
    let client = Client::builder().pool_max_idle_per_host(concurrency * 2).build()?;
    let body: Arc<str> = chat_body(t.model, false).into();
    let pid = t.pid;
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep(WARMUP).await;
        process::tree_cpu_time(pid)
    });
    let target = Arc::new(Target {
        name: t.name,
        url: t.url.clone(),
        model: t.model,
        bearer: t.bearer,
        pid,
    });
    let run = load::closed_loop_calls(concurrency, WARMUP, seconds, move |_, _| {
        let (client, target, body) = (client.clone(), target.clone(), body.clone());
        async move { chat_call(&client, &target, &body).await }
    })
    .await?;
    let cpu = process::tree_cpu_time(pid)? - cpu_at_start.await??;
    Ok(Cell {
        cpu_us: cpu.as_secs_f64() * 1e6 / run.calls.max(1) as f64,
        rss_kib: process::tree_rss_kib(pid)?,
        run,
    })
}

/// Streams one after another for `seconds` (after 3 to warm up); each is read to its end.
async fn streams(t: &Target, seconds: Duration, chunks: usize) -> anyhow::Result<Streams> {
    let client = Client::new();
    let body = chat_body(t.model, true);
    for _ in 0..3 {
        one_stream(&client, t, &body).await?;
    }
    let cpu_before = process::tree_cpu_time(t.pid)?;
    let start = Instant::now();
    let (mut first, mut whole, mut events) = (Vec::new(), Vec::new(), 0);
    while start.elapsed() < seconds {
        let (f, w, e) = one_stream(&client, t, &body).await?;
        first.push(f);
        whole.push(w);
        events = e;
    }
    let cpu = process::tree_cpu_time(t.pid)? - cpu_before;
    let p50 = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    Ok(Streams {
        count: first.len(),
        events,
        first_p50_ms: p50(&mut first),
        whole_p50_ms: p50(&mut whole),
        cpu_us_per_chunk: cpu.as_secs_f64() * 1e6 / (first.len() * chunks) as f64,
    })
}

/// One stream: time to the first `data:`, time to its end, and its `data:` events (which must
/// end with `[DONE]`).
async fn one_stream(client: &Client, t: &Target, body: &str) -> anyhow::Result<(Duration, Duration, usize)> {
    let sent = Instant::now();
    let mut response = post(client, t, body.to_string())
        .header("accept", "text/event-stream")
        .send()
        .await?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        bail!("{}: HTTP {status}: {}", t.name, &text[..text.len().min(300)]);
    }
    let mut first_at = None;
    let mut events = 0;
    // The last bytes of the previous read: a `data:` or `[DONE]` may straddle two reads.
    let mut carry: Vec<u8> = Vec::new();
    let mut done = false;
    while let Some(chunk) = response.chunk().await? {
        carry.extend_from_slice(&chunk);
        let seen = carry.windows(5).filter(|w| w == b"data:").count();
        if seen > 0 {
            first_at.get_or_insert_with(|| sent.elapsed());
        }
        events += seen;
        done |= carry.windows(6).any(|w| w == b"[DONE]");
        carry.drain(..carry.len().saturating_sub(5));
    }
    if !done {
        bail!(
            "{}: a stream ended without `data: [DONE]` after {events} events",
            t.name
        );
    }
    Ok((first_at.unwrap_or_default(), sent.elapsed(), events))
}

/// LiteLLM's proxy, started as its production guide says for one process without a database.
struct LiteLlm {
    child: Child,
    addr: String,
    version: String,
    _dir: TempDir,
}

impl LiteLlm {
    async fn start(binary: &Path, up_addr: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new()?;
        let config = dir.0.join("litellm.yaml");
        std::fs::write(
            &config,
            format!(
                "model_list:
  - model_name: gpt-bench
    litellm_params:
      model: openai/gpt-bench
      api_base: http://{up_addr}/v1
      api_key: sk-fake-provider-key
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  disable_spend_logs: true
  disable_error_logs: true
litellm_settings:
  request_timeout: 600
  set_verbose: false
  json_logs: true
"
            ),
        )?;
        // A free port for it: LiteLLM takes `--port`, it cannot report one it picked.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.0.join("litellm.log");
        let mut cmd = Command::new(binary);
        cmd.args(["--config"])
            .arg(&config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--num_workers", "1"])
            .env("LITELLM_MASTER_KEY", MASTER_KEY)
            .env("LITELLM_LOG", "ERROR")
            // The machine reaches package registries only: the cost map LiteLLM ships, not a fetch.
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_HOST")
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.0.join("litellm.err"))?);
        let child = cmd.spawn().with_context(|| format!("starting {}", binary.display()))?;
        process::wait_ok(&format!("http://{addr}/health/liveliness"))
            .await
            .with_context(|| {
                format!(
                    "LiteLLM did not come up; its output:\n{}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default(),
                    std::fs::read_to_string(dir.0.join("litellm.err")).unwrap_or_default()
                )
            })?;
        let python = binary.with_file_name("python");
        let version = std::process::Command::new(&python)
            .args(["-c", "import importlib.metadata as m; print(m.version('litellm'))"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "(version unknown)".into());
        Ok(Self {
            child,
            addr,
            version,
            _dir: dir,
        })
    }
}

//! `agentmux-bench`: measures agentmux side by side with a direct connection to a fast upstream.
//!
//! `agentmux-bench run` starts everything itself (the fast upstream, agentmux from
//! `target/release`), runs each scenario, and prints a Markdown report with its method.

mod a2a_bench;
mod a2a_upstream;
mod authz;
mod compare;
mod llm_bench;
mod llm_upstream;
mod load;
mod process;
mod upstream;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::process::Command;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the fast MCP upstream.
    Upstream {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        #[arg(long, default_value_t = 100)]
        tools: usize,
        /// Serve over stdin/stdout instead (newline-delimited JSON-RPC).
        #[arg(long)]
        stdio: bool,
    },
    /// Serve the fast A2A echo agent (JSON-RPC; streams of `--events` status updates).
    A2aAgent {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        #[arg(long, default_value_t = 1000)]
        events: usize,
    },
    /// Measure A2A through agentmux against the fast agent, side by side with calling it directly.
    A2a {
        #[arg(long, default_value = "target/release/agentmux")]
        agentmux: PathBuf,
        #[arg(long, default_value_t = 8)]
        seconds: u64,
    },
    /// Serve the fast fake LLM provider: OpenAI chat completions and Anthropic messages, streams
    /// of `--chunks` events.
    LlmUpstream {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        #[arg(long, default_value_t = 200)]
        chunks: usize,
    },
    /// Measure the LLM routes: the fake provider directly, through agentmux and (with
    /// `--litellm`) through LiteLLM's proxy, side by side.
    Llm {
        #[arg(long, default_value = "target/release/agentmux")]
        agentmux: PathBuf,
        /// Measured seconds per cell (after 2 s of warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// LiteLLM's `litellm` binary (scripts/bench-litellm.sh installs one and prints it).
        #[arg(long)]
        litellm: Option<PathBuf>,
        /// Chunks in each streamed answer.
        #[arg(long, default_value_t = 200)]
        chunks: usize,
        /// Skip the cell whose provider speaks Anthropic's API (every chunk translated).
        #[arg(long)]
        no_translated: bool,
    },
    /// Load one URL with `tools/call` of one tool (for profiling agentmux by hand).
    Load {
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "fast__payload_1k")]
        tool: String,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Send a `text` argument that is new on every call (so no decision is remembered).
        #[arg(long)]
        varying: bool,
    },
    /// Measure authorization decisions in-process.
    Authz {
        #[arg(long, default_value_t = 50)]
        policies: usize,
        #[arg(long, default_value_t = 5000)]
        tools: usize,
    },
    /// Measure several agentmux builds or runtime layouts side by side
    /// (`--variant NAME=BINARY[,runtime=current-thread][,workers=N]`, repeated).
    Compare {
        #[arg(long = "variant", required = true)]
        variants: Vec<String>,
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// Run every scenario and print the report.
    Run {
        /// The agentmux binary to measure.
        #[arg(long, default_value = "target/release/agentmux")]
        agentmux: PathBuf,
        /// Measured seconds per throughput scenario (after 1 s of warm-up).
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Idle sessions to open for the memory scenario.
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
    },
}

pub const CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"payload_1k","arguments":{}}}"#;
pub const CALL_VIA: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fast__payload_1k","arguments":{}}}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Upstream { tools, stdio: true, .. } => upstream::run_stdio(tools).await,
        Cmd::Upstream { listen, tools, .. } => upstream::run(&listen, tools).await,
        Cmd::Load {
            url,
            tool,
            concurrency,
            seconds,
            varying,
        } => {
            let body = move |n: u64| {
                let arguments = if varying {
                    format!(r#"{{"text":"call {n}"}}"#)
                } else {
                    "{}".into()
                };
                format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
                )
            };
            let run = load::closed_loop_with(
                &url,
                body,
                concurrency,
                Duration::from_secs(1),
                Duration::from_secs(seconds),
            )
            .await?;
            println!(
                "{:.0} calls/s, p50 {:.3} ms, p99 {:.3} ms",
                run.throughput(),
                run.percentile_ms(0.5),
                run.percentile_ms(0.99)
            );
            Ok(())
        }
        Cmd::Authz { policies, tools } => authz::run(policies, tools),
        Cmd::A2aAgent { listen, events } => a2a_upstream::run(&listen, events).await,
        Cmd::A2a { agentmux, seconds } => a2a_bench::run(&agentmux, Duration::from_secs(seconds)).await,
        Cmd::LlmUpstream { listen, chunks } => llm_upstream::run(&listen, chunks).await,
        Cmd::Llm {
            agentmux,
            seconds,
            litellm,
            chunks,
            no_translated,
        } => {
            llm_bench::run(llm_bench::Options {
                agentmux,
                seconds: Duration::from_secs(seconds),
                litellm,
                chunks,
                translated: !no_translated,
            })
            .await
        }
        Cmd::Compare {
            variants,
            seconds,
            rounds,
        } => {
            let variants = variants
                .iter()
                .map(|v| compare::Variant::parse(v))
                .collect::<anyhow::Result<Vec<_>>>()?;
            compare::run(variants, Duration::from_secs(seconds), rounds).await
        }
        Cmd::Run {
            agentmux,
            seconds,
            sessions,
        } => run(agentmux, Duration::from_secs(seconds), sessions).await,
    }
}

/// Three rows of a table: the direct run, the run through agentmux (with its CPU per call), and
/// what agentmux added to the latencies.
fn side_by_side(concurrency: usize, direct: &load::Run, via: &load::Run, cpu_us_per_call: f64) {
    for (path, r, cpu_cell) in [
        ("direct", direct, "–".to_string()),
        ("agentmux", via, format!("{cpu_us_per_call:.1}")),
    ] {
        println!(
            "| {concurrency} | {path} | {:.0} | {:.3} | {:.3} | {cpu_cell} |",
            r.throughput(),
            r.percentile_ms(0.5),
            r.percentile_ms(0.99)
        );
    }
    println!(
        "| {concurrency} | added by agentmux | | {:+.3} | {:+.3} | |",
        via.percentile_ms(0.5) - direct.percentile_ms(0.5),
        via.percentile_ms(0.99) - direct.percentile_ms(0.99)
    );
}

struct Gateway {
    child: tokio::process::Child,
    addr: String,
    _dir: TempDir,
}

/// Starts agentmux with one registry file per `(name, url)`.
async fn start_agentmux(binary: &PathBuf, upstreams: &[(String, String)]) -> anyhow::Result<Gateway> {
    start_agentmux_with(binary, &registry(upstreams), None, "").await
}

/// `(name, url)` pairs as registry entries of HTTP upstreams.
fn registry(upstreams: &[(String, String)]) -> Vec<(String, String)> {
    upstreams
        .iter()
        .map(|(name, url)| (name.clone(), format!("mcp:\n  url: {url}\n")))
        .collect()
}

/// Starts agentmux with one registry file per `(name, YAML text)`. With `policies`, agentmux runs
/// with that Cedar text as its policy set (audit off); `server` is a `server:` section or empty.
async fn start_agentmux_with(
    binary: &PathBuf,
    entries: &[(String, String)],
    policies: Option<&str>,
    server: &str,
) -> anyhow::Result<Gateway> {
    let dir = TempDir::new()?;
    std::fs::create_dir_all(dir.0.join("registry"))?;
    let mut config = format!("listen: 127.0.0.1:0\nregistry: registry/\n{server}");
    if let Some(text) = policies {
        std::fs::create_dir_all(dir.0.join("policies"))?;
        std::fs::write(dir.0.join("policies/bench.cedar"), text)?;
        config.push_str("policies: policies/\naudit:\n  sink: \"off\"\n");
    }
    std::fs::write(dir.0.join("agentmux.yaml"), config)?;
    for (name, text) in entries {
        std::fs::write(dir.0.join(format!("registry/{name}.yaml")), text)?;
    }
    let mut cmd = Command::new(binary);
    cmd.arg("serve").arg("--config").arg(dir.0.join("agentmux.yaml"));
    let (child, addr) = process::start(cmd, "listening on", Some(&dir.0.join("agentmux.log"))).await?;
    process::wait_ok(&format!("http://{addr}/readyz")).await?;
    Ok(Gateway { child, addr, _dir: dir })
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "agentmux-bench-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(binary: PathBuf, seconds: Duration, sessions: usize) -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    let mut up = Command::new(&me);
    up.args(["upstream", "--tools", "100"]);
    let (_upstream, up_addr) = process::start(up, "listening on", None).await?;
    let direct_url = format!("http://{up_addr}/mcp");

    println!("# agentmux benchmark\n");
    println!("Method: one machine, loopback. A fast Rust upstream (`agentmux-bench upstream`: JSON responses,");
    println!("no sessions) serves a `tools/call` with a 1,000-character text result. Closed-loop workers, each with");
    println!(
        "its own MCP session, call it for {} s after 1 s of warm-up, first directly, then through agentmux",
        seconds.as_secs()
    );
    println!("(`/mcp`, federated name `fast__payload_1k`), in the same run. agentmux's CPU time comes from");
    println!("/proc/PID/stat (user+system, 10 ms ticks) over the measured run, divided by its calls; RSS from");
    println!("/proc/PID/status. The load generator shares the 2 cores with agentmux and the upstream.\n");

    let gw = start_agentmux(&binary, &[("fast".to_string(), direct_url.clone())]).await?;
    let via_url = format!("http://{}/mcp", gw.addr);
    let pid = gw.child.id().context("agentmux pid")?;

    println!("## tools/call, ~1 KB result\n");
    println!("| concurrency | path | calls/s | p50 ms | p99 ms | agentmux CPU µs/call |");
    println!("|---|---|---|---|---|---|");
    for concurrency in [1usize, 64] {
        let direct = load::closed_loop(&direct_url, CALL, concurrency, Duration::from_secs(1), seconds).await?;
        let cpu_before = process::cpu_time(pid)?;
        let via = load::closed_loop(&via_url, CALL_VIA, concurrency, Duration::from_secs(1), seconds).await?;
        let cpu = process::cpu_time(pid)? - cpu_before;
        // Warm-up and session set-up calls are included in the CPU; count them too.
        let via_calls_total = via.calls as f64 * (seconds.as_secs_f64() + 1.0) / seconds.as_secs_f64();
        side_by_side(concurrency, &direct, &via, cpu.as_secs_f64() * 1e6 / via_calls_total);
    }
    println!("\nagentmux RSS after the call runs: {} KiB\n", process::rss_kib(pid)?);

    println!("## tools/call with authorization off and on (50 Cedar policies), side by side\n");
    let mut policies = authz::policies(49);
    policies.push_str(
        "permit (principal is Anonymous, action == Action::\"call_tool\", resource in Upstream::\"fast\");\n",
    );
    let secured = start_agentmux_with(
        &binary,
        &registry(&[("fast".to_string(), direct_url.clone())]),
        Some(&policies),
        "",
    )
    .await?;
    let secured_url = format!("http://{}/mcp", secured.addr);
    let secured_pid = secured.child.id().context("agentmux pid")?;
    println!("| concurrency | authorization | calls/s | p50 ms | p99 ms | agentmux CPU µs/call |");
    println!("|---|---|---|---|---|---|");
    for concurrency in [1usize, 64] {
        for (label, url, pid) in [("off", &via_url, pid), ("on", &secured_url, secured_pid)] {
            let cpu_before = process::cpu_time(pid)?;
            let r = load::closed_loop(url, CALL_VIA, concurrency, Duration::from_secs(1), seconds).await?;
            let cpu = process::cpu_time(pid)? - cpu_before;
            let calls = r.calls as f64 * (seconds.as_secs_f64() + 1.0) / seconds.as_secs_f64();
            println!(
                "| {concurrency} | {label} | {:.0} | {:.3} | {:.3} | {:.1} |",
                r.throughput(),
                r.percentile_ms(0.5),
                r.percentile_ms(0.99),
                cpu.as_secs_f64() * 1e6 / calls
            );
        }
    }
    drop(secured);
    println!();

    println!("## {sessions} idle sessions\n");
    let client = reqwest::Client::builder().pool_max_idle_per_host(32).build()?;
    let before = process::rss_kib(pid)?;
    let mut opened = 0usize;
    while opened < sessions {
        let batch = (sessions - opened).min(32);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (client, url) = (client.clone(), via_url.clone());
            set.spawn(async move { load::initialize(&client, &url).await });
        }
        while let Some(r) = set.join_next().await {
            r??.context("agentmux must return a session id")?;
        }
        opened += batch;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = process::rss_kib(pid)?;
    println!(
        "RSS before {before} KiB, after {after} KiB: {:.2} KiB per idle session.\n",
        (after.saturating_sub(before)) as f64 / sessions as f64
    );
    drop(gw);

    println!("## tools/list over 50 upstreams × 100 tools, served from cache\n");
    let upstreams: Vec<(String, String)> = (0..50)
        .map(|i| (format!("u{i}"), format!("http://{up_addr}/u/{i}/mcp")))
        .collect();
    let gw = start_agentmux(&binary, &upstreams).await?;
    let url = format!("http://{}/mcp", gw.addr);
    let session = load::initialize(&client, &url).await?;
    let mut latencies = Vec::new();
    let mut size = 0;
    for i in 0..320 {
        let sent = Instant::now();
        let len = load::call(&client, &url, session.as_deref(), LIST).await?;
        if i >= 20 {
            latencies.push(sent.elapsed().as_micros() as u32);
        }
        size = len.0;
    }
    latencies.sort_unstable();
    let listed = load::Run {
        calls: latencies.len(),
        elapsed: Duration::ZERO,
        latencies_us: latencies,
    };
    println!(
        "{} sequential requests after 20 warm-up: p50 {:.2} ms, p99 {:.2} ms, response {} KiB (5,000 tools), measured at the client.",
        listed.calls,
        listed.percentile_ms(0.5),
        listed.percentile_ms(0.99),
        size / 1024
    );
    Ok(())
}

//! `agentmux-bench compare`: several agentmux builds or runtime layouts, measured side by side in
//! one run (rounds alternate between them, so the machine's drift hits each alike).
//!
//! Per variant and round, three agentmux processes in turn: the fast HTTP upstream alone; the
//! same with 50 Cedar policies and arguments that differ on every call (one policy reads the
//! argument, so no decision is remembered); the fast upstream over stdio. Each is called at
//! concurrency 1 and 64. agentmux's CPU per call is user+system time from /proc over the whole
//! run (warm-up included), divided by the calls made in it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::{CALL, CALL_VIA, authz, load, process, start_agentmux_with};

/// One thing to measure: `NAME=BINARY[,runtime=current-thread|multi-thread][,workers=N]`.
pub struct Variant {
    name: String,
    binary: PathBuf,
    server: String,
}

impl Variant {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (name, rest) = text
            .split_once('=')
            .context("a variant is NAME=BINARY[,runtime=…][,workers=N]")?;
        let mut parts = rest.split(',');
        let binary = PathBuf::from(parts.next().unwrap_or_default());
        let mut server = String::new();
        for part in parts {
            match part.split_once('=') {
                Some(("runtime", flavor)) => server.push_str(&format!("  runtime: {flavor}\n")),
                Some(("workers", n)) => server.push_str(&format!("  worker_threads: {n}\n")),
                _ => bail!("unknown variant option `{part}` (runtime=…, workers=N)"),
            }
        }
        let server = if server.is_empty() {
            server
        } else {
            format!("server:\n{server}")
        };
        Ok(Self {
            name: name.to_string(),
            binary,
            server,
        })
    }
}

struct Row {
    variant: String,
    scenario: &'static str,
    concurrency: usize,
    calls_per_s: f64,
    p50: f64,
    p99: f64,
    cpu_us: f64,
}

pub async fn run(variants: Vec<Variant>, seconds: Duration, rounds: usize) -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    let mut up = Command::new(&me);
    up.args(["upstream", "--tools", "100"]);
    let (_upstream, up_addr) = process::start(up, "listening on", None).await?;
    let http_url = format!("http://{up_addr}/mcp");
    let warmup = Duration::from_secs(1);
    let mut rows = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..rounds {
        for concurrency in [1usize, 64] {
            let r = load::closed_loop_with(&http_url, |_| CALL.to_string(), concurrency, warmup, seconds).await?;
            direct.push((concurrency, r.percentile_ms(0.5), r.throughput()));
        }
        for v in &variants {
            let stdio = format!(
                "mcp:\n  command: {}\n  args: [upstream, --stdio, --tools, \"100\"]\n",
                me.display()
            );
            let http = format!("mcp:\n  url: {http_url}\n");
            let scenarios: [(&'static str, &str, Option<String>, bool); 3] = [
                ("http", &http, None, false),
                (
                    "http, 50 policies, new arguments each call",
                    &http,
                    Some(policies()),
                    true,
                ),
                ("stdio", &stdio, None, false),
            ];
            for (scenario, registry, policies, varying) in scenarios {
                let gw = start_agentmux_with(
                    &v.binary,
                    &[("fast".into(), registry.into())],
                    policies.as_deref(),
                    &v.server,
                )
                .await?;
                let url = format!("http://{}/mcp", gw.addr);
                let pid = gw.child.id().context("agentmux pid")?;
                for concurrency in [1usize, 64] {
                    let body = move |n: u64| {
                        if varying {
                            format!(
                                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"fast__payload_1k","arguments":{{"text":"call {n}"}}}}}}"#
                            )
                        } else {
                            CALL_VIA.to_string()
                        }
                    };
                    let cpu_before = process::cpu_time(pid)?;
                    let r = load::closed_loop_with(&url, body, concurrency, warmup, seconds).await?;
                    let cpu = process::cpu_time(pid)? - cpu_before;
                    let calls = r.calls as f64 * (seconds + warmup).as_secs_f64() / seconds.as_secs_f64();
                    rows.push(Row {
                        variant: v.name.clone(),
                        scenario,
                        concurrency,
                        calls_per_s: r.throughput(),
                        p50: r.percentile_ms(0.5),
                        p99: r.percentile_ms(0.99),
                        cpu_us: cpu.as_secs_f64() * 1e6 / calls,
                    });
                }
            }
        }
    }
    print(&rows, &direct, &variants, rounds, seconds);
    Ok(())
}

/// 49 policies of the shapes `docs/policies.md` teaches, one that permits the benchmark's caller,
/// and one that reads the call's `text` argument (so every new argument is a new decision).
fn policies() -> String {
    let mut text = authz::policies(49);
    text.push_str(
        "permit (principal is Anonymous, action == Action::\"call_tool\", resource in Upstream::\"fast\");\n",
    );
    text.push_str(
        "forbid (principal, action == Action::\"call_tool\", resource) when { context.arguments has text && context.arguments.text == \"forbidden\" };\n",
    );
    text
}

fn print(rows: &[Row], direct: &[(usize, f64, f64)], variants: &[Variant], rounds: usize, seconds: Duration) {
    println!("# agentmux side by side\n");
    println!(
        "{rounds} rounds, alternating; {} s measured per cell after 1 s of warm-up. Median over rounds. agentmux CPU = user+system from /proc, per call.\n",
        seconds.as_secs()
    );
    for c in [1usize, 64] {
        let mut d: Vec<(f64, f64)> = direct.iter().filter(|r| r.0 == c).map(|r| (r.1, r.2)).collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((p50, tput)) = d.get(d.len() / 2) {
            println!("Direct to the upstream at concurrency {c}: p50 {p50:.3} ms, {tput:.0} calls/s.");
        }
    }
    println!("\n| variant | scenario | concurrency | calls/s | p50 ms | p99 ms | agentmux CPU µs/call |");
    println!("|---|---|---|---|---|---|---|");
    for v in variants {
        for scenario in ["http", "http, 50 policies, new arguments each call", "stdio"] {
            for c in [1usize, 64] {
                let cells: Vec<&Row> = rows
                    .iter()
                    .filter(|r| r.variant == v.name && r.scenario == scenario && r.concurrency == c)
                    .collect();
                let median = |f: fn(&Row) -> f64| {
                    let mut values: Vec<f64> = cells.iter().map(|r| f(r)).collect();
                    values.sort_by(f64::total_cmp);
                    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
                };
                let all_cpu: Vec<String> = cells.iter().map(|r| format!("{:.1}", r.cpu_us)).collect();
                println!(
                    "| {} | {scenario} | {c} | {:.0} | {:.3} | {:.3} | {:.1} ({}) |",
                    v.name,
                    median(|r| r.calls_per_s),
                    median(|r| r.p50),
                    median(|r| r.p99),
                    median(|r| r.cpu_us),
                    all_cpu.join(", ")
                );
            }
        }
    }
}

//! A2A through agentmux, side by side with calling the fast agent directly, in one run:
//! `message/send` in closed loops at concurrency 1 and 64, then streams of many status
//! updates (time to the first event, and agentmux's CPU per event relayed).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::{load, process, side_by_side, start_agentmux_with};

const SEND: &str = r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"kind":"message","role":"user","messageId":"m-1","parts":[{"kind":"text","text":"hi"}]}}}"#;
const STREAM: &str = r#"{"jsonrpc":"2.0","id":1,"method":"message/stream","params":{"message":{"kind":"message","role":"user","messageId":"m-1","parts":[{"kind":"text","text":"hi"}]}}}"#;
/// Events in each measured stream, and streams per path.
const EVENTS: usize = 1000;
const STREAMS: usize = 40;

pub async fn run(binary: &Path, seconds: Duration) -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    let mut agent = Command::new(&me);
    agent.args(["a2a-agent", "--events", &EVENTS.to_string()]);
    let (_agent, agent_addr) = process::start(agent, "listening on", None).await?;
    let direct = format!("http://{agent_addr}/");
    let entry = ("fast".to_string(), format!("a2a:\n  url: http://{agent_addr}\n"));
    let gw = start_agentmux_with(&binary.to_path_buf(), &[entry], None, "").await?;
    let via = format!("http://{}/a2a/fast", gw.addr);
    let pid = gw.child.id().context("agentmux pid")?;

    println!("## A2A `message/send` (v0.3, no A2A-Version header), echo agent\n");
    println!("Method: `agentmux-bench a2a`. The fast agent (`agentmux-bench a2a-agent`) answers each call with");
    println!("a fixed message. Closed-loop workers call it directly, then through agentmux (`POST /a2a/fast`), in");
    println!(
        "the same run, {} s each after 1 s of warm-up; agentmux's CPU from /proc (user+system) over the run, divided by its calls.\n",
        seconds.as_secs()
    );
    println!("| concurrency | path | calls/s | p50 ms | p99 ms | agentmux CPU µs/call |");
    println!("|---|---|---|---|---|---|");
    for concurrency in [1usize, 64] {
        let d = load::closed_loop(&direct, SEND, concurrency, Duration::from_secs(1), seconds).await?;
        let cpu_before = process::cpu_time(pid)?;
        let v = load::closed_loop(&via, SEND, concurrency, Duration::from_secs(1), seconds).await?;
        let cpu = process::cpu_time(pid)? - cpu_before;
        let calls = v.calls as f64 * (seconds.as_secs_f64() + 1.0) / seconds.as_secs_f64();
        side_by_side(concurrency, &d, &v, cpu.as_secs_f64() * 1e6 / calls);
    }

    println!("\n## A2A `message/stream`: {STREAMS} streams of {EVENTS} status updates each, one at a time\n");
    println!("Time to first event is measured at the client from sending the request to the first `data:`");
    println!("chunk; agentmux's CPU per event is its CPU over the streams divided by the events it relayed.\n");
    println!("| path | first event p50 ms | whole stream p50 ms | agentmux CPU µs/event |");
    println!("|---|---|---|---|");
    let client = reqwest::Client::new();
    let direct_run = streams(&client, &direct).await?;
    let cpu_before = process::cpu_time(pid)?;
    let via_run = streams(&client, &via).await?;
    let cpu = process::cpu_time(pid)? - cpu_before;
    println!(
        "| direct | {:.3} | {:.3} | – |",
        direct_run.first_p50_ms, direct_run.whole_p50_ms
    );
    println!(
        "| agentmux | {:.3} | {:.3} | {:.2} |",
        via_run.first_p50_ms,
        via_run.whole_p50_ms,
        cpu.as_secs_f64() * 1e6 / (STREAMS * EVENTS) as f64
    );
    println!(
        "| added by agentmux | {:+.3} | {:+.3} | |",
        via_run.first_p50_ms - direct_run.first_p50_ms,
        via_run.whole_p50_ms - direct_run.whole_p50_ms
    );
    drop(gw);
    Ok(())
}

struct Streams {
    first_p50_ms: f64,
    whole_p50_ms: f64,
}

/// `STREAMS` streaming calls one after another (after two to warm up); each is read to its end
/// and must carry `EVENTS` events.
async fn streams(client: &reqwest::Client, url: &str) -> anyhow::Result<Streams> {
    let mut first = Vec::with_capacity(STREAMS);
    let mut whole = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS + 2 {
        let sent = Instant::now();
        let mut response = client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(STREAM)
            .send()
            .await?;
        let mut first_at = None;
        let mut events = 0;
        // The last bytes of the previous chunk: a `data:` may straddle two reads.
        let mut carry: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            first_at.get_or_insert_with(|| sent.elapsed());
            carry.extend_from_slice(&chunk);
            events += carry.windows(5).filter(|w| w == b"data:").count();
            carry.drain(..carry.len().saturating_sub(4));
        }
        if events != EVENTS {
            bail!("{url}: a stream carried {events} events, not {EVENTS}");
        }
        if i >= 2 {
            first.push(first_at.unwrap_or_default());
            whole.push(sent.elapsed());
        }
    }
    let p50 = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    Ok(Streams {
        first_p50_ms: p50(&mut first),
        whole_p50_ms: p50(&mut whole),
    })
}

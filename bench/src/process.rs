//! Child processes of the harness and what /proc says about them.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `program` and waits for a line containing `marker` on stdout or in `log` (stderr
/// file); returns the child and the address after "http://".
pub async fn start(mut cmd: Command, marker: &str, log: Option<&Path>) -> anyhow::Result<(Child, String)> {
    cmd.kill_on_drop(true).stdin(Stdio::null());
    if let Some(log) = log {
        cmd.stdout(Stdio::null()).stderr(std::fs::File::create(log)?);
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    }
    let mut child = cmd.spawn().context("spawn")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    if let Some(log) = log {
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(marker)) {
                return Ok((child, address(line)?));
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no `{marker}` in {} after 60 s:\n{text}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = tokio::time::timeout_at(deadline, lines.next_line()).await?? {
        if line.contains(marker) {
            // Keep draining so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, address(&line)?));
        }
    }
    bail!("process exited before printing `{marker}`")
}

fn address(line: &str) -> anyhow::Result<String> {
    let at = line.find("http://").context("no address")? + "http://".len();
    Ok(line[at..].split(['/', ' ']).next().unwrap_or("").to_string())
}

/// CPU time (user + system) of a process, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').context("stat")? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // Linux reports in USER_HZ, 100 on every architecture agentmux supports.
    Ok(Duration::from_millis(ticks * 10))
}

/// Resident set size in KiB, from /proc/PID/status.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

/// Polls `url` until it answers 200.
pub async fn wait_ok(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..1200 {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} never became ready")
}

/// CPU time of a process and of every process descended from it (a server that forks workers).
pub fn tree_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let mut total = cpu_time(pid)?;
    for child in descendants(pid) {
        // A child that exited between the listing and now has nothing left to count.
        total += cpu_time(child).unwrap_or_default();
    }
    Ok(total)
}

/// Resident set size of a process and its descendants, in KiB.
pub fn tree_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let mut total = rss_kib(pid)?;
    for child in descendants(pid) {
        total += rss_kib(child).unwrap_or_default();
    }
    Ok(total)
}

/// Every live process whose chain of parents reaches `pid`, from /proc/*/stat.
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            Some((p, rest.split(' ').nth(1)?.parse().ok()?))
        })
        .collect();
    let mut found = vec![pid];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        at += 1;
    }
    found.split_off(1)
}

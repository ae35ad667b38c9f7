//! Upstreams that are child processes speaking newline-delimited JSON-RPC on stdin/stdout.
//!
//! Each child runs in its own process group, so that stopping it also stops whatever it started
//! (`npx` → `sh` → `node`). When agentmux runs as a binary, the child is started under
//! `agentmux __reap` (see `reaper.rs`), which also stops the group if agentmux itself is killed.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::NotificationSink;
use super::correlate::{Correlator, HubGone};
use super::{UpstreamError, UpstreamEvent};
use crate::config::{Secret, Timeouts};
use crate::jsonrpc::{self, Message, Raw};

/// Longest stderr line logged; the rest is cut.
const MAX_LOG_LINE: usize = 4096;
/// Queued outbound frames before writers wait.
const WRITE_QUEUE: usize = 1024;
/// How long a child gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct StdioLink {
    name: Arc<str>,
    writer: mpsc::Sender<Vec<u8>>,
    correlator: Arc<Correlator>,
    pub(super) closed: CancellationToken,
    timeouts: Timeouts,
    group: Pid,
    exited: tokio::sync::watch::Receiver<bool>,
}

pub struct Launch<'a> {
    pub name: &'a str,
    pub index: usize,
    pub command: &'a str,
    pub args: &'a [String],
    pub env: &'a std::collections::BTreeMap<String, Secret>,
    pub cwd: Option<&'a std::path::Path>,
    pub timeouts: Timeouts,
    /// Longest line accepted from the child's stdout (one JSON-RPC message).
    pub max_message: usize,
    pub events: mpsc::Sender<UpstreamEvent>,
}

impl StdioLink {
    /// Starts the child process and the tasks that read and write its pipes.
    pub fn spawn(launch: Launch<'_>) -> Result<Self, UpstreamError> {
        let mut cmd = match super::reaper::path() {
            Some(reaper) => {
                let mut c = Command::new(reaper);
                c.arg("__reap").arg("--").arg(launch.command).args(launch.args);
                c
            }
            None => {
                let mut c = Command::new(launch.command);
                c.args(launch.args);
                c
            }
        };
        cmd.envs(launch.env.iter().map(|(k, v)| (k, &v.0)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = launch.cwd {
            cmd.current_dir(cwd);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| UpstreamError::Transport(format!("cannot start `{}`: {e}", launch.command)))?;
        let group = child
            .id()
            .map(|id| Pid::from_raw(id as i32))
            .ok_or(UpstreamError::Closed)?;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => return Err(UpstreamError::Transport("child pipes missing".into())),
        };

        let name: Arc<str> = launch.name.into();
        let closed = CancellationToken::new();
        let correlator: Arc<Correlator> = Arc::default();
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let (exited_tx, exited) = tokio::sync::watch::channel(false);

        tokio::spawn(write_loop(stdin, queue, closed.clone()));
        tokio::spawn(log_stderr(name.clone(), stderr));
        tokio::spawn(read_loop(ReadLoop {
            name: name.clone(),
            index: launch.index,
            stdout,
            max_line: launch.max_message,
            correlator: Arc::clone(&correlator),
            writer: writer.clone(),
            events: launch.events,
            closed: closed.clone(),
        }));
        tokio::spawn(wait_child(
            name.clone(),
            child,
            closed.clone(),
            Arc::clone(&correlator),
            exited_tx,
        ));

        Ok(Self {
            name,
            writer,
            correlator,
            closed,
            timeouts: launch.timeouts,
            group,
            exited,
        })
    }

    pub async fn request(
        &self,
        id: u64,
        method: &str,
        params: Option<&RawValue>,
        sink: Option<&NotificationSink>,
    ) -> Result<Raw, UpstreamError> {
        let waiter = self.correlator.register(id, params, sink);
        let frame = jsonrpc::request_frame(Some(&id.to_string()), method, params);
        self.writer.send(frame).await.map_err(|_| UpstreamError::Closed)?;
        waiter.wait(self.timeouts.total).await
    }

    pub async fn notify(&self, method: &str, params: Option<&RawValue>) -> Result<(), UpstreamError> {
        let frame = jsonrpc::request_frame(None, method, params);
        self.writer.send(frame).await.map_err(|_| UpstreamError::Closed)
    }

    /// SIGTERM to the whole process group, SIGKILL after a grace period.
    pub async fn shutdown(&self) {
        self.closed.cancel();
        if *self.exited.borrow() {
            return;
        }
        debug!(upstream = %self.name, "stopping child process group");
        let _ = killpg(self.group, Signal::SIGTERM);
        let mut exited = self.exited.clone();
        let waited = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
        if waited.is_err() {
            warn!(upstream = %self.name, "child did not stop after SIGTERM; killing its process group");
        }
        // Also reaches grandchildren that ignored SIGTERM or outlived their parent.
        let _ = killpg(self.group, Signal::SIGKILL);
    }
}

impl Drop for StdioLink {
    fn drop(&mut self) {
        // A link dropped without shutdown (e.g. a failed handshake) must not leave processes behind.
        let _ = killpg(self.group, Signal::SIGKILL);
    }
}

async fn write_loop(
    mut stdin: tokio::process::ChildStdin,
    mut queue: mpsc::Receiver<Vec<u8>>,
    closed: CancellationToken,
) {
    loop {
        let frame = tokio::select! {
            frame = queue.recv() => frame,
            () = closed.cancelled() => None,
        };
        let Some(mut frame) = frame else { break };
        frame.push(b'\n');
        if stdin.write_all(&frame).await.is_err() || stdin.flush().await.is_err() {
            closed.cancel();
            break;
        }
    }
}

async fn log_stderr(name: Arc<str>, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(mut line)) = lines.next_line().await {
        if line.len() > MAX_LOG_LINE {
            let cut = (0..=MAX_LOG_LINE)
                .rev()
                .find(|&i| line.is_char_boundary(i))
                .unwrap_or(0);
            line.truncate(cut);
            line.push('…');
        }
        info!(upstream = %name, stream = "stderr", "{line}");
    }
}

struct ReadLoop {
    name: Arc<str>,
    index: usize,
    stdout: tokio::process::ChildStdout,
    max_line: usize,
    correlator: Arc<Correlator>,
    writer: mpsc::Sender<Vec<u8>>,
    events: mpsc::Sender<UpstreamEvent>,
    closed: CancellationToken,
}

async fn read_loop(r: ReadLoop) {
    // The codec holds at most `max_line` bytes: past that it skips to the next newline.
    let mut lines = FramedRead::new(r.stdout, LinesCodec::new_with_max_length(r.max_line));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                let error = UpstreamError::TooLarge {
                    upstream: Arc::clone(&r.name),
                    what: "a message",
                    limit: r.max_line,
                };
                warn!(upstream = %r.name, max = r.max_line, "dropped an over-long message; failing the requests it may have answered");
                // Which request it answered is unknowable without reading it, so every request
                // waiting on this child learns now; the child and later requests go on.
                r.correlator.fail_all_with(&error);
                continue;
            }
            Err(LinesCodecError::Io(_)) => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        let message = match Message::parse(line.as_bytes()) {
            Ok(m) => m,
            Err(e) => {
                let shown: String = line.chars().take(200).collect();
                warn!(upstream = %r.name, error = %e.message, line = %shown, "ignored a line that is not JSON-RPC");
                continue;
            }
        };
        match r.correlator.handle(message, &r.name, r.index, &r.events).await {
            Ok(Some(answer)) => {
                let _ = r.writer.send(answer).await;
            }
            Ok(None) => {}
            Err(HubGone) => break,
        }
    }
    r.closed.cancel();
}

async fn wait_child(
    name: Arc<str>,
    mut child: Child,
    closed: CancellationToken,
    correlator: Arc<Correlator>,
    exited: tokio::sync::watch::Sender<bool>,
) {
    match child.wait().await {
        Ok(status) if status.success() => info!(upstream = %name, "child process exited"),
        Ok(status) => warn!(upstream = %name, %status, "child process exited"),
        Err(e) => warn!(upstream = %name, error = %e, "lost track of child process"),
    }
    let _ = exited.send(true);
    closed.cancel();
    correlator.fail_all();
}

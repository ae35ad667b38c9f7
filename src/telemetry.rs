//! Logging: `tracing` to stderr, human-readable or JSON lines.
//!
//! `AGENTMUX_LOG` (or `RUST_LOG`) sets the filter, default `info`; `AGENTMUX_LOG_FORMAT=json`
//! writes one JSON object per line for log pipelines.
//!
//! Lines are handed to a writer thread, so a request never waits on stderr (a slow terminal or
//! log pipe). When that thread falls a whole buffer behind, further lines are dropped rather
//! than slowing requests; the guard [`init`] returns flushes what is queued at exit.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines queued for the writer thread before new ones are dropped.
const QUEUED_LINES: usize = 64 * 1024;

/// Installs the subscriber; keep the guard until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub fn init() -> WorkerGuard {
    let filter = std::env::var("AGENTMUX_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("agentmux-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    if std::env::var("AGENTMUX_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    guard
}

//! Logging: `tracing` to stderr, human-readable or JSON lines.
//!
//! `AGENTMUX_LOG` (or `RUST_LOG`) sets the filter, default `info`; `AGENTMUX_LOG_FORMAT=json`
//! writes one JSON object per line for log pipelines.
//!
//! Lines are gathered and written in batches by a writer thread ([`batched`]), so a request
//! never waits on stderr (a slow terminal or log pipe). When that thread falls a whole buffer
//! behind, further lines are dropped rather than slowing requests; the guard [`init`] returns
//! writes what is waiting at exit.

mod batched;

use tracing_subscriber::EnvFilter;

pub use batched::Guard;

/// Installs the subscriber; keep the guard until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub fn init() -> std::io::Result<Guard> {
    let filter = std::env::var("AGENTMUX_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = batched::start()?;
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
    Ok(guard)
}

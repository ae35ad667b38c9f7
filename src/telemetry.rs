//! Logging: `tracing` to stderr, human-readable or JSON lines.
//!
//! `AGENTMUX_LOG` (or `RUST_LOG`) sets the filter, default `info`; `AGENTMUX_LOG_FORMAT=json`
//! writes one JSON object per line for log pipelines.
//!
//! Lines are written in batches by a writer thread ([`crate::batched`]), so a request never
//! waits on stderr (a slow terminal or log pipe). When that thread falls a whole buffer behind,
//! further lines are dropped rather than slowing requests, and the log says how many; the guard
//! [`init`] returns writes what is waiting at exit.

use std::io::Write;

use tracing_subscriber::EnvFilter;

use crate::batched::{self, Lines, Sink};

pub use crate::batched::Guard;

/// Bytes of log lines waiting for stderr before new ones are dropped.
const LIMIT: usize = 4 << 20;

/// Installs the subscriber; keep the guard until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub fn init() -> std::io::Result<Guard> {
    let filter = std::env::var("AGENTMUX_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (lines, guard) = batched::start(Sink {
        name: "agentmux-log",
        out: Box::new(std::io::stderr()),
        limit: LIMIT,
        bulk_limit: LIMIT,
        lost: Box::new(|n| {
            let _ = writeln!(
                std::io::stderr(),
                "agentmux: {n} log lines dropped: stderr could not keep up"
            );
        }),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter(lines))
        .with_ansi(false)
        .with_target(false);
    if std::env::var("AGENTMUX_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    Ok(guard)
}

/// `tracing`'s side of the log: each event arrives as one `write_all` of a whole line.
struct LogWriter(Lines);

impl Write for &LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

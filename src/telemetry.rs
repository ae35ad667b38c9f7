//! Logging: `tracing` to stderr, human-readable or JSON lines.
//!
//! `AGENTMUX_LOG` (or `RUST_LOG`) sets the filter, default `info`; `AGENTMUX_LOG_FORMAT=json`
//! writes one JSON object per line for log pipelines.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("AGENTMUX_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("AGENTMUX_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

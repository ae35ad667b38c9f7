//! agentmux: one gateway between AI clients and everything they call.
//!
//! Data flows `http | stdio → mcp → upstream`; `config`, `jsonrpc` and `telemetry` are leaves
//! that every module may use, and `app` wires it all together. See `docs/architecture.md`.

#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod authz;
pub mod config;
pub mod http;
pub mod identity;
pub mod jsonrpc;
pub mod mcp;
pub mod metrics;
pub mod policy_cmd;
pub mod stdio;
pub mod telemetry;
pub mod upstream;

//! agentmux: one gateway between AI clients and everything they call.
//!
//! Data flows `http | stdio → auth → mcp → upstream`; `config`, `identity`, `jsonrpc`, `arguments` and
//! `telemetry` are leaves that every module may use, and `app` wires it all together. See
//! `docs/architecture.md`.

#![forbid(unsafe_code)]

pub mod app;
pub mod arguments;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod cli;
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

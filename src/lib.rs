//! agentmux: one gateway between AI clients and everything they call.
//!
//! The module tree reads as a request flows (see `docs/architecture.md`):
//! `http` (the edge: listener, guards, authentication, one router per protocol) → `auth` (who
//! calls) → `authz` (may they; a protocol-neutral vocabulary) → `mcp` (what they call; it owns
//! its upstream links) → `egress` (outbound HTTP clients and agentmux's own credentials).
//! `config`, `error`, `identity`, `jsonrpc`, `arguments`, `sse`, `metrics`, `batched`, `audit`
//! and `telemetry` are leaves every module may use; `app` wires it all together and `cli` is the
//! command line. `tests/layout.rs` fails on an import against this direction.

#![forbid(unsafe_code)]

pub mod a2a;
pub mod app;
pub mod arguments;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod batched;
pub mod cli;
pub mod config;
pub mod egress;
pub mod error;
pub mod http;
pub mod identity;
pub mod jsonrpc;
pub mod llm;
pub mod mcp;
pub mod metrics;
pub mod sse;
pub mod state;
pub mod telemetry;

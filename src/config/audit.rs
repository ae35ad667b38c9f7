//! `audit:`: where decision records go and how tool arguments appear in them. Reads `raw`;
//! imports only leaves besides.

use std::path::{Path, PathBuf};

use super::expand::Text;
use super::raw::{RawArguments, RawAudit};
use super::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditArguments {
    Log,
    Hash,
    Omit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    Off,
    Stderr,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub sink: AuditSink,
    pub arguments: AuditArguments,
    /// HMAC key for argument hashes; `None`: random per start.
    pub hash_key: Option<Secret>,
}

/// `audit:` with its defaults. `secured`: the config has `auth:` or `policies:`.
pub(super) fn resolve(raw: Option<RawAudit>, secured: bool, base: &Path) -> AuditSettings {
    // Audit is on by default once there is something to audit: callers or decisions.
    let raw = raw.unwrap_or_else(|| RawAudit {
        sink: (!secured).then(|| Text("off".into())),
        ..RawAudit::default()
    });
    AuditSettings {
        sink: match raw.sink.as_ref().map(|t| t.0.as_str()) {
            None | Some("stderr") => AuditSink::Stderr,
            Some("off") => AuditSink::Off,
            Some(path) => AuditSink::File(base.join(path)),
        },
        arguments: match raw.arguments {
            None | Some(RawArguments::Hash) => AuditArguments::Hash,
            Some(RawArguments::Log) => AuditArguments::Log,
            Some(RawArguments::Omit) => AuditArguments::Omit,
        },
        hash_key: raw.hash_key.map(|t| Secret(t.0)),
    }
}

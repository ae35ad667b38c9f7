//! Tool pinning: an operator approves each upstream tool's definition once, and a definition that
//! later differs is hidden (or served flagged) and reported.
//!
//! A tool's description and schemas are instructions to a model. An upstream that rewrites them
//! after they were reviewed ("rug pull") can steer every agent that lists the tool, so agentmux
//! records a fingerprint of each approved definition in a lock file (`agentmux tools approve`)
//! and compares what upstreams serve against it.
//!
//! Verdicts are taken when views are rebuilt ([`Views::build`](super::Views::build)), never per
//! request: a hidden tool simply has no entry in the view, so calling it fails like calling any
//! unknown tool, and the `tools/call` path stays one hash lookup.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{OnChanged, OnNew, PinningSettings};
use crate::jsonrpc::{RawObject, to_raw};

/// What one upstream serves now: its tools' definitions, or why it could not be asked (for
/// `agentmux tools approve` and `diff`).
pub struct Served {
    pub upstream: String,
    pub tools: Result<BTreeMap<String, Pin>, String>,
}

/// The lock file format this agentmux reads and writes.
pub const LOCK_VERSION: u32 = 1;

/// The fields of a tool definition that instruct a model or shape its calls.
///
/// `name` is the lock key, not part of the hash. `_meta` is left out because it is addressed to
/// clients and tooling, not to the model, and servers put volatile values there (versions, trace
/// ids, timestamps) that would flag tools that did not change in any way a model sees. `icons`
/// are left out because they are pictures for a UI: they neither instruct a model nor change
/// what a call sends.
pub const PINNED_FIELDS: [&str; 5] = ["description", "title", "inputSchema", "outputSchema", "annotations"];

/// `_meta` key that marks a tool served although its definition changed (`changed: flag`).
pub const FLAG_META_KEY: &str = "agentmux/pin";

/// Put in front of a flagged tool's description, so that a model reading it is warned too.
pub const FLAG_PREFIX: &str = "[agentmux: definition changed since approval] ";

// === fingerprints ===

/// The pinned fields of a tool, in canonical form: objects' keys sorted at every level, absent
/// fields absent.
pub fn definition(tool: &RawObject) -> Map<String, Value> {
    let mut def = Map::new();
    for field in PINNED_FIELDS {
        if let Some(raw) = tool.get(field) {
            // serde_json refuses values nested deeper than 128 levels. Such a value is still
            // pinned, by its exact text: any change is then detected, only whitespace and key
            // order are no longer forgiven.
            let mut value = serde_json::from_str(raw.get()).unwrap_or_else(|_| Value::String(raw.get().to_string()));
            value.sort_all_objects();
            def.insert(field.to_string(), value);
        }
    }
    def.sort_keys();
    def
}

/// `sha256:<hex>` over the canonical JSON (sorted keys, no whitespace) of a tool's pinned fields.
pub fn fingerprint(tool: &RawObject) -> String {
    fingerprint_of(&definition(tool))
}

/// The fingerprint of a definition already in canonical form (as [`definition`] returns it).
fn fingerprint_of(def: &Map<String, Value>) -> String {
    // A map of JSON values with string keys always serializes.
    let bytes = serde_json::to_vec(def).unwrap_or_default();
    format!("sha256:{:x}", Sha256::digest(&bytes))
}

// === impl Lock ===

/// One approved tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub fingerprint: String,
    /// Kept so that `agentmux tools diff` can say what changed, not only that something did.
    pub definition: Map<String, Value>,
}

impl Pin {
    pub fn of(tool: &RawObject) -> Self {
        let definition = definition(tool);
        Self {
            fingerprint: fingerprint_of(&definition),
            definition,
        }
    }
}

/// The approved definitions, keyed `<upstream>/<original tool name>` (the name the upstream
/// gives it, before any rename or prefix: renaming a tool in the registry does not unpin it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lock {
    pub tools: BTreeMap<String, Pin>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    version: u32,
    #[serde(default)]
    tools: BTreeMap<String, Pin>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read the lock file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: not a valid agentmux lock file: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}: lock file version {found} is not supported (this agentmux reads version {LOCK_VERSION})",
        path.display()
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{}: entry `{key}`: {problem}", path.display())]
    Entry {
        path: PathBuf,
        key: String,
        problem: String,
    },
    #[error("cannot write the lock file {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl Lock {
    pub fn key(upstream: &str, tool: &str) -> String {
        format!("{upstream}/{tool}")
    }

    pub fn get(&self, upstream: &str, tool: &str) -> Option<&Pin> {
        self.tools.get(&Self::key(upstream, tool))
    }

    /// Reads a lock file; a file that does not exist is an empty lock (nothing approved yet).
    pub fn load(path: &Path) -> Result<Self, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let file: LockFile = serde_json::from_str(&text).map_err(|e| LockError::Malformed {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if file.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: path.to_path_buf(),
                found: file.version,
            });
        }
        let mut tools = BTreeMap::new();
        for (key, mut pin) in file.tools {
            let problem = |problem: &str| LockError::Entry {
                path: path.to_path_buf(),
                key: key.clone(),
                problem: problem.to_string(),
            };
            if !key.split_once('/').is_some_and(|(u, t)| !u.is_empty() && !t.is_empty()) {
                return Err(problem("keys are `<upstream>/<tool>`"));
            }
            // Verdicts go by the fingerprint, `diff` by the definition: they must agree, or a
            // hand-edited definition would make `diff` explain a change that is not the one seen.
            pin.definition.values_mut().for_each(Value::sort_all_objects);
            pin.definition.sort_keys();
            if fingerprint_of(&pin.definition) != pin.fingerprint {
                return Err(problem(
                    "the fingerprint does not match the definition (edited by hand?); \
                     re-approve the tool with `agentmux tools approve --tool UPSTREAM/TOOL`",
                ));
            }
            tools.insert(key, pin);
        }
        Ok(Self { tools })
    }

    /// Writes the lock file whole: to a temporary file beside it, then renamed over it, so a
    /// crash never leaves a half-written lock that would hide every tool at the next start.
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let file = LockFile {
            version: LOCK_VERSION,
            tools: self.tools.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        let name = path
            .file_name()
            .map_or_else(|| "agentmux.lock".into(), |n| n.to_string_lossy());
        let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut out = std::fs::File::create(&temp)?;
            out.write_all(text.as_bytes())?;
            out.sync_all()?;
            std::fs::rename(&temp, path)
        };
        write().map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            LockError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

// === impl Pins ===

/// How a tool's current definition compares with the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its fingerprint is the approved one.
    Approved,
    /// The lock has it, with another fingerprint.
    Changed,
    /// The lock does not have it.
    New,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Changed => "changed",
            Self::New => "new",
        }
    }
}

/// What a view does with a tool, given its verdict and the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    Serve,
    /// Served with [`FLAG_PREFIX`] and `_meta` [`FLAG_META_KEY`].
    Flag,
    /// Not served: no entry in any view.
    Hide,
}

/// A tool whose definition is not the approved one, found when the views were built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub upstream: String,
    /// The upstream's own name for it.
    pub tool: String,
    pub verdict: Verdict,
    pub treatment: Treatment,
    /// The fingerprint in the lock (`None` for a new tool).
    pub approved: Option<String>,
    /// The fingerprint of what the upstream serves now.
    pub served: String,
}

/// The pinning settings and the lock they point at, loaded once when the hub starts.
#[derive(Debug)]
pub struct Pins {
    settings: PinningSettings,
    lock: Lock,
    /// (tool key, served fingerprint) pairs already reported: views are rebuilt whenever any
    /// upstream's catalog changes, and one change deserves one warning.
    reported: Mutex<HashSet<(String, String)>>,
}

impl Pins {
    pub fn new(settings: PinningSettings, lock: Lock) -> Self {
        Self {
            settings,
            lock,
            reported: Mutex::default(),
        }
    }

    pub fn load(settings: &PinningSettings) -> Result<Self, LockError> {
        Ok(Self::new(settings.clone(), Lock::load(&settings.lock)?))
    }

    pub fn settings(&self) -> &PinningSettings {
        &self.settings
    }

    pub fn verdict(&self, upstream: &str, tool: &str, fields: &RawObject) -> Verdict {
        match self.lock.get(upstream, tool) {
            None => Verdict::New,
            Some(pin) if pin.fingerprint == fingerprint(fields) => Verdict::Approved,
            Some(_) => Verdict::Changed,
        }
    }

    pub fn treatment(&self, verdict: Verdict) -> Treatment {
        match (verdict, self.settings.changed, self.settings.new) {
            (Verdict::Approved, _, _) | (Verdict::New, _, OnNew::Allow) => Treatment::Serve,
            (Verdict::Changed, OnChanged::Hide, _) | (Verdict::New, _, OnNew::Hide) => Treatment::Hide,
            (Verdict::Changed, OnChanged::Flag, _) => Treatment::Flag,
        }
    }

    /// Whether a tool with this verdict is served at all.
    pub fn admits(&self, verdict: Verdict) -> bool {
        self.treatment(verdict) != Treatment::Hide
    }

    /// The verdict on one tool and what to do with it; `None` when it is the approved definition.
    pub fn judge(&self, upstream: &str, tool: &str, fields: &RawObject) -> Option<Finding> {
        let served = fingerprint(fields);
        let approved = self.lock.get(upstream, tool).map(|p| &p.fingerprint);
        let verdict = match approved {
            None => Verdict::New,
            Some(fp) if *fp == served => return None,
            Some(_) => Verdict::Changed,
        };
        Some(Finding {
            upstream: upstream.to_string(),
            tool: tool.to_string(),
            verdict,
            treatment: self.treatment(verdict),
            approved: approved.cloned(),
            served,
        })
    }

    /// Marks a tool served although its definition changed: a warning in front of the
    /// description (what a model reads) and `_meta["agentmux/pin"] = "changed"` (what a client
    /// can check).
    pub fn flag(fields: &mut RawObject) {
        let description = fields.str("description").ok().flatten().unwrap_or_default();
        let flagged = format!("{FLAG_PREFIX}{description}");
        fields.set_str("description", flagged.trim_end());
        let mut meta = fields
            .get("_meta")
            .and_then(|m| RawObject::parse(m).ok())
            .unwrap_or_default();
        meta.set(FLAG_META_KEY, to_raw(&"changed"));
        fields.set("_meta", meta.to_raw());
    }

    /// Reports changed tools (and new ones that are hidden), once per tool and fingerprint.
    ///
    /// The one place pinning speaks: the audit log will hang off here.
    /// Logs each finding once per served fingerprint; returns the ones logged now (for audit).
    pub fn report<'a>(&self, findings: &'a [Finding]) -> Vec<&'a Finding> {
        let mut fresh = Vec::new();
        let mut reported = self.reported.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in findings
            .iter()
            .filter(|f| f.verdict == Verdict::Changed || f.treatment == Treatment::Hide)
        {
            if reported.insert((Lock::key(&f.upstream, &f.tool), f.served.clone())) {
                tracing::warn!(
                    upstream = %f.upstream,
                    tool = %f.tool,
                    verdict = f.verdict.as_str(),
                    action = if f.treatment == Treatment::Hide { "hidden" } else { "flagged" },
                    approved = %f.approved.as_deref().unwrap_or("none"),
                    served = %f.served,
                    "tool definition differs from the approved one"
                );
                fresh.push(f);
            }
        }
        fresh
    }
}

#[cfg(test)]
pub(crate) mod tests;

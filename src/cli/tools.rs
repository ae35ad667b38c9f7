//! `agentmux tools approve` and `agentmux tools diff`: what the upstreams serve now
//! ([`Hub::served_tools`](crate::mcp::Hub::served_tools)), against the lock file.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::mcp::pinning::{Lock, PINNED_FIELDS, Pin, Served};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("--upstream {0}: no upstream of that name in the registry or the lock file")]
    UnknownUpstream(String),
    #[error("--upstream {upstream}: cannot approve its tools: {reason}")]
    Unavailable { upstream: String, reason: String },
    #[error("--tool {0}: name a tool as UPSTREAM/TOOL (the upstream's own tool name)")]
    BadTool(String),
    #[error("--tool {tool}: {reason}")]
    NotServed { tool: String, reason: String },
}

/// Which tools `approve` looks at: all (both lists empty), or the named upstreams and tools.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub upstreams: Vec<String>,
    /// `upstream/tool`, the upstream's own tool name.
    pub tools: Vec<String>,
    /// Drop entries (in the selection) for tools no upstream serves.
    pub prune: bool,
}

impl Selection {
    fn covers(&self, upstream: &str, key: &str) -> bool {
        (self.upstreams.is_empty() && self.tools.is_empty())
            || self.upstreams.iter().any(|u| u == upstream)
            || self.tools.iter().any(|t| t == key)
    }
}

/// What `approve` changed in the lock.
#[derive(Debug, Default)]
pub struct Approval {
    pub added: Vec<String>,
    /// With the fields whose value changed.
    pub changed: Vec<(String, Vec<&'static str>)>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Upstreams that could not be asked, and why: their entries are kept as they were.
    pub unchecked: Vec<(String, String)>,
}

/// Writes the current definition of every selected tool into `lock`; with `prune`, drops the
/// selected entries no upstream serves. Upstreams that cannot be asked keep their entries.
pub fn approve(served: &[Served], lock: &mut Lock, selection: &Selection) -> Result<Approval, ReviewError> {
    check(served, lock, selection)?;
    let mut approval = Approval::default();
    for s in served {
        let tools = match &s.tools {
            Ok(tools) => tools,
            Err(reason) => {
                if selection.covers(&s.upstream, "") {
                    approval.unchecked.push((s.upstream.clone(), reason.clone()));
                }
                continue;
            }
        };
        for (tool, pin) in tools {
            let key = Lock::key(&s.upstream, tool);
            if !selection.covers(&s.upstream, &key) {
                continue;
            }
            match lock.tools.get(&key) {
                None => approval.added.push(key.clone()),
                Some(old) if old.fingerprint != pin.fingerprint => {
                    approval.changed.push((key.clone(), changed_fields(old, pin)));
                }
                Some(_) => approval.unchanged += 1,
            }
            lock.tools.insert(key, pin.clone());
        }
    }
    if selection.prune {
        let gone: Vec<String> = lock
            .tools
            .keys()
            .filter(|key| selection.covers(upstream_of(key), key))
            .filter(|key| match served.iter().find(|s| s.upstream == upstream_of(key)) {
                // An upstream no longer in the registry serves nothing.
                None => true,
                Some(Served { tools: Ok(tools), .. }) => !tools.contains_key(tool_of(key)),
                // Not asked: a transient failure must not unpin anything.
                Some(Served { tools: Err(_), .. }) => false,
            })
            .cloned()
            .collect();
        for key in gone {
            lock.tools.remove(&key);
            approval.removed.push(key);
        }
    }
    Ok(approval)
}

/// Refuses selections that name nothing real, before anything is written.
fn check(served: &[Served], lock: &Lock, selection: &Selection) -> Result<(), ReviewError> {
    for name in &selection.upstreams {
        match served.iter().find(|s| s.upstream == *name) {
            Some(Served { tools: Err(reason), .. }) => {
                return Err(ReviewError::Unavailable {
                    upstream: name.clone(),
                    reason: reason.clone(),
                });
            }
            None if !lock.tools.keys().any(|k| upstream_of(k) == name) => {
                return Err(ReviewError::UnknownUpstream(name.clone()));
            }
            _ => {}
        }
    }
    for key in &selection.tools {
        let Some((upstream, tool)) = key.split_once('/').filter(|(u, t)| !u.is_empty() && !t.is_empty()) else {
            return Err(ReviewError::BadTool(key.clone()));
        };
        let reason = match served.iter().find(|s| s.upstream == upstream) {
            None => format!("no upstream `{upstream}` in the registry"),
            Some(Served { tools: Err(reason), .. }) => format!("upstream `{upstream}` cannot be asked: {reason}"),
            Some(Served { tools: Ok(tools), .. }) if !tools.contains_key(tool) => {
                format!("upstream `{upstream}` serves no tool `{tool}`")
            }
            Some(_) => continue,
        };
        return Err(ReviewError::NotServed {
            tool: key.clone(),
            reason,
        });
    }
    Ok(())
}

fn upstream_of(key: &str) -> &str {
    key.split_once('/').map_or(key, |(u, _)| u)
}

fn tool_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(_, t)| t)
}

fn changed_fields(old: &Pin, new: &Pin) -> Vec<&'static str> {
    PINNED_FIELDS
        .into_iter()
        .filter(|f| old.definition.get(*f) != new.definition.get(*f))
        .collect()
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for key in &self.added {
            writeln!(f, "added    {key}")?;
        }
        for (key, fields) in &self.changed {
            writeln!(f, "changed  {key} ({})", fields.join(", "))?;
        }
        for key in &self.removed {
            writeln!(f, "removed  {key}")?;
        }
        for (upstream, reason) in &self.unchecked {
            writeln!(f, "skipped  upstream {upstream}: {reason} (its entries are kept)")?;
        }
        writeln!(
            f,
            "{} added, {} changed, {} removed, {} unchanged",
            self.added.len(),
            self.changed.len(),
            self.removed.len(),
            self.unchanged
        )
    }
}

// === diff ===

/// One tool whose current state is not the approved one.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    Changed {
        key: String,
        fields: Vec<FieldChange>,
    },
    /// Served, not in the lock.
    New {
        key: String,
    },
    /// In the lock, and its upstream (which answered) no longer serves it.
    Missing {
        key: String,
    },
    /// An upstream that could not be asked: nothing about it is known to be approved.
    Unchecked {
        upstream: String,
        reason: String,
    },
}

/// One pinned field that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// Every difference, in key order; empty when everything served is approved.
#[derive(Debug, Default)]
pub struct Diffs(pub Vec<Difference>);

impl Diffs {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Compares what every upstream serves with the lock.
pub fn diff(served: &[Served], lock: &Lock) -> Diffs {
    let mut found: BTreeMap<String, Difference> = BTreeMap::new();
    let mut unchecked = Vec::new();
    for s in served {
        match &s.tools {
            Ok(tools) => {
                for (tool, pin) in tools {
                    let key = Lock::key(&s.upstream, tool);
                    match lock.tools.get(&key) {
                        None => {
                            found.insert(key.clone(), Difference::New { key });
                        }
                        Some(old) if old.fingerprint != pin.fingerprint => {
                            let fields = field_changes(old, pin);
                            found.insert(key.clone(), Difference::Changed { key, fields });
                        }
                        Some(_) => {}
                    }
                }
            }
            Err(reason) => unchecked.push(Difference::Unchecked {
                upstream: s.upstream.clone(),
                reason: reason.clone(),
            }),
        }
    }
    for key in lock.tools.keys() {
        let gone = match served.iter().find(|s| s.upstream == upstream_of(key)) {
            None => true,
            Some(Served { tools: Ok(tools), .. }) => !tools.contains_key(tool_of(key)),
            Some(Served { tools: Err(_), .. }) => false,
        };
        if gone {
            found.insert(key.clone(), Difference::Missing { key: key.clone() });
        }
    }
    let mut diffs: Vec<Difference> = found.into_values().collect();
    diffs.extend(unchecked);
    Diffs(diffs)
}

fn field_changes(old: &Pin, new: &Pin) -> Vec<FieldChange> {
    PINNED_FIELDS
        .into_iter()
        .filter_map(|field| {
            let (old, new) = (old.definition.get(field), new.definition.get(field));
            (old != new).then(|| FieldChange {
                field,
                old: old.cloned(),
                new: new.cloned(),
            })
        })
        .collect()
}

/// A change at one place inside a JSON value, named by its JSON Pointer (RFC 6901).
#[derive(Debug, Clone, PartialEq)]
pub enum PathChange {
    Added(String, Value),
    Removed(String, Value),
    Changed(String, Value, Value),
}

/// Where two JSON values differ: members and elements added, removed or changed, deepest first
/// only where both sides are containers of the same kind.
pub fn path_changes(old: &Value, new: &Value) -> Vec<PathChange> {
    let mut out = Vec::new();
    walk(&mut String::new(), old, new, &mut out);
    out
}

fn walk(path: &mut String, old: &Value, new: &Value, out: &mut Vec<PathChange>) {
    let at = path.len();
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                push_segment(path, k);
                match b.get(k) {
                    Some(vb) => walk(path, va, vb, out),
                    None => out.push(PathChange::Removed(path.clone(), va.clone())),
                }
                path.truncate(at);
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                push_segment(path, k);
                out.push(PathChange::Added(path.clone(), vb.clone()));
                path.truncate(at);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                push_segment(path, &i.to_string());
                match (a.get(i), b.get(i)) {
                    (Some(va), Some(vb)) => walk(path, va, vb, out),
                    (Some(va), None) => out.push(PathChange::Removed(path.clone(), va.clone())),
                    (None, Some(vb)) => out.push(PathChange::Added(path.clone(), vb.clone())),
                    (None, None) => {}
                }
                path.truncate(at);
            }
        }
        _ if old == new => {}
        _ => out.push(PathChange::Changed(path.clone(), old.clone(), new.clone())),
    }
}

fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
}

impl fmt::Display for Diffs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            match d {
                Difference::New { key } => writeln!(f, "new      {key}")?,
                Difference::Missing { key } => writeln!(f, "missing  {key}")?,
                Difference::Unchecked { upstream, reason } => {
                    writeln!(f, "unchecked upstream {upstream}: {reason}")?;
                }
                Difference::Changed { key, fields } => {
                    writeln!(f, "changed  {key}")?;
                    for change in fields {
                        write_field(f, change)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, change: &FieldChange) -> fmt::Result {
    writeln!(f, "  {}:", change.field)?;
    match (&change.old, &change.new) {
        // Texts (description, title) whole, so a reviewer reads exactly what the model would.
        (Some(Value::String(old)), Some(Value::String(new))) => {
            writeln!(f, "    - {old}")?;
            writeln!(f, "    + {new}")
        }
        (Some(old @ (Value::Object(_) | Value::Array(_))), Some(new @ (Value::Object(_) | Value::Array(_)))) => {
            for c in path_changes(old, new) {
                match c {
                    PathChange::Added(p, v) => writeln!(f, "    added   {}: {v}", root(&p))?,
                    PathChange::Removed(p, v) => writeln!(f, "    removed {}: {v}", root(&p))?,
                    PathChange::Changed(p, a, b) => writeln!(f, "    changed {}: {a} → {b}", root(&p))?,
                }
            }
            Ok(())
        }
        (old, new) => {
            let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "(absent)".to_string(), Value::to_string);
            writeln!(f, "    - {}", show(old))?;
            writeln!(f, "    + {}", show(new))
        }
    }
}

/// The empty pointer names the whole value; print it as `/` so the line never starts bare.
fn root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

#[cfg(test)]
mod tests;

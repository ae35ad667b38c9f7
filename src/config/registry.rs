//! The upstream registry: a directory (or list) of files, each read by its kind.
//!
//! - `*.yaml` / `*.yml`: one agentmux upstream per file, name = `name:` or the file stem;
//! - `*.json`: an IDE's MCP config read as-is: the `mcpServers` object of Claude Desktop, Claude
//!   Code (`.mcp.json`) and Cursor, or the `servers` object of VS Code. Each entry is an upstream.
//!
//! This file finds and parses the files; `upstream` and `transport` judge what they say, so it
//! imports them (and `raw`, leaves), and nothing imports it but the snapshot.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::Problem;
use super::expand::{Syntax, expand, with_base_dir};
use super::raw::{RawTransport, RawUpstream, UpstreamProtocol};
use super::secret::Secret;
use super::transport::{TransportSpec, http_transport};
use super::upstream::{self, UpstreamSpec};

/// Reads every registry path; problems are collected, good entries are kept.
pub fn load(paths: &[PathBuf], explicit: bool, problems: &mut Vec<Problem>) -> Vec<UpstreamSpec> {
    let mut upstreams = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    problems.push(Problem::new(path, None, format!("cannot read registry directory: {e}")));
                    continue;
                }
            };
            files.sort();
            for file in files.iter().filter(|f| f.is_file()) {
                load_file(file, false, &mut upstreams, problems);
            }
        } else if path.is_file() {
            load_file(path, true, &mut upstreams, problems);
        } else if explicit {
            problems.push(Problem::new(path, None, "registry path does not exist"));
        }
    }
    reject_duplicates(&upstreams, problems);
    upstreams
}

fn load_file(file: &Path, named_explicitly: bool, out: &mut Vec<UpstreamSpec>, problems: &mut Vec<Problem>) {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let text = match ext {
        "yaml" | "yml" | "json" => match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => return problems.push(Problem::new(file, None, format!("cannot read: {e}"))),
        },
        _ if named_explicitly => {
            return problems.push(Problem::new(
                file,
                None,
                "registry files must end in .yaml, .yml or .json",
            ));
        }
        // Other files in a registry directory (READMEs, notes) are not upstreams.
        _ => return,
    };
    let base = file.parent().unwrap_or(Path::new("."));
    if ext == "json" {
        out.extend(ide_file(file, &text, problems));
    } else if let Some(spec) = yaml_file(file, base, &text, problems) {
        out.push(spec);
    }
}

fn yaml_file(file: &Path, base: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<UpstreamSpec> {
    let raw: RawUpstream = match with_base_dir(base, || serde_yaml_ng::from_str(text)) {
        Ok(raw) => raw,
        Err(e) => {
            problems.push(Problem::from_yaml(file, &e));
            return None;
        }
    };
    upstream::resolve(raw, file, base, text)
        .map_err(|problem| problems.push(problem))
        .ok()
}

/// An IDE config file: `{"mcpServers": {...}}` or VS Code's `{"servers": {...}}`.
fn ide_file(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Vec<UpstreamSpec> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            problems.push(Problem::from_json(file, &e));
            return Vec::new();
        }
    };
    let (key, servers) = match (doc.get("mcpServers"), doc.get("servers")) {
        (Some(s), _) => ("mcpServers", s),
        (None, Some(s)) => ("servers", s),
        (None, None) => {
            problems.push(Problem::new(
                file,
                None,
                "JSON registry files hold an `mcpServers` (Claude, Cursor) or `servers` (VS Code) object",
            ));
            return Vec::new();
        }
    };
    // Claude Code writes `${VAR}`; VS Code and agentmux write `${env:VAR}`.
    let syntax = if key == "mcpServers" {
        Syntax::ClaudeCode
    } else {
        Syntax::Agentmux
    };
    let Some(servers) = servers.as_object() else {
        problems.push(Problem::new(
            file,
            None,
            format!("`{key}` must be an object of servers"),
        ));
        return Vec::new();
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (original, entry) in servers {
        let at = format!("{key}.{original}");
        if entry.get("disabled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        match with_base_dir(base, || ide_entry(entry, syntax, base)) {
            Ok(transport) => out.push(UpstreamSpec::with_defaults(
                normalize_name(original),
                file,
                Some(original.clone()),
                transport,
            )),
            Err(msg) => problems.push(Problem::new(file, None, format!("{at}: {msg}"))),
        }
    }
    out
}

fn ide_entry(entry: &Value, syntax: Syntax, base: &Path) -> Result<TransportSpec, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => expand(s, syntax).map(Some).map_err(|e| format!("{key}: {e}")),
            Some(_) => Err(format!("{key}: must be a string")),
        }
    };
    let map = |key: &str| -> Result<BTreeMap<String, Secret>, String> {
        let Some(obj) = entry.get(key) else {
            return Ok(BTreeMap::new());
        };
        let obj = obj.as_object().ok_or_else(|| format!("{key}: must be an object"))?;
        obj.iter()
            .map(|(k, v)| {
                let s = v.as_str().ok_or_else(|| format!("{key}.{k}: must be a string"))?;
                Ok((
                    k.clone(),
                    Secret(expand(s, syntax).map_err(|e| format!("{key}.{k}: {e}"))?),
                ))
            })
            .collect()
    };
    let kind = text("type")?;
    if let Some(command) = text("command")? {
        let args = match entry.get("args") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| {
                    a.as_str()
                        .ok_or("args: must be strings")
                        .map_err(String::from)
                        .and_then(|s| expand(s, syntax))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("args: must be an array of strings".into()),
        };
        return Ok(TransportSpec::Stdio {
            command,
            args,
            env: map("env")?,
            cwd: text("cwd")?.map(|c| base.join(c)),
        });
    }
    let url = text("url")?
        .or(text("serverUrl")?)
        .ok_or("needs `command` (stdio) or `url` (HTTP)")?;
    let transport = match kind.as_deref() {
        None | Some("http" | "streamable-http" | "streamableHttp" | "streamable_http") => RawTransport::StreamableHttp,
        Some("sse") => RawTransport::Sse,
        Some("ws" | "websocket") => RawTransport::Websocket,
        Some(other) => return Err(format!("type: unknown transport `{other}`")),
    };
    http_transport(Some(transport), url, map("headers")?, UpstreamProtocol::Auto, None)
}

/// IDE names are free text; ours are `[a-z0-9][a-z0-9-]*`.
pub fn normalize_name(original: &str) -> String {
    let mapped: String = original
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches('-');
    if trimmed.is_empty() {
        "server".to_string()
    } else {
        trimmed.to_string()
    }
}

fn reject_duplicates(upstreams: &[UpstreamSpec], problems: &mut Vec<Problem>) {
    let describe = |u: &UpstreamSpec| match &u.declared_as {
        Some(entry) => format!("entry `{entry}` of {}", u.declared_in.display()),
        None => u.declared_in.display().to_string(),
    };
    let mut seen: HashMap<&str, &UpstreamSpec> = HashMap::new();
    for u in upstreams {
        if let Some(first) = seen.insert(&u.name, u) {
            let this = match &u.declared_as {
                Some(entry) => format!(" (entry `{entry}`)"),
                None => String::new(),
            };
            problems.push(Problem::new(
                &u.declared_in,
                None,
                format!(
                    "upstream name `{}`{this} is also declared by {}; names must be unique",
                    u.name,
                    describe(first)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;

//! The upstream registry: a directory (or list) of files, each read by its kind.
//!
//! - `*.yaml` / `*.yml`: one agentmux upstream per file, an MCP server (`mcp:`) or an A2A agent
//!   (`a2a:`), name = `name:` or the file stem;
//! - `*.json`: an IDE's MCP config read as-is: the `mcpServers` object of Claude Desktop, Claude
//!   Code (`.mcp.json`) and Cursor, or the `servers` object of VS Code. Each entry is an upstream.
//!
//! This file finds and parses the files; `upstream` and `transport` judge what they say, so it
//! imports them (and `raw`, leaves), and nothing imports it but the snapshot.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::a2a::{self, AgentSpec};
use super::error::Problem;
use super::expand::{Syntax, expand, with_base_dir};
use super::llm::{self, ProviderSpec};
use super::raw::{RawTransport, RawUpstream, UpstreamProtocol};
use super::secret::Secret;
use super::transport::{TransportSpec, http_transport};
use super::upstream::{self, UpstreamSpec};

/// What a registry holds: MCP servers, A2A agents and LLM providers, under names unique
/// across all three.
#[derive(Debug, Default)]
pub struct Registry {
    pub upstreams: Vec<UpstreamSpec>,
    pub agents: Vec<AgentSpec>,
    pub providers: Vec<ProviderSpec>,
}

/// Reads every registry path; problems are collected, good entries are kept.
pub fn load(paths: &[PathBuf], explicit: bool, problems: &mut Vec<Problem>) -> Registry {
    let mut registry = Registry::default();
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
                load_file(file, false, &mut registry, problems);
            }
        } else if path.is_file() {
            load_file(path, true, &mut registry, problems);
        } else if explicit {
            problems.push(Problem::new(path, None, "registry path does not exist"));
        }
    }
    reject_duplicates(&registry, problems);
    registry
}

fn load_file(file: &Path, named_explicitly: bool, out: &mut Registry, problems: &mut Vec<Problem>) {
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
        out.upstreams.extend(ide_file(file, &text, problems));
    } else {
        yaml_file(file, base, &text, out, problems);
    }
}

fn yaml_file(file: &Path, base: &Path, text: &str, out: &mut Registry, problems: &mut Vec<Problem>) {
    let mut raw: RawUpstream = match with_base_dir(base, || serde_yaml_ng::from_str(text)) {
        Ok(raw) => raw,
        Err(e) => {
            return problems.push(Problem::from_yaml(file, &e));
        }
    };
    let entry = upstream::entry_name(raw.name.clone(), file, text).and_then(|name| {
        match (raw.mcp.take(), raw.a2a.take(), raw.llm.take()) {
            (Some(mcp), None, None) => {
                upstream::resolve(name, raw, mcp, file, base, text).map(|u| out.upstreams.push(u))
            }
            (None, Some(agent), None) => a2a::agent(name, raw, agent, file, text).map(|a| out.agents.push(a)),
            (None, None, Some(provider)) => llm::provider(name, raw, provider, file).map(|p| out.providers.push(p)),
            (None, None, None) => Err(Problem::new(
                file,
                None,
                "missing `mcp:` (an MCP server), `a2a:` (an A2A agent) or `llm:` (an LLM provider)",
            )),
            _ => Err(Problem::new(
                file,
                None,
                "one registry file declares one upstream: `mcp:`, `a2a:` or `llm:`, not two",
            )),
        }
    });
    if let Err(problem) = entry {
        problems.push(problem);
    }
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

/// Names are unique across MCP servers and agents: both name tools, policies' `Upstream`s and
/// endpoints.
fn reject_duplicates(registry: &Registry, problems: &mut Vec<Problem>) {
    let entries = registry
        .upstreams
        .iter()
        .map(|u| (u.name.as_str(), u.declared_in.as_path(), u.declared_as.as_deref()))
        .chain(
            registry
                .agents
                .iter()
                .map(|a| (a.name.as_str(), a.declared_in.as_path(), None)),
        )
        .chain(
            registry
                .providers
                .iter()
                .map(|p| (p.name.as_str(), p.declared_in.as_path(), None)),
        );
    let describe = |file: &Path, entry: Option<&str>| match entry {
        Some(entry) => format!("entry `{entry}` of {}", file.display()),
        None => file.display().to_string(),
    };
    let mut seen: HashMap<&str, (&Path, Option<&str>)> = HashMap::new();
    for (name, file, entry) in entries {
        if let Some((first_file, first_entry)) = seen.insert(name, (file, entry)) {
            let this = entry.map(|e| format!(" (entry `{e}`)")).unwrap_or_default();
            problems.push(Problem::new(
                file,
                None,
                format!(
                    "upstream name `{name}`{this} is also declared by {}; names must be unique",
                    describe(first_file, first_entry)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;

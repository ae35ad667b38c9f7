//! The upstream registry: a directory (or list) of files, each read by its kind.
//!
//! - `*.yaml` / `*.yml`: one agentmux upstream per file, name = `name:` or the file stem;
//! - `*.json`: an IDE's MCP config read as-is: the `mcpServers` object of Claude Desktop, Claude
//!   Code (`.mcp.json`) and Cursor, or the `servers` object of VS Code. Each entry is an upstream.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::Problem;
use super::expand::{Syntax, expand, with_base_dir};
use super::raw::{ArgumentValidation, RawClientAuth, RawOAuth, RawTransport, RawUpstream, UpstreamProtocol};
use super::snapshot::{
    ClientAuth, DEFAULT_MAX_MESSAGE_BYTES, NameFilter, OAuthClient, Secret, Timeouts, TransportSpec, UpstreamSpec,
};

/// Smallest `max_message_bytes` accepted: below this, ordinary handshakes and lists fail.
const MIN_MESSAGE_BYTES: usize = 4096;

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
    let name = match raw.name {
        Some(name) => name,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string(),
    };
    if !valid_name(&name) {
        problems.push(Problem::new(
            file,
            key_line(text, "name"),
            format!("upstream name `{name}` must match [a-z0-9][a-z0-9-]* (set `name:` or rename the file)"),
        ));
        return None;
    }
    let m = raw.mcp;
    let transport = match (m.command, m.url) {
        (Some(_), None) if m.oauth.is_some() => {
            problems.push(Problem::new(
                file,
                nested_key_line(text, "oauth"),
                "mcp.oauth: gets a token for an HTTP upstream (`url`); a stdio server (`command`) takes none",
            ));
            return None;
        }
        (Some(command), None) => {
            if m.transport.is_some_and(|t| t != RawTransport::Stdio) || !m.headers.is_empty() || m.protocol.is_some() {
                problems.push(Problem::new(
                    file,
                    None,
                    "mcp: `command` runs a stdio server; `transport`, `headers` and `protocol` apply to `url` only",
                ));
                return None;
            }
            TransportSpec::Stdio {
                command: command.0,
                args: m.args.into_iter().map(|a| a.0).collect(),
                env: m.env.into_iter().map(|(k, v)| (k, Secret(v.0))).collect(),
                cwd: m.cwd.map(|c| base.join(c.0)),
            }
        }
        (None, Some(url)) => {
            if !m.args.is_empty() || !m.env.is_empty() || m.cwd.is_some() {
                problems.push(Problem::new(
                    file,
                    None,
                    "mcp: `args`, `env` and `cwd` apply to `command` only",
                ));
                return None;
            }
            let headers: BTreeMap<String, Secret> = m.headers.into_iter().map(|(k, v)| (k, Secret(v.0))).collect();
            let oauth = match m.oauth.map(|o| oauth_client(o, &headers)).transpose() {
                Ok(oauth) => oauth,
                Err(msg) => {
                    problems.push(Problem::new(file, nested_key_line(text, "oauth"), msg));
                    return None;
                }
            };
            match http_transport(m.transport, url.0, headers, m.protocol.unwrap_or_default(), oauth) {
                Ok(t) => t,
                Err(msg) => {
                    problems.push(Problem::new(file, None, msg));
                    return None;
                }
            }
        }
        (Some(_), Some(_)) => {
            problems.push(Problem::new(
                file,
                None,
                "mcp: give either `command` (stdio) or `url` (HTTP), not both",
            ));
            return None;
        }
        (None, None) => {
            problems.push(Problem::new(
                file,
                None,
                "mcp: missing `command` (stdio) or `url` (HTTP)",
            ));
            return None;
        }
    };
    if raw.max_message_bytes.is_some_and(|n| n < MIN_MESSAGE_BYTES) {
        problems.push(Problem::new(
            file,
            key_line(text, "max_message_bytes"),
            format!("max_message_bytes: must be at least {MIN_MESSAGE_BYTES} (an initialize result must fit)"),
        ));
        return None;
    }
    Some(UpstreamSpec {
        name,
        declared_in: file.to_path_buf(),
        declared_as: None,
        transport,
        tools: NameFilter::from_raw(raw.tools),
        prompts: NameFilter::from_raw(raw.prompts),
        resources: NameFilter::from_raw(raw.resources),
        required: raw.required.unwrap_or(true),
        timeouts: Timeouts::from_raw(raw.timeouts),
        max_message_bytes: raw.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
        validate_arguments: raw.validate_arguments.unwrap_or_default(),
    })
}

/// The 1-based line of a top-level `key:` in a YAML text, for problems found after parsing.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The 1-based line of the first `key:` at any depth, for problems found after parsing.
fn nested_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Validates `mcp.oauth` against the rest of the entry.
fn oauth_client(raw: RawOAuth, headers: &BTreeMap<String, Secret>) -> Result<OAuthClient, String> {
    // Two sources for one header would leave it to chance which credential the upstream sees.
    if headers.keys().any(|k| k.eq_ignore_ascii_case("authorization")) {
        return Err(
            "mcp.oauth: the token it gets is sent as `Authorization`; remove the static `Authorization` header".into(),
        );
    }
    let token_url = raw.token_url.0;
    let scheme_ok = ["http://", "https://"].iter().any(|s| token_url.starts_with(s));
    if !scheme_ok || reqwest::Url::parse(&token_url).is_err() {
        return Err(format!("mcp.oauth.token_url: `{token_url}` is not an http(s) URL"));
    }
    if raw.client_id.0.is_empty() {
        return Err("mcp.oauth.client_id: must not be empty".into());
    }
    let scopes: Vec<String> = raw.scopes.into_iter().map(|s| s.0).collect();
    // Scopes travel space-separated in one `scope` parameter (RFC 6749 §3.3).
    if let Some(bad) = scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(format!("mcp.oauth.scopes: `{bad}` must be one non-empty word"));
    }
    Ok(OAuthClient {
        token_url,
        client_id: raw.client_id.0,
        client_secret: Secret(raw.client_secret.0),
        scopes,
        audience: raw.audience.map(|a| a.0),
        resource: raw.resource.map(|r| r.0),
        auth_method: match raw.auth_method {
            None | Some(RawClientAuth::Basic) => ClientAuth::Basic,
            Some(RawClientAuth::Post) => ClientAuth::Post,
        },
    })
}

fn http_transport(
    kind: Option<RawTransport>,
    url: String,
    headers: BTreeMap<String, Secret>,
    protocol: UpstreamProtocol,
    oauth: Option<OAuthClient>,
) -> Result<TransportSpec, String> {
    let scheme_ok = |schemes: &[&str]| schemes.iter().any(|s| url.starts_with(s));
    match kind.unwrap_or(RawTransport::StreamableHttp) {
        RawTransport::StreamableHttp if scheme_ok(&["http://", "https://"]) => Ok(TransportSpec::StreamableHttp {
            url,
            headers,
            protocol,
            oauth,
        }),
        RawTransport::Sse if scheme_ok(&["http://", "https://"]) => Ok(TransportSpec::Sse { url, headers, oauth }),
        RawTransport::Websocket if oauth.is_some() => {
            Err("mcp.oauth: applies to the streamable-http and sse transports, not websocket".into())
        }
        RawTransport::Websocket if scheme_ok(&["ws://", "wss://"]) => Ok(TransportSpec::WebSocket { url, headers }),
        RawTransport::Stdio => Err("mcp: transport `stdio` needs `command`, not `url`".into()),
        _ => Err(format!(
            "mcp.url: `{url}` does not fit the transport (http(s):// or ws(s)://)"
        )),
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
            Ok(transport) => out.push(UpstreamSpec {
                name: normalize_name(original),
                declared_in: file.to_path_buf(),
                declared_as: Some(original.clone()),
                transport,
                tools: NameFilter::default(),
                prompts: NameFilter::default(),
                resources: NameFilter::default(),
                required: true,
                timeouts: Timeouts::DEFAULT,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                validate_arguments: ArgumentValidation::Strict,
            }),
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

pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
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

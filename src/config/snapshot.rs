//! The validated, immutable configuration snapshot and its loader.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::{AuditSettings, AuthSettings, Denied, PinningSettings, RawAudit};
use super::error::{ConfigError, Problem};
use super::expand::with_base_dir;
pub use super::raw::{ArgumentValidation, UpstreamProtocol};
use super::raw::{OneOrMany, RawConfig, RawFilter, RawPrefix, RawTimeouts};
use super::registry;
pub use super::server::ServerSettings;

/// Everything agentmux runs on, validated. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this snapshot was read from.
    pub source: PathBuf,
    pub listen: SocketAddr,
    pub server: ServerSettings,
    pub mcp: McpSettings,
    pub upstreams: Vec<UpstreamSpec>,
    /// Authorization policy directory (`*.cedar`); `None`: no authorization layer.
    pub policies: Option<PathBuf>,
    /// Who may connect; `None`: everyone, as `Anonymous`.
    pub auth: Option<AuthSettings>,
    pub denied: Denied,
    pub audit: AuditSettings,
    /// Tool pinning against the lock file; `None`: off.
    pub pinning: Option<PinningSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixMode {
    /// Every name is `{upstream}{separator}{name}`; stable whatever else is federated.
    Always,
    /// Only names that two upstreams share are prefixed.
    Conditional,
    /// No prefixes; a name that two upstreams share is reported and not served.
    Never,
}

#[derive(Debug, Clone)]
pub struct McpSettings {
    pub prefix: PrefixMode,
    pub separator: String,
    /// Longer federated names are shortened deterministically with a hash suffix.
    pub max_name_length: usize,
    /// Items per page of a federated list; `None` serves every item in one page.
    pub page_size: Option<usize>,
    /// How long an upstream's catalog is served before it is fetched again.
    pub catalog_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub max_sessions: u64,
    pub max_sessions_per_caller: usize,
    pub sessions_per_second: u32,
}

/// One upstream MCP server.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    pub name: String,
    /// Where it was declared, for messages.
    pub declared_in: PathBuf,
    /// Its entry's own name in an IDE file (`"My Server"`), before normalization.
    pub declared_as: Option<String>,
    pub transport: TransportSpec,
    pub tools: NameFilter,
    pub prompts: NameFilter,
    pub resources: NameFilter,
    /// `/readyz` waits until a required upstream has been tried.
    pub required: bool,
    pub timeouts: Timeouts,
    /// The largest single message agentmux reads from the upstream (JSON body, SSE event, stdio
    /// line); a bigger one fails that stream instead of growing agentmux's memory.
    pub max_message_bytes: usize,
    pub validate_arguments: ArgumentValidation,
}

/// Default for [`UpstreamSpec::max_message_bytes`]: far above any sane tool result, far below
/// what would hurt the process.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub enum TransportSpec {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, Secret>,
        cwd: Option<PathBuf>,
    },
    StreamableHttp {
        url: String,
        headers: BTreeMap<String, Secret>,
        protocol: UpstreamProtocol,
        /// agentmux's own credentials toward the upstream; never a client's token.
        oauth: Option<OAuthClient>,
    },
    Sse {
        url: String,
        headers: BTreeMap<String, Secret>,
        oauth: Option<OAuthClient>,
    },
    WebSocket {
        url: String,
        headers: BTreeMap<String, Secret>,
    },
}

impl TransportSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stdio { .. } => "stdio",
            Self::StreamableHttp { .. } => "streamable-http",
            Self::Sse { .. } => "sse",
            Self::WebSocket { .. } => "websocket",
        }
    }
}

/// An OAuth 2.0 client (client credentials grant) that gets agentmux an access token for one
/// upstream, sent as `Authorization: Bearer …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// An http(s) URL.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Sent space-separated as `scope`; none: the server's default.
    pub scopes: Vec<String>,
    /// Sent as `audience` (Auth0, Okta and others).
    pub audience: Option<String>,
    /// Sent as `resource` (RFC 8707): the upstream the token is meant for.
    pub resource: Option<String>,
    pub auth_method: ClientAuth,
}

/// How agentmux proves its identity to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// A value that must never reach a log line or a dump.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending a request until the response headers (or first stdio byte) arrive.
    pub first_byte: Duration,
    /// A whole request, streaming included.
    pub total: Duration,
    /// Spawning and initializing the upstream.
    pub startup: Duration,
    /// One page of a catalog list (`tools/list` …); a server that cannot list promptly is
    /// treated as failing, so it cannot hold up readiness.
    pub list: Duration,
}

impl Timeouts {
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(10),
        first_byte: Duration::from_secs(60),
        total: Duration::from_secs(300),
        startup: Duration::from_secs(120),
        list: Duration::from_secs(10),
    };

    pub(super) fn from_raw(raw: Option<RawTimeouts>) -> Self {
        let raw = raw.unwrap_or_default();
        let d = Self::DEFAULT;
        Self {
            connect: raw.connect.map_or(d.connect, |v| v.0),
            first_byte: raw.first_byte.map_or(d.first_byte, |v| v.0),
            total: raw.total.map_or(d.total, |v| v.0),
            startup: raw.startup.map_or(d.startup, |v| v.0),
            list: raw.list.map_or(d.list, |v| v.0),
        }
    }
}

/// `include` / `exclude` globs (`*`, `?`) and renames for one kind of item.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// original name → exposed name.
    pub rename: BTreeMap<String, String>,
}

impl NameFilter {
    pub(super) fn from_raw(raw: RawFilter) -> Self {
        Self {
            include: raw.include,
            exclude: raw.exclude,
            rename: raw.rename,
        }
    }

    /// Whether an item with this original name is served.
    pub fn admits(&self, name: &str) -> bool {
        let included = self.include.is_empty() || self.include.iter().any(|g| glob_match(g, name));
        included && !self.exclude.iter().any(|g| glob_match(g, name))
    }

    /// The name an item is exposed under (before any prefix).
    pub fn exposed<'a>(&'a self, name: &'a str) -> &'a str {
        self.rename.get(name).map_or(name, String::as_str)
    }
}

/// Shell-style glob: `*` (a run of characters), `?` (one character), `**` (any run).
/// `*` and `?` stop at `/`, `**` crosses it: `file:///docs/*` admits `file:///docs/a` but not
/// `file:///docs/private/a`. Linear in pattern × text (no backtracking blow-up on hostile URIs).
fn glob_match(pattern: &str, text: &str) -> bool {
    enum Token {
        Char(char),
        One,
        Star,
        Stars,
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                Token::Stars
            }
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // row[j]: the tokens so far match text[..j].
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for token in &tokens {
        let prev = std::mem::replace(&mut row, vec![false; text.len() + 1]);
        for j in 0..=text.len() {
            let before = j.checked_sub(1).map(|k| (prev[k], text[k]));
            row[j] = match token {
                Token::Char(c) => before.is_some_and(|(m, t)| m && t == *c),
                Token::One => before.is_some_and(|(m, t)| m && t != '/'),
                Token::Star => prev[j] || (j > 0 && row[j - 1] && text[j - 1] != '/'),
                Token::Stars => prev[j] || (j > 0 && row[j - 1]),
            };
        }
    }
    row[text.len()]
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Settings given on the command line, which win over the file's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// `serve --listen`: loopback defaults (allowed hosts) follow this address, not the file's.
    pub listen: Option<SocketAddr>,
}

/// Loads and validates the config file and everything it points to, reporting every problem.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, Overrides::default())
}

/// [`load`], with command-line overrides applied before anything derives from them.
pub fn load_with(path: &Path, overrides: Overrides) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![Problem::new(path, None, format!("cannot read config file: {e}"))],
    })?;
    let base = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        match with_base_dir(&base, || serde_yaml_ng::from_str(&text)) {
            Ok(raw) => raw,
            Err(e) => {
                return Err(ConfigError {
                    problems: vec![Problem::from_yaml(path, &e)],
                });
            }
        }
    };

    let listen_text = raw.listen.as_ref().map_or(DEFAULT_LISTEN, |t| t.0.as_str());
    let listen = overrides.listen.unwrap_or_else(|| {
        listen_text.parse().unwrap_or_else(|_| {
            problems.push(Problem::new(
                path,
                None,
                format!("listen: `{listen_text}` is not an address like 127.0.0.1:8080"),
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        })
    });

    let registry_paths: Vec<PathBuf> = match &raw.registry {
        None => vec![base.join("registry")],
        Some(OneOrMany::One(p)) => vec![base.join(&p.0)],
        Some(OneOrMany::Many(ps)) => ps.iter().map(|p| base.join(&p.0)).collect(),
    };
    let explicit_registry = raw.registry.is_some();
    let upstreams = registry::load(&registry_paths, explicit_registry, &mut problems);

    let mcp = mcp_settings(&raw, path, &mut problems);
    for u in upstreams.iter().filter(|u| u.name.contains(&mcp.separator)) {
        problems.push(Problem::new(
            &u.declared_in,
            None,
            format!(
                "upstream name `{}` contains the separator `{}`; federated names would be ambiguous",
                u.name, mcp.separator
            ),
        ));
    }
    let server = super::server::server_settings(&raw.server, listen, path, &mut problems);
    let policies = raw.policies.as_ref().map(|p| base.join(&p.0));
    let denied = super::auth::denied(&raw.authz);
    // Audit is on by default once there is something to audit: callers or decisions.
    let secured = raw.auth.is_some() || policies.is_some();
    let audit = match raw.audit {
        Some(a) => super::auth::audit_settings(a, &base),
        None if secured => super::auth::audit_settings(RawAudit::default(), &base),
        None => super::auth::audit_settings(
            RawAudit {
                sink: Some(super::expand::Text("off".into())),
                ..RawAudit::default()
            },
            &base,
        ),
    };
    let pinning = raw.pinning.map(|p| super::auth::pinning_settings(p, &base));
    let auth = raw
        .auth
        .map(|a| super::auth::auth_settings(a, &base, path, &mut problems));

    if problems.is_empty() {
        Ok(Config {
            source: path.to_path_buf(),
            listen,
            server,
            mcp,
            upstreams,
            policies,
            auth,
            denied,
            audit,
            pinning,
        })
    } else {
        Err(ConfigError { problems })
    }
}

fn mcp_settings(raw: &RawConfig, path: &Path, problems: &mut Vec<Problem>) -> McpSettings {
    let m = &raw.mcp;
    let separator = m.separator.as_ref().map_or_else(|| "__".to_string(), |s| s.0.clone());
    if separator.is_empty()
        || !separator
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        problems.push(Problem::new(
            path,
            None,
            format!("mcp.separator: `{separator}` must be non-empty and use only A-Z a-z 0-9 _ . -"),
        ));
    }
    let max_name_length = m.max_name_length.unwrap_or(128);
    if !(16..=128).contains(&max_name_length) {
        problems.push(Problem::new(
            path,
            None,
            "mcp.max_name_length: must be between 16 and 128",
        ));
    }
    if m.page_size == Some(0) {
        problems.push(Problem::new(
            path,
            None,
            "mcp.page_size: must be at least 1 (omit it to serve one page)",
        ));
    }
    McpSettings {
        prefix: match m.prefix {
            None | Some(RawPrefix::Always) => PrefixMode::Always,
            Some(RawPrefix::Conditional) => PrefixMode::Conditional,
            Some(RawPrefix::Never) => PrefixMode::Never,
        },
        separator,
        max_name_length,
        page_size: m.page_size,
        catalog_ttl: m.catalog_ttl.map_or(Duration::from_secs(300), |d| d.0),
        session_idle_timeout: m.session_idle_timeout.map_or(Duration::from_secs(1800), |d| d.0),
        max_sessions: m.max_sessions.unwrap_or(100_000),
        max_sessions_per_caller: m.max_sessions_per_caller.unwrap_or(1_000).max(1),
        sessions_per_second: m.sessions_per_second.unwrap_or(20).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("get_*", "get_issue"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("get_*", "list_issues"));
        assert!(glob_match("*_issue*", "create_issue_comment"));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("file:///docs/*", "file:///docs/a.md"));
        assert!(!glob_match("file:///docs/*", "file:///docs/private/a.md"));
        assert!(!glob_match("file:///docs/?", "file:///docs//"));
        assert!(glob_match("file:///docs/**", "file:///docs/private/a.md"));
        assert!(glob_match("**.md", "file:///a/b.md"));
        // Hostile text against many stars stays linear.
        assert!(!glob_match("*a*a*a*a*a*a*b", &"a".repeat(5000)));
    }

    #[test]
    fn filter_include_exclude_rename() {
        let f = NameFilter {
            include: vec!["get_*".into(), "search_*".into()],
            exclude: vec!["get_secret".into()],
            rename: [("search_code".to_string(), "code_search".to_string())].into(),
        };
        assert!(f.admits("get_issue"));
        assert!(!f.admits("get_secret"));
        assert!(!f.admits("delete_repo"));
        assert_eq!(f.exposed("search_code"), "code_search");
        assert_eq!(f.exposed("get_issue"), "get_issue");
    }
}

//! How agentmux reaches one upstream: a stdio command or an HTTP/WebSocket URL, with its own
//! OAuth client credentials. Reads `raw`; imports only leaves besides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Problem, nested_key_line};
use super::raw::{RawClientAuth, RawMcpUpstream, RawOAuth, RawTransport, UpstreamProtocol};
use super::secret::Secret;

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
    /// An A2A agent of the registry, whose skills agentmux itself offers as MCP tools (never
    /// written in a registry file: every `a2a:` entry has one).
    Agent,
}

impl TransportSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stdio { .. } => "stdio",
            Self::StreamableHttp { .. } => "streamable-http",
            Self::Sse { .. } => "sse",
            Self::WebSocket { .. } => "websocket",
            Self::Agent => "a2a",
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

/// The `mcp:` block of a registry YAML file: `command` (stdio) or `url` (HTTP), never both.
/// `text` is the file's YAML, to name the line of a misplaced `oauth:`.
pub(super) fn resolve(m: RawMcpUpstream, file: &Path, base: &Path, text: &str) -> Result<TransportSpec, Problem> {
    match (m.command, m.url) {
        (Some(_), None) if m.oauth.is_some() => Err(Problem::new(
            file,
            nested_key_line(text, "oauth"),
            "mcp.oauth: gets a token for an HTTP upstream (`url`); a stdio server (`command`) takes none",
        )),
        (Some(command), None) => {
            if m.transport.is_some_and(|t| t != RawTransport::Stdio) || !m.headers.is_empty() || m.protocol.is_some() {
                return Err(Problem::new(
                    file,
                    None,
                    "mcp: `command` runs a stdio server; `transport`, `headers` and `protocol` apply to `url` only",
                ));
            }
            Ok(TransportSpec::Stdio {
                command: command.0,
                args: m.args.into_iter().map(|a| a.0).collect(),
                env: m.env.into_iter().map(|(k, v)| (k, Secret(v.0))).collect(),
                cwd: m.cwd.map(|c| base.join(c.0)),
            })
        }
        (None, Some(url)) => {
            if !m.args.is_empty() || !m.env.is_empty() || m.cwd.is_some() {
                return Err(Problem::new(
                    file,
                    None,
                    "mcp: `args`, `env` and `cwd` apply to `command` only",
                ));
            }
            let headers: BTreeMap<String, Secret> = m.headers.into_iter().map(|(k, v)| (k, Secret(v.0))).collect();
            let oauth = m
                .oauth
                .map(|o| oauth_client(o, &headers, "mcp.oauth"))
                .transpose()
                .map_err(|msg| Problem::new(file, nested_key_line(text, "oauth"), msg))?;
            http_transport(m.transport, url.0, headers, m.protocol.unwrap_or_default(), oauth)
                .map_err(|msg| Problem::new(file, None, msg))
        }
        (Some(_), Some(_)) => Err(Problem::new(
            file,
            None,
            "mcp: give either `command` (stdio) or `url` (HTTP), not both",
        )),
        (None, None) => Err(Problem::new(
            file,
            None,
            "mcp: missing `command` (stdio) or `url` (HTTP)",
        )),
    }
}

/// Validates an entry's `oauth` (`at`: where it is, `mcp.oauth`) against the rest of the entry.
pub(super) fn oauth_client(raw: RawOAuth, headers: &BTreeMap<String, Secret>, at: &str) -> Result<OAuthClient, String> {
    // Two sources for one header would leave it to chance which credential the upstream sees.
    if headers.keys().any(|k| k.eq_ignore_ascii_case("authorization")) {
        return Err(format!(
            "{at}: the token it gets is sent as `Authorization`; remove the static `Authorization` header"
        ));
    }
    let token_url = raw.token_url.0;
    let scheme_ok = ["http://", "https://"].iter().any(|s| token_url.starts_with(s));
    if !scheme_ok || reqwest::Url::parse(&token_url).is_err() {
        return Err(format!("{at}.token_url: `{token_url}` is not an http(s) URL"));
    }
    if raw.client_id.0.is_empty() {
        return Err(format!("{at}.client_id: must not be empty"));
    }
    let scopes: Vec<String> = raw.scopes.into_iter().map(|s| s.0).collect();
    // Scopes travel space-separated in one `scope` parameter (RFC 6749 §3.3).
    if let Some(bad) = scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(format!("{at}.scopes: `{bad}` must be one non-empty word"));
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

/// An HTTP or WebSocket transport of `kind` (default streamable HTTP) whose URL scheme fits it.
pub(super) fn http_transport(
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

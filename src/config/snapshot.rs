//! The validated, immutable configuration snapshot and its loader. The top of the config module:
//! it composes every concern's `resolve`, and no other config file imports it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::a2a::{self, A2aSettings, AgentSpec};
use super::audit::{self, AuditSettings};
use super::auth::{self, AuthSettings};
use super::authz::{self, Denied};
use super::error::{ConfigError, Problem};
use super::expand::with_base_dir;
use super::llm::{self, LlmSettings, ProviderSpec};
use super::mcp::{self, McpSettings};
use super::pinning::{self, PinningSettings};
use super::raw::{OneOrMany, RawConfig};
use super::registry;
use super::server::{self, ServerSettings};
use super::upstream::UpstreamSpec;

/// Everything agentmux runs on, validated. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this snapshot was read from.
    pub source: PathBuf,
    pub listen: SocketAddr,
    pub server: ServerSettings,
    pub mcp: McpSettings,
    pub upstreams: Vec<UpstreamSpec>,
    /// A2A agents from the registry.
    pub agents: Vec<AgentSpec>,
    pub a2a: A2aSettings,
    /// LLM providers from the registry.
    pub providers: Vec<ProviderSpec>,
    pub llm: LlmSettings,
    /// Authorization policy directory (`*.cedar`); `None`: no authorization layer.
    pub policies: Option<PathBuf>,
    /// Who may connect; `None`: everyone, as `Anonymous`.
    pub auth: Option<AuthSettings>,
    pub denied: Denied,
    pub audit: AuditSettings,
    /// Tool pinning against the lock file; `None`: off.
    pub pinning: Option<PinningSettings>,
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
    let registry::Registry {
        upstreams,
        agents,
        providers,
    } = registry::load(&registry_paths, explicit_registry, &mut problems);
    let a2a = a2a::resolve(path, &raw.a2a, &mut problems);
    let llm = llm::resolve(path, &raw.llm, &providers, &mut problems);

    let mcp = mcp::resolve(&raw.mcp, path, &mut problems);
    let names = upstreams
        .iter()
        .map(|u| (&u.name, &u.declared_in))
        .chain(agents.iter().map(|a| (&a.name, &a.declared_in)));
    for (name, file) in names.filter(|(name, _)| name.contains(&mcp.separator)) {
        problems.push(Problem::new(
            file,
            None,
            format!(
                "upstream name `{name}` contains the separator `{}`; federated names would be ambiguous",
                mcp.separator
            ),
        ));
    }
    let server = server::resolve(&raw.server, listen, path, &mut problems);
    let policies = raw.policies.as_ref().map(|p| base.join(&p.0));
    let denied = authz::resolve(&raw.authz);
    let secured = raw.auth.is_some() || policies.is_some();
    let audit = audit::resolve(raw.audit, secured, &base);
    let pinning = raw.pinning.map(|p| pinning::resolve(p, &base));
    let auth = raw.auth.map(|a| auth::resolve(a, &base, path, &mut problems));

    if problems.is_empty() {
        Ok(Config {
            source: path.to_path_buf(),
            listen,
            server,
            mcp,
            upstreams,
            agents,
            a2a,
            providers,
            llm,
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

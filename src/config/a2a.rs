//! A2A agents as agentmux runs them (one per `a2a:` registry file), and the `a2a:` section of
//! agentmux.yaml. Reads `raw`; imports `transport` for OAuth clients and leaves besides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Problem, nested_key_line};
pub use super::raw::Signatures;
use super::raw::{RawA2a, RawAgent, RawUpstream};
use super::secret::Secret;
use super::server::IpNet;
use super::transport::TransportSpec;
use super::transport::{OAuthClient, oauth_client};
use super::upstream::{NameFilter, Timeouts, UpstreamSpec};

/// One A2A agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub name: String,
    /// Where it was declared, for messages.
    pub declared_in: PathBuf,
    /// Where its card is read.
    pub card_url: String,
    /// agentmux's own headers toward the agent (never a client's).
    pub headers: BTreeMap<String, Secret>,
    pub oauth: Option<OAuthClient>,
    pub signatures: Signatures,
    /// Its skills offered as MCP tools: which, and under which names.
    pub tools: NameFilter,
    /// `/readyz` waits until a required agent's card has been tried.
    pub required: bool,
    pub timeouts: Timeouts,
    /// How long a card is served before it is fetched again.
    pub refresh: Duration,
}

/// The `a2a:` section of agentmux.yaml.
#[derive(Debug, Clone, Default)]
pub struct A2aSettings {
    /// agentmux's external base URL (`https://gw.example.com`, no trailing slash) for served
    /// cards; `None`: the request's own (`Host`, or `X-Forwarded-*` from a trusted proxy).
    pub public_url: Option<String>,
    /// Private ranges a push-notification URL may still point into.
    pub push_allow: Vec<IpNet>,
}

impl AgentSpec {
    /// The agent as an MCP upstream: its skills, filtered and renamed by its `tools:`, are
    /// tools of the hub like any server's.
    pub fn as_upstream(&self) -> UpstreamSpec {
        let mut spec = UpstreamSpec::with_defaults(self.name.clone(), &self.declared_in, None, TransportSpec::Agent);
        spec.tools = self.tools.clone();
        spec.required = self.required;
        spec.timeouts = self.timeouts;
        spec
    }
}

const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
const WELL_KNOWN: &str = "/.well-known/agent-card.json";

pub(super) fn resolve(path: &Path, raw: &RawA2a, problems: &mut Vec<Problem>) -> A2aSettings {
    let public_url = raw.public_url.as_ref().and_then(|u| {
        let url = u.0.trim_end_matches('/').to_string();
        if http_url(&url) {
            Some(url)
        } else {
            problems.push(Problem::new(
                path,
                None,
                format!("a2a.public_url: `{}` is not an http(s) URL", u.0),
            ));
            None
        }
    });
    let push_allow = raw
        .push_allow
        .iter()
        .filter_map(|t| {
            IpNet::parse(&t.0)
                .map_err(|e| problems.push(Problem::new(path, None, format!("a2a.push_allow: {e}"))))
                .ok()
        })
        .collect();
    A2aSettings { public_url, push_allow }
}

fn http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|s| url.starts_with(s)) && reqwest::Url::parse(url).is_ok()
}

/// A registry file's `a2a:` entry named `name`. Keys that only MCP servers take are errors.
pub(super) fn agent(
    name: String,
    raw: RawUpstream,
    agent: RawAgent,
    file: &Path,
    text: &str,
) -> Result<AgentSpec, Problem> {
    let problem = |msg: String| Problem::new(file, None, msg);
    let mcp_only = [
        (
            "prompts",
            !raw.prompts.include.is_empty() || !raw.prompts.exclude.is_empty() || !raw.prompts.rename.is_empty(),
        ),
        (
            "resources",
            !raw.resources.include.is_empty() || !raw.resources.exclude.is_empty() || !raw.resources.rename.is_empty(),
        ),
        ("max_message_bytes", raw.max_message_bytes.is_some()),
        ("validate_arguments", raw.validate_arguments.is_some()),
    ];
    if let Some((key, _)) = mcp_only.iter().find(|(_, given)| *given) {
        return Err(problem(format!(
            "`{key}` applies to MCP servers (`mcp:`), not to A2A agents"
        )));
    }
    let card_url = match (agent.url, agent.card) {
        (Some(url), None) => format!("{}{WELL_KNOWN}", url.0.trim_end_matches('/')),
        (None, Some(card)) => card.0,
        (Some(_), Some(_)) => {
            return Err(problem(
                "a2a: give either `url` (the agent's base URL) or `card`, not both".into(),
            ));
        }
        (None, None) => {
            return Err(problem(
                "a2a: missing `url` (the agent's base URL) or `card` (its card's URL)".into(),
            ));
        }
    };
    if !http_url(&card_url) {
        return Err(problem(format!("a2a: `{card_url}` is not an http(s) URL")));
    }
    let headers: BTreeMap<String, Secret> = agent.headers.into_iter().map(|(k, v)| (k, Secret(v.0))).collect();
    let oauth = agent
        .oauth
        .map(|o| oauth_client(o, &headers, "a2a.oauth"))
        .transpose()
        .map_err(|msg| Problem::new(file, nested_key_line(text, "oauth"), msg))?;
    Ok(AgentSpec {
        name,
        declared_in: file.to_path_buf(),
        card_url,
        headers,
        oauth,
        signatures: agent.signatures.unwrap_or_default(),
        tools: NameFilter::from_raw(raw.tools),
        required: raw.required.unwrap_or(true),
        timeouts: Timeouts::from_raw(raw.timeouts),
        refresh: agent.refresh.map_or(DEFAULT_REFRESH, |d| d.0),
    })
}

//! `agentmux policy …`: the tools security teams use to write, check and debug policies.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::cases::{self, Case, CaseFile};
use crate::app::{Core, catalog_arguments};
use crate::authz::{self, Arguments, Authz};
use crate::config::Config;

/// How long `schema` and `validate` wait for upstreams to list their tools.
const CONNECT: Duration = Duration::from_secs(60);

fn claims(config: &Config) -> Vec<String> {
    config.auth.as_ref().map(|a| a.claims.clone()).unwrap_or_default()
}

fn policy_dir(config: &Config) -> anyhow::Result<&Path> {
    config
        .policies
        .as_deref()
        .ok_or_else(|| anyhow!("{}: no `policies:` directory is configured", config.source.display()))
}

/// Connects to the upstreams (without serving) and returns the running core for its catalog.
async fn connected(config: &Config) -> anyhow::Result<Core> {
    let mut config = config.clone();
    // Only the catalog is wanted: no policy engine, no audit lines.
    config.policies = None;
    config.audit.sink = crate::config::AuditSink::Off;
    let core = Core::start(config)?;
    core.wait_ready(CONNECT).await;
    Ok(core)
}

/// `policy schema`: the Cedar schema for the current catalog.
pub async fn schema(config: &Config) -> anyhow::Result<bool> {
    let core = connected(config).await?;
    print!(
        "{}",
        authz::cedar_schema(&catalog_arguments(&core.hub), &claims(config))
    );
    core.stop().await;
    Ok(true)
}

/// `policy validate`: the set against its schema, and the names it uses against the catalog.
pub async fn validate(config: &Config) -> anyhow::Result<bool> {
    let dir = policy_dir(config)?;
    let core = connected(config).await?;
    let outcome = authz::load(dir, &catalog_arguments(&core.hub), &claims(config));
    let mut known = catalog_names(&core);
    llm_names(config, &mut known);
    core.stop().await;
    let loaded = match outcome {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{}: policies are invalid:\n{e}", dir.display());
            return Ok(false);
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    for text in &loaded.texts {
        for (kind, name) in entity_literals(text) {
            if !known.contains(&(kind.to_string(), name.to_string())) {
                eprintln!(
                    "warning: {kind}::\"{name}\" is named by a policy but no connected upstream serves it (a typo?)"
                );
            }
        }
    }
    println!(
        "{}: OK, {} policies in {} files (schema: {})",
        dir.display(),
        loaded.ids.len(),
        loaded.files.len(),
        if dir.join(authz::SCHEMA_FILE).is_file() {
            authz::SCHEMA_FILE
        } else {
            "generated from the catalog"
        }
    );
    Ok(true)
}

/// LLM entries as `Upstream`s, their named models and the virtual models as `Model`s.
fn llm_names(config: &Config, known: &mut std::collections::HashSet<(String, String)>) {
    for provider in &config.providers {
        known.insert(("Upstream".to_string(), provider.name.clone()));
        if let crate::config::ModelSet::Listed(models) = &provider.models {
            for model in models {
                known.insert(("Model".to_string(), format!("{}/{model}", provider.name)));
            }
        }
    }
    for name in config.llm.models.keys() {
        known.insert(("Model".to_string(), name.clone()));
    }
}

/// Every `(entity type, id)` the catalog has: upstreams, and their tools, prompts and resources.
fn catalog_names(core: &Core) -> std::collections::HashSet<(String, String)> {
    use crate::mcp::{ListKind, Scope};
    let mut known = std::collections::HashSet::new();
    let views = core.hub.views();
    for up in core.hub.upstreams() {
        known.insert(("Upstream".to_string(), up.name().to_string()));
        let view = views.view(Scope::Single(up.index));
        for (kind, entity) in [
            (ListKind::Tools, "Tool"),
            (ListKind::Prompts, "Prompt"),
            (ListKind::Resources, "Resource"),
        ] {
            for e in view.listing(kind).map(|l| l.entries.as_slice()).unwrap_or_default() {
                known.insert((entity.to_string(), format!("{}/{}", up.name(), e.original)));
            }
        }
    }
    known
}

/// `Tool::"…"`, `Upstream::"…"`, `Prompt::"…"`, `Resource::"…"` and `Model::"…"` literals in a
/// policy text.
fn entity_literals(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for kind in ["Tool", "Upstream", "Prompt", "Resource", "Model"] {
        let marker = format!("{kind}::\"");
        let mut rest = text;
        while let Some(at) = rest.find(&marker) {
            let after = &rest[at + marker.len()..];
            let Some(end) = after.find('"') else { break };
            // Not preceded by an identifier character: `MyTool::"x"` is another type.
            let before = rest[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push((kind, &after[..end]));
            }
            rest = &after[end..];
        }
    }
    out
}

/// `policy test FILE`: runs the cases; true when all pass.
pub fn test(config: &Config, file: &Path) -> anyhow::Result<bool> {
    let dir = policy_dir(config)?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let cases: CaseFile = serde_yaml_ng::from_str(&text).map_err(|e| {
        let line = e.location().map_or(String::new(), |l| format!(":{}", l.line()));
        anyhow!("{}{line}: {e}", file.display())
    })?;
    let authz = load_for_cases(dir, &cases.cases, config)?;
    let (report, passed) = cases::report(&cases.cases, &authz);
    print!("{report}");
    Ok(passed)
}

/// `policy explain`: one request, its decision and the policies behind it.
pub fn explain(config: &Config, case: Case) -> anyhow::Result<bool> {
    let dir = policy_dir(config)?;
    let authz = load_for_cases(dir, std::slice::from_ref(&case), config)?;
    let outcome = case.run(&authz);
    println!("{}", cases::explain(&outcome));
    Ok(outcome.error.is_none())
}

/// The policy set for offline cases: validated against the schema file if there is one, else
/// against the vocabulary with argument types inferred from the cases.
fn load_for_cases(dir: &Path, cases: &[Case], config: &Config) -> anyhow::Result<Authz> {
    let arguments: Arguments = cases::inferred_arguments(cases);
    Authz::load_now(dir, claims(config), arguments)
        .map_err(|e| anyhow!("{}: policies are invalid:\n{e}", dir.display()))
}

//! The `agentmux` command line: arguments, and which part of agentmux each command runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod cases;
mod policy;
mod tools;

use crate::app::{Core, Gateway};
use crate::config::{self, RuntimeFlavor};
use crate::mcp::pinning::{self, Lock};
use crate::mcp::upstream;

#[derive(Parser)]
#[command(
    name = "agentmux",
    version,
    about = "One gateway for agentic traffic: MCP federation hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Load and validate the config and registry; exit 1 with every problem found.
    Validate(ConfigArg),
    /// Connect to the upstreams and print the merged catalog; `approve` and `diff` manage the
    /// tool-pinning lock file.
    Tools(ToolsArgs),
    /// Serve the federated MCP endpoint over stdin/stdout.
    Stdio(ConfigArg),
    /// Write, check and debug authorization policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Manage API keys for machine clients.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Internal: parent of one stdio upstream, stopping its process group with agentmux.
    #[command(name = "__reap", hide = true)]
    Reap {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the Cedar schema for the current catalog (connects to the upstreams).
    Schema(ConfigArg),
    /// Validate the policies against the schema and warn about names the catalog lacks.
    Validate(ConfigArg),
    /// Run a YAML file of cases (principal, action, resource, arguments → allow/deny).
    Test {
        #[command(flatten)]
        config: ConfigArg,
        /// The case file.
        file: PathBuf,
    },
    /// Decide one request and name the policies that determined it.
    Explain(Box<ExplainArgs>),
}

#[derive(clap::Args)]
struct ExplainArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// `User::"alice"`, `ApiKey::"ci-bot"` or `Anonymous`.
    #[arg(long)]
    principal: String,
    #[arg(long = "group")]
    groups: Vec<String>,
    #[arg(long = "scope")]
    scopes: Vec<String>,
    #[arg(long, default_value = "call_tool")]
    action: String,
    /// `upstream/tool` (or `upstream/prompt`, `upstream/uri`); for the A2A actions
    /// (`send_message`, `read_task`, `cancel_task`, `configure_push`, `read_card`) the agent;
    /// for `call_model` the model, `entry/model` or a virtual model's name.
    #[arg(long)]
    resource: String,
    /// The call's arguments as JSON.
    #[arg(long)]
    arguments: Option<String>,
    /// Tool hints (default as MCP: not read-only, destructive).
    #[arg(long)]
    read_only: bool,
    #[arg(long)]
    not_destructive: bool,
    /// A2A: a skill id of the agent's card (repeatable).
    #[arg(long = "skill")]
    skills: Vec<String>,
    /// A2A: the method as sent (default: the action's main one, e.g. `SendMessage`).
    #[arg(long)]
    method: Option<String>,
    /// A2A: the protocol version (default `1.0`).
    #[arg(long)]
    version: Option<String>,
    /// LLM: the model's provider (`openai`, `anthropic`, `azure-openai`, `gemini`,
    /// `bedrock`, `openai-compatible`; default `virtual` for a name without `/`).
    #[arg(long)]
    provider: Option<String>,
    /// LLM: the API called, `chat` (default), `messages`, `responses` or `embeddings`.
    #[arg(long)]
    api: Option<String>,
    /// LLM: the response is streamed.
    #[arg(long)]
    stream: bool,
    /// LLM: the request's estimated input tokens (default 0).
    #[arg(long, value_name = "N")]
    estimated_tokens: Option<u64>,
    /// LLM: the output tokens the request allows (default 0).
    #[arg(long, value_name = "N")]
    max_tokens: Option<u64>,
    /// LLM: how many tool definitions the request carries (default 0).
    #[arg(long, value_name = "N")]
    tools: Option<u64>,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generate an API key: prints the key (once) and the config entry holding its hash.
    New {
        /// The key's name: `ApiKey::"<name>"` in policies, and in logs. Default: `key-` and the
        /// first 8 hex digits of its hash.
        #[arg(long)]
        name: Option<String>,
        /// A group the key's holder belongs to (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

/// `agentmux tools [--config …]` lists; `agentmux tools approve|diff [--config …]` review pins.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ToolsArgs {
    #[command(subcommand)]
    command: Option<ToolsCommand>,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// Approve the tool definitions the upstreams serve now: write them to the lock file.
    Approve(ApproveArgs),
    /// Compare what the upstreams serve with the lock file; exit 1 if anything differs.
    Diff(ConfigArg),
}

#[derive(clap::Args)]
struct ApproveArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Approve only this upstream's tools (repeatable); other entries stay as they are.
    #[arg(long = "upstream", value_name = "NAME")]
    upstreams: Vec<String>,
    /// Approve only this tool, named UPSTREAM/TOOL with the upstream's own tool name (repeatable).
    #[arg(long = "tool", value_name = "UPSTREAM/TOOL")]
    tools: Vec<String>,
    /// Also drop entries for tools no upstream serves (upstreams that cannot be reached keep theirs).
    #[arg(long)]
    prune: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Listen on this address instead of the config's `listen:` (e.g. 127.0.0.1:0 for a free
    /// port; `serve` prints the one it got).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Config file.
    #[arg(long, short, default_value = "agentmux.yaml", env = "AGENTMUX_CONFIG")]
    config: PathBuf,
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Reap { command } = &cli.command {
        let (program, args) = command.split_first().map_or(("", &[][..]), |(p, a)| (p.as_str(), a));
        return ExitCode::from(upstream::reaper::run(program, args).clamp(0, 255) as u8);
    }
    let _log = match crate::telemetry::init() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("agentmux: cannot start the log writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `serve` runs on the runtime its config asks for, so its config is read first.
    let serving = match &cli.command {
        Command::Serve(arg) => match config::load_with(&arg.config.config, config::Overrides { listen: arg.listen }) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                eprint!("{e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let server = serving.as_ref().map(|cfg| &cfg.server);
    let runtime = match runtime(
        server.map_or(RuntimeFlavor::default(), |s| s.runtime),
        server.and_then(|s| s.worker_threads),
    ) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentmux: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match serving {
        Some(cfg) => runtime.block_on(serve(cfg)),
        None => runtime.block_on(run(cli.command)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agentmux: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime `server.runtime` asks for (docs/benchmarks.md compares them).
fn runtime(flavor: RuntimeFlavor, workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    match flavor {
        // Per core: this thread's runtime; the gateway starts the other threads' runtimes.
        RuntimeFlavor::CurrentThread | RuntimeFlavor::PerCore => {
            tokio::runtime::Builder::new_current_thread().enable_all().build()
        }
        RuntimeFlavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = workers {
                builder.worker_threads(n);
            }
            builder.enable_all().build()
        }
    }
}

/// `agentmux serve`: the gateway until a signal stops it.
async fn serve(cfg: config::Config) -> anyhow::Result<ExitCode> {
    enable_reaper();
    let gateway = Gateway::start(cfg).await?;
    eprintln!("agentmux listening on http://{}/mcp", gateway.local_addr);
    gateway
        .run(Duration::from_secs(300), |core| {
            eprintln!("agentmux ready; upstreams:\n{}", core.summary().join("\n"));
        })
        .await;
    Ok(ExitCode::SUCCESS)
}

fn enable_reaper() {
    if let Ok(exe) = std::env::current_exe() {
        upstream::reaper::enable(exe);
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    enable_reaper();
    match command {
        Command::Validate(arg) => {
            match config::load(&arg.config) {
                Ok(cfg) => {
                    // Reads JWKS files and inline keys, as `serve` will.
                    if let Err(e) = crate::auth::Authenticator::new(cfg.auth.as_ref()) {
                        eprintln!("{}: {e}", arg.config.display());
                        return Ok(ExitCode::FAILURE);
                    }
                    if let Some(Err(e)) = cfg.pinning.as_ref().map(|p| Lock::load(&p.lock)) {
                        eprintln!("{e}");
                        return Ok(ExitCode::FAILURE);
                    }
                    let mut summary = format!(
                        "{}: OK, {} upstreams, {} A2A agents, {} LLM providers",
                        arg.config.display(),
                        cfg.upstreams.len(),
                        cfg.agents.len(),
                        cfg.providers.len()
                    );
                    if let Some(dir) = &cfg.policies {
                        match crate::authz::check(dir) {
                        Ok((n, true)) => summary.push_str(&format!(", {n} policies valid against {}", crate::authz::SCHEMA_FILE)),
                        // The schema depends on the catalog: only `policy validate` can connect.
                        Ok((n, false)) => summary.push_str(&format!(
                            ", {n} policies parse (run `agentmux policy validate` to check them against the catalog)"
                        )),
                        Err(e) => {
                            eprintln!("{}: policies are invalid:\n{e}", dir.display());
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                    }
                    println!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprint!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        // Started by `main` on the runtime its config asks for.
        Command::Serve(_) => Ok(ExitCode::FAILURE),
        Command::Tools(ToolsArgs { command: None, config }) => {
            let core = Core::start(load(&config.config)?)?;
            core.wait_ready(Duration::from_secs(300)).await;
            eprintln!("upstreams:\n{}", core.summary().join("\n"));
            print_catalog(&core);
            core.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tools(ToolsArgs {
            command: Some(ToolsCommand::Approve(args)),
            ..
        }) => {
            let (core, mut lock, path) = start_review(&args.config.config).await?;
            let selection = tools::Selection {
                upstreams: args.upstreams,
                tools: args.tools,
                prune: args.prune,
            };
            let approval = tools::approve(&core.hub.served_tools(), &mut lock, &selection);
            core.stop().await;
            let approval = approval?;
            lock.save(&path)?;
            print!("{approval}");
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Tools(ToolsArgs {
            command: Some(ToolsCommand::Diff(arg)),
            ..
        }) => {
            let (core, lock, path) = start_review(&arg.config).await?;
            let diffs = tools::diff(&core.hub.served_tools(), &lock);
            core.stop().await;
            if diffs.is_empty() {
                println!("every tool matches {}", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            print!("{diffs}");
            Ok(ExitCode::FAILURE)
        }
        Command::Stdio(arg) => {
            let core = Core::start(load(&arg.config)?)?;
            core.wait_ready(Duration::from_secs(300)).await;
            crate::mcp::transport::stdio::serve(core.hub.clone()).await?;
            core.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { command } => policy(command).await,
        Command::Key {
            command: KeyCommand::New { name, groups },
        } => {
            new_key(name, &groups)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reap { .. } => Ok(ExitCode::SUCCESS),
    }
}

async fn policy(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let passed = match command {
        PolicyCommand::Schema(arg) => policy::schema(&load(&arg.config)?).await?,
        PolicyCommand::Validate(arg) => policy::validate(&load(&arg.config)?).await?,
        PolicyCommand::Test { config, file } => policy::test(&load(&config.config)?, &file)?,
        PolicyCommand::Explain(args) => explain(*args)?,
    };
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `policy explain`: the flags as one case.
fn explain(args: ExplainArgs) -> anyhow::Result<bool> {
    let ExplainArgs {
        config,
        principal,
        groups,
        scopes,
        action,
        resource,
        arguments,
        read_only,
        not_destructive,
        skills,
        method,
        version,
        provider,
        api,
        stream,
        estimated_tokens,
        max_tokens,
        tools,
    } = args;
    let (kind, id) = match principal.split_once("::") {
        Some((kind, id)) => (kind.to_string(), id.trim_matches('"').to_string()),
        None => (principal.clone(), "anonymous".to_string()),
    };
    let a2a = crate::authz::Action::from_id(&action).is_some_and(|a| a.is_a2a());
    let llm = crate::authz::Action::from_id(&action).is_some_and(|a| a.is_llm());
    let arguments = arguments
        .map(|a| serde_json::from_str::<serde_json::Value>(&a))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--arguments: not a JSON object: {e}"))?;
    let resource = if a2a {
        serde_json::json!({ "agent": resource, "skills": skills, "provider": provider })
    } else if llm {
        serde_json::json!({ "model": resource, "provider": provider })
    } else {
        let (upstream, name) = resource
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("--resource: write it as upstream/name"))?;
        serde_json::json!({ "upstream": upstream, "name": name, "read_only": read_only, "destructive": !not_destructive, "provider": provider })
    };
    let case = serde_json::from_value(serde_json::json!({
        "name": "explain",
        "principal": { "type": kind, "id": id, "groups": groups, "scopes": scopes },
        "action": action,
        "resource": resource,
        "arguments": arguments,
        "context": {
            "method": method, "version": version, "api": api, "stream": stream.then_some(true),
            "estimated_tokens": estimated_tokens, "max_tokens": max_tokens, "tools": tools,
        },
    }))?;
    policy::explain(&load(&config.config)?, case)
}

fn new_key(name: Option<String>, groups: &[String]) -> anyhow::Result<()> {
    let key = crate::auth::generate_api_key().map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let hash = crate::auth::hash_api_key(&key);
    let name = name.unwrap_or_else(|| format!("key-{}", &hash[7..15]));
    // JSON strings are YAML scalars, so any name or group pastes safely.
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let groups: Vec<String> = groups.iter().map(|g| quote(g)).collect();
    println!("API key (shown once; agentmux keeps only its hash):\n\n  {key}\n");
    println!("Clients send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.");
    println!("Add under `auth.api_keys:` in the config:\n");
    println!("  - name: {}", quote(&name));
    println!("    hash: \"{hash}\"");
    println!("    groups: [{}]", groups.join(", "));
    Ok(())
}

fn load(path: &std::path::Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Connects the upstreams for `tools approve`/`diff`, with the lock named by `pinning:` (or
/// `agentmux.lock` beside the config). Pinning itself is off in this hub: what is reviewed is
/// what the upstreams offer, not what the current lock lets through.
async fn start_review(path: &std::path::Path) -> anyhow::Result<(Core, Lock, PathBuf)> {
    let mut cfg = load(path)?;
    let settings = cfg
        .pinning
        .take()
        .unwrap_or_else(|| config::PinningSettings::defaults_for(&cfg.source));
    let lock = Lock::load(&settings.lock)?;
    let core = Core::start(cfg)?;
    core.wait_ready(Duration::from_secs(300)).await;
    eprintln!("upstreams:\n{}", core.summary().join("\n"));
    Ok((core, lock, settings.lock))
}

fn print_catalog(core: &Core) {
    let views = core.hub.views();
    for f in views.pinned.iter().filter(|f| f.treatment != pinning::Treatment::Serve) {
        let done = if f.treatment == pinning::Treatment::Hide {
            "hidden"
        } else {
            "flagged"
        };
        let why = match f.verdict {
            pinning::Verdict::New => "not in the lock file",
            _ => "definition changed since approval",
        };
        eprintln!(
            "{done} ({why}; `agentmux tools diff` explains): {}/{}",
            f.upstream, f.tool
        );
    }
    for conflict in &views.federated.conflicts {
        eprintln!("not served (name shared by several upstreams with `mcp.prefix: never`): {conflict}");
    }
    for kind in crate::mcp::ListKind::ALL {
        let Some(listing) = views.federated.listing(kind) else {
            continue;
        };
        if listing.entries.is_empty() {
            continue;
        }
        println!("{}:", kind.field());
        for entry in &listing.entries {
            let owner = core.hub.upstreams()[entry.upstream].name();
            println!("  {:<48} ← {owner} `{}`", entry.exposed, entry.original);
        }
    }
}

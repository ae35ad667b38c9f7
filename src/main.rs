//! The `agentmux` command. Everything it does lives in the library; this file parses arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use agentmux::app::{Core, Gateway};

// Every proxied call allocates a few small buffers; glibc's allocator spent ~13% of agentmux's
// CPU on them in profiles, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use agentmux::mcp::pinning::{self, Lock};
use agentmux::{config, upstream};

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
    Serve(ConfigArg),
    /// Load and validate the config and registry; exit 1 with every problem found.
    Validate(ConfigArg),
    /// Connect to the upstreams and print the merged catalog; `approve` and `diff` manage the
    /// tool-pinning lock file.
    Tools(ToolsArgs),
    /// Serve the federated MCP endpoint over stdin/stdout.
    Stdio(ConfigArg),
    /// Internal: parent of one stdio upstream, stopping its process group with agentmux.
    #[command(name = "__reap", hide = true)]
    Reap {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
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
struct ConfigArg {
    /// Config file.
    #[arg(long, short, default_value = "agentmux.yaml", env = "AGENTMUX_CONFIG")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Reap { command } = &cli.command {
        let (program, args) = command.split_first().map_or(("", &[][..]), |(p, a)| (p.as_str(), a));
        return ExitCode::from(upstream::reaper::run(program, args).clamp(0, 255) as u8);
    }
    agentmux::telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentmux: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agentmux: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    if let Ok(exe) = std::env::current_exe() {
        upstream::reaper::enable(exe);
    }
    match command {
        Command::Validate(arg) => match config::load(&arg.config) {
            Ok(cfg) => {
                if let Some(Err(e)) = cfg.pinning.as_ref().map(|p| Lock::load(&p.lock)) {
                    eprintln!("{e}");
                    return Ok(ExitCode::FAILURE);
                }
                println!("{}: OK, {} upstreams", arg.config.display(), cfg.upstreams.len());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Serve(arg) => {
            let cfg = load(&arg.config)?;
            let gateway = Gateway::start(cfg).await?;
            eprintln!("agentmux listening on http://{}/mcp", gateway.local_addr);
            gateway
                .run(Duration::from_secs(300), |core| {
                    eprintln!("agentmux ready; upstreams:\n{}", core.summary().join("\n"));
                })
                .await;
            Ok(ExitCode::SUCCESS)
        }
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
            let selection = pinning::Selection {
                upstreams: args.upstreams,
                tools: args.tools,
                prune: args.prune,
            };
            let approval = pinning::approve(&core.hub, &mut lock, &selection);
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
            let diffs = pinning::diff(&core.hub, &lock);
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
            agentmux::stdio::serve(core.hub.clone()).await?;
            core.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reap { .. } => Ok(ExitCode::SUCCESS),
    }
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
    for kind in agentmux::mcp::ListKind::ALL {
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

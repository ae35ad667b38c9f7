//! `agentmux __reap -- COMMAND ARGS…`: a tiny parent for each stdio upstream.
//!
//! A child process group survives when agentmux is killed with SIGKILL, and MCP servers that keep
//! timers running do not exit when their stdin closes. The reaper asks the kernel for SIGTERM when
//! agentmux dies (`PR_SET_PDEATHSIG`), runs the server in its own process group, and on SIGTERM
//! stops that whole group. Its stdin and stdout are the server's: it never touches them.
//!
//! The death signal fires when the *thread* that spawned the reaper ends; agentmux spawns from
//! runtime worker threads, which live as long as the process.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{getpgrp, getppid};

static REAPER: OnceLock<PathBuf> = OnceLock::new();

/// Turns on reaping for stdio upstreams: `binary` must accept `__reap`. Set by `main`.
pub fn enable(binary: PathBuf) {
    let _ = REAPER.set(binary);
}

pub(super) fn path() -> Option<&'static PathBuf> {
    REAPER.get()
}

/// Runs `command` and returns its exit code; stops its process group when told or orphaned.
pub fn run(command: &str, args: &[String]) -> i32 {
    if nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).is_err() {
        eprintln!("agentmux __reap: cannot ask for a parent-death signal");
    }
    // agentmux may have died between fork and prctl; then we were adopted by init.
    if getppid().as_raw() == 1 {
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentmux __reap: {e}");
            return 1;
        }
    };
    runtime.block_on(supervise(command, args))
}

async fn supervise(command: &str, args: &[String]) -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        eprintln!("agentmux __reap: cannot install signal handlers");
        return 1;
    };
    let mut child = match tokio::process::Command::new(command).args(args).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("agentmux: cannot start `{command}`: {e}");
            return 127;
        }
    };
    let group = getpgrp();
    tokio::select! {
        status = child.wait() => {
            // The server is gone; anything it left running in the group goes too.
            let _ = killpg(group, Signal::SIGTERM);
            status.ok().and_then(|s| s.code()).unwrap_or(1)
        }
        _ = term.recv() => stop_group(&mut child, group).await,
        _ = int.recv() => stop_group(&mut child, group).await,
    }
}

async fn stop_group(child: &mut tokio::process::Child, group: nix::unistd::Pid) -> i32 {
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        // Ends this process too, which is what we want by now.
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = killpg(group, Signal::SIGKILL);
    143
}

//! The `agentmux` binary: everything lives in the library (`agentmux::cli`).

use std::process::ExitCode;

// Every proxied call allocates a few small buffers; glibc's allocator spent ~13% of agentmux's
// CPU on them in profiles, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    agentmux::cli::main()
}

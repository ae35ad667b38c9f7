//! The listener: one socket for the usual runtimes, or one per thread for `server.runtime:
//! per-core`, where each thread runs its own single-threaded runtime and the kernel spreads new
//! connections over the threads' sockets (`SO_REUSEPORT`). A connection then stays on one thread
//! from accept to response, with no hand-offs between threads.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Pending connections the kernel queues per socket (what `TcpListener::bind` uses).
const BACKLOG: u32 = 1024;

/// Binds `addr`. With `shared`, more sockets may bind the same address (`SO_REUSEPORT`).
pub fn bind(addr: SocketAddr, shared: bool) -> std::io::Result<TcpListener> {
    if shared && addr.port() != 0 {
        // `SO_REUSEPORT` would let a second agentmux (or anything of the same user) share the
        // port and silently take half the connections: first make sure nobody listens there.
        drop(std::net::TcpListener::bind(addr)?);
    }
    socket(addr, shared)
}

fn socket(addr: SocketAddr, shared: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if shared {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` until `stop` is cancelled and the open connections are done.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) -> std::io::Result<()> {
    // Responses are small and latency-bound: do not let Nagle hold them back.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

/// Starts `threads` more threads, each with a single-threaded runtime serving `router` on its own
/// socket bound to `addr` (which the caller's socket already holds with `SO_REUSEPORT`). Every
/// socket is bound before this returns, so a bind error stops the start; each receiver answers
/// when its thread has stopped serving.
pub fn spawn_threads(
    addr: SocketAddr,
    threads: usize,
    router: &Router,
    stop: &CancellationToken,
) -> std::io::Result<Vec<oneshot::Receiver<std::io::Result<()>>>> {
    let mut done = Vec::with_capacity(threads);
    for i in 1..=threads {
        // Bound here, on the caller's runtime, then handed over without its registration.
        let listener = socket(addr, true)?.into_std()?;
        let (router, stop) = (router.clone(), stop.clone());
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("agentmux-core-{i}"))
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move { serve(TcpListener::from_std(listener)?, router, stop).await })
                    });
                if let Err(e) = &served {
                    // Its socket is closed with it, so the kernel sends its share to the others.
                    tracing::error!(thread = i, error = %e, "a per-core thread stopped serving");
                }
                let _ = tx.send(served);
            })?;
        done.push(rx);
    }
    Ok(done)
}

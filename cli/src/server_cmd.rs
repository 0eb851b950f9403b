//! `trackd server`: runs the server until SIGINT/SIGTERM.

use tokio::net::TcpListener;
use trackd_server::config::ServerArgs;
use trackd_server::{serve, Store, Tracker};

// The allocator is the system's (glibc). mimalloc v2 was measured and dropped: it halves
// SearchRuns latency over 10,000 runs (4-5 ms against 9-10 ms, both far inside 20 ms) but
// holds ~15 MiB more while streams are ingested (peak RSS 75-79 MiB against 58-61 MiB, over
// the 64 MiB budget). Figures in BENCHMARKS.md.

/// Serves the store named by `args` until a signal; a second signal exits at once (130).
pub async fn run_server(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !args.host.is_loopback() {
        tracing::warn!(
            host = %args.host,
            "LISTENING BEYOND LOOPBACK WITHOUT AUTHENTICATION: anyone who can reach this port can \
             read and change every experiment. Bind to 127.0.0.1 or put an authenticating proxy in front."
        );
    }
    let store = Store::open(args.store_config())?;
    let listener = TcpListener::bind(args.addr())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr()))?;
    let local = listener.local_addr()?;
    println!(
        "trackd listening on http://{local} (store {}); web UI at http://{local}/",
        args.store.display()
    );
    serve(
        listener,
        Tracker::open(store)?.with_max_artifact_bytes(args.max_artifact_bytes()),
        args.serve_options(),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM. A second signal exits at once.
async fn shutdown_signal() {
    wait_signal().await;
    tokio::spawn(async {
        wait_signal().await;
        eprintln!("trackd: second signal, exiting without draining");
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).expect("registering a SIGTERM handler should not fail");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

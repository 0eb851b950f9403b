//! `trackd server`: runs the server until SIGINT/SIGTERM.

use tokio::net::TcpListener;
use trackd_server::artifacts::open_destination;
use trackd_server::config::ServerArgs;
use trackd_server::store::postgres::PgStore;
use trackd_server::{serve, Store, Tracker};

// The allocator is the system's (glibc). mimalloc v2 was measured and dropped: it halves
// SearchRuns latency over 10,000 runs (4-5 ms against 9-10 ms, both far inside 20 ms) but
// holds ~15 MiB more while streams are ingested (peak RSS 75-79 MiB against 58-61 MiB, over
// the 64 MiB budget). Figures in BENCHMARKS.md.

/// Serves the store named by `args` until a signal; a second signal exits at once (130).
pub async fn run_server(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(refusal) = args.refusal() {
        return Err(refusal.into());
    }
    if !args.host.is_loopback() && !args.auth {
        tracing::warn!(
            host = %args.host,
            "LISTENING BEYOND LOOPBACK WITHOUT AUTHENTICATION (--insecure-no-auth): anyone who \
             can reach this port can read and change every experiment."
        );
    }
    let tracker = match args.postgres_config() {
        Some(config) => {
            let store = PgStore::open(config).await?;
            // Without --artifacts-destination, artifacts stay in --store's directory (every
            // replica needs the same one: point them at a bucket or a shared mount).
            let artifacts = open_destination(
                args.artifacts_destination.as_deref(),
                &args.store.join("artifacts"),
            )?;
            Tracker::on_postgres(store, artifacts)
        }
        None => {
            let store = Store::open(args.store_config())?;
            let artifacts = open_destination(
                args.artifacts_destination.as_deref(),
                &store.artifact_root(),
            )?;
            Tracker::open(store)?.with_artifact_repository(artifacts)
        }
    };
    let location = tracker.location();
    let mut tracker = tracker
        .with_max_artifact_bytes(args.max_artifact_bytes())
        .with_ingest_budget(args.memory_budget().ingest_points);
    if args.auth {
        tracker = tracker.with_auth(args.default_permission)?;
        let admin = std::env::var("TRACKD_ADMIN_USERNAME")
            .ok()
            .filter(|s| !s.is_empty());
        let password = std::env::var("TRACKD_ADMIN_PASSWORD")
            .ok()
            .filter(|s| !s.is_empty());
        if let (Some(admin), Some(password)) = (admin, password) {
            if tracker.ensure_first_admin(&admin, &password).await? {
                tracing::info!(user = %admin, "created the first administrator from TRACKD_ADMIN_USERNAME");
            }
        }
        if tracker.user_count()? == 0 {
            tracing::warn!(
                "--auth is on but the store has no user: nobody can log in. Set \
                 TRACKD_ADMIN_USERNAME and TRACKD_ADMIN_PASSWORD, or run `trackd users create \
                 NAME --admin --store DIR` (with the server stopped)."
            );
        }
    }
    let listener = TcpListener::bind(args.addr())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr()))?;
    let local = listener.local_addr()?;
    let mut options = args.serve_options();
    options.tls = args.tls()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let artifacts = args
        .artifacts_destination
        .as_deref()
        .map(|d| format!(", artifacts in {d}"))
        .unwrap_or_default();
    println!(
        "trackd listening on {scheme}://{local} ({location}{artifacts}); web UI at {scheme}://{local}/"
    );
    serve(listener, tracker, options, shutdown_signal()).await?;
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

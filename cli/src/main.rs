//! The `trackd` command line: `trackd server`, and tools for people that talk to a server
//! (`--tracking-uri` / `MLFLOW_TRACKING_URI`, `http://…`) or open a store directory
//! themselves (a path; the default is `./mlruns`, as the client's): `experiments`, `runs`,
//! `artifacts`, `metrics`.
//!
//! Output is an aligned table for people, or `--json` / `--csv` for scripts; colours only on
//! a terminal (and never with `NO_COLOR`). Exit codes say what happened; see [`exit`].

mod artifacts;
mod backup;
mod copy;
mod exit;
mod experiments;
mod files;
mod gc;
mod import;
mod metrics;
mod output;
mod runs;
mod server_cmd;
mod target;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use trackd_server::config::ServerArgs;

/// trackd: fast, MLflow-compatible experiment tracking.
#[derive(Debug, Parser)]
#[command(name = "trackd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the tracking server (gRPC, MLflow's REST API, the web UI, health and metrics on
    /// one port).
    Server(ServerArgs),
    /// List, create, rename, delete and restore experiments.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// Search, describe, delete and restore runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// List, download and upload a run's artifacts.
    #[command(subcommand)]
    Artifacts(artifacts::ArtifactsCommand),
    /// Read metric histories.
    #[command(subcommand)]
    Metrics(metrics::MetricsCommand),
    /// Import an MLflow history (a file store or a SQLite database): experiments, runs,
    /// params, tags, every metric point, datasets and artifacts. Resumable.
    ImportMlflow(import::ImportArgs),
    /// Remove deleted runs and experiments for good, with their metrics and artifacts (on a
    /// store directory no server is using).
    Gc(gc::GcArgs),
    /// Take a consistent backup of a live store (the server copies it while writes go on).
    Backup(backup::BackupArgs),
    /// Create a store directory from a backup.
    Restore(backup::RestoreArgs),
    /// Copy a whole store into another — sled ↔ PostgreSQL, local artifacts ↔ an object
    /// store — keeping every id; resumable, verified at the end.
    Copy(copy::CopyArgs),
    /// Manage the users of an --auth server (on the store directory, server stopped).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage API tokens (MLFLOW_TRACKING_TOKEN) of an --auth server's users.
    #[command(subcommand)]
    Tokens(users::TokensCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs for operators; the tools print results, and only warnings go to stderr.
    if matches!(cli.command, Command::Server(_)) || std::env::var_os("RUST_LOG").is_some() {
        trackd_server::telemetry::init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trackd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => server_cmd::run_server(args)
                .await
                .map_err(|e| exit::Failure::other(e.to_string())),
            Command::Experiments(c) => experiments::run(c).await,
            Command::Runs(c) => runs::run(c).await,
            Command::Artifacts(c) => artifacts::run(c).await,
            Command::Metrics(c) => metrics::run(c).await,
            Command::ImportMlflow(args) => import::run(args).await,
            Command::Gc(args) => gc::run(args).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::Copy(args) => copy::run(args).await,
            Command::Users(c) => users::run_users(c).await,
            Command::Tokens(c) => users::run_tokens(c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("trackd: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

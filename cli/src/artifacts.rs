//! `trackd artifacts list|download|log`: a run's files. Transfers show a progress bar on
//! a terminal.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::exit::{Failure, Outcome};
use crate::output::{self, Table};
use crate::target::Target;

/// Artifact commands.
#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// List a run's artifacts under a path.
    List {
        /// The run id.
        run_id: String,
        /// A directory (or file) under the run's artifact root; default: the root.
        #[arg(default_value = "")]
        path: String,
        /// The whole tree, not one level.
        #[arg(long, short = 'r')]
        recursive: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Download a file or directory of a run's artifacts into a local directory.
    Download {
        /// The run id.
        run_id: String,
        /// The file or directory (default: every artifact).
        #[arg(default_value = "")]
        path: String,
        /// Local directory to download into (created if missing).
        #[arg(long, short = 'd', default_value = ".")]
        dst: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Upload a local file or directory as artifacts of a run.
    Log {
        /// The run id.
        run_id: String,
        /// The local file or directory.
        local_path: PathBuf,
        /// Directory under the run's artifact root to put it in.
        #[arg(long)]
        artifact_path: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs an artifact command.
pub async fn run(command: ArtifactsCommand) -> Outcome {
    match command {
        ArtifactsCommand::List {
            run_id,
            path,
            recursive,
            target,
        } => {
            let client = target.connect().await?;
            let files = client.list_artifacts(&run_id, &path, recursive).await?;
            let mut table = Table::new(["path", "kind", "size"]);
            for f in &files {
                table.row([
                    f.path.clone(),
                    if f.is_dir { "dir" } else { "file" }.to_owned(),
                    f.file_size.map(|s| s.to_string()).unwrap_or_default(),
                ]);
            }
            let json = json!(files
                .iter()
                .map(|f| json!({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}))
                .collect::<Vec<_>>());
            output::print(target.format(), &table, json)?;
        }
        ArtifactsCommand::Download {
            run_id,
            path,
            dst,
            target,
        } => {
            let client = target.connect().await?;
            let total: u64 = client
                .list_artifacts(&run_id, &path, true)
                .await?
                .iter()
                .filter_map(|f| f.file_size)
                .sum();
            std::fs::create_dir_all(&dst)
                .map_err(|e| Failure::other(format!("{}: {e}", dst.display())))?;
            let before = crate::files::tree(&dst).1;
            let bar = progress(total, "downloading");
            let watched = dst.clone();
            let watcher = {
                let bar = bar.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let now = tokio::task::spawn_blocking({
                            let dir = watched.clone();
                            move || crate::files::tree(&dir).1
                        })
                        .await
                        .unwrap_or(0);
                        bar.set_position(now.saturating_sub(before).min(total));
                    }
                })
            };
            let result = client.download_artifacts(&run_id, &path, &dst).await;
            watcher.abort();
            bar.finish_and_clear();
            let local = result?;
            println!("{}", local.display());
        }
        ArtifactsCommand::Log {
            run_id,
            local_path,
            artifact_path,
            target,
        } => {
            let client = target.connect().await?;
            let meta = std::fs::metadata(&local_path)
                .map_err(|e| Failure::not_found(format!("{}: {e}", local_path.display())))?;
            let bar = progress(crate::files::tree(&local_path).1, "uploading");
            bar.enable_steady_tick(Duration::from_millis(100));
            let result = if meta.is_dir() {
                client
                    .log_artifacts(&run_id, &local_path, artifact_path.as_deref())
                    .await
            } else {
                client
                    .log_artifact(&run_id, &local_path, artifact_path.as_deref())
                    .await
            };
            bar.finish_and_clear();
            result?;
            eprintln!("uploaded {} to run {run_id}", local_path.display());
        }
    }
    Ok(())
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

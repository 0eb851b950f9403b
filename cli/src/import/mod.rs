//! `trackd import-mlflow --from URI`: brings an MLflow history into the server or store that
//! `--tracking-uri` names — experiments (by name, with tags and lifecycle), runs (name,
//! status, times, user, params, tags, every metric point, dataset inputs, artifacts kept on
//! this machine) — through the same client API as any other writer.
//!
//! Ids: experiments are matched by name (MLflow's `Default` is trackd's `"0"`); runs get new
//! ids and carry the source id in the tag `trackd.import.source_run_id`. Resumable: a run is
//! marked `trackd.import.complete` only after everything of it is stored (and, for metrics,
//! acknowledged durable), so running the command again skips finished runs and redoes an
//! interrupted one (the interrupted copy is deleted first). A run that cannot be read or
//! stored is reported with why, and the command exits non-zero.

mod file_store;
mod source;
mod sqlite;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use trackd_client::Client;

use self::source::{Source, SourceExperiment, SourcePoint, SourceRun};
use crate::exit::{Failure, Outcome};
use crate::output::{self, Table};
use crate::target::Target;

/// The tag holding a run's id in the source store.
pub const SOURCE_RUN_TAG: &str = "trackd.import.source_run_id";
/// The tag marking a run whose import finished.
pub const COMPLETE_TAG: &str = "trackd.import.complete";
/// Params and tags per write (MLflow's LogBatch limit).
const BATCH: usize = 100;

/// `trackd import-mlflow` options.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The MLflow store: a file store directory (`./mlruns`, `file:///…/mlruns`) or a SQLite
    /// database (`sqlite:///mlflow.db`, `sqlite:////abs/path.db`).
    #[arg(long)]
    from: String,
    #[command(flatten)]
    target: Target,
}

/// What an import did.
#[derive(Debug, Default)]
struct Summary {
    experiments_created: usize,
    experiments_matched: usize,
    runs_imported: usize,
    runs_already_imported: usize,
    runs_redone: usize,
    params: usize,
    tags: usize,
    points: u64,
    datasets: usize,
    artifact_files: u64,
    artifact_bytes: u64,
    /// (run, why) for runs not imported.
    failed: Vec<(String, String)>,
    /// (run, artifact URI) of artifacts that are not on this machine.
    artifacts_elsewhere: Vec<(String, String)>,
}

/// Opens the source store `uri` names.
fn open_source(uri: &str) -> Result<Arc<dyn Source>, Failure> {
    let sqlite = uri.strip_prefix("sqlite:///").map(PathBuf::from);
    let path = match &sqlite {
        Some(p) => p.clone(),
        None => PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri)),
    };
    if !path.exists() {
        return Err(Failure::not_found(format!(
            "no MLflow store at '{uri}' ({} does not exist)",
            path.display()
        )));
    }
    let refused = |e: source::SourceError| Failure {
        message: e.0,
        code: crate::exit::REFUSED,
    };
    if sqlite.is_some() || path.is_file() {
        Ok(Arc::new(sqlite::SqliteStore::open(&path).map_err(refused)?))
    } else {
        Ok(Arc::new(
            file_store::FileStore::open(&path).map_err(refused)?,
        ))
    }
}

/// Runs a blocking read of the source off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> source::SourceResult<T> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("reading the source failed: {e}"))?
        .map_err(|e| e.0)
}

/// Runs `trackd import-mlflow`.
pub async fn run(args: ImportArgs) -> Outcome {
    let started = Instant::now();
    let from = args.from.clone();
    let source = tokio::task::spawn_blocking(move || open_source(&from))
        .await
        .map_err(|e| Failure::other(e.to_string()))??;
    let client = args.target.connect().await?;
    let mut summary = Summary::default();
    let src = source.clone();
    let experiments = blocking(move || src.experiments())
        .await
        .map_err(|m| Failure {
            message: m,
            code: crate::exit::REFUSED,
        })?;
    for experiment in experiments {
        import_experiment(&client, &source, experiment, &mut summary).await?;
    }
    client.flush().await?;
    print_summary(&args.target, &summary, started.elapsed().as_secs_f64())?;
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::other(format!(
            "{} run(s) were not imported (listed above); run the same command again to retry them",
            summary.failed.len()
        )))
    }
}

/// The target experiment for a source experiment, by name (created when missing).
async fn target_experiment(
    client: &Client,
    experiment: &SourceExperiment,
    summary: &mut Summary,
) -> Result<String, Failure> {
    if experiment.name == "Default" && experiment.id == "0" {
        summary.experiments_matched += 1;
        return Ok("0".into());
    }
    if let Some(existing) = client.get_experiment_by_name(&experiment.name).await? {
        summary.experiments_matched += 1;
        return Ok(existing.experiment_id);
    }
    let id = client.create_experiment(&experiment.name).await?;
    for (k, v) in &experiment.tags {
        client.set_experiment_tag(&id, k, Some(v)).await?;
    }
    summary.experiments_created += 1;
    Ok(id)
}

async fn import_experiment(
    client: &Client,
    source: &Arc<dyn Source>,
    experiment: SourceExperiment,
    summary: &mut Summary,
) -> Outcome {
    let target = target_experiment(client, &experiment, summary).await?;
    // Runs imported before (possibly interrupted), by source id.
    let mut earlier: HashMap<String, Vec<(String, bool, bool)>> = HashMap::new();
    let found = client
        .search_runs()
        .experiments([target.clone()])
        .view(trackd_client::RunView::All)
        .filter(format!("tags.`{SOURCE_RUN_TAG}` LIKE '%'"))
        .all()
        .await?;
    for run in found {
        if let Some(source_id) = run.data.tags.get(SOURCE_RUN_TAG) {
            earlier.entry(source_id.clone()).or_default().push((
                run.info.run_id.clone(),
                run.data.tags.contains_key(COMPLETE_TAG),
                run.info.deleted,
            ));
        }
    }
    let (src, exp) = (source.clone(), experiment.clone());
    let runs = match blocking(move || src.runs(&exp)).await {
        Ok(runs) => runs,
        Err(message) => {
            summary
                .failed
                .push((format!("experiment '{}'", experiment.name), message));
            return Ok(());
        }
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(runs.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_message(format!("importing '{}'", experiment.name));
    for run in runs {
        bar.inc(1);
        let run = match run {
            Ok(run) => run,
            Err((id, e)) => {
                summary.failed.push((id, e.0));
                continue;
            }
        };
        let copies = earlier.remove(&run.id).unwrap_or_default();
        if copies.iter().any(|(_, complete, _)| *complete) {
            summary.runs_already_imported += 1;
            continue;
        }
        for (id, _, deleted) in &copies {
            if !deleted {
                client.delete_run(id).await?;
            }
        }
        if !copies.is_empty() {
            summary.runs_redone += 1;
        }
        let id = run.id.clone();
        match import_run(client, source, &experiment, &target, run, summary).await {
            Ok(()) => summary.runs_imported += 1,
            Err(why) => summary.failed.push((id, why)),
        }
    }
    bar.finish_and_clear();
    if experiment.deleted && target != "0" {
        let now = client.get_experiment(&target).await?;
        if !now.deleted {
            client.delete_experiment(&target).await?;
        }
    }
    Ok(())
}

/// Copies one run; the error says why it could not be.
async fn import_run(
    client: &Client,
    source: &Arc<dyn Source>,
    experiment: &SourceExperiment,
    target: &str,
    run: SourceRun,
    summary: &mut Summary,
) -> Result<(), String> {
    let fail = |e: trackd_client::ClientError| e.to_string();
    let active = client
        .start_run()
        .experiment_id(target)
        .run_name(run.name.clone())
        .system_tags(false)
        .start_time(run.start_time)
        .user_id(run.user_id.clone())
        .tag(SOURCE_RUN_TAG, &run.id)
        .start()
        .await
        .map_err(fail)?;
    let tags: Vec<(String, String)> = run
        .tags
        .iter()
        .filter(|(k, _)| k != SOURCE_RUN_TAG && k != COMPLETE_TAG)
        .cloned()
        .collect();
    for chunk in 0..run.params.len().max(tags.len()).div_ceil(BATCH) {
        let range = |v: &[(String, String)]| {
            v.iter()
                .skip(chunk * BATCH)
                .take(BATCH)
                .cloned()
                .collect::<Vec<_>>()
        };
        client
            .log_params_and_tags(active.id(), range(&run.params), range(&tags))
            .await
            .map_err(fail)?;
    }
    if !run.datasets.is_empty() {
        client
            .log_inputs(active.id(), run.datasets.clone())
            .await
            .map_err(fail)?;
    }
    let mut points = 0u64;
    for key in &run.metric_keys {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SourcePoint>>(4);
        let (src, exp, r, k) = (source.clone(), experiment.clone(), run.clone(), key.clone());
        let reader = tokio::task::spawn_blocking(move || {
            src.points(&exp, &r, &k, &mut |chunk| tx.blocking_send(chunk).is_ok())
        });
        while let Some(chunk) = rx.recv().await {
            for p in chunk {
                active
                    .log_metrics_at(&[(key.as_str(), p.value)], p.step, p.timestamp)
                    .await
                    .map_err(fail)?;
                points += 1;
            }
        }
        reader.await.map_err(|e| e.to_string())?.map_err(|e| e.0)?;
    }
    let mut artifact_files = 0;
    let mut artifact_bytes = 0;
    if let Some(dir) = &run.artifact_dir {
        let (files, bytes) = crate::files::tree(dir);
        if files > 0 {
            client
                .log_artifacts(active.id(), dir, None)
                .await
                .map_err(fail)?;
            (artifact_files, artifact_bytes) = (files, bytes);
        }
    } else if !run.artifact_uri.is_empty() {
        summary
            .artifacts_elsewhere
            .push((run.id.clone(), run.artifact_uri.clone()));
    }
    let run_id = active.id().to_owned();
    // Flushes: every point is acknowledged before the run is marked complete.
    active
        .end_at(run.status, run.end_time)
        .await
        .map_err(fail)?;
    client
        .log_params_and_tags(&run_id, vec![], vec![(COMPLETE_TAG.into(), "true".into())])
        .await
        .map_err(fail)?;
    if run.deleted {
        client.delete_run(&run_id).await.map_err(fail)?;
    }
    summary.params += run.params.len();
    summary.tags += tags.len();
    summary.points += points;
    summary.datasets += run.datasets.len();
    summary.artifact_files += artifact_files;
    summary.artifact_bytes += artifact_bytes;
    Ok(())
}

fn print_summary(target: &Target, s: &Summary, seconds: f64) -> std::io::Result<()> {
    let mut table = Table::new(["what", "count"]);
    let rows: [(&str, String); 12] = [
        ("experiments created", s.experiments_created.to_string()),
        (
            "experiments matched by name",
            s.experiments_matched.to_string(),
        ),
        ("runs imported", s.runs_imported.to_string()),
        (
            "runs already imported (skipped)",
            s.runs_already_imported.to_string(),
        ),
        (
            "runs redone after an interrupted import",
            s.runs_redone.to_string(),
        ),
        ("runs not imported", s.failed.len().to_string()),
        ("params", s.params.to_string()),
        ("tags", s.tags.to_string()),
        ("metric points", s.points.to_string()),
        ("dataset inputs", s.datasets.to_string()),
        ("artifact files", s.artifact_files.to_string()),
        ("artifact bytes", s.artifact_bytes.to_string()),
    ];
    for (k, v) in rows {
        table.row([k.to_owned(), v]);
    }
    let json = json!({
        "experiments_created": s.experiments_created,
        "experiments_matched": s.experiments_matched,
        "runs_imported": s.runs_imported,
        "runs_already_imported": s.runs_already_imported,
        "runs_redone": s.runs_redone,
        "params": s.params, "tags": s.tags, "metric_points": s.points,
        "dataset_inputs": s.datasets, "artifact_files": s.artifact_files,
        "artifact_bytes": s.artifact_bytes,
        "failed": s.failed.iter().map(|(r, w)| json!({"run": r, "reason": w})).collect::<Vec<_>>(),
        "artifacts_not_on_this_machine": s.artifacts_elsewhere.iter().map(|(r, u)| json!({"run": r, "artifact_uri": u})).collect::<Vec<_>>(),
        "seconds": seconds,
    });
    output::print(target.format(), &table, json)?;
    if target.format() != output::Format::Json {
        for (run, why) in &s.failed {
            eprintln!("not imported: {run}: {why}");
        }
        for (run, uri) in &s.artifacts_elsewhere {
            eprintln!("artifacts not copied (not on this machine): {run}: {uri}");
        }
        eprintln!(
            "imported {} points in {seconds:.1} s ({:.0} points/s)",
            s.points,
            s.points as f64 / seconds.max(1e-9)
        );
    }
    Ok(())
}

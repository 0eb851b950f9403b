//! Garbage collection (`trackd gc`, MLflow's `mlflow gc`): runs and experiments in the
//! deleted state removed for good, with their params, tags, metric points and artifacts.

use tracing::instrument;

use super::Tracker;
use crate::domain::caller::{Caller, Need, Permission};
use crate::domain::{now_ms, ExperimentId, Lifecycle, RunId, ViewType};
use crate::error::{Result, TrackingError};

/// What to collect.
#[derive(Debug, Clone, Default)]
pub struct GcRequest {
    /// Only what was deleted (experiments) or ended (runs; the store keeps no deletion
    /// time for them) at least this many milliseconds ago; `None`: everything deleted.
    pub older_than_ms: Option<i64>,
    /// Only these experiments (ids as sent), which must be deleted: they go with all their
    /// runs. Empty: every deleted run, and every deleted experiment left without runs.
    pub experiment_ids: Vec<String>,
}

/// What was collected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Run ids removed.
    pub runs: Vec<String>,
    /// Experiment ids removed.
    pub experiments: Vec<String>,
    /// Artifact bytes freed.
    pub artifact_bytes: u64,
    /// Store bytes given back after the purges (the sled store's chunk log segments).
    pub store_bytes: u64,
}

impl Tracker {
    /// Removes deleted runs and experiments for good. Needs `Manage` on each experiment.
    /// For a store no server is writing to (the `trackd gc` command opens it itself).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn collect_garbage(&self, caller: &Caller, request: GcRequest) -> Result<GcReport> {
        let cutoff = request.older_than_ms.map(|age| now_ms() - age.max(0));
        let old_enough = |t: i64| cutoff.is_none_or(|c| t <= c);
        let experiments = if request.experiment_ids.is_empty() {
            self.backend
                .experiments()?
                .into_iter()
                .filter(|e| e.lifecycle == Lifecycle::Deleted)
                .collect::<Vec<_>>()
        } else {
            let mut chosen = Vec::new();
            for id in &request.experiment_ids {
                let e = self.backend.experiment(ExperimentId::parse(id)?)?;
                if e.lifecycle != Lifecycle::Deleted {
                    return Err(TrackingError::InvalidState(format!(
                        "Experiment {id} ('{}') is not deleted; delete it first (gc removes only \
                         what is in the deleted state).",
                        e.name
                    )));
                }
                chosen.push(e);
            }
            chosen
        };
        for e in &experiments {
            self.authorize(
                caller,
                Need::Experiment(Permission::Manage, &e.id.to_string()),
            )?;
        }
        let scope: Vec<ExperimentId> = if request.experiment_ids.is_empty() {
            self.backend
                .experiments()?
                .into_iter()
                .map(|e| e.id)
                .collect()
        } else {
            experiments.iter().map(|e| e.id).collect()
        };
        let backend = self.backend.clone();
        let runs = tokio::task::spawn_blocking(move || {
            backend.search_runs(&scope, ViewType::DeletedOnly, None)
        })
        .await
        .map_err(|e| TrackingError::storage("gc task failed", e))??;
        let mut report = GcReport::default();
        for run in runs {
            let id = run.info.run_id.to_string();
            if !old_enough(run.info.end_time.unwrap_or(run.info.start_time)) {
                continue;
            }
            self.authorize(caller, Need::Run(Permission::Manage, &id))?;
            if let Ok(dir) = crate::artifacts::directory_of_uri(&run.info.artifact_uri) {
                report.artifact_bytes += self.artifacts.purge_run_files(&dir).await?;
            }
            let backend = self.backend.clone();
            let run_id: RunId = run.info.run_id;
            let purged = tokio::task::spawn_blocking(move || backend.purge_run(run_id))
                .await
                .map_err(|e| TrackingError::storage("gc task failed", e))??;
            if purged {
                report.runs.push(id);
            }
        }
        for e in experiments {
            if !old_enough(e.last_update_time) {
                continue;
            }
            let backend = self.backend.clone();
            let purged = tokio::task::spawn_blocking(move || backend.purge_experiment(e.id))
                .await
                .map_err(|err| TrackingError::storage("gc task failed", err))??;
            if purged {
                report.experiments.push(e.id.to_string());
            }
        }
        if !report.runs.is_empty() {
            let backend = self.backend.clone();
            report.store_bytes = tokio::task::spawn_blocking(move || backend.reclaim_space())
                .await
                .map_err(|err| TrackingError::storage("gc task failed", err))??;
        }
        Ok(report)
    }
}

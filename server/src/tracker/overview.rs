//! Summaries for people browsing a store (the web UI): how many runs each experiment has and
//! when it was last active, and which metric, param and tag keys an experiment's runs use
//! (the runs table's column picker). Both read the same in-memory run catalog as search,
//! never metric history.

use std::collections::{BTreeMap, BTreeSet};

use tracing::instrument;

use super::Tracker;
use crate::domain::caller::{Caller, Need, Permission};
use crate::domain::{ExperimentId, ViewType};
use crate::error::{Result, TrackingError};

/// Runs of one experiment, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExperimentActivity {
    /// Active runs.
    pub active_runs: usize,
    /// Deleted runs.
    pub deleted_runs: usize,
    /// The newest start or end time of any of its runs, ms (`None` without runs).
    pub last_run_activity: Option<i64>,
}

/// The keys an experiment's runs use, each sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunColumns {
    /// Metric keys.
    pub metrics: Vec<String>,
    /// Param keys.
    pub params: Vec<String>,
    /// Tag keys.
    pub tags: Vec<String>,
}

impl Tracker {
    /// Run counts and last activity of some experiments (ids as sent); experiments the
    /// caller may not read are left out.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn experiment_activity(
        &self,
        caller: &Caller,
        experiment_ids: &[String],
    ) -> Result<BTreeMap<ExperimentId, ExperimentActivity>> {
        self.authorize(caller, Need::Search)?;
        let mut ids = experiment_ids
            .iter()
            .map(|id| ExperimentId::parse(id))
            .collect::<Result<Vec<_>>>()?;
        if self.filters_for(caller) {
            ids.retain(|id| self.may_read_experiment(caller, *id));
        }
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || {
            let mut out: BTreeMap<ExperimentId, ExperimentActivity> = ids
                .iter()
                .map(|id| (*id, ExperimentActivity::default()))
                .collect();
            for run in backend.search_runs(&ids, ViewType::All, None)? {
                let Some(entry) = out.get_mut(&run.info.experiment_id) else {
                    continue;
                };
                match run.info.lifecycle {
                    crate::domain::Lifecycle::Active => entry.active_runs += 1,
                    crate::domain::Lifecycle::Deleted => entry.deleted_runs += 1,
                }
                let last = run.info.end_time.unwrap_or(run.info.start_time);
                let last = last.max(run.info.start_time);
                entry.last_run_activity =
                    Some(entry.last_run_activity.map_or(last, |l| l.max(last)));
            }
            Ok(out)
        })
        .await
        .map_err(|e| TrackingError::storage("overview task failed", e))?
    }

    /// The metric, param and tag keys used by the runs of one experiment in `view`.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn run_columns(
        &self,
        caller: &Caller,
        experiment_id: &str,
        view: ViewType,
    ) -> Result<RunColumns> {
        self.authorize(caller, Need::Experiment(Permission::Read, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        self.backend.experiment(id)?;
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || {
            let (mut metrics, mut params, mut tags) =
                (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            for run in backend.search_runs(&[id], view, None)? {
                // Most runs of an experiment share their keys: look before allocating.
                for k in run.metrics.keys() {
                    if !metrics.contains(k.as_str()) {
                        metrics.insert(k.clone());
                    }
                }
                for k in run.params.keys() {
                    if !params.contains(k.as_str()) {
                        params.insert(k.clone());
                    }
                }
                for k in run.tags.keys() {
                    if !tags.contains(k.as_str()) {
                        tags.insert(k.clone());
                    }
                }
            }
            Ok(RunColumns {
                metrics: metrics.into_iter().collect(),
                params: params.into_iter().collect(),
                tags: tags.into_iter().collect(),
            })
        })
        .await
        .map_err(|e| TrackingError::storage("overview task failed", e))?
    }
}

//! Reads, straight from sled (cached reads do not block; callers move long scans such as a
//! full metric history to a blocking thread).

use std::collections::BTreeMap;

use super::writer::{load_experiment, load_run};
use super::{decode_record, keys, Store, StoreError};
use crate::domain::{Experiment, ExperimentId, Run, RunId, RunInfo};
use crate::error::{Result, TrackingError};

fn sled_err(e: sled::Error) -> TrackingError {
    StoreError::from(e).into()
}

/// A run's metadata completed with its latest metrics, params and tags.
pub(crate) fn load_run_data(t: &super::Trees, info: RunInfo) -> Result<Run> {
    let prefix = keys::run(info.run_id);
    let strings = |tree: &sled::Tree| -> Result<BTreeMap<String, String>> {
        tree.scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(sled_err)?;
                Ok((
                    keys::child_name(&k),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    };
    let params = strings(&t.params)?;
    let tags = strings(&t.tags)?;
    let mut metrics = BTreeMap::new();
    for kv in t.latest_metrics.scan_prefix(prefix) {
        let (k, v) = kv.map_err(sled_err)?;
        let point = keys::decode_point(&v)
            .ok_or_else(|| TrackingError::Corrupted("latest metric value".into()))?;
        metrics.insert(keys::child_name(&k), point);
    }
    let (inputs, outputs) = super::run_io::read(t, info.run_id)?;
    Ok(Run {
        info,
        metrics,
        params,
        tags,
        inputs,
        outputs,
    })
}

impl Store {
    /// An experiment by id (deleted ones too).
    pub fn experiment(&self, id: ExperimentId) -> Result<Experiment> {
        load_experiment(self.trees(), id)
    }

    /// An experiment by exact name (deleted ones too).
    pub fn experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let id = self
            .trees()
            .experiment_names
            .get(name.as_bytes())
            .map_err(sled_err)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| {
                TrackingError::not_found(format!("Could not find experiment with name '{name}'"))
            })?;
        self.experiment(ExperimentId(id))
    }

    /// Every experiment, in id order.
    pub fn experiments(&self) -> Result<Vec<Experiment>> {
        self.trees()
            .experiments
            .iter()
            .values()
            .map(|v| Ok(decode_record(&v.map_err(sled_err)?)?))
            .collect()
    }

    /// A logged model by id (deleted ones too).
    pub fn logged_model(&self, id: crate::domain::ModelId) -> Result<crate::domain::LoggedModel> {
        super::writer::load_logged_model(self.trees(), id)
    }

    /// The logged models of `experiments` (deleted ones too), in id order (from the
    /// in-memory catalog: no decoding per search).
    pub fn logged_models(
        &self,
        experiments: &[ExperimentId],
    ) -> Result<Vec<std::sync::Arc<crate::domain::LoggedModel>>> {
        Ok(self.catalog().logged_models(experiments))
    }

    /// A registered model (with its versions) by name.
    pub fn registered_model(&self, name: &str) -> Result<crate::domain::RegisteredModel> {
        super::writer::load_registered_model(self.trees(), name)
    }

    /// Every registered model, in name order (from the in-memory catalog).
    pub fn registered_models(&self) -> Result<Vec<std::sync::Arc<crate::domain::RegisteredModel>>> {
        Ok(self.catalog().registered_models())
    }

    /// A run's metadata.
    pub fn run_info(&self, id: RunId) -> Result<RunInfo> {
        load_run(self.trees(), id)
    }

    /// A run with its latest metrics, params and tags.
    pub fn run(&self, id: RunId) -> Result<Run> {
        let info = self.run_info(id)?;
        self.run_with_info(info)
    }

    /// Completes a run's metadata with its data.
    pub fn run_with_info(&self, info: RunInfo) -> Result<Run> {
        load_run_data(self.trees(), info)
    }

    /// Ids of the runs of an experiment.
    pub fn run_ids(&self, exp: ExperimentId) -> Result<Vec<RunId>> {
        self.trees()
            .experiment_runs
            .scan_prefix(keys::experiment(exp))
            .keys()
            .map(|k| {
                let k = k.map_err(sled_err)?;
                keys::experiment_run_id(&k)
                    .ok_or_else(|| TrackingError::Corrupted("experiment_runs key".into()))
            })
            .collect()
    }
}

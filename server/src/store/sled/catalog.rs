//! The run catalog: every run with its latest metrics, params and tags, in memory, so a
//! search never reads sled or metric history. Searches go through the column index of
//! [`RunIndex`].
//!
//! Loaded when the store opens; afterwards only the committer changes it, right after it
//! applies a write and before that write is acknowledged, so a client that got an
//! acknowledgement also sees its write in searches.

use std::sync::{Arc, RwLock};

use super::read::load_run_data;
use super::run_index::RunIndex;
use super::writer::{load_logged_model, load_registered_model, load_run};
use super::{keys, StoreError, Trees};
use std::collections::BTreeMap;

use crate::domain::{ExperimentId, Run, RunId, ViewType};
use crate::domain::{LoggedModel, ModelId, RegisteredModel, RegistryWrite, Restore, WriteOp};
use crate::query::filter::Expr;

/// Runs by id; logged models and registered models, decoded, for searches.
#[derive(Default)]
pub struct Catalog {
    runs: RwLock<RunIndex>,
    logged_models: RwLock<BTreeMap<ModelId, Arc<LoggedModel>>>,
    registered: RwLock<BTreeMap<String, Arc<RegisteredModel>>>,
}

impl Catalog {
    /// Loads every run of the store.
    pub(crate) fn load(trees: &Trees) -> Result<Catalog, StoreError> {
        let mut runs = RunIndex::default();
        for entry in trees.runs.iter() {
            let (_, bytes) = entry?;
            let info = super::decode_record(&bytes)?;
            let run =
                load_run_data(trees, info).map_err(|e| StoreError::Corrupted(e.to_string()))?;
            runs.upsert(Arc::new(run));
        }
        let mut logged_models = BTreeMap::new();
        for entry in trees.logged_models.iter() {
            let (_, bytes) = entry?;
            let model: LoggedModel = super::decode_record(&bytes)?;
            logged_models.insert(model.id, Arc::new(model));
        }
        let mut registered = BTreeMap::new();
        for entry in trees.registered_models.iter() {
            let (_, bytes) = entry?;
            let model: RegisteredModel = super::decode_record(&bytes)?;
            registered.insert(model.name.clone(), Arc::new(model));
        }
        Ok(Catalog {
            runs: RwLock::new(runs),
            logged_models: RwLock::new(logged_models),
            registered: RwLock::new(registered),
        })
    }

    /// The logged models of `experiments` (deleted ones too), in id order.
    pub fn logged_models(&self, experiments: &[ExperimentId]) -> Vec<Arc<LoggedModel>> {
        self.logged_models
            .read()
            .expect("catalog lock")
            .values()
            .filter(|m| experiments.contains(&m.experiment_id))
            .cloned()
            .collect()
    }

    /// Every registered model, in name order.
    pub fn registered_models(&self) -> Vec<Arc<RegisteredModel>> {
        self.registered
            .read()
            .expect("catalog lock")
            .values()
            .cloned()
            .collect()
    }

    fn refresh_logged_model(&self, trees: &Trees, id: ModelId) {
        let fresh = load_logged_model(trees, id);
        let mut models = self.logged_models.write().expect("catalog lock");
        match fresh {
            Ok(m) => models.insert(id, Arc::new(m)),
            Err(_) => models.remove(&id),
        };
    }

    fn refresh_registered(&self, trees: &Trees, name: &str) {
        let fresh = load_registered_model(trees, name);
        let mut models = self.registered.write().expect("catalog lock");
        match fresh {
            Ok(m) => models.insert(name.to_owned(), Arc::new(m)),
            Err(_) => models.remove(name),
        };
    }

    /// Re-reads one run from the trees (dropping it when it is gone).
    pub(crate) fn refresh_run(&self, trees: &Trees, id: RunId) {
        self.refresh(trees, id)
    }

    /// Re-reads one run from the trees.
    fn refresh(&self, trees: &Trees, id: RunId) {
        let fresh = load_run(trees, id).and_then(|info| load_run_data(trees, info));
        let mut runs = self.runs.write().expect("catalog lock");
        match fresh {
            Ok(run) => runs.upsert(Arc::new(run)),
            Err(_) => runs.remove(id),
        }
    }

    /// Refreshes every run an applied op may have changed.
    pub(crate) fn refresh_after(&self, trees: &Trees, op: &WriteOp) {
        match op {
            WriteOp::CreateRun { info, .. } => self.refresh(trees, info.run_id),
            WriteOp::UpdateRun { run_id, .. }
            | WriteOp::SetRunLifecycle { run_id, .. }
            | WriteOp::Log { run_id, .. }
            | WriteOp::DeleteTag { run_id, .. }
            | WriteOp::LogIo { run_id, .. }
            | WriteOp::AppendLoggedModel { run_id, .. } => self.refresh(trees, *run_id),
            WriteOp::StreamBatch { runs, .. } => {
                let mut seen: Vec<RunId> = Vec::with_capacity(runs.len());
                for (id, _) in runs {
                    if !seen.contains(id) {
                        seen.push(*id);
                        self.refresh(trees, *id);
                    }
                }
            }
            WriteOp::SetExperimentLifecycle { id, .. } => {
                for key in trees
                    .experiment_runs
                    .scan_prefix(keys::experiment(*id))
                    .keys()
                    .flatten()
                {
                    if let Some(run) = keys::experiment_run_id(&key) {
                        self.refresh(trees, run);
                    }
                }
            }
            WriteOp::Restore(Restore::Run(run)) => self.refresh(trees, run.info.run_id),
            WriteOp::Restore(Restore::Points { run_id, .. }) => self.refresh(trees, *run_id),
            WriteOp::CreateExperiment { .. }
            | WriteOp::RenameExperiment { .. }
            | WriteOp::ExperimentTag { .. }
            | WriteOp::Restore(Restore::Experiment(_)) => {}
            WriteOp::Model(write) => self.refresh_logged_model(trees, write.model_id()),
            WriteOp::Registry(write) => {
                self.refresh_registered(trees, write.name());
                if let RegistryWrite::Rename { new_name, .. } = write {
                    self.refresh_registered(trees, new_name);
                }
            }
        }
    }

    /// Runs of `experiments` visible in `view` that match `filter` (already type-checked
    /// with [`crate::query::eval::check_runs`]), in no particular order.
    pub fn search(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        filter: Option<&Expr>,
    ) -> Vec<Arc<Run>> {
        self.runs
            .read()
            .expect("catalog lock")
            .search(experiments, view, filter)
    }
}

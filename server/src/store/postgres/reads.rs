//! Reads: records decoded from their rows, searches filtered in memory with the shared
//! evaluator (one row per run, no join), and the maintenance deletes of `trackd gc`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::domain::{
    DatasetInput, Experiment, ExperimentId, LoggedModel, ModelId, ModelOutput, Point,
    RegisteredModel, Run, RunId, RunInfo, RunInputs, ViewType,
};
use crate::error::{Result, TrackingError};
use crate::query::eval::matches_run;
use crate::query::filter::Expr;

/// A run's data next to its info in the `runs` row (postcard).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct RunData {
    /// Latest value per metric key.
    pub metrics: BTreeMap<String, Point>,
    /// Params (write-once).
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Datasets used, each (name, digest) once, in (name, digest) order.
    pub datasets: Vec<DatasetInput>,
    /// Logged models used, each once, in id order.
    pub input_models: Vec<String>,
    /// Models produced, each (model, step) once, in that order.
    pub outputs: Vec<ModelOutput>,
}

impl RunData {
    /// Links datasets and models; anything already linked is left as it is (MLflow's SQL
    /// store does the same).
    pub fn link(&mut self, inputs: &RunInputs, outputs: &[ModelOutput]) {
        for input in &inputs.datasets {
            let key = (&input.dataset.name, &input.dataset.digest);
            if let Err(at) = self
                .datasets
                .binary_search_by(|d| (&d.dataset.name, &d.dataset.digest).cmp(&key))
            {
                self.datasets.insert(at, input.clone());
            }
        }
        for model in &inputs.models {
            if let Err(at) = self.input_models.binary_search(model) {
                self.input_models.insert(at, model.clone());
            }
        }
        for out in outputs {
            let key = (&out.model_id, out.step);
            if let Err(at) = self
                .outputs
                .binary_search_by(|o| (&o.model_id, o.step).cmp(&key))
            {
                self.outputs.insert(at, out.clone());
            }
        }
    }

    fn into_run(self, info: RunInfo) -> Run {
        Run {
            info,
            metrics: self.metrics,
            params: self.params,
            tags: self.tags,
            inputs: RunInputs {
                datasets: self.datasets,
                models: self.input_models,
            },
            outputs: self.outputs,
        }
    }
}

/// A record's bytes.
pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("records serialise infallibly")
}

/// A record from its bytes.
pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| TrackingError::Corrupted(format!("undecodable PostgreSQL record: {e}")))
}

pub(super) async fn experiment(c: &impl GenericClient, id: ExperimentId) -> Result<Experiment> {
    let row = c
        .query_opt(
            "SELECT record FROM trackd_experiments WHERE id = $1",
            &[&(id.0 as i64)],
        )
        .await?
        .ok_or_else(|| TrackingError::not_found(format!("No Experiment with id={id} exists")))?;
    decode(row.get(0))
}

pub(super) async fn experiment_by_name(c: &impl GenericClient, name: &str) -> Result<Experiment> {
    let row = c
        .query_opt(
            "SELECT record FROM trackd_experiments WHERE name = $1",
            &[&name],
        )
        .await?
        .ok_or_else(|| {
            TrackingError::not_found(format!("Could not find experiment with name '{name}'"))
        })?;
    decode(row.get(0))
}

pub(super) async fn experiments(c: &impl GenericClient) -> Result<Vec<Experiment>> {
    c.query("SELECT record FROM trackd_experiments ORDER BY id", &[])
        .await?
        .iter()
        .map(|row| decode(row.get(0)))
        .collect()
}

pub(super) async fn run(c: &impl GenericClient, id: RunId) -> Result<Run> {
    let row = c
        .query_opt(
            "SELECT info, data FROM trackd_runs WHERE run_id = $1",
            &[&&id.0[..]],
        )
        .await?
        .ok_or_else(|| TrackingError::not_found(format!("Run with id={id} not found")))?;
    let info: RunInfo = decode(row.get(0))?;
    let data: RunData = decode(row.get(1))?;
    Ok(data.into_run(info))
}

/// Decoded runs by id with the row version they were decoded from. A search asks the
/// database for the versions of the runs it may return (a narrow index-sized read) and
/// decodes only the rows whose version changed, so it is never staler than the database
/// and costs little more than the filter when little changed.
#[derive(Default)]
pub(super) struct RunCache {
    runs: std::sync::Mutex<std::collections::HashMap<RunId, (i64, Arc<Run>)>>,
}

pub(super) async fn search_runs(
    c: &impl GenericClient,
    cache: &RunCache,
    experiments: &[ExperimentId],
    view: ViewType,
    filter: Option<&Expr>,
) -> Result<Vec<Arc<Run>>> {
    let ids: Vec<i64> = experiments.iter().map(|e| e.0 as i64).collect();
    let deleted: Vec<bool> = match view {
        ViewType::ActiveOnly => vec![false],
        ViewType::DeletedOnly => vec![true],
        ViewType::All => vec![false, true],
    };
    let versions = c
        .query(
            "SELECT run_id, version FROM trackd_runs \
             WHERE experiment_id = ANY($1) AND deleted = ANY($2)",
            &[&ids, &deleted],
        )
        .await?;
    let mut found: Vec<Arc<Run>> = Vec::with_capacity(versions.len());
    let mut stale: Vec<Vec<u8>> = Vec::new();
    {
        let cached = cache.runs.lock().expect("run cache lock");
        for row in &versions {
            let id: &[u8] = row.get(0);
            let version: i64 = row.get(1);
            let id = RunId(id.try_into().map_err(|_| {
                TrackingError::Corrupted("a run id in PostgreSQL is not 16 bytes".into())
            })?);
            match cached.get(&id) {
                Some((v, run)) if *v == version => found.push(run.clone()),
                _ => stale.push(id.0.to_vec()),
            }
        }
    }
    if !stale.is_empty() {
        let rows = c
            .query(
                "SELECT run_id, version, info, data FROM trackd_runs WHERE run_id = ANY($1)",
                &[&stale],
            )
            .await?;
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            let info: RunInfo = decode(row.get(2))?;
            let data: RunData = decode(row.get(3))?;
            let run = Arc::new(data.into_run(info));
            fresh.push((row.get::<_, i64>(1), run));
        }
        let mut cached = cache.runs.lock().expect("run cache lock");
        for (version, run) in fresh {
            // (A run changed since the version read: this row is newer, still never stale.)
            if experiments.contains(&run.info.experiment_id) && view.includes(run.info.lifecycle) {
                found.push(run.clone());
            }
            cached.insert(run.info.run_id, (version, run));
        }
    }
    Ok(match filter {
        None => found,
        Some(f) => found
            .into_iter()
            .filter(|run| matches_run(f, run))
            .collect(),
    })
}

/// Forgets a purged run.
pub(super) fn forget(cache: &RunCache, id: RunId) {
    cache.runs.lock().expect("run cache lock").remove(&id);
}

pub(super) async fn logged_model(c: &impl GenericClient, id: ModelId) -> Result<LoggedModel> {
    let row = c
        .query_opt(
            "SELECT record FROM trackd_logged_models WHERE id = $1",
            &[&&id.0[..]],
        )
        .await?
        .ok_or_else(|| crate::domain::logged_model_not_found(id))?;
    decode(row.get(0))
}

pub(super) async fn logged_models(
    c: &impl GenericClient,
    experiments: &[ExperimentId],
) -> Result<Vec<Arc<LoggedModel>>> {
    let ids: Vec<i64> = experiments.iter().map(|e| e.0 as i64).collect();
    c.query(
        "SELECT record FROM trackd_logged_models WHERE experiment_id = ANY($1) ORDER BY id",
        &[&ids],
    )
    .await?
    .iter()
    .map(|row| decode(row.get(0)).map(Arc::new))
    .collect()
}

pub(super) async fn registered_model(
    c: &impl GenericClient,
    name: &str,
) -> Result<RegisteredModel> {
    let row = c
        .query_opt(
            "SELECT record FROM trackd_registered_models WHERE name = $1",
            &[&name],
        )
        .await?
        .ok_or_else(|| crate::domain::registry::registered_model_not_found(name))?;
    decode(row.get(0))
}

pub(super) async fn registered_models(c: &impl GenericClient) -> Result<Vec<Arc<RegisteredModel>>> {
    let mut models: Vec<Arc<RegisteredModel>> = c
        .query("SELECT record FROM trackd_registered_models", &[])
        .await?
        .iter()
        .map(|row| decode(row.get(0)).map(Arc::new))
        .collect::<Result<_>>()?;
    // Byte order of names, as the sled store lists them (not the database's collation).
    models.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(models)
}

/// Removes a deleted run with its points; `false` if it is not deleted (or absent).
pub(super) async fn purge_run(c: &impl GenericClient, id: RunId) -> Result<bool> {
    let run_id = &id.0[..];
    let gone = c
        .execute(
            "WITH chunks AS (DELETE FROM trackd_metric_chunks WHERE run_id = $1 \
               AND EXISTS (SELECT 1 FROM trackd_runs WHERE run_id = $1 AND deleted)) \
             DELETE FROM trackd_runs WHERE run_id = $1 AND deleted",
            &[&run_id],
        )
        .await?;
    Ok(gone > 0)
}

/// Removes a deleted experiment that has no runs left; `false` otherwise.
pub(super) async fn purge_experiment(c: &impl GenericClient, id: ExperimentId) -> Result<bool> {
    let id = id.0 as i64;
    let rows = c
        .query(
            "SELECT record FROM trackd_experiments WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM trackd_runs WHERE experiment_id = $1)",
            &[&id],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(false);
    };
    let exp: Experiment = decode(row.get(0))?;
    if exp.lifecycle != crate::domain::Lifecycle::Deleted {
        return Ok(false);
    }
    let gone = c
        .execute(
            "DELETE FROM trackd_experiments WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM trackd_runs WHERE experiment_id = $1)",
            &[&id],
        )
        .await?;
    Ok(gone > 0)
}

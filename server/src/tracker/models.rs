//! Logged models (MLflow 3): create, read, finalize, tag, params, metrics, delete, search,
//! and their files through the artifact proxy (`<experiment location>/models/<id>/artifacts`).
//! MLflow's rules for them live in [`ModelWrite::apply`]; what is validated here is the
//! request.

use std::collections::BTreeMap;

use tracing::instrument;

use super::reads::{CheckedSearch, Page, SearchRules};
use super::{unexpected, Tracker};
use crate::artifacts::{directory_of_uri, ArtifactFile, ArtifactRead, ArtifactUpload};
use crate::domain::caller::{Caller, Need, Permission};
use crate::domain::{
    names, now_ms, rules, validate, ExperimentId, Lifecycle, LoggedModel, ModelId, ModelMetric,
    ModelStatus, ModelWrite, Outcome, RunId, WriteOp,
};
use crate::error::{Result, TrackingError};
use crate::query::models;
use crate::query::page::MODEL_TOKEN;

/// Longest logged-model name (MLflow's column size).
pub const MAX_MODEL_NAME_LEN: usize = 500;
/// Characters a logged-model name may not contain (MLflow's rule: names appear in URIs).
const MODEL_NAME_BAD_CHARS: [char; 6] = ['/', ':', '.', '%', '"', '\''];

/// Arguments of CreateLoggedModel.
#[derive(Debug, Clone, Default)]
pub struct NewLoggedModel {
    /// Experiment id as sent.
    pub experiment_id: String,
    /// Name (a random one when empty).
    pub name: String,
    /// Free-form model type.
    pub model_type: String,
    /// The run that produced it (empty: none).
    pub source_run_id: String,
    /// Params.
    pub params: Vec<(String, String)>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// An ordering of a logged-model search (MLflow sends them structured, not as text).
#[derive(Debug, Clone, Default)]
pub struct ModelOrder {
    /// `name`, `creation_timestamp`, … or `metrics.<key>`.
    pub field_name: String,
    /// Ascending (MLflow's default) or descending.
    pub ascending: bool,
}

/// Arguments of SearchLoggedModels.
#[derive(Debug, Clone, Default)]
pub struct ModelSearch {
    /// Experiments to search (at least one).
    pub experiment_ids: Vec<String>,
    /// Filter (run filter language over model fields).
    pub filter: String,
    /// Only models with a metric on one of these `(dataset name, digest)` (digest optional).
    pub datasets: Vec<(String, String)>,
    /// Page size (0 → MLflow's default).
    pub max_results: i64,
    /// Orderings.
    pub order_by: Vec<ModelOrder>,
    /// From a previous page.
    pub page_token: String,
}

/// A metric value to record against a logged model (LogBatch / LogMetric with `model_id`).
#[derive(Debug, Clone)]
pub struct ModelMetricIn {
    /// The model's id as sent.
    pub model_id: String,
    /// The value.
    pub metric: ModelMetric,
}

fn model_name(name: &str) -> Result<()> {
    if name.len() > MAX_MODEL_NAME_LEN || name.contains(MODEL_NAME_BAD_CHARS) {
        return Err(TrackingError::invalid(format!(
            "Invalid model name ('{}') provided. Model name must be a non-empty string of at \
             most {MAX_MODEL_NAME_LEN} bytes and cannot contain the following characters: \
             ('/', ':', '.', '%', '\"', \"'\")",
            validate::abbreviate(name)
        )));
    }
    Ok(())
}

fn model_params(params: &[(String, String)]) -> Result<()> {
    validate::unique_param_keys(params)?;
    params.iter().try_for_each(|(k, v)| validate::param(k, v))
}

fn model_tags(tags: &[(String, String)]) -> Result<()> {
    tags.iter().try_for_each(|(k, v)| validate::tag(k, v))
}

impl Tracker {
    /// Creates a logged model in an active experiment: PENDING, its files to be uploaded
    /// under its artifact location, then finalized.
    #[instrument(skip(self, new), fields(experiment_id = %new.experiment_id), err(level = "debug"))]
    pub async fn create_logged_model(
        &self,
        caller: &Caller,
        new: NewLoggedModel,
    ) -> Result<LoggedModel> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Edit, &new.experiment_id),
        )?;
        let experiment_id = ExperimentId::parse(&new.experiment_id)?;
        let name = if new.name.is_empty() {
            names::random_run_name()
        } else {
            new.name
        };
        model_name(&name)?;
        model_params(&new.params)?;
        model_tags(&new.tags)?;
        let experiment = self.backend.experiment(experiment_id)?;
        rules::ensure_experiment_active(&experiment)?;
        let source_run_id = if new.source_run_id.is_empty() {
            None
        } else {
            let run = self.backend.run_info(RunId::parse(&new.source_run_id)?)?;
            if run.experiment_id != experiment_id {
                return Err(TrackingError::invalid(format!(
                    "Run '{}' belongs to experiment {}, not {experiment_id}.",
                    run.run_id, run.experiment_id
                )));
            }
            Some(run.run_id)
        };
        let id = ModelId::generate();
        let now = now_ms();
        let model = LoggedModel {
            id,
            experiment_id,
            name,
            artifact_location: format!(
                "{}/models/{id}/artifacts",
                experiment.artifact_location.trim_end_matches('/')
            ),
            creation_time: now,
            last_updated_time: now,
            model_type: new.model_type,
            source_run_id,
            status: ModelStatus::Pending,
            status_message: String::new(),
            tags: new.tags.into_iter().collect(),
            params: new.params.into_iter().collect(),
            metrics: Vec::new(),
            lifecycle: Lifecycle::Active,
        };
        self.model_write(ModelWrite::Create(Box::new(model))).await
    }

    /// A logged model; a deleted one only with `allow_deleted`.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_logged_model(
        &self,
        caller: &Caller,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<LoggedModel> {
        let model = self.existing_model(model_id, allow_deleted)?;
        self.authorize(
            caller,
            Need::Experiment(Permission::Read, &model.experiment_id.to_string()),
        )?;
        Ok(model)
    }

    /// Sets a pending model's final status (READY or FAILED). Finalizing again with the same
    /// status is a no-op; changing a final status is refused (INVALID_PARAMETER_VALUE).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn finalize_logged_model(
        &self,
        caller: &Caller,
        model_id: &str,
        status: Option<ModelStatus>,
    ) -> Result<LoggedModel> {
        let status = match status {
            Some(s @ (ModelStatus::Ready | ModelStatus::Failed)) => s,
            _ => {
                return Err(TrackingError::invalid(
                    "A logged model is finalized as LOGGED_MODEL_READY or \
                     LOGGED_MODEL_UPLOAD_FAILED.",
                ))
            }
        };
        let id = self.editable_model(caller, model_id)?;
        self.model_write(ModelWrite::Finalize {
            id,
            status,
            now: now_ms(),
        })
        .await
    }

    /// Marks a logged model deleted (its files stay until garbage collection, as in MLflow).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_logged_model(&self, caller: &Caller, model_id: &str) -> Result<()> {
        let id = self.editable_model(caller, model_id)?;
        self.model_write(ModelWrite::Delete { id, now: now_ms() })
            .await
            .map(|_| ())
    }

    /// Sets tags on a logged model.
    #[instrument(skip(self, tags), err(level = "debug"))]
    pub async fn set_logged_model_tags(
        &self,
        caller: &Caller,
        model_id: &str,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        model_tags(&tags)?;
        let id = self.editable_model(caller, model_id)?;
        self.model_write(ModelWrite::SetTags {
            id,
            tags,
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// Deletes a tag of a logged model.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_logged_model_tag(
        &self,
        caller: &Caller,
        model_id: &str,
        key: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        let id = self.editable_model(caller, model_id)?;
        self.model_write(ModelWrite::DeleteTag {
            id,
            key: key.to_owned(),
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// Logs params on a logged model (write-once, as a run's).
    #[instrument(skip(self, params), err(level = "debug"))]
    pub async fn log_logged_model_params(
        &self,
        caller: &Caller,
        model_id: &str,
        params: Vec<(String, String)>,
    ) -> Result<()> {
        model_params(&params)?;
        let id = self.editable_model(caller, model_id)?;
        self.model_write(ModelWrite::LogParams {
            id,
            params,
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// Records metric values against logged models (MLflow 3 logs a run's metrics again
    /// with a `model_id` when a model is logged; those go to the model, not to the run's
    /// history a second time).
    #[instrument(skip(self, metrics), err(level = "debug"))]
    pub async fn log_model_metrics(
        &self,
        caller: &Caller,
        metrics: Vec<ModelMetricIn>,
    ) -> Result<()> {
        let mut by_model: BTreeMap<ModelId, Vec<ModelMetric>> = BTreeMap::new();
        for m in metrics {
            validate::key("metric", &m.metric.key)?;
            let id = ModelId::parse(&m.model_id)?;
            by_model.entry(id).or_default().push(m.metric);
        }
        for (id, metrics) in by_model {
            self.editable_model(caller, &id.to_string())?;
            self.model_write(ModelWrite::LogMetrics { id, metrics })
                .await?;
        }
        Ok(())
    }

    /// Searches the logged models of some experiments (deleted ones are never found).
    #[instrument(skip(self, search), err(level = "debug"))]
    pub async fn search_logged_models(
        &self,
        caller: &Caller,
        search: ModelSearch,
    ) -> Result<Page<LoggedModel>> {
        self.authorize(caller, Need::Search)?;
        if search.experiment_ids.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'experiment_ids'.",
            ));
        }
        let experiments = search
            .experiment_ids
            .iter()
            .map(|e| ExperimentId::parse(e))
            .collect::<Result<Vec<_>>>()?;
        let order_by: Vec<String> = search
            .order_by
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o.field_name,
                    if o.ascending { "ASC" } else { "DESC" }
                )
            })
            .collect();
        let checked = CheckedSearch::new(
            &search.filter,
            &order_by,
            search.max_results,
            &search.page_token,
            &SearchRules {
                token: MODEL_TOKEN,
                check_filter: &models::check_filter,
                check_order: &models::check_clauses,
                tie: &|_| 2,
            },
        )?;
        let backend = self.backend.clone();
        let page = tokio::task::spawn_blocking(move || -> Result<_> {
            let rows = backend
                .logged_models(&experiments)?
                .into_iter()
                .filter(|m| m.lifecycle == Lifecycle::Active)
                .filter(|m| checked.expr.as_ref().is_none_or(|x| models::matches(x, m)))
                .filter(|m| {
                    search.datasets.is_empty()
                        || m.metrics.iter().any(|metric| {
                            search.datasets.iter().any(|(name, digest)| {
                                metric.dataset_name == *name
                                    && (digest.is_empty() || metric.dataset_digest == *digest)
                            })
                        })
                })
                .map(|m| (models::sort_key(&m, &checked.clauses), m))
                .collect();
            Ok(checked.page(rows))
        })
        .await
        .map_err(|e| TrackingError::storage("search task failed", e))??;
        Ok(Page {
            items: page.items.into_iter().map(|m| (*m).clone()).collect(),
            next_page_token: page.next_page_token,
        })
    }

    // --- files through the artifact proxy ---------------------------------------------------

    /// If `path` (under the artifact root) lies in a logged model's files
    /// (`<experiment location>/models/<id>/artifacts/<path>`): the model, its directory and
    /// the path inside it.
    pub(super) fn locate_model_path(
        &self,
        clean: &str,
    ) -> Result<Option<(LoggedModel, String, String)>> {
        let segments: Vec<&str> = clean.split('/').collect();
        for i in 1..segments.len().saturating_sub(1) {
            if segments[i - 1] != "models" || segments[i + 1] != "artifacts" {
                continue;
            }
            let Ok(id) = ModelId::parse(segments[i]) else {
                continue;
            };
            let model = self.backend.logged_model(id)?;
            let dir = directory_of_uri(&model.artifact_location)?;
            if dir == segments[..i + 2].join("/") {
                return Ok(Some((model, dir, segments[i + 2..].join("/"))));
            }
        }
        Ok(None)
    }

    /// Starts an upload into a logged model's files (the model must not be deleted).
    pub(super) async fn begin_model_upload(
        &self,
        caller: &Caller,
        model: &LoggedModel,
        dir: &str,
        rel: &str,
    ) -> Result<Box<dyn ArtifactUpload>> {
        self.check_model_writable(caller, model)?;
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "an upload needs a file path, not the artifact root",
            ));
        }
        self.capped_upload(dir, rel).await
    }

    /// A logged model's files may be written by `caller`: EDIT on its experiment, and the
    /// model not deleted.
    pub(super) fn check_model_writable(&self, caller: &Caller, model: &LoggedModel) -> Result<()> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Edit, &model.experiment_id.to_string()),
        )?;
        if model.lifecycle != Lifecycle::Active {
            return Err(crate::domain::logged_model_not_found(model.id));
        }
        Ok(())
    }

    /// Reads a file of a logged model.
    pub(super) async fn open_model_file(
        &self,
        caller: &Caller,
        model: &LoggedModel,
        dir: &str,
        rel: &str,
    ) -> Result<ArtifactRead> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Read, &model.experiment_id.to_string()),
        )?;
        self.artifacts.get(dir, rel, None).await
    }

    /// Lists one level of a logged model's files.
    pub(super) async fn list_model_files(
        &self,
        caller: &Caller,
        model: &LoggedModel,
        dir: &str,
        rel: &str,
    ) -> Result<Vec<ArtifactFile>> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Read, &model.experiment_id.to_string()),
        )?;
        self.artifacts.list(dir, rel, false).await
    }

    /// Deletes a file or directory of a logged model (never its root).
    pub(super) async fn delete_model_file(
        &self,
        caller: &Caller,
        model: &LoggedModel,
        dir: &str,
        rel: &str,
    ) -> Result<()> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Edit, &model.experiment_id.to_string()),
        )?;
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "Invalid path '': the root of a logged model's files cannot be deleted.",
            ));
        }
        self.artifacts.delete(dir, rel).await
    }

    /// Starts uploading the file `path` of a logged model (by id).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn begin_logged_model_upload(
        &self,
        caller: &Caller,
        model_id: &str,
        path: &str,
    ) -> Result<Box<dyn ArtifactUpload>> {
        let (model, dir, rel) = self.model_file(model_id, path, false)?;
        self.begin_model_upload(caller, &model, &dir, &rel).await
    }

    /// Reads the file `path` of a logged model (by id).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn open_logged_model_file(
        &self,
        caller: &Caller,
        model_id: &str,
        path: &str,
    ) -> Result<ArtifactRead> {
        let (model, dir, rel) = self.model_file(model_id, path, true)?;
        self.open_model_file(caller, &model, &dir, &rel).await
    }

    /// Lists the files of a logged model (by id) under `path`: its artifact URI and the
    /// entries.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn list_logged_model_files(
        &self,
        caller: &Caller,
        model_id: &str,
        path: &str,
        recursive: bool,
    ) -> Result<(String, Vec<ArtifactFile>)> {
        let (model, dir, rel) = self.model_file(model_id, path, true)?;
        self.authorize(
            caller,
            Need::Experiment(Permission::Read, &model.experiment_id.to_string()),
        )?;
        let files = self.artifacts.list(&dir, &rel, recursive).await?;
        Ok((model.artifact_location, files))
    }

    /// Deletes a file or directory of a logged model (by id).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_logged_model_file(
        &self,
        caller: &Caller,
        model_id: &str,
        path: &str,
    ) -> Result<()> {
        let (model, dir, rel) = self.model_file(model_id, path, false)?;
        self.delete_model_file(caller, &model, &dir, &rel).await
    }

    /// A model (deleted ones only for reading), its files' directory, and `path` validated.
    fn model_file(
        &self,
        model_id: &str,
        path: &str,
        read: bool,
    ) -> Result<(LoggedModel, String, String)> {
        let model = self.existing_model(model_id, read)?;
        let dir = directory_of_uri(&model.artifact_location)?;
        let rel = crate::artifacts::validate_relative_path(path)?;
        Ok((model, dir, rel))
    }

    // --- helpers -------------------------------------------------------------------------

    fn existing_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let id = ModelId::parse(model_id)?;
        let model = self.backend.logged_model(id)?;
        if model.lifecycle == Lifecycle::Deleted && !allow_deleted {
            return Err(crate::domain::logged_model_not_found(id));
        }
        Ok(model)
    }

    /// The id of a model the caller may edit (existence and state are checked again by
    /// the write itself).
    fn editable_model(&self, caller: &Caller, model_id: &str) -> Result<ModelId> {
        let model = self.existing_model(model_id, false)?;
        self.authorize(
            caller,
            Need::Experiment(Permission::Edit, &model.experiment_id.to_string()),
        )?;
        Ok(model.id)
    }

    async fn model_write(&self, write: ModelWrite) -> Result<LoggedModel> {
        match self.write(WriteOp::Model(write)).await? {
            Outcome::Model(model) => Ok(*model),
            other => Err(unexpected(other)),
        }
    }
}

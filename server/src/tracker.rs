//! The [`Tracker`]: the one implementation of every tracking operation.
//!
//! Edges (gRPC, REST, the embedded client) hand it wire-neutral arguments (ids as the strings
//! the user sent, domain values) and get domain values back. It parses ids, validates input
//! against MLflow's limits, fills defaults (run names, times, the default experiment), and
//! turns the request into a [`WriteOp`] for the store's single writer, which checks the
//! state-dependent rules (write-once params, lifecycle) atomically with the write.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tracing::instrument;

use crate::artifacts::{
    validate_relative_path, ArtifactFile, ArtifactRead, ArtifactRepository, ArtifactStore,
    ArtifactUpload, DEFAULT_MAX_FILE_BYTES,
};
use crate::backend::{BackendMetric, PendingWrite, TrackingBackend};
use crate::domain::caller::{Caller, Need, Permission};
use crate::domain::{
    names, now_ms, validate, Experiment, ExperimentId, Lifecycle, ModelOutput, Point, Run, RunId,
    RunInfo, RunInputs, RunStatus, RunWrites, RUN_NAME_TAG, USER_TAG,
};
use crate::domain::{Durability, Outcome, WriteOp};
use crate::error::{Result, TrackingError};
use crate::store::Store;

pub mod access;
pub mod backup;
pub mod gc;
pub mod history;
pub mod models;
pub mod overview;
pub mod reads;
pub mod registry;
pub mod transfers;

pub use gc::{GcReport, GcRequest};
pub use history::{HistoryBlock, HistoryBlocks, HistoryRead, ReadStats};
pub use models::{ModelMetricIn, ModelOrder, ModelSearch, NewLoggedModel};
pub use overview::{ExperimentActivity, RunColumns};
pub use reads::{ExperimentSearch, Page, RunSearch, SampledHistory, SampledSeries, Sampling};
pub use registry::{version_number, NewModelVersion, RegistrySearch};

/// Most points in one LogStream batch.
pub const MAX_STREAM_BATCH_POINTS: usize = 250_000;
/// Most points queued for the committer across all streams; a stream whose batch does not
/// fit waits (HTTP/2 flow control then slows its sender). A batch larger than the whole
/// budget (up to [`MAX_STREAM_BATCH_POINTS`]) waits for all of it. 128 Ki points keeps the
/// committer busy at full rate (twice that was no faster, and 3 MiB heavier).
pub const INGEST_BUDGET_POINTS: usize = 1 << 17;
/// Longest stream id.
pub const MAX_STREAM_ID_LEN: usize = 128;

/// Arguments of [`Tracker::create_run`].
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    /// Experiment id as sent; empty means `"0"`.
    pub experiment_id: String,
    /// Deprecated user field.
    pub user_id: String,
    /// Run name; empty means "from the `mlflow.runName` tag, else random".
    pub run_name: String,
    /// Start time; `None` means now.
    pub start_time: Option<i64>,
    /// Initial tags.
    pub tags: Vec<(String, String)>,
}

/// Arguments of [`Tracker::update_run`]: only the fields that are set change.
#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    /// New status.
    pub status: Option<RunStatus>,
    /// New end time.
    pub end_time: Option<i64>,
    /// New name (empty is ignored).
    pub run_name: Option<String>,
}

/// The answer to one LogStream batch.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAck {
    /// Sequence number acknowledged.
    pub seq: u64,
    /// Points written now (0 for a batch stored before).
    pub points_stored: u64,
    /// What the acknowledgement promises.
    pub durability: Durability,
    /// Runs of the batch that were refused, with why (run id as sent); nothing of them was
    /// written, the other runs' writes were stored.
    pub refused: Vec<(String, TrackingError)>,
}

/// Room for one LogStream batch in the ingest budget ([`Tracker::reserve_ingest`]).
#[derive(Debug)]
pub struct IngestPermit(tokio::sync::OwnedSemaphorePermit);

/// The tracking service. Cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    backend: Arc<dyn TrackingBackend>,
    artifacts: Arc<dyn ArtifactRepository>,
    max_artifact_bytes: u64,
    ingest_budget: Arc<Semaphore>,
    ingest_budget_points: usize,
    read_stats: Arc<ReadStats>,
    duplicate_batches: Arc<std::sync::atomic::AtomicU64>,
    /// LogStream batches that waited for the ingest budget (the stream was not read
    /// meanwhile, so HTTP/2 flow control slowed its sender).
    budget_waits: Arc<std::sync::atomic::AtomicU64>,
    /// How long LogStream batches took from being read to being acknowledged.
    stream_ack_latency: Arc<crate::latency::LatencyHistogram>,
    /// Where users, tokens and grants live (the sled store's own trees).
    access: Option<Arc<dyn crate::backend::AccessBackend>>,
    /// Authentication settings; `None`: off, every caller may do everything.
    auth: Option<access::Auth>,
}

impl Tracker {
    /// A tracker over an open store (artifacts in `<store>/artifacts`).
    ///
    /// # Panics
    /// If the artifact directory cannot be created; use [`Tracker::open`] to get an error.
    pub fn new(store: Store) -> Self {
        Self::open(store).expect("artifact directory")
    }

    /// A tracker over an open store, creating its artifact directory.
    pub fn open(store: Store) -> Result<Self> {
        let artifacts = ArtifactStore::open(store.artifact_root())?;
        let access: Arc<dyn crate::backend::AccessBackend> = Arc::new(store.clone());
        let backend: Arc<dyn TrackingBackend> = Arc::new(store);
        let mut tracker = Self::with_backends(backend, Arc::new(artifacts));
        tracker.access = Some(access);
        Ok(tracker)
    }

    /// The same tracker with another largest artifact file size (uploads beyond it are
    /// refused on every edge).
    pub fn with_max_artifact_bytes(mut self, max: u64) -> Self {
        self.max_artifact_bytes = max;
        self
    }

    /// Largest artifact file an upload may write, in bytes.
    pub fn max_artifact_bytes(&self) -> u64 {
        self.max_artifact_bytes
    }

    /// A tracker over any backends (the sled store and its directory's artifacts are what
    /// [`Tracker::open`] uses).
    pub fn with_backends(
        backend: Arc<dyn TrackingBackend>,
        artifacts: Arc<dyn ArtifactRepository>,
    ) -> Self {
        Tracker {
            backend,
            artifacts,
            max_artifact_bytes: DEFAULT_MAX_FILE_BYTES,
            ingest_budget: Arc::new(Semaphore::new(INGEST_BUDGET_POINTS)),
            ingest_budget_points: INGEST_BUDGET_POINTS,
            read_stats: Arc::default(),
            duplicate_batches: Arc::default(),
            budget_waits: Arc::default(),
            stream_ack_latency: Arc::default(),
            access: None,
            auth: None,
        }
    }

    /// Where the data is (for logs).
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// What an acknowledgement of a write promises on this server.
    pub fn durability(&self) -> Durability {
        self.backend.durability()
    }

    /// The backend's figures (for `/metrics`).
    pub fn backend_metrics(&self) -> Vec<BackendMetric> {
        self.backend.metrics()
    }

    /// Stops accepting writes, commits and flushes what is queued, and closes the store.
    pub async fn close(&self) -> Result<()> {
        self.backend.close().await
    }

    // --- experiments --------------------------------------------------------------------

    /// Creates an experiment and returns its id.
    #[instrument(skip(self, tags), err(level = "debug"))]
    pub async fn create_experiment(
        &self,
        caller: &Caller,
        name: &str,
        artifact_location: &str,
        tags: Vec<(String, String)>,
    ) -> Result<ExperimentId> {
        self.authorize(caller, Need::CreateExperiment)?;
        validate::experiment_name(name)?;
        for (k, v) in &tags {
            validate::experiment_tag(k, v)?;
        }
        let location = if artifact_location.is_empty() {
            None
        } else {
            Some(validate_artifact_location(artifact_location)?)
        };
        let op = WriteOp::CreateExperiment {
            name: name.to_owned(),
            artifact_location: location,
            tags,
            now: now_ms(),
        };
        match self.write(op).await? {
            Outcome::ExperimentCreated(id) => {
                self.grant_creator(caller, id)?;
                Ok(id)
            }
            other => Err(unexpected(other)),
        }
    }

    /// An experiment by id (deleted ones included).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_experiment(&self, caller: &Caller, experiment_id: &str) -> Result<Experiment> {
        self.authorize(caller, Need::Experiment(Permission::Read, experiment_id))?;
        self.backend.experiment(ExperimentId::parse(experiment_id)?)
    }

    /// An experiment by name.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_experiment_by_name(&self, caller: &Caller, name: &str) -> Result<Experiment> {
        self.authorize(caller, Need::Search)?;
        if name.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'experiment_name'.",
            ));
        }
        let experiment = self.backend.experiment_by_name(name)?;
        self.authorize(
            caller,
            Need::Experiment(Permission::Read, &experiment.id.to_string()),
        )?;
        Ok(experiment)
    }

    /// Searches experiments.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn search_experiments(
        &self,
        caller: &Caller,
        search: ExperimentSearch,
    ) -> Result<Page<Experiment>> {
        self.authorize(caller, Need::Search)?;
        let mut page = reads::search_experiments(self.backend.as_ref(), &search)?;
        if self.filters_for(caller) {
            // Only what the caller may read (a page can come back shorter than asked; its
            // token still continues after the last experiment looked at).
            page.items
                .retain(|e| self.may_read_experiment(caller, e.id));
        }
        Ok(page)
    }

    /// Renames an experiment.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn update_experiment(
        &self,
        caller: &Caller,
        experiment_id: &str,
        new_name: &str,
    ) -> Result<()> {
        self.authorize(caller, Need::Experiment(Permission::Edit, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        if new_name.is_empty() {
            // MLflow treats a missing new_name as "nothing to change", after checking the id.
            self.backend.experiment(id)?;
            return Ok(());
        }
        validate::experiment_name(new_name)?;
        self.write_done(WriteOp::RenameExperiment {
            id,
            new_name: new_name.to_owned(),
            now: now_ms(),
        })
        .await
    }

    /// Soft-deletes an experiment and its runs.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_experiment(&self, caller: &Caller, experiment_id: &str) -> Result<()> {
        self.authorize(caller, Need::Experiment(Permission::Manage, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        self.write_done(WriteOp::SetExperimentLifecycle {
            id,
            lifecycle: Lifecycle::Deleted,
            now: now_ms(),
        })
        .await
    }

    /// Restores a deleted experiment and its runs.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn restore_experiment(&self, caller: &Caller, experiment_id: &str) -> Result<()> {
        self.authorize(caller, Need::Experiment(Permission::Manage, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        self.write_done(WriteOp::SetExperimentLifecycle {
            id,
            lifecycle: Lifecycle::Active,
            now: now_ms(),
        })
        .await
    }

    /// Sets an experiment tag.
    #[instrument(skip(self, value), err(level = "debug"))]
    pub async fn set_experiment_tag(
        &self,
        caller: &Caller,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.authorize(caller, Need::Experiment(Permission::Edit, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        validate::experiment_tag(key, value)?;
        self.write_done(WriteOp::ExperimentTag {
            id,
            key: key.to_owned(),
            value: Some(value.to_owned()),
        })
        .await
    }

    /// Deletes an experiment tag.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_experiment_tag(
        &self,
        caller: &Caller,
        experiment_id: &str,
        key: &str,
    ) -> Result<()> {
        self.authorize(caller, Need::Experiment(Permission::Edit, experiment_id))?;
        let id = ExperimentId::parse(experiment_id)?;
        validate::experiment_tag(key, "")?;
        self.write_done(WriteOp::ExperimentTag {
            id,
            key: key.to_owned(),
            value: None,
        })
        .await
    }

    // --- runs ---------------------------------------------------------------------------

    /// Creates a run in RUNNING state and returns it.
    #[instrument(skip(self, new), fields(experiment_id = %new.experiment_id), err(level = "debug"))]
    pub async fn create_run(&self, caller: &Caller, new: NewRun) -> Result<Run> {
        self.authorize(
            caller,
            Need::Experiment(Permission::Edit, &new.experiment_id),
        )?;
        let experiment_id = if new.experiment_id.is_empty() {
            ExperimentId::DEFAULT
        } else {
            ExperimentId::parse(&new.experiment_id)?
        };
        let mut tags = new.tags;
        validate::create_run_tags(&tags)?;
        let tag_name = tags
            .iter()
            .rev()
            .find(|(k, _)| k == RUN_NAME_TAG)
            .map(|(_, v)| v.clone());
        let run_name = match (new.run_name.as_str(), tag_name) {
            ("", Some(t)) => t,
            ("", None) => names::random_run_name(),
            (n, Some(t)) if n != t => {
                return Err(TrackingError::invalid(format!(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
                     different values (run_name='{n}', mlflow.runName='{t}')."
                )))
            }
            (n, _) => n.to_owned(),
        };
        validate::tag(RUN_NAME_TAG, &run_name)?;
        if !tags.iter().any(|(k, _)| k == RUN_NAME_TAG) {
            tags.push((RUN_NAME_TAG.to_owned(), run_name.clone()));
        }
        let user_id = if new.user_id.is_empty() {
            tags.iter()
                .find(|(k, _)| k == USER_TAG)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        } else {
            new.user_id
        };
        let start_time = new.start_time.unwrap_or_else(now_ms);
        if start_time < 0 {
            return Err(TrackingError::invalid(format!(
                "start_time must be >= 0, got {start_time}"
            )));
        }
        let info = RunInfo {
            run_id: RunId::generate(),
            experiment_id,
            run_name,
            user_id,
            status: RunStatus::Running,
            start_time,
            end_time: None,
            artifact_uri: String::new(),
            lifecycle: Lifecycle::Active,
        };
        match self.write(WriteOp::CreateRun { info, tags }).await? {
            Outcome::Run(info) => self.backend.run_with_info(*info),
            other => Err(unexpected(other)),
        }
    }

    /// A run with its latest metrics, params and tags.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_run(&self, caller: &Caller, run_id: &str) -> Result<Run> {
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        self.backend.run(RunId::parse(run_id)?)
    }

    /// Updates status, end time and/or name of a run.
    #[instrument(skip(self, update), err(level = "debug"))]
    pub async fn update_run(
        &self,
        caller: &Caller,
        run_id: &str,
        update: RunUpdate,
    ) -> Result<RunInfo> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        if let Some(end) = update.end_time {
            if end < 0 {
                return Err(TrackingError::invalid(format!(
                    "end_time must be >= 0, got {end}"
                )));
            }
        }
        let run_name = update.run_name.filter(|n| !n.is_empty());
        if let Some(name) = &run_name {
            validate::tag(RUN_NAME_TAG, name)?;
        }
        let op = WriteOp::UpdateRun {
            run_id,
            status: update.status,
            end_time: update.end_time,
            run_name,
        };
        match self.write(op).await? {
            Outcome::Run(info) => Ok(*info),
            other => Err(unexpected(other)),
        }
    }

    /// Soft-deletes a run.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_run(&self, caller: &Caller, run_id: &str) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Manage, run_id))?;
        let run_id = RunId::parse(run_id)?;
        self.write_done(WriteOp::SetRunLifecycle {
            run_id,
            lifecycle: Lifecycle::Deleted,
        })
        .await
    }

    /// Restores a deleted run.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn restore_run(&self, caller: &Caller, run_id: &str) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Manage, run_id))?;
        let run_id = RunId::parse(run_id)?;
        self.write_done(WriteOp::SetRunLifecycle {
            run_id,
            lifecycle: Lifecycle::Active,
        })
        .await
    }

    /// Searches runs.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn search_runs(
        &self,
        caller: &Caller,
        mut search: RunSearch,
    ) -> Result<Page<Arc<Run>>> {
        self.authorize(caller, Need::Search)?;
        if self.filters_for(caller) {
            // Experiments the caller may not read are left out, as if they had no runs.
            search.experiment_ids.retain(|id| {
                ExperimentId::parse(id).is_ok_and(|id| self.may_read_experiment(caller, id))
            });
            if search.experiment_ids.is_empty() {
                return Ok(Page {
                    items: Vec::new(),
                    next_page_token: String::new(),
                });
            }
        }
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || reads::search_runs(backend.as_ref(), &search))
            .await
            .map_err(|e| TrackingError::storage("search task failed", e))?
    }

    // --- logging ------------------------------------------------------------------------

    /// Logs one metric point. Needs `Edit` on the run (decided by [`Tracker::log_batch`]).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn log_metric(
        &self,
        caller: &Caller,
        run_id: &str,
        key: &str,
        point: Point,
    ) -> Result<()> {
        let writes = RunWrites {
            metrics: vec![(key.to_owned(), vec![point])],
            ..Default::default()
        };
        self.log_batch(caller, run_id, writes).await
    }

    /// Logs a param (write-once). Needs `Edit` on the run (decided by [`Tracker::log_batch`]).
    #[instrument(skip(self, value), err(level = "debug"))]
    pub async fn log_param(
        &self,
        caller: &Caller,
        run_id: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let writes = RunWrites {
            params: vec![(key.to_owned(), value.to_owned())],
            ..Default::default()
        };
        self.log_batch(caller, run_id, writes).await
    }

    /// Sets a run tag (`mlflow.runName` also renames the run). Needs `Edit` on the run (decided by [`Tracker::log_batch`]).
    #[instrument(skip(self, value), err(level = "debug"))]
    pub async fn set_tag(
        &self,
        caller: &Caller,
        run_id: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let writes = RunWrites {
            tags: vec![(key.to_owned(), value.to_owned())],
            ..Default::default()
        };
        self.log_batch(caller, run_id, writes).await
    }

    /// Deletes a run tag.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_tag(&self, caller: &Caller, run_id: &str, key: &str) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        validate::key("Tag", key)?;
        self.write_done(WriteOp::DeleteTag {
            run_id,
            key: key.to_owned(),
        })
        .await
    }

    /// Logs metrics, params and tags of one run with MLflow's LogBatch limits. A refused
    /// batch writes nothing; exact duplicate points are stored once.
    #[instrument(skip(self, writes), fields(points = writes.point_count()), err(level = "debug"))]
    pub async fn log_batch(&self, caller: &Caller, run_id: &str, writes: RunWrites) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        validate::log_batch(&writes)?;
        self.write_done(WriteOp::Log { run_id, writes }).await
    }

    /// Links datasets and logged models a run used (LogInputs). Each dataset (name, digest)
    /// and each model is linked once; logging it again changes nothing.
    #[instrument(skip(self, inputs), fields(datasets = inputs.datasets.len()), err(level = "debug"))]
    pub async fn log_inputs(&self, caller: &Caller, run_id: &str, inputs: RunInputs) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        validate::run_inputs(&inputs)?;
        self.write_done(WriteOp::LogIo {
            run_id,
            inputs,
            outputs: Vec::new(),
        })
        .await
    }

    /// Links logged models a run produced, each at a step (LogOutputs).
    #[instrument(skip(self, outputs), err(level = "debug"))]
    pub async fn log_outputs(
        &self,
        caller: &Caller,
        run_id: &str,
        outputs: Vec<ModelOutput>,
    ) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        validate::run_outputs(&outputs)?;
        self.write_done(WriteOp::LogIo {
            run_id,
            inputs: RunInputs::default(),
            outputs,
        })
        .await
    }

    /// Records a logged model (its MLmodel as a JSON object) in the run's
    /// `mlflow.log-model.history` tag (LogModel).
    #[instrument(skip(self, model_json), err(level = "debug"))]
    pub async fn log_model(&self, caller: &Caller, run_id: &str, model_json: &str) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let run_id = RunId::parse(run_id)?;
        validate::logged_model(model_json)?;
        self.write_done(WriteOp::AppendLoggedModel {
            run_id,
            model_json: model_json.to_owned(),
        })
        .await
    }

    /// The points of one metric, in step order, paged. `max_results == 0` returns everything.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn metric_history(
        &self,
        caller: &Caller,
        run_id: &str,
        key: &str,
        page_token: &str,
        max_results: i64,
    ) -> Result<Page<Point>> {
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        let run_id = RunId::parse(run_id)?;
        if key.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'metric_key'.",
            ));
        }
        let backend = self.backend.clone();
        let key = key.to_owned();
        let token = page_token.to_owned();
        tokio::task::spawn_blocking(move || {
            reads::metric_history(backend.as_ref(), run_id, &key, &token, max_results)
        })
        .await
        .map_err(|e| TrackingError::storage("history task failed", e))?
    }

    /// One series in history order as a stream of bounded blocks, optionally limited to a
    /// step range: the read for series of any length (memory stays bounded; see
    /// [`history`]).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn history_blocks(
        &self,
        caller: &Caller,
        read: HistoryRead,
    ) -> Result<HistoryBlocks> {
        self.authorize(caller, Need::Run(Permission::Read, &read.run_id))?;
        history::start(&self.backend, &self.read_stats, read).await
    }

    /// Memory held by streaming history reads in flight.
    pub fn read_stats(&self) -> &ReadStats {
        &self.read_stats
    }

    /// LogStream batches recognised as re-sends of stored ones (and not stored again).
    pub fn duplicate_stream_batches(&self) -> u64 {
        self.duplicate_batches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How long LogStream batches took from being read to being acknowledged (durable,
    /// unless the store is buffered).
    pub fn stream_ack_latency(&self) -> &crate::latency::LatencyHistogram {
        &self.stream_ack_latency
    }

    /// LogStream batches that had to wait for room in the ingest budget.
    pub fn budget_waits(&self) -> u64 {
        self.budget_waits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The most of the ingest budget one batch takes (a batch larger than the whole budget
    /// takes all of it).
    fn budget_share(&self, points: usize) -> usize {
        points.clamp(1, self.ingest_budget_points)
    }

    /// Room in the ingest budget for a LogStream batch of `points` points, waiting while the
    /// budget is full (the stream is then not read, so HTTP/2 flow control slows its
    /// sender). Held until the committer answers the batch.
    pub async fn reserve_ingest(&self, points: usize) -> Result<IngestPermit> {
        let wanted = self.budget_share(points) as u32;
        if let Ok(permit) = self.ingest_budget.clone().try_acquire_many_owned(wanted) {
            return Ok(IngestPermit(permit));
        }
        self.budget_waits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.ingest_budget
            .clone()
            .acquire_many_owned(wanted)
            .await
            .map(IngestPermit)
            .map_err(|_| TrackingError::Unavailable("the server is shutting down".into()))
    }

    /// The same tracker with an ingest budget of `points` metric points (LogStream batches
    /// read but not yet committed); see [`crate::memory::MemoryBudget`].
    pub fn with_ingest_budget(mut self, points: usize) -> Self {
        let points = points.clamp(1, Semaphore::MAX_PERMITS);
        self.ingest_budget = Arc::new(Semaphore::new(points));
        self.ingest_budget_points = points;
        self
    }

    /// Stores one LogStream batch at most once per `(stream_id, seq)` and says what the
    /// acknowledgement means: [`Tracker::enqueue_stream_batch`] (which decides the
    /// permission) and then its answer.
    pub async fn log_stream_batch(
        &self,
        caller: &Caller,
        stream_id: &str,
        seq: u64,
        runs: Vec<(String, RunWrites)>,
    ) -> Result<StreamAck> {
        self.enqueue_stream_batch(caller, stream_id, seq, runs, None)
            .await?
            .await
    }

    /// Every point of one metric in step order, optionally limited to a step range (for
    /// edges that send columns instead of MLflow's per-point messages).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn metric_history_range(
        &self,
        caller: &Caller,
        run_id: &str,
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
    ) -> Result<Vec<Point>> {
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        let run = RunId::parse(run_id)?;
        if key.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'metric_key'.",
            ));
        }
        let backend = self.backend.clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || {
            reads::history_range(backend.as_ref(), run, &key, start_step, end_step)
        })
        .await
        .map_err(|e| TrackingError::storage("history task failed", e))?
    }

    /// Downsampled histories of many runs × keys for charts, optionally limited to a step
    /// range (zoom).
    #[instrument(skip(self, request), err(level = "debug"))]
    pub async fn sampled_history(
        &self,
        caller: &Caller,
        mut request: SampledHistory,
    ) -> Result<Vec<SampledSeries>> {
        self.authorize(caller, Need::Search)?;
        if self.filters_for(caller) {
            request.run_ids.retain(|id| {
                self.authorize(caller, Need::Run(Permission::Read, id))
                    .is_ok()
            });
        }
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || reads::sampled_history(backend.as_ref(), &request))
            .await
            .map_err(|e| TrackingError::storage("history task failed", e))?
    }

    /// Validates a LogStream batch and queues it for the committer, waiting while the ingest
    /// budget or the queue is full. Returns a future of the acknowledgement. Batches of one
    /// stream must be enqueued in sequence order (one after another); their answers may be
    /// awaited concurrently. A run that breaks a limit or one of MLflow's rules is refused on
    /// its own ([`StreamAck::refused`]); the batch as a whole fails only when it is malformed,
    /// too large, or cannot be stored.
    #[instrument(skip(self, runs, reserved), err(level = "debug"))]
    pub async fn enqueue_stream_batch(
        &self,
        caller: &Caller,
        stream_id: &str,
        seq: u64,
        runs: Vec<(String, RunWrites)>,
        reserved: Option<IngestPermit>,
    ) -> Result<BoxFuture<'static, Result<StreamAck>>> {
        self.authorize(caller, Need::StreamRuns(Permission::Edit))?;
        if stream_id.is_empty() || stream_id.len() > MAX_STREAM_ID_LEN {
            return Err(TrackingError::invalid(format!(
                "stream_id must be 1 to {MAX_STREAM_ID_LEN} bytes long"
            )));
        }
        if seq == 0 {
            return Err(TrackingError::invalid("seq must start at 1"));
        }
        // A run whose writes break a limit is refused on its own; the others go on.
        let mut parsed = Vec::with_capacity(runs.len());
        let mut refused: Vec<(String, TrackingError)> = Vec::new();
        let mut refused_ids: Vec<RunId> = Vec::new();
        for (id, writes) in runs {
            let run = match RunId::parse(&id) {
                Ok(run) => run,
                Err(e) => {
                    refused.push((id, e));
                    continue;
                }
            };
            let checked = self
                .authorize(caller, Need::Run(Permission::Edit, &id))
                .and_then(|()| validate::run_writes(&writes))
                .and_then(|()| validate::unique_param_keys(&writes.params));
            match checked {
                Ok(()) => parsed.push((run, writes)),
                Err(e) => {
                    refused_ids.push(run);
                    refused.push((id, e));
                }
            }
        }
        // A run refused in one entry of the batch is refused in all of them.
        if !refused_ids.is_empty() {
            parsed.retain(|(run, _)| !refused_ids.contains(run));
        }
        let points: usize = parsed.iter().map(|(_, w)| w.point_count()).sum();
        let durability = self.backend.durability();
        // Even when every run was refused, the batch goes to the writer: its sequence number
        // is recorded, so the stream's next batch follows it.
        if points > MAX_STREAM_BATCH_POINTS {
            let error = TrackingError::invalid(format!(
                "a stream batch may carry at most {MAX_STREAM_BATCH_POINTS} points, got {points}"
            ));
            return self
                .refuse_stream_batch(caller, stream_id, seq, error)
                .await;
        }
        // Room for exactly this batch's points: a reservation made from the undecoded
        // message is trimmed or topped up.
        let permit = match reserved {
            Some(IngestPermit(mut permit)) => {
                let (held, wanted) = (permit.num_permits(), self.budget_share(points));
                if held > wanted {
                    drop(permit.split(held - wanted));
                } else if held < wanted {
                    permit.merge(self.reserve_ingest(wanted - held).await?.0);
                }
                permit
            }
            None => self.reserve_ingest(points).await?.0,
        };
        let op = WriteOp::StreamBatch {
            stream_id: stream_id.to_owned(),
            seq,
            runs: parsed,
            now: now_ms(),
        };
        let pending: PendingWrite = self.backend.enqueue(op).await?;
        // The budget is returned as soon as the committer answers, whether or not the caller
        // is polling the acknowledgement yet (a stream handler busy queueing the next batch
        // must not hold budget it is waiting for).
        let (tx, rx) = tokio::sync::oneshot::channel();
        let duplicates = self.duplicate_batches.clone();
        tokio::spawn(async move {
            let outcome = pending.await;
            drop(permit);
            if matches!(
                outcome,
                Ok(Outcome::Stream {
                    duplicate: true,
                    ..
                })
            ) {
                duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let _ = tx.send(outcome);
        });
        Ok(async move {
            let outcome = rx
                .await
                .map_err(|_| TrackingError::Unavailable("the server is shutting down".into()))?;
            match outcome? {
                Outcome::Stream {
                    points_stored,
                    duplicate,
                    refused: refused_by_rules,
                } => {
                    if duplicate {
                        // Answered like the first time, minus what was reported then.
                        refused.clear();
                    }
                    refused.extend(
                        refused_by_rules
                            .into_iter()
                            .map(|(run, e)| (run.to_string(), e)),
                    );
                    Ok(StreamAck {
                        seq,
                        points_stored,
                        durability,
                        refused,
                    })
                }
                other => Err(unexpected(other)),
            }
        }
        .boxed())
    }

    /// Answers a LogStream batch refused as a whole (malformed, too large) with `error`,
    /// after recording its sequence number like any answered batch, so the stream's next
    /// batch follows it instead of looking like a gap. Queued in order with the stream's
    /// other batches.
    pub async fn refuse_stream_batch(
        &self,
        caller: &Caller,
        stream_id: &str,
        seq: u64,
        error: TrackingError,
    ) -> Result<BoxFuture<'static, Result<StreamAck>>> {
        self.authorize(caller, Need::StreamRuns(Permission::Edit))?;
        self.record_refused_stream_batch(stream_id, seq, error)
            .await
    }

    /// [`Tracker::refuse_stream_batch`] once the caller is authorized.
    async fn record_refused_stream_batch(
        &self,
        stream_id: &str,
        seq: u64,
        error: TrackingError,
    ) -> Result<BoxFuture<'static, Result<StreamAck>>> {
        if stream_id.is_empty() || stream_id.len() > MAX_STREAM_ID_LEN || seq == 0 {
            return Ok(futures::future::ready(Err(error)).boxed());
        }
        let op = WriteOp::StreamBatch {
            stream_id: stream_id.to_owned(),
            seq,
            runs: Vec::new(),
            now: now_ms(),
        };
        let pending: PendingWrite = self.backend.enqueue(op).await?;
        Ok(async move {
            match pending.await {
                // Recorded now or before: the answer is the refusal.
                Ok(_) => Err(error),
                // Out of sequence, or the store failed: that is the answer.
                Err(other) => Err(other),
            }
        }
        .boxed())
    }

    // --- artifacts --------------------------------------------------------------------

    /// The run and its artifact directory (relative to the artifact root). Writes need an
    /// active run.
    async fn artifact_dir(&self, run_id: &str, for_write: bool) -> Result<(RunInfo, String)> {
        let info = self.backend.run_info(RunId::parse(run_id)?)?;
        if for_write {
            crate::domain::rules::ensure_run_active(&info)?;
        }
        let dir = crate::artifacts::directory_of_uri(&info.artifact_uri)?;
        Ok((info, dir))
    }

    /// The same tracker with its artifacts in `repository` instead of the store's
    /// directory (an object store, a test double).
    pub fn with_artifact_repository(mut self, repository: Arc<dyn ArtifactRepository>) -> Self {
        self.artifacts = repository;
        self
    }

    /// The same tracker keeping users, tokens and grants in `access` (what `--auth` needs).
    pub fn with_access_backend(mut self, access: Arc<dyn crate::backend::AccessBackend>) -> Self {
        self.access = Some(access);
        self
    }

    /// A tracker over a PostgreSQL store (tracking data and access) with artifacts in
    /// `artifacts`.
    pub fn on_postgres(
        store: crate::store::postgres::PgStore,
        artifacts: Arc<dyn ArtifactRepository>,
    ) -> Self {
        Self::with_backends(Arc::new(store.clone()), artifacts).with_access_backend(Arc::new(store))
    }

    /// Starts uploading the artifact file `path` of a run.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn begin_artifact_upload(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
    ) -> Result<Box<dyn ArtifactUpload>> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let (_, dir) = self.artifact_dir(run_id, true).await?;
        let rel = validate_relative_path(path)?;
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "an upload needs a file path, not the artifact root",
            ));
        }
        self.capped_upload(&dir, &rel).await
    }

    /// An upload of `rel` under `dir` that refuses to grow past the largest artifact file.
    async fn capped_upload(&self, dir: &str, rel: &str) -> Result<Box<dyn ArtifactUpload>> {
        let inner = self.artifacts.put(dir, rel).await?;
        Ok(Box::new(CappedUpload {
            inner,
            rel: rel.to_owned(),
            limit: self.max_artifact_bytes,
        }))
    }

    /// Reads the artifact file `path` of a run: its size, and its bytes as a stream.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn open_artifact(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
    ) -> Result<ArtifactRead> {
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        let (_, dir) = self.artifact_dir(run_id, false).await?;
        let rel = validate_relative_path(path)?;
        self.artifacts.get(&dir, &rel, None).await
    }

    /// The first `max_bytes` of a run's artifact file (for previews), with the file's whole
    /// size; memory is bounded by `max_bytes`, whatever the file's size.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn artifact_head(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<(u64, Vec<u8>)> {
        use futures::StreamExt;
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        let (_, dir) = self.artifact_dir(run_id, false).await?;
        let rel = validate_relative_path(path)?;
        let size = match self.artifacts.stat(&dir, &rel).await? {
            Some(ArtifactFile {
                is_dir: false,
                size,
                ..
            }) => size.unwrap_or(0),
            Some(_) => {
                return Err(TrackingError::invalid(format!(
                    "'{path}' is a directory, not a file."
                )))
            }
            None => {
                return Err(TrackingError::not_found(format!(
                    "No artifact '{path}' in run {run_id}."
                )))
            }
        };
        let mut read = self
            .artifacts
            .get(&dir, &rel, Some(0..max_bytes.min(size)))
            .await?;
        let mut head = Vec::with_capacity(max_bytes.min(size) as usize);
        while let Some(chunk) = read.bytes.next().await {
            let chunk = chunk.map_err(|e| TrackingError::storage("reading an artifact", e))?;
            head.extend_from_slice(&chunk);
            if head.len() as u64 >= max_bytes {
                head.truncate(max_bytes as usize);
                break;
            }
        }
        Ok((size, head))
    }

    /// Lists artifacts of a run under `path`; returns the run's artifact URI and the entries.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn list_artifacts(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
        recursive: bool,
    ) -> Result<(String, Vec<ArtifactFile>)> {
        self.authorize(caller, Need::Run(Permission::Read, run_id))?;
        let (info, dir) = self.artifact_dir(run_id, false).await?;
        let rel = validate_relative_path(path)?;
        let files = self.artifacts.list(&dir, &rel, recursive).await?;
        Ok((info.artifact_uri, files))
    }

    /// Deletes an artifact file or directory of a run.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_artifact(&self, caller: &Caller, run_id: &str, path: &str) -> Result<()> {
        self.authorize(caller, Need::Run(Permission::Edit, run_id))?;
        let (_, dir) = self.artifact_dir(run_id, true).await?;
        let rel = validate_relative_path(path)?;
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "Invalid path '': the root of a run's artifacts cannot be deleted; name a file \
                 or directory inside it.",
            ));
        }
        self.artifacts.delete(&dir, &rel).await
    }

    /// Where the artifact file `path` of a run lives, relative to the artifact root (the
    /// path the artifact proxy serves it under), for presigned URLs. `for_upload` needs an
    /// active run and a path that is not an existing directory; otherwise the file must exist,
    /// and its size is returned.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn artifact_target(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
        for_upload: bool,
    ) -> Result<(String, Option<u64>)> {
        let (dir, clean, size) = self
            .checked_artifact_file(caller, run_id, path, for_upload)
            .await?;
        Ok((format!("{dir}/{clean}"), size))
    }

    /// The checks of [`Tracker::artifact_target`]; the run's artifact directory, the clean
    /// path inside it and (for a download) the file's size.
    async fn checked_artifact_file(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
        for_upload: bool,
    ) -> Result<(String, String, Option<u64>)> {
        self.authorize(
            caller,
            Need::Run(
                if for_upload {
                    Permission::Edit
                } else {
                    Permission::Read
                },
                run_id,
            ),
        )?;
        let (_, dir) = self.artifact_dir(run_id, for_upload).await?;
        let clean = validate_relative_path(path)?;
        if clean.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'path'.",
            ));
        }
        let size = match (self.artifacts.stat(&dir, &clean).await?, for_upload) {
            (Some(f), _) if f.is_dir => {
                return Err(TrackingError::invalid(format!(
                    "Artifact path '{clean}' is a directory."
                )))
            }
            (_, true) => None,
            (Some(f), false) => f.size,
            (None, false) => {
                return Err(TrackingError::not_found(format!(
                    "No artifact at '{clean}'"
                )))
            }
        };
        Ok((dir, clean, size))
    }

    /// The run whose artifacts a path under the artifact root lies in (the artifact proxy's
    /// `<experiment location>/<run id>/artifacts/<path>`), and the path inside them. A path
    /// that is not inside some run's artifacts (the root, an experiment's directory, a run's
    /// directory itself) names nothing the proxy serves.
    async fn locate_artifact_path(&self, path: &str) -> Result<(RunInfo, String)> {
        let clean = crate::artifacts::validate_relative_path(path)?;
        let segments: Vec<&str> = clean.split('/').collect();
        let mut unknown_run = None;
        for i in 1..segments.len().saturating_sub(1) {
            if segments[i + 1] != "artifacts" {
                continue;
            }
            let Ok(run_id) = RunId::parse(segments[i]) else {
                continue;
            };
            let info = match self.backend.run_info(run_id) {
                Ok(info) => info,
                Err(TrackingError::NotFound(m)) => {
                    unknown_run = Some(m);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let run_dir = crate::artifacts::directory_of_uri(&info.artifact_uri)?;
            if run_dir == segments[..i + 2].join("/") {
                return Ok((info, segments[i + 2..].join("/")));
            }
        }
        Err(match unknown_run {
            Some(message) => TrackingError::NotFound(message),
            None => TrackingError::invalid(format!(
                "Invalid path '{}': artifact proxy paths name a file inside a run's artifacts, \
                 '<experiment location>/<run id>/artifacts/<path>'.",
                validate::abbreviate(path)
            )),
        })
    }

    /// What an artifact-proxy path names: a logged model's file
    /// (`<experiment location>/models/<id>/artifacts/<path>`) or a run's
    /// (`<experiment location>/<run id>/artifacts/<path>`).
    async fn locate_proxy_path(&self, path: &str) -> Result<ProxyTarget> {
        if let Some((model, dir, rel)) = self.locate_model_path(&validate_relative_path(path)?)? {
            return Ok(ProxyTarget::Model {
                model: Box::new(model),
                dir,
                rel,
            });
        }
        let (info, rel) = self.locate_artifact_path(path).await?;
        Ok(ProxyTarget::Run {
            run_id: info.run_id.to_string(),
            rel,
        })
    }

    /// Uploads through the artifact proxy: the path names a run's artifact (see
    /// `locate_artifact_path`), and the run's rules apply as for [`Tracker::begin_artifact_upload`].
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn begin_artifact_upload_at(
        &self,
        caller: &Caller,
        path: &str,
    ) -> Result<Box<dyn ArtifactUpload>> {
        match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.begin_model_upload(caller, &model, &dir, &rel).await
            }
            ProxyTarget::Run { run_id, rel } => {
                self.begin_artifact_upload(caller, &run_id, &rel).await
            }
        }
    }

    /// Downloads through the artifact proxy (see [`Tracker::begin_artifact_upload_at`]).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn open_artifact_at(&self, caller: &Caller, path: &str) -> Result<ArtifactRead> {
        match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.open_model_file(caller, &model, &dir, &rel).await
            }
            ProxyTarget::Run { run_id, rel } => self.open_artifact(caller, &run_id, &rel).await,
        }
    }

    /// Deletes through the artifact proxy; a run's artifact root is never deleted.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_artifact_at(&self, caller: &Caller, path: &str) -> Result<()> {
        match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.delete_model_file(caller, &model, &dir, &rel).await
            }
            ProxyTarget::Run { run_id, rel } => self.delete_artifact(caller, &run_id, &rel).await,
        }
    }

    /// Lists one level through the artifact proxy; entries are named relative to the run's
    /// artifact root.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn list_artifacts_at(
        &self,
        caller: &Caller,
        path: &str,
    ) -> Result<Vec<ArtifactFile>> {
        match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.list_model_files(caller, &model, &dir, &rel).await
            }
            ProxyTarget::Run { run_id, rel } => {
                Ok(self.list_artifacts(caller, &run_id, &rel, false).await?.1)
            }
        }
    }

    async fn write_done(&self, op: WriteOp) -> Result<()> {
        self.write(op).await.map(|_| ())
    }

    /// Queues a write and waits for its answer.
    async fn write(&self, op: WriteOp) -> Result<Outcome> {
        self.backend.enqueue(op).await?.await
    }
}

/// What an artifact-proxy path names (see `Tracker::locate_proxy_path`).
enum ProxyTarget {
    /// A file of a logged model: the model, its files' directory, the path inside it.
    Model {
        model: Box<crate::domain::LoggedModel>,
        dir: String,
        rel: String,
    },
    /// A file of a run's artifacts.
    Run { run_id: String, rel: String },
}

/// An upload that refuses to grow past the largest artifact file (a rule of the Tracker, so
/// every repository keeps it).
struct CappedUpload {
    inner: Box<dyn ArtifactUpload>,
    rel: String,
    limit: u64,
}

#[tonic::async_trait]
impl ArtifactUpload for CappedUpload {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.inner.written().saturating_add(chunk.len() as u64) > self.limit {
            return Err(crate::artifacts::too_large(&self.rel, self.limit));
        }
        self.inner.write(chunk).await
    }

    fn written(&self) -> u64 {
        self.inner.written()
    }

    async fn finish(self: Box<Self>) -> Result<ArtifactFile> {
        self.inner.finish().await
    }
}

fn unexpected(outcome: Outcome) -> TrackingError {
    TrackingError::storage_context(format!("unexpected store outcome {outcome:?}"))
}

/// Accepts an explicit experiment artifact location only when it stays inside the server's
/// artifact root: `mlflow-artifacts:/<relative path>`, with no authority (`//host`), and not
/// starting with a number (the directories of experiments without a location of their own
/// are their ids). That it overlaps no other experiment's tree is checked by the writer,
/// atomically with the creation.
fn validate_artifact_location(location: &str) -> Result<String> {
    let refuse = |why: &str| {
        TrackingError::invalid(format!(
            "Invalid artifact_location '{}': {why}",
            validate::abbreviate(location)
        ))
    };
    if location.chars().count() > validate::MAX_ARTIFACT_LOCATION_LEN {
        return Err(TrackingError::invalid("artifact_location is too long"));
    }
    let Some(rest) = location.strip_prefix("mlflow-artifacts:") else {
        return Err(refuse(
            "this server stores artifacts under its own root; use \
             'mlflow-artifacts:/<relative path>' or leave it empty.",
        ));
    };
    if rest.starts_with("//") {
        return Err(refuse(
            "a URI with a host ('mlflow-artifacts://host/...') names another server; use \
             'mlflow-artifacts:/<relative path>'.",
        ));
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Err(refuse("use 'mlflow-artifacts:/<relative path>'."));
    };
    let rel = crate::artifacts::validate_relative_path(rest)?;
    let first = rel.split('/').next().unwrap_or_default();
    if rel.is_empty() {
        return Err(refuse(
            "it is the artifact root itself, which holds every experiment.",
        ));
    }
    if first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(
            "a location may not start with a number: those directories belong to experiments \
             without a location of their own.",
        ));
    }
    Ok(format!("mlflow-artifacts:/{rel}"))
}

#[cfg(test)]
mod tests {
    //! The Tracker's rules, checked through its backend traits: each test runs against every
    //! backend in [`backends`] (sled and the local file system today), so a second backend
    //! joins these tests by being listed there.

    use super::*;

    /// Every (tracking backend, artifact repository) pair the Tracker can run on, over
    /// fresh temporary storage.
    fn backends() -> Vec<(&'static str, tempfile::TempDir, Tracker)> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(crate::store::StoreConfig::new(dir.path())).unwrap();
        let files = ArtifactStore::open(dir.path().join("artifacts")).unwrap();
        let tracker = Tracker::with_backends(Arc::new(store), Arc::new(files));
        vec![("sled + local files", dir, tracker)]
    }

    async fn new_run(tracker: &Tracker) -> String {
        let run = tracker
            .create_run(&Caller::InProcess, NewRun::default())
            .await
            .unwrap();
        run.info.run_id.to_string()
    }

    #[tokio::test]
    async fn params_are_write_once_and_deleted_runs_refuse_writes() {
        for (name, _dir, t) in backends() {
            let c = &Caller::InProcess;
            let run = new_run(&t).await;
            t.log_param(c, &run, "lr", "0.1").await.unwrap();
            t.log_param(c, &run, "lr", "0.1").await.unwrap();
            let changed = t.log_param(c, &run, "lr", "0.2").await.unwrap_err();
            assert!(
                changed.to_string().contains("Changing param values"),
                "{name}"
            );
            t.delete_run(c, &run).await.unwrap();
            let refused = t.set_tag(c, &run, "k", "v").await.unwrap_err();
            assert_eq!(
                refused.kind(),
                crate::error::ErrorKind::InvalidArgument,
                "{name}"
            );
            let upload = t.begin_artifact_upload(c, &run, "a.txt").await;
            assert!(upload.is_err(), "{name}: a deleted run refuses uploads");
            assert_eq!(t.get_run(c, &run).await.unwrap().params["lr"], "0.1");
        }
    }

    #[tokio::test]
    async fn the_upload_cap_and_path_rules_hold_above_every_repository() {
        for (name, _dir, t) in backends() {
            let t = t.with_max_artifact_bytes(4);
            let c = &Caller::InProcess;
            let run = new_run(&t).await;
            let mut upload = t.begin_artifact_upload(c, &run, "f.bin").await.unwrap();
            upload.write(b"1234").await.unwrap();
            let over = upload.write(b"5").await.unwrap_err();
            assert!(matches!(over, TrackingError::TooLarge(_)), "{name}");
            drop(upload);
            for bad in ["../x", ".", "a//b", "%2e%2e/x"] {
                assert!(
                    t.begin_artifact_upload(c, &run, bad).await.is_err(),
                    "{name}: {bad}"
                );
            }
            let root = t.delete_artifact(c, &run, "").await.unwrap_err();
            assert!(root.to_string().contains("cannot be deleted"), "{name}");
            let (_, files) = t.list_artifacts(c, &run, "", true).await.unwrap();
            assert!(files.is_empty(), "{name}: the refused upload left nothing");
        }
    }

    #[tokio::test]
    async fn histories_read_through_the_backend_in_step_order() {
        use futures::TryStreamExt;
        for (name, _dir, t) in backends() {
            let c = &Caller::InProcess;
            let run = new_run(&t).await;
            let points: Vec<Point> = (0..500)
                .rev()
                .map(|step| Point {
                    step,
                    timestamp: 1,
                    value: step as f64,
                })
                .collect();
            let writes = RunWrites {
                metrics: vec![("m".into(), points)],
                ..Default::default()
            };
            t.log_batch(c, &run, writes).await.unwrap();
            let read = HistoryRead {
                run_id: run.clone(),
                key: "m".into(),
                start_step: Some(100),
                end_step: Some(199),
                block_points: 7,
            };
            let blocks: Vec<HistoryBlock> = t
                .history_blocks(c, read)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let steps: Vec<i64> = blocks
                .iter()
                .flat_map(|b| b.points().iter().map(|p| p.step))
                .collect();
            assert_eq!(steps, (100..200).collect::<Vec<_>>(), "{name}");
            assert!(blocks.iter().all(|b| b.points().len() <= 7), "{name}");
            let sampled = t
                .sampled_history(
                    c,
                    SampledHistory {
                        run_ids: vec![run.clone()],
                        keys: vec!["m".into()],
                        max_points: 10,
                        start_step: None,
                        end_step: None,
                        method: Sampling::MinMax,
                    },
                )
                .await
                .unwrap();
            let kept = &sampled[0].points;
            assert_eq!(
                (kept[0].step, kept[kept.len() - 1].step),
                (0, 499),
                "{name}"
            );
            assert_eq!(sampled[0].total_points, 500, "{name}");
        }
    }
}

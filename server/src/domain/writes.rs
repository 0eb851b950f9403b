//! Writes as domain commands: what the Tracker asks a backend to apply, and what it
//! answers. A backend applies them in order, with MLflow's state rules (`rules`) checked
//! against the current state atomically with the write.

use super::{
    Experiment, ExperimentId, Lifecycle, LoggedModel, ModelOutput, ModelWrite, Point,
    RegisteredModel, RegistryWrite, Run, RunId, RunInfo, RunInputs, RunStatus, RunWrites,
};
use crate::error::TrackingError;

/// A state change, in domain terms.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create an experiment; fails if the name is taken (also by a deleted one).
    CreateExperiment {
        /// Its name.
        name: String,
        /// Explicit artifact location (already validated), or the default.
        artifact_location: Option<String>,
        /// Initial tags.
        tags: Vec<(String, String)>,
        /// Creation time.
        now: i64,
    },
    /// Rename an active experiment.
    RenameExperiment {
        /// Which one.
        id: ExperimentId,
        /// The new unique name.
        new_name: String,
        /// Update time.
        now: i64,
    },
    /// Soft-delete or restore an experiment and all its runs.
    SetExperimentLifecycle {
        /// Which one.
        id: ExperimentId,
        /// Target stage.
        lifecycle: Lifecycle,
        /// Update time.
        now: i64,
    },
    /// Set (or, with `None`, delete) an experiment tag.
    ExperimentTag {
        /// Which experiment.
        id: ExperimentId,
        /// Tag key.
        key: String,
        /// New value, or `None` to delete.
        value: Option<String>,
    },
    /// Create a run (id, name and times already chosen by the Tracker).
    CreateRun {
        /// Run metadata; `artifact_uri` is filled from the experiment.
        info: RunInfo,
        /// Initial tags (`mlflow.runName` included).
        tags: Vec<(String, String)>,
    },
    /// Change status, end time and/or name of a run.
    UpdateRun {
        /// Which run.
        run_id: RunId,
        /// New status.
        status: Option<RunStatus>,
        /// New end time.
        end_time: Option<i64>,
        /// New name (also rewrites `mlflow.runName`).
        run_name: Option<String>,
    },
    /// Soft-delete or restore a run.
    SetRunLifecycle {
        /// Which run.
        run_id: RunId,
        /// Target stage.
        lifecycle: Lifecycle,
    },
    /// Metrics, params and tags for one run (LogMetric, LogParam, SetTag, LogBatch). Exact
    /// duplicate points, within the batch or already in the newest chunk, are skipped.
    Log {
        /// Which run.
        run_id: RunId,
        /// What to write.
        writes: RunWrites,
    },
    /// Delete a run tag.
    DeleteTag {
        /// Which run.
        run_id: RunId,
        /// Tag key.
        key: String,
    },
    /// Link datasets and models to a run (LogInputs, LogOutputs); each is stored once.
    LogIo {
        /// Which run.
        run_id: RunId,
        /// Datasets and models used.
        inputs: RunInputs,
        /// Models produced.
        outputs: Vec<ModelOutput>,
    },
    /// Append a model description (MLmodel as a JSON object) to the run's
    /// `mlflow.log-model.history` tag (LogModel).
    AppendLoggedModel {
        /// Which run.
        run_id: RunId,
        /// The model, a JSON object.
        model_json: String,
    },
    /// A change to a logged model (applied against its current state with
    /// [`ModelWrite::apply`]).
    Model(ModelWrite),
    /// A change to the model registry (applied against the registered model's current
    /// state with [`RegistryWrite::apply`]).
    Registry(RegistryWrite),
    /// One LogStream batch: applied at most once per (stream, seq). Each run's part is
    /// checked on its own: a run that breaks a rule (deleted, a changed param) is refused
    /// and skipped, the others are stored.
    StreamBatch {
        /// Client-chosen stream id.
        stream_id: String,
        /// Sequence number of the batch.
        seq: u64,
        /// Writes per run.
        runs: Vec<(RunId, RunWrites)>,
        /// When the batch arrived (kept with the stream's record, for its retention).
        now: i64,
    },
    /// A record copied from another store (`trackd copy`), written as it is there.
    Restore(Restore),
}

/// Records written as another store holds them (`trackd copy`): ids, times and lifecycle
/// kept, and none of the rules for new writes applied (a deleted run takes its points, a
/// run of a deleted experiment its record). A restored record replaces what the store holds
/// under the same id, so an interrupted copy is redone by copying again.
#[derive(Debug, Clone)]
pub enum Restore {
    /// An experiment with its id. Its name must not belong to another experiment; the
    /// store's experiment counter moves past its id.
    Experiment(Box<Experiment>),
    /// A run's record: metadata, params, tags, inputs and outputs. A run stored under its
    /// id is removed first, with all its data. Its latest metric values are not taken from
    /// the record: they follow from the points restored after it.
    Run(Box<Run>),
    /// Points of one series of a run, appended as they are (exact duplicates included: a
    /// stream may have stored some).
    Points {
        /// The run (restored before).
        run_id: RunId,
        /// The metric key.
        key: String,
        /// The points, in the source's history order.
        points: Vec<Point>,
    },
}

impl WriteOp {
    /// Metric points this op carries (for queue accounting and metrics).
    pub fn point_count(&self) -> usize {
        match self {
            WriteOp::Log { writes, .. } => writes.point_count(),
            WriteOp::StreamBatch { runs, .. } => runs.iter().map(|(_, w)| w.point_count()).sum(),
            WriteOp::Restore(Restore::Points { points, .. }) => points.len(),
            _ => 0,
        }
    }
}

/// What a successful write produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to report.
    /// A logged model after the write.
    Model(Box<LoggedModel>),
    /// A registered model after the write (`None`: deleted).
    Registered(Option<Box<RegisteredModel>>),
    Done,
    /// The id of a new experiment.
    ExperimentCreated(ExperimentId),
    /// The stored run metadata after a create or update.
    Run(Box<RunInfo>),
    /// Result of a Log op.
    Logged {
        /// Points written (exact duplicates are not).
        points_stored: u64,
    },
    /// Result of a stream batch.
    Stream {
        /// Points written (0 when the batch had been stored before).
        points_stored: u64,
        /// Whether this (stream, seq) had been stored before.
        duplicate: bool,
        /// Runs whose writes were refused (and skipped) by MLflow's rules; the other runs'
        /// writes were stored.
        refused: Vec<(RunId, TrackingError)>,
    },
}

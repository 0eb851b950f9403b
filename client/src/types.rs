//! The client's own types for what the server returns: plain Rust, converted once from the
//! wire, so callers never handle protobuf's `Option` wrappers or enum numbers.

use std::collections::BTreeMap;
use std::fmt;

use trackd_proto::v1 as pb;

/// An experiment.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let id = client.create_experiment("mnist").await?;
/// let exp = client.get_experiment(&id).await?;
/// assert_eq!((exp.name.as_str(), exp.deleted), ("mnist", false));
/// assert!(exp.tags.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    /// Its id (decimal; `"0"` is `Default`).
    pub experiment_id: String,
    /// Its unique name.
    pub name: String,
    /// Where its runs' artifacts go (`mlflow-artifacts:/…`).
    pub artifact_location: String,
    /// `true` while deleted (soft delete; it can be restored).
    pub deleted: bool,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Last change, ms since the epoch.
    pub last_update_time: i64,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Where a run is in its life.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use trackd_client::RunStatus;
/// let run = client.start_run().start().await?;
/// assert_eq!(run.info().status, RunStatus::Running);
/// let id = run.id().to_owned();
/// run.finish().await?;
/// let status = client.get_run(&id).await?.info.status;
/// assert_eq!((status, status.as_str(), status.is_terminated()), (RunStatus::Finished, "FINISHED", true));
/// assert_eq!(status.to_string(), "FINISHED");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started, not ended.
    Running,
    /// Scheduled to run.
    Scheduled,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped from outside (or dropped unfinished).
    Killed,
}

impl RunStatus {
    /// MLflow's name of the status (`"FINISHED"`).
    ///
    /// ```
    /// assert_eq!(trackd_client::RunStatus::Killed.as_str(), "KILLED");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Whether the run has ended (finished, failed or killed).
    ///
    /// ```
    /// use trackd_client::RunStatus;
    /// assert!(RunStatus::Failed.is_terminated() && !RunStatus::Running.is_terminated());
    /// ```
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }

    pub(crate) fn to_wire(self) -> pb::RunStatus {
        match self {
            RunStatus::Running => pb::RunStatus::Running,
            RunStatus::Scheduled => pb::RunStatus::Scheduled,
            RunStatus::Finished => pb::RunStatus::Finished,
            RunStatus::Failed => pb::RunStatus::Failed,
            RunStatus::Killed => pb::RunStatus::Killed,
        }
    }

    /// From the wire; an unknown number (a newer server) reads as `Running`.
    pub(crate) fn from_wire(n: i32) -> RunStatus {
        match pb::RunStatus::try_from(n) {
            Ok(pb::RunStatus::Scheduled) => RunStatus::Scheduled,
            Ok(pb::RunStatus::Finished) => RunStatus::Finished,
            Ok(pb::RunStatus::Failed) => RunStatus::Failed,
            Ok(pb::RunStatus::Killed) => RunStatus::Killed,
            _ => RunStatus::Running,
        }
    }
}

/// A status name (`"FINISHED"`, any case) → the status.
///
/// # Examples
///
/// ```
/// use trackd_client::RunStatus;
/// assert_eq!("failed".parse::<RunStatus>(), Ok(RunStatus::Failed));
/// assert!("DONE".parse::<RunStatus>().is_err());
/// ```
impl std::str::FromStr for RunStatus {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [
            RunStatus::Running,
            RunStatus::Scheduled,
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Killed,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            format!(
                "Invalid run status '{name}': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"
            )
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's metadata.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().run_name("baseline").start().await?;
/// let info = client.get_run(run.id()).await?.info;
/// assert_eq!((info.run_name.as_str(), info.end_time, info.deleted), ("baseline", None, false));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// 32 lowercase hex characters.
    pub run_id: String,
    /// Its name (also the `mlflow.runName` tag).
    pub run_name: String,
    /// The experiment it belongs to.
    pub experiment_id: String,
    /// Who started it.
    pub user_id: String,
    /// Where it is in its life.
    pub status: RunStatus,
    /// Start time, ms since the epoch.
    pub start_time: i64,
    /// End time, ms since the epoch, once ended.
    pub end_time: Option<i64>,
    /// Where its artifacts live.
    pub artifact_uri: String,
    /// `true` while deleted (soft delete; it can be restored).
    pub deleted: bool,
}

/// One metric point.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// run.log_metric("loss", 0.5, 3).await?;
/// run.flush().await?;
/// let latest = client.get_run(run.id()).await?.data.metrics["loss"];
/// assert_eq!((latest.value, latest.step), (0.5, 3));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    /// The value (NaN and infinities allowed).
    pub value: f64,
    /// Wall time, ms since the epoch.
    pub timestamp: i64,
    /// Training step.
    pub step: i64,
}

/// A metric point with its key (a history entry, MLflow's shape).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// run.log_metric("loss", 0.5, 3).await?;
/// run.flush().await?;
/// let history = client.metric_history(run.id(), "loss").await?;
/// assert_eq!((history[0].key.as_str(), history[0].step), ("loss", 3));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub key: String,
    /// The value (NaN and infinities allowed).
    pub value: f64,
    /// Wall time, ms since the epoch.
    pub timestamp: i64,
    /// Training step.
    pub step: i64,
}

/// A run's latest metrics, params and tags.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().tag("team", "vision").start().await?;
/// run.log_param("lr", 0.01).await?;
/// let data = client.get_run(run.id()).await?.data;
/// assert_eq!((data.params["lr"].as_str(), data.tags["team"].as_str()), ("0.01", "vision"));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    /// The latest point of each metric (MLflow's rule: the largest (step, timestamp, value)).
    pub metrics: BTreeMap<String, MetricPoint>,
    /// Params (write-once).
    pub params: BTreeMap<String, String>,
    /// Tags (system tags `mlflow.*` included).
    pub tags: BTreeMap<String, String>,
}

/// A dataset a run used.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// let iris = trackd_client::Dataset {
///     name: "iris".into(),
///     digest: "5f3a9c".into(),
///     source_type: "local".into(),
///     source: r#"{"uri": "iris.csv"}"#.into(),
///     ..Default::default()
/// };
/// run.log_input(iris.clone(), Some("train")).await?;
/// assert_eq!(client.get_run(run.id()).await?.datasets[0].dataset, iris);
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dataset {
    /// Its name.
    pub name: String,
    /// A digest of its content (at most 36 characters).
    pub digest: String,
    /// Kind of source (`local`, `s3`, `http`, …).
    pub source_type: String,
    /// Where it comes from (JSON, as MLflow writes it).
    pub source: String,
    /// Its schema (JSON), if known.
    pub schema: String,
    /// Its profile (JSON), if known.
    pub profile: String,
}

/// A dataset linked to a run, with its input tags (`mlflow.data.context`: `training`, …).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use trackd_client::{Dataset, DatasetInput};
/// let run = client.start_run().start().await?;
/// let input = DatasetInput {
///     dataset: Dataset {
///         name: "iris".into(),
///         digest: "d".into(),
///         source_type: "local".into(),
///         source: "{}".into(),
///         ..Default::default()
///     },
///     tags: [("mlflow.data.context".to_owned(), "eval".to_owned())].into(),
/// };
/// client.log_inputs(run.id(), vec![input.clone()]).await?;
/// assert_eq!(client.get_run(run.id()).await?.datasets, vec![input]);
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Input tags.
    pub tags: BTreeMap<String, String>,
}

/// A logged model a run produced, at a step.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// // No logged models yet (the model registry is not part of trackd yet).
/// assert!(client.get_run(run.id()).await?.model_outputs.is_empty());
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOutput {
    /// The model's id.
    pub model_id: String,
    /// The step it was produced at.
    pub step: i64,
}

/// A run: metadata, latest data, and what it used and produced.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// let fetched = client.get_run(run.id()).await?;
/// assert_eq!(fetched.info.run_id, run.id());
/// assert!(fetched.data.metrics.is_empty() && fetched.datasets.is_empty() && fetched.model_inputs.is_empty());
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Latest metrics, params and tags.
    pub data: RunData,
    /// Datasets it used.
    pub datasets: Vec<DatasetInput>,
    /// Ids of logged models it used.
    pub model_inputs: Vec<String>,
    /// Logged models it produced.
    pub model_outputs: Vec<ModelOutput>,
}

/// A file or directory in a run's artifacts.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("notes.txt"), "hello")?;
/// run.log_artifact(dir.path().join("notes.txt"), None).await?;
/// let files = run.list_artifacts("", false).await?;
/// assert_eq!((files[0].path.as_str(), files[0].is_dir, files[0].file_size), ("notes.txt", false, Some(5)));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Path relative to the run's artifact root.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub file_size: Option<u64>,
}

/// Pieces of one metric's history, in step order ([`crate::Client::metric_history_stream`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use futures::TryStreamExt;
/// let run = client.start_run().start().await?;
/// run.log_metric("loss", 0.5, 0).await?;
/// run.flush().await?;
/// let pieces: trackd_client::MetricColumnsStream = client.metric_history_stream(run.id(), "loss").await?;
/// let all: Vec<_> = pieces.try_collect().await?;
/// assert_eq!(all[0].values, vec![0.5]);
/// # run.finish().await?;
/// # Ok(()) }
/// ```
pub type MetricColumnsStream = futures::stream::BoxStream<'static, crate::Result<MetricColumns>>;

/// A metric's history (or a piece of it) as three columns, in step order.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// let run = client.start_run().start().await?;
/// for step in 0..3 { run.log_metric("loss", 1.0 / (step + 1) as f64, step).await?; }
/// run.flush().await?;
/// let loss = client.metric_history_columns(run.id(), "loss").await?;
/// assert_eq!((loss.len(), loss.is_empty(), loss.steps.clone()), (3, false, vec![0, 1, 2]));
/// # run.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricColumns {
    /// The metric's name.
    pub key: String,
    /// Steps.
    pub steps: Vec<i64>,
    /// Timestamps, ms since the epoch.
    pub timestamps: Vec<i64>,
    /// Values.
    pub values: Vec<f64>,
}

impl MetricColumns {
    /// Number of points.
    ///
    /// ```
    /// let c = trackd_client::MetricColumns { values: vec![1.0, 2.0], ..Default::default() };
    /// assert_eq!(c.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no points.
    ///
    /// ```
    /// assert!(trackd_client::MetricColumns::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn pairs<K: Into<String>, V: Into<String>>(
    items: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    items
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

impl From<pb::Experiment> for Experiment {
    fn from(e: pb::Experiment) -> Self {
        Experiment {
            experiment_id: e.experiment_id,
            name: e.name,
            artifact_location: e.artifact_location,
            deleted: e.lifecycle_stage == "deleted",
            creation_time: e.creation_time,
            last_update_time: e.last_update_time,
            tags: pairs(e.tags.into_iter().map(|t| (t.key, t.value))),
        }
    }
}

impl From<pb::RunInfo> for RunInfo {
    fn from(i: pb::RunInfo) -> Self {
        RunInfo {
            run_id: if i.run_id.is_empty() {
                i.run_uuid
            } else {
                i.run_id
            },
            run_name: i.run_name,
            experiment_id: i.experiment_id,
            user_id: i.user_id,
            status: RunStatus::from_wire(i.status),
            start_time: i.start_time,
            end_time: i.end_time,
            artifact_uri: i.artifact_uri,
            deleted: i.lifecycle_stage == "deleted",
        }
    }
}

impl From<pb::Metric> for Metric {
    fn from(m: pb::Metric) -> Self {
        Metric {
            key: m.key,
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
        }
    }
}

impl From<pb::Dataset> for Dataset {
    fn from(d: pb::Dataset) -> Self {
        Dataset {
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema,
            profile: d.profile,
        }
    }
}

impl From<Dataset> for pb::Dataset {
    fn from(d: Dataset) -> Self {
        pb::Dataset {
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema,
            profile: d.profile,
        }
    }
}

impl From<pb::DatasetInput> for DatasetInput {
    fn from(d: pb::DatasetInput) -> Self {
        DatasetInput {
            dataset: d.dataset.map(Dataset::from).unwrap_or_default(),
            tags: pairs(d.tags.into_iter().map(|t| (t.key, t.value))),
        }
    }
}

impl From<DatasetInput> for pb::DatasetInput {
    fn from(d: DatasetInput) -> Self {
        pb::DatasetInput {
            dataset: Some(d.dataset.into()),
            tags: d
                .tags
                .into_iter()
                .map(|(key, value)| pb::InputTag { key, value })
                .collect(),
        }
    }
}

impl From<pb::Run> for Run {
    fn from(r: pb::Run) -> Self {
        let data = r.data.unwrap_or_default();
        let inputs = r.inputs.unwrap_or_default();
        Run {
            info: r
                .info
                .map(RunInfo::from)
                .unwrap_or_else(|| RunInfo::from(pb::RunInfo::default())),
            data: RunData {
                metrics: data
                    .metrics
                    .into_iter()
                    .map(|m| {
                        (
                            m.key,
                            MetricPoint {
                                value: m.value,
                                timestamp: m.timestamp,
                                step: m.step,
                            },
                        )
                    })
                    .collect(),
                params: pairs(data.params.into_iter().map(|p| (p.key, p.value))),
                tags: pairs(data.tags.into_iter().map(|t| (t.key, t.value))),
            },
            datasets: inputs.dataset_inputs.into_iter().map(Into::into).collect(),
            model_inputs: inputs
                .model_inputs
                .into_iter()
                .map(|m| m.model_id)
                .collect(),
            model_outputs: r
                .outputs
                .unwrap_or_default()
                .model_outputs
                .into_iter()
                .map(|m| ModelOutput {
                    model_id: m.model_id,
                    step: m.step,
                })
                .collect(),
        }
    }
}

impl From<pb::FileInfo> for FileInfo {
    fn from(f: pb::FileInfo) -> Self {
        FileInfo {
            path: f.path,
            is_dir: f.is_dir,
            file_size: f.file_size.and_then(|s| u64::try_from(s).ok()),
        }
    }
}

impl From<pb::MetricColumns> for MetricColumns {
    fn from(c: pb::MetricColumns) -> Self {
        MetricColumns {
            key: c.key,
            steps: c.steps,
            timestamps: c.timestamps,
            values: c.values,
        }
    }
}

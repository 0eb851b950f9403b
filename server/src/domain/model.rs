//! Entities of experiment tracking: experiments, runs, metrics, params and tags.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackingError};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC), for people.
pub fn utc_datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Numeric experiment id; rendered as a decimal string on the wire (`"0"` is `Default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExperimentId(pub u64);

impl ExperimentId {
    /// The `Default` experiment, created when a store is first opened.
    pub const DEFAULT: ExperimentId = ExperimentId(0);

    /// Parses a wire id. Anything but a decimal number is `NotFound` when it is a plausible
    /// MLflow id (MLflow's id pattern) and `InvalidArgument` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'experiment_id'.",
            ));
        }
        if let Ok(n) = s.parse::<u64>() {
            if !s.starts_with('+') {
                return Ok(ExperimentId(n));
            }
        }
        if crate::domain::validate::looks_like_mlflow_id(s, 63) {
            Err(TrackingError::not_found(format!(
                "No Experiment with id={s} exists"
            )))
        } else {
            Err(TrackingError::invalid(format!(
                "Invalid experiment ID: '{}'",
                crate::domain::validate::abbreviate(s)
            )))
        }
    }
}

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A run id: a UUIDv4, rendered as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub [u8; 16]);

impl RunId {
    /// A fresh random run id.
    pub fn generate() -> Self {
        RunId(*uuid::Uuid::new_v4().as_bytes())
    }

    /// Parses a wire id. Ids matching MLflow's run id pattern that are not trackd ids are
    /// `NotFound` (they cannot exist here); anything else is `InvalidArgument`.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'run_id'.",
            ));
        }
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let mut out = [0u8; 16];
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("checked hex");
            }
            return Ok(RunId(out));
        }
        if crate::domain::validate::looks_like_mlflow_id(s, 255) {
            Err(TrackingError::not_found(format!(
                "Run with id={s} not found"
            )))
        } else {
            Err(TrackingError::invalid(format!(
                "Invalid run ID: '{}'",
                crate::domain::validate::abbreviate(s)
            )))
        }
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunId({self})")
    }
}

/// Whether an experiment or run is live or soft-deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    /// Visible in default searches, writable.
    Active,
    /// Soft-deleted: hidden from default searches, refuses writes, restorable.
    Deleted,
}

impl Lifecycle {
    /// MLflow's string form: `active` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deleted => "deleted",
        }
    }
}

/// Status of a run, with MLflow's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// The run is in progress.
    Running,
    /// The run is scheduled to start.
    Scheduled,
    /// The run ended successfully.
    Finished,
    /// The run ended with an error.
    Failed,
    /// The run was stopped.
    Killed,
}

impl RunStatus {
    /// MLflow's name of the status (`RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parses MLflow's status name, case-insensitively.
    /// MLflow's number of a status (RUNNING = 1 … KILLED = 5), as both wire formats carry
    /// it.
    pub fn from_number(n: i64) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Scheduled,
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Killed,
        ]
        .get(usize::try_from(n.checked_sub(1)?).ok()?)
        .copied()
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Scheduled,
            Self::Finished,
            Self::Failed,
            Self::Killed,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

/// Which lifecycle stages a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Only active objects (the default).
    #[default]
    ActiveOnly,
    /// Only deleted objects.
    DeletedOnly,
    /// Everything.
    All,
}

impl ViewType {
    /// Whether an object in `stage` is shown.
    pub fn includes(self, stage: Lifecycle) -> bool {
        match self {
            ViewType::ActiveOnly => stage == Lifecycle::Active,
            ViewType::DeletedOnly => stage == Lifecycle::Deleted,
            ViewType::All => true,
        }
    }
}

/// An experiment with its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Its id.
    pub id: ExperimentId,
    /// Unique name (also among deleted experiments).
    pub name: String,
    /// Where its runs' artifacts live (`mlflow-artifacts:/<id>` by default).
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
    /// Creation time, ms.
    pub creation_time: i64,
    /// Last create/rename/delete/restore/tag change, ms.
    pub last_update_time: i64,
    /// Experiment tags.
    pub tags: BTreeMap<String, String>,
}

/// Run metadata (MLflow's `RunInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Its id.
    pub run_id: RunId,
    /// The experiment it belongs to.
    pub experiment_id: ExperimentId,
    /// Display name, kept equal to the `mlflow.runName` tag.
    pub run_name: String,
    /// Deprecated user field (MLflow still fills it).
    pub user_id: String,
    /// Status.
    pub status: RunStatus,
    /// Start time, ms.
    pub start_time: i64,
    /// End time, ms; `None` while not ended.
    pub end_time: Option<i64>,
    /// Root URI of the run's artifacts.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
}

/// One metric point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Training step (may be negative).
    pub step: i64,
    /// Wall time, ms since the epoch.
    pub timestamp: i64,
    /// The value; NaN and infinities are allowed.
    pub value: f64,
}

impl Point {
    /// MLflow's "latest" order: by (step, timestamp, value), values totally ordered.
    pub fn latest_cmp(&self, other: &Point) -> std::cmp::Ordering {
        (self.step, self.timestamp)
            .cmp(&(other.step, other.timestamp))
            .then(self.value.total_cmp(&other.value))
    }

    /// Bitwise identity (so NaN equals NaN): what "exact duplicate" means for retries.
    pub fn same_as(&self, other: &Point) -> bool {
        self.step == other.step
            && self.timestamp == other.timestamp
            && self.value.to_bits() == other.value.to_bits()
    }
}

/// A metric point with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Metric name.
    pub key: String,
    /// The point.
    pub point: Point,
}

impl RunInfo {
    /// Applies an UpdateRun: a new status, end time and/or name (the caller also rewrites the
    /// `mlflow.runName` tag).
    pub fn apply_update(
        &mut self,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        name: Option<&str>,
    ) {
        if let Some(s) = status {
            self.status = s;
        }
        if let Some(e) = end_time {
            self.end_time = Some(e);
        }
        if let Some(name) = name {
            self.run_name = name.to_owned();
        }
    }
}

/// A run as returned by reads: info, latest metrics, params and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// The latest point of each metric key, by key.
    pub metrics: BTreeMap<String, Point>,
    /// Params, by key.
    pub params: BTreeMap<String, String>,
    /// Tags, by key.
    pub tags: BTreeMap<String, String>,
    /// Datasets and models the run used.
    pub inputs: RunInputs,
    /// Models the run produced.
    pub outputs: Vec<ModelOutput>,
}

/// A dataset as MLflow describes it: name and digest identify it; the rest says where it
/// came from and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Name, ≤ 500 characters.
    pub name: String,
    /// Content digest, ≤ 36 characters.
    pub digest: String,
    /// Kind of source, e.g. `local`, `http`, `delta_table`.
    pub source_type: String,
    /// The source, usually JSON written by the client.
    pub source: String,
    /// Optional schema, usually JSON.
    pub schema: String,
    /// Optional profile (row counts, …), usually JSON.
    pub profile: String,
}

/// A dataset used by a run, with tags describing the use (e.g. `mlflow.data.context=train`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Input tags, in the order given.
    pub tags: Vec<(String, String)>,
}

/// What a run used: datasets and logged models (by model id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInputs {
    /// Datasets, each (name, digest) once.
    pub datasets: Vec<DatasetInput>,
    /// Model ids, each once.
    pub models: Vec<String>,
}

impl RunInputs {
    /// True when there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.datasets.is_empty() && self.models.is_empty()
    }
}

/// A model a run produced, at a training step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// Logged model id.
    pub model_id: String,
    /// Step at which it was produced.
    pub step: i64,
}

/// Writes to one run in one batch: metric points grouped by key, params and tags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunWrites {
    /// Points per metric key, in arrival order.
    pub metrics: Vec<(String, Vec<Point>)>,
    /// Params in request order.
    pub params: Vec<(String, String)>,
    /// Tags in request order (the last one of a key wins).
    pub tags: Vec<(String, String)>,
}

impl RunWrites {
    /// Adds a point to its key's series (keys keep their first-seen order, points their
    /// arrival order).
    pub fn push_point(&mut self, key: String, point: Point) {
        match self.metrics.iter_mut().find(|(k, _)| *k == key) {
            Some((_, points)) => points.push(point),
            None => self.metrics.push((key, vec![point])),
        }
    }

    /// Number of metric points.
    pub fn point_count(&self) -> usize {
        self.metrics.iter().map(|(_, p)| p.len()).sum()
    }
}

/// System tag holding the run name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// Run tag holding the JSON list of models logged with LogModel.
pub const LOGGED_MODELS_TAG: &str = "mlflow.log-model.history";
/// System tag holding the parent of a nested run.
pub const PARENT_RUN_ID_TAG: &str = "mlflow.parentRunId";
/// System tag holding the user.
pub const USER_TAG: &str = "mlflow.user";

/// What an acknowledgement of a write promises (it goes out on the wire with every
/// LogStream answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The write is on stable storage (fsynced): it survives a crash.
    #[default]
    Durable,
    /// The write is applied, not yet on stable storage; the store makes it durable within a
    /// short window (sled: 200 ms), which a crash can lose.
    Buffered,
}

impl ViewType {
    /// Parses a view type from MLflow's numbering (0 = default = ACTIVE_ONLY).
    pub fn from_i32(v: i32) -> crate::error::Result<Self> {
        match v {
            0 | 1 => Ok(ViewType::ActiveOnly),
            2 => Ok(ViewType::DeletedOnly),
            3 => Ok(ViewType::All),
            other => Err(crate::error::TrackingError::invalid(format!(
                "Invalid view type {other}"
            ))),
        }
    }

    /// Parses a view type from its MLflow name, in any case (`ACTIVE_ONLY`, `DELETED_ONLY`,
    /// `ALL`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" => Some(ViewType::DeletedOnly),
            "ALL" => Some(ViewType::All),
            _ => None,
        }
    }
}

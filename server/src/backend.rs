//! The seam under the Tracker: what it needs from wherever tracking data lives. The sled
//! store ([`crate::store::Store`]) is the one implementation today; a PostgreSQL one goes
//! next to it. The Tracker holds an `Arc<dyn TrackingBackend>` and never hands it out, so
//! the edges cannot reach a backend around the Tracker's rules.
//!
//! - Writes are domain commands ([`WriteOp`]), applied in the order they are queued; the
//!   backend checks MLflow's state rules (`crate::domain::rules`: write-once params, deleted
//!   runs refuse writes, stream sequence numbers) atomically with the write, and answers
//!   once the write is as durable as [`TrackingBackend::durability`] says.
//! - Reads are synchronous and may block briefly (a lookup); the Tracker runs the ones that
//!   grow with the data (searches, histories) on a blocking thread.
//! - A metric history is read through a [`HistorySource`]: points in history order (step,
//!   timestamp, value), a bounded block at a time.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::domain::access::{ApiToken, Level, Resource, User};
use crate::domain::{
    Durability, Experiment, ExperimentId, LoggedModel, ModelId, Point, RegisteredModel, Run, RunId,
    RunInfo, ViewType,
};
pub use crate::domain::{Outcome, WriteOp};
use crate::error::Result;
use crate::query::filter::Expr;

/// The answer to a queued write, once it is durable as promised.
pub type PendingWrite = BoxFuture<'static, Result<Outcome>>;

/// Whether a [`BackendMetric`] only grows or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One figure a backend reports on `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendMetric {
    /// Prometheus name (`trackd_…`).
    pub name: &'static str,
    /// What it counts.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Its value now.
    pub value: u64,
}

impl BackendMetric {
    /// The figure `name` read from a counter now.
    pub fn read(
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
        value: &std::sync::atomic::AtomicU64,
    ) -> Self {
        BackendMetric {
            name,
            help,
            kind,
            value: value.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Where tracking data lives; see the module docs.
pub trait TrackingBackend: Send + Sync + 'static {
    /// What an acknowledged write promises.
    fn durability(&self) -> Durability;

    /// Where the data is, for logs (a directory, a database URI without its password).
    fn location(&self) -> String;

    /// Figures for `/metrics`.
    fn metrics(&self) -> Vec<BackendMetric>;

    /// Queues a write (waiting while the queue is full); the returned future answers once
    /// the write is applied and as durable as promised. Writes are applied in queue order.
    fn enqueue(&self, op: WriteOp) -> BoxFuture<'_, Result<PendingWrite>>;

    /// Stops accepting writes, applies and makes durable what is queued, and closes.
    fn close(&self) -> BoxFuture<'_, Result<()>>;

    /// An experiment by id (deleted ones too).
    fn experiment(&self, id: ExperimentId) -> Result<Experiment>;

    /// An experiment by exact name (deleted ones too).
    fn experiment_by_name(&self, name: &str) -> Result<Experiment>;

    /// Every experiment, in id order.
    fn experiments(&self) -> Result<Vec<Experiment>>;

    /// A run's metadata.
    fn run_info(&self, id: RunId) -> Result<RunInfo>;

    /// A run with its latest metrics, params, tags, inputs and outputs.
    fn run(&self, id: RunId) -> Result<Run>;

    /// Completes a run's metadata with its data.
    fn run_with_info(&self, info: RunInfo) -> Result<Run>;

    /// The runs of `experiments` in `view` that match `filter` (unordered).
    fn search_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        filter: Option<&Expr>,
    ) -> Result<Vec<Arc<Run>>>;

    /// A logged model by id (deleted ones too).
    fn logged_model(&self, id: ModelId) -> Result<LoggedModel>;

    /// The logged models of `experiments` (deleted ones too), in id order.
    fn logged_models(&self, experiments: &[ExperimentId]) -> Result<Vec<Arc<LoggedModel>>>;

    /// A registered model (with its versions) by name.
    fn registered_model(&self, name: &str) -> Result<RegisteredModel>;

    /// Every registered model, in name order.
    fn registered_models(&self) -> Result<Vec<Arc<RegisteredModel>>>;

    /// Permanently removes a run in the deleted state with all its data; `false` when it is
    /// not deleted (or does not exist). Offline maintenance (`trackd gc`): not ordered with
    /// queued writes.
    fn purge_run(&self, id: RunId) -> Result<bool>;

    /// Permanently removes a deleted experiment that has no runs left; `false` otherwise.
    fn purge_experiment(&self, id: ExperimentId) -> Result<bool>;

    /// After purges: gives back the space of data nothing refers to any more (the sled
    /// store's chunk log segments); returns the bytes freed. Backends whose database frees
    /// space itself keep the default, which frees nothing.
    fn reclaim_space(&self) -> Result<u64> {
        Ok(0)
    }

    /// Takes a consistent backup named `name` (a plain name; where it goes is the backend's
    /// choice) while writes continue: it holds exactly the writes acknowledged before it
    /// began.
    fn backup<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<BackupReport>>;

    /// One metric series in history order, limited to steps in `start..=end` (each bound
    /// optional); a metric never logged reads as empty. The run is not checked.
    fn history(
        &self,
        run: RunId,
        key: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Box<dyn HistorySource>>;
}

/// One metric series being read in history order, a block at a time.
pub trait HistorySource: Send {
    /// Points the read will deliver: exact for a whole series, an upper bound for a range.
    fn points_hint(&self) -> u64;

    /// Skips up to `n` points; returns how many were skipped.
    fn skip(&mut self, n: usize) -> Result<usize>;

    /// The next block of at most `max` points (at least one); `None` at the end.
    fn next_block_max(&mut self, max: usize) -> Result<Option<Vec<Point>>>;

    /// The next block of at most 65,536 points; `None` at the end.
    fn next_block(&mut self) -> Result<Option<Vec<Point>>> {
        self.next_block_max(crate::store::HISTORY_BLOCK_POINTS)
    }
}

/// What a database copy wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Copied {
    /// Entries copied (every tree).
    pub entries: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// How long writes waited for the copy, seconds.
    pub seconds: f64,
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupReport {
    /// Where it is.
    pub path: std::path::PathBuf,
    /// The database copy.
    pub database: Copied,
    /// Artifact files copied.
    pub artifact_files: u64,
    /// Artifact bytes copied.
    pub artifact_bytes: u64,
}

/// Users, API tokens and permission grants (see [`crate::domain::access`]). Changes are
/// durable when the call returns. The sled store implements it next to its tracking data,
/// so a backup carries both.
pub trait AccessBackend: Send + Sync + 'static {
    /// A user by name.
    fn user(&self, name: &str) -> Result<Option<User>>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>>;
    /// Creates or replaces a user.
    fn put_user(&self, user: &User) -> Result<()>;
    /// Deletes a user with their tokens and grants; false if there was none.
    fn delete_user(&self, name: &str) -> Result<bool>;
    /// A token by id.
    fn token(&self, id: &str) -> Result<Option<ApiToken>>;
    /// A user's tokens.
    fn tokens_of(&self, user: &str) -> Result<Vec<ApiToken>>;
    /// Stores a new token.
    fn put_token(&self, token: &ApiToken) -> Result<()>;
    /// Deletes a token; false if there was none.
    fn delete_token(&self, id: &str) -> Result<bool>;
    /// A user's grant on a resource, if any.
    fn grant(&self, resource: &Resource, user: &str) -> Result<Option<Level>>;
    /// Every user's grant on a resource.
    fn grants_on(&self, resource: &Resource) -> Result<Vec<(String, Level)>>;
    /// Sets (`Some`) or removes (`None`) a user's grant on a resource.
    fn set_grant(&self, resource: &Resource, user: &str, level: Option<Level>) -> Result<()>;
}

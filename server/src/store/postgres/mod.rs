//! The PostgreSQL backend (`--backend-store-uri postgresql://…`): the same
//! [`TrackingBackend`](crate::backend::TrackingBackend) contract as the sled store, on a
//! database several `trackd server` replicas share.
//!
//! - **Writes** go through one writer task per process, in queue order, a group of queued
//!   ops per transaction (one commit, one WAL flush, for many ops). Each op runs in a
//!   savepoint, so an op refused by MLflow's rules writes nothing and the others commit. An
//!   op locks the rows it checks (`SELECT … FOR UPDATE` on its run, experiment, stream or
//!   model), so the rules hold when several replicas write at once; a deadlock or
//!   serialization failure between replicas replays the whole group.
//! - **Reads** are synchronous in the trait. They run on this backend's own small tokio
//!   runtime (which also drives every connection) and the calling thread waits: a lookup
//!   is one round trip; searches and histories are already on blocking threads.
//! - Acknowledged means committed (`synchronous_commit` as the server is configured: on
//!   by default, so a commit survives a crash of PostgreSQL's host).
//!
//! The tables are described in [`schema`].

mod access;
mod history;
mod reads;
mod restore;
pub mod schema;
mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::backend::{BackendMetric, HistorySource, MetricKind, PendingWrite, TrackingBackend};
use crate::domain::{
    Durability, Experiment, ExperimentId, LoggedModel, ModelId, Outcome, RegisteredModel, Run,
    RunId, RunInfo, ViewType, WriteOp,
};
use crate::error::{Result, TrackingError};
use crate::query::filter::Expr;

/// Failures of the PostgreSQL layer itself.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URI could not be parsed.
    #[error("invalid PostgreSQL URI: {0}")]
    BadUri(String),
    /// A statement or the connection failed.
    #[error("PostgreSQL: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The database was migrated by a newer trackd.
    #[error(
        "the database's trackd schema is version {found}, newer than this build's {known}; \
         upgrade trackd (an older build must not write into a layout it does not know)"
    )]
    NewerSchema {
        /// Version in the database.
        found: i32,
        /// Newest version this build knows.
        known: i32,
    },
    /// The backend's runtime could not start, or it stopped.
    #[error("PostgreSQL backend runtime: {0}")]
    Runtime(String),
    /// The writer has stopped (the store is closed).
    #[error("the store is closed")]
    Closed,
}

impl From<PgError> for TrackingError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Closed => TrackingError::Unavailable("the store is closed".into()),
            PgError::Pool(e) => {
                TrackingError::Unavailable(format!("PostgreSQL is not reachable: {e}"))
            }
            other => TrackingError::storage("PostgreSQL", other),
        }
    }
}

impl From<tokio_postgres::Error> for TrackingError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Db(e).into()
    }
}

/// How to open a PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgresql://USER[:PASS]@HOST[:PORT]/DB` (or `postgres://`).
    pub uri: String,
    /// Connections per process (reads and the writer share them).
    pub pool_size: usize,
    /// Where out-of-order histories too large to sort in memory spill.
    pub spill_dir: PathBuf,
    /// Most ops committed in one transaction.
    pub max_group_ops: usize,
    /// How long a LogStream's sequence record is kept after its last batch.
    pub stream_retention: std::time::Duration,
}

impl PgConfig {
    /// Defaults for `uri`: 8 connections, spills in the system's temporary directory.
    pub fn new(uri: impl Into<String>) -> Self {
        PgConfig {
            uri: uri.into(),
            pool_size: 8,
            spill_dir: std::env::temp_dir(),
            max_group_ops: 256,
            stream_retention: crate::store::DEFAULT_STREAM_RETENTION,
        }
    }
}

/// Whether `uri` names a PostgreSQL database (`postgresql://` or `postgres://`).
pub fn is_postgres_uri(uri: &str) -> bool {
    uri.starts_with("postgresql://") || uri.starts_with("postgres://")
}

/// The URI without its password, for logs.
pub fn redacted(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}/{tail}")
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Stats {
    points: AtomicU64,
    groups: AtomicU64,
    ops: AtomicU64,
    retries: AtomicU64,
    queue_depth: AtomicU64,
    commit_micros: AtomicU64,
    stream_records_pruned: AtomicU64,
}

/// One queued write and where its answer goes.
struct Queued {
    op: WriteOp,
    answer: oneshot::Sender<Result<Outcome>>,
}

/// A PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

/// The backend's runtime, shut down without blocking when dropped (it may be dropped on
/// another runtime's thread, where blocking is not allowed).
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Inner {
    _runtime: OwnedRuntime,
    handle: tokio::runtime::Handle,
    pool: Pool,
    queue: std::sync::Mutex<Option<mpsc::Sender<Queued>>>,
    writer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    location: String,
    spill_dir: PathBuf,
    stats: Stats,
    runs: Arc<reads::RunCache>,
}

impl PgStore {
    /// Connects, migrates the schema (refusing a newer one) and starts the writer.
    pub async fn open(config: PgConfig) -> std::result::Result<PgStore, PgError> {
        let pg_config = tokio_postgres::Config::from_str(&config.uri)
            .map_err(|e| PgError::BadUri(format!("{}: {e}", redacted(&config.uri))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trackd-pg")
            .enable_all()
            .build()
            .map_err(|e| PgError::Runtime(e.to_string()))?;
        let handle = runtime.handle().clone();
        let runtime = OwnedRuntime(Some(runtime));
        let manager = Manager::from_config(
            pg_config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| PgError::Runtime(e.to_string()))?;
        let migrate_pool = pool.clone();
        handle
            .spawn(async move {
                let mut client = migrate_pool.get().await?;
                schema::migrate(&mut client).await?;
                writer::ensure_default_experiment(&**client).await?;
                Ok::<_, PgError>(())
            })
            .await
            .map_err(|e| PgError::Runtime(e.to_string()))??;
        let (tx, rx) = mpsc::channel(1024);
        let inner = Arc::new(Inner {
            _runtime: runtime,
            handle: handle.clone(),
            pool: pool.clone(),
            queue: std::sync::Mutex::new(Some(tx)),
            writer: std::sync::Mutex::new(None),
            location: format!("PostgreSQL at {}", redacted(&config.uri)),
            spill_dir: config.spill_dir,
            stats: Stats::default(),
            runs: Arc::default(),
        });
        let task = handle.spawn(writer::run(
            pool,
            rx,
            writer::Settings {
                max_group: config.max_group_ops.max(1),
                stream_retention: config.stream_retention,
            },
            Arc::downgrade(&inner),
        ));
        *inner.writer.lock().expect("writer lock") = Some(task);
        Ok(PgStore { inner })
    }

    /// Runs `work` with a pooled connection on the backend's runtime and waits for it (the
    /// synchronous reads of the trait).
    fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c tokio_postgres::Client) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let pool = self.inner.pool.clone();
        let task = self.inner.handle.spawn(async move {
            let client = pool.get().await.map_err(PgError::from)?;
            work(&client).await
        });
        futures::executor::block_on(task)
            .map_err(|e| TrackingError::from(PgError::Runtime(e.to_string())))?
    }
}

impl TrackingBackend for PgStore {
    fn durability(&self) -> Durability {
        Durability::Durable
    }

    fn location(&self) -> String {
        self.inner.location.clone()
    }

    fn metrics(&self) -> Vec<BackendMetric> {
        let s = &self.inner.stats;
        let figure = BackendMetric::read;
        vec![
            figure(
                "trackd_points_ingested_total",
                "Metric points stored.",
                MetricKind::Counter,
                &s.points,
            ),
            figure(
                "trackd_commit_groups_total",
                "Write groups committed (one PostgreSQL transaction each).",
                MetricKind::Counter,
                &s.groups,
            ),
            figure(
                "trackd_commit_ops_total",
                "Write operations applied.",
                MetricKind::Counter,
                &s.ops,
            ),
            figure(
                "trackd_flushes_total",
                "Transactions committed (each a WAL flush with synchronous_commit on).",
                MetricKind::Counter,
                &s.groups,
            ),
            figure(
                "trackd_flush_microseconds_total",
                "Time spent in COMMIT, in microseconds (divide by flushes for the mean).",
                MetricKind::Counter,
                &s.commit_micros,
            ),
            figure(
                "trackd_stream_records_pruned_total",
                "LogStream sequence records removed after their retention.",
                MetricKind::Counter,
                &s.stream_records_pruned,
            ),
            figure(
                "trackd_commit_retries_total",
                "Write groups replayed after a deadlock or serialization failure.",
                MetricKind::Counter,
                &s.retries,
            ),
            figure(
                "trackd_write_queue_depth",
                "Writes waiting for the writer.",
                MetricKind::Gauge,
                &s.queue_depth,
            ),
        ]
    }

    fn enqueue(&self, op: WriteOp) -> BoxFuture<'_, Result<PendingWrite>> {
        async move {
            let queue = self.inner.queue.lock().expect("queue lock").clone();
            let queue = queue.ok_or(PgError::Closed)?;
            let (answer, answered) = oneshot::channel();
            self.inner.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
            if queue.send(Queued { op, answer }).await.is_err() {
                self.inner.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                return Err(PgError::Closed.into());
            }
            let pending: PendingWrite = async move {
                answered
                    .await
                    .unwrap_or_else(|_| Err(PgError::Closed.into()))
            }
            .boxed();
            Ok(pending)
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            // Dropping the sender ends the writer once it has applied what is queued.
            drop(self.inner.queue.lock().expect("queue lock").take());
            let task = self.inner.writer.lock().expect("writer lock").take();
            if let Some(task) = task {
                task.await
                    .map_err(|e| TrackingError::from(PgError::Runtime(e.to_string())))?;
            }
            self.inner.pool.close();
            Ok(())
        }
        .boxed()
    }

    fn experiment(&self, id: ExperimentId) -> Result<Experiment> {
        self.read(move |c| reads::experiment(c, id).boxed())
    }

    fn experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let name = name.to_owned();
        self.read(move |c| async move { reads::experiment_by_name(c, &name).await }.boxed())
    }

    fn experiments(&self) -> Result<Vec<Experiment>> {
        self.read(|c| reads::experiments(c).boxed())
    }

    fn run_info(&self, id: RunId) -> Result<RunInfo> {
        self.read(move |c| async move { Ok(reads::run(c, id).await?.info) }.boxed())
    }

    fn run(&self, id: RunId) -> Result<Run> {
        self.read(move |c| reads::run(c, id).boxed())
    }

    fn run_with_info(&self, info: RunInfo) -> Result<Run> {
        self.read(move |c| reads::run(c, info.run_id).boxed())
    }

    fn search_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        filter: Option<&Expr>,
    ) -> Result<Vec<Arc<Run>>> {
        let experiments = experiments.to_vec();
        let filter = filter.cloned();
        let cache = self.inner.runs.clone();
        self.read(move |c| {
            async move { reads::search_runs(c, &cache, &experiments, view, filter.as_ref()).await }
                .boxed()
        })
    }

    fn logged_model(&self, id: ModelId) -> Result<LoggedModel> {
        self.read(move |c| reads::logged_model(c, id).boxed())
    }

    fn logged_models(&self, experiments: &[ExperimentId]) -> Result<Vec<Arc<LoggedModel>>> {
        let experiments = experiments.to_vec();
        self.read(move |c| async move { reads::logged_models(c, &experiments).await }.boxed())
    }

    fn registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let name = name.to_owned();
        self.read(move |c| async move { reads::registered_model(c, &name).await }.boxed())
    }

    fn registered_models(&self) -> Result<Vec<Arc<RegisteredModel>>> {
        self.read(|c| reads::registered_models(c).boxed())
    }

    fn purge_run(&self, id: RunId) -> Result<bool> {
        let purged = self.read(move |c| reads::purge_run(c, id).boxed())?;
        reads::forget(&self.inner.runs, id);
        Ok(purged)
    }

    fn purge_experiment(&self, id: ExperimentId) -> Result<bool> {
        self.read(move |c| reads::purge_experiment(c, id).boxed())
    }

    fn backup<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<crate::backend::BackupReport>> {
        async move {
            Err(TrackingError::Unsupported(
                "trackd backups copy the embedded sled store; a PostgreSQL store is backed up \
                 with PostgreSQL's own tools (pg_dump, or continuous archiving with \
                 pg_basebackup)."
                    .into(),
            ))
        }
        .boxed()
    }

    fn history(
        &self,
        run: RunId,
        key: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Box<dyn HistorySource>> {
        Ok(Box::new(history::reader(self, run, key, start, end)?))
    }
}

//! The embedded sled store: sled trees behind the `TrackingBackend` seam.
//!
//! - Reads go straight to sled from any task (`read.rs`).
//! - Every write goes through one committer thread (`committer.rs`): it gathers the writes of
//!   all callers, applies them one after another with MLflow's rules checked against the
//!   current state (`writer.rs`), calls sled's blocking `flush()` once for the whole group, and
//!   only then answers every waiter. An answer in the default durable mode therefore means
//!   "fsynced".
//! - Metric points are stored in chunks ([`chunk`]), keys are laid out in [`keys`]. Sealed
//!   chunks live in the [`chunk_log`] beside the database (`<dir>/chunks`); sled keeps a
//!   reference to each (`chunk_refs`).
//!
//! Nothing here knows about protobuf or JSON. A second backend would implement the same
//! `Store` surface (`open`, `write`, the read methods).

mod access;
mod as_backend;
mod backup;
mod catalog;
pub mod chunk_log;
mod chunk_refs;
mod committer;
mod history;
pub mod keys;
mod lock_wait;
mod purge;
mod read;
mod restore;
mod run_index;
mod run_io;
mod space;
mod streams;
pub mod usage;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::domain::Durability;
pub use crate::domain::{Outcome, WriteOp};
use crate::store::series::spans;
pub use crate::store::series::{chunk, HistoryReader, HISTORY_BLOCK_POINTS};
pub use catalog::Catalog;
pub use committer::CommitStats;
pub use purge::Purged;

use crate::domain::{now_ms, Experiment, ExperimentId, Lifecycle};

/// Failures of the storage layer itself (not of the caller's request).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another process has the store open.
    #[error(
        "the store at {path} is in use by another process (is a trackd server running on it? \
         point your client at that server with MLFLOW_TRACKING_URI=http://HOST:PORT instead \
         of opening the directory)"
    )]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The user running trackd may not read or write the store directory.
    #[error(
        "permission denied on the store at {path}: the user running trackd cannot read and \
         write it (check the directory's owner and mode, or run trackd as its owner)"
    )]
    PermissionDenied {
        /// The store directory.
        path: PathBuf,
    },
    /// sled reported corruption, or a record failed to decode.
    #[error("{0} (restore the store directory from a backup)")]
    Corrupted(String),
    /// The disk holding the store is full: the write was not made.
    #[error("the disk holding the store is full (no space left on device)")]
    DiskFull,
    /// Any other sled or I/O failure.
    #[error("sled: {0}")]
    Sled(String),
    /// The store was closed (server shutting down).
    #[error("the store is closed")]
    Closed,
}

impl From<StoreError> for crate::error::TrackingError {
    fn from(err: StoreError) -> Self {
        use crate::error::TrackingError;
        match err {
            StoreError::Corrupted(m) => TrackingError::Corrupted(m),
            StoreError::Closed => {
                TrackingError::Unavailable("the store is closed (server shutting down)".into())
            }
            StoreError::DiskFull => TrackingError::Overloaded {
                message: "The disk holding the store is full (no space left on device); the \
                          write was not made. Free space and retry."
                    .into(),
                retry_after_ms: 5_000,
            },
            other => TrackingError::storage("the store failed", other),
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(err: sled::Error) -> Self {
        match err {
            sled::Error::Corruption { .. } => StoreError::Corrupted(err.to_string()),
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::StorageFull
                    || io.raw_os_error() == Some(libc::ENOSPC) =>
            {
                StoreError::DiskFull
            }
            other => StoreError::Sled(other.to_string()),
        }
    }
}

/// The answer to a queued write; resolves once the write is applied (and, in durable mode,
/// fsynced).
pub struct PendingWrite(tokio::sync::oneshot::Receiver<crate::error::Result<Outcome>>);

impl std::future::Future for PendingWrite {
    type Output = crate::error::Result<Outcome>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(StoreError::Closed.into())))
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store directory (sled lives in `<dir>/db`, artifacts in `<dir>/artifacts`).
    pub dir: PathBuf,
    /// When writes are acknowledged.
    pub durability: Durability,
    /// sled's page cache size in bytes.
    pub cache_bytes: u64,
    /// Most queued writes before writers wait (backpressure).
    pub queue_capacity: usize,
    /// How long a LogStream's sequence record is kept after its last batch. Within this
    /// window a re-sent batch is recognised and stored once; it must exceed every client's
    /// reconnect window (the Rust client's default is 60 s).
    pub stream_retention: Duration,
    /// Free space kept on the store's file system: writes are refused (RESOURCE_EXHAUSTED)
    /// while less is free, and resume when there is room again; 0 turns the guard off.
    pub min_free_bytes: u64,
    /// Size at which a chunk log segment is closed and the next begun (`trackd gc` frees
    /// whole segments).
    pub chunk_segment_bytes: u64,
}

impl StoreConfig {
    /// Defaults for a store in `dir`: durable acks, 16 MiB cache.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: dir.into(),
            durability: Durability::Durable,
            cache_bytes: 16 << 20,
            queue_capacity: 4096,
            stream_retention: DEFAULT_STREAM_RETENTION,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            chunk_segment_bytes: chunk_log::SEGMENT_BYTES,
        }
    }
}

/// Default of [`StoreConfig::min_free_bytes`]: 64 MiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// Default of [`StoreConfig::stream_retention`]: 7 days.
pub const DEFAULT_STREAM_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The named trees of one store.
#[derive(Clone)]
pub(crate) struct Trees {
    pub meta: sled::Tree,
    pub experiments: sled::Tree,
    pub experiment_names: sled::Tree,
    pub runs: sled::Tree,
    pub experiment_runs: sled::Tree,
    pub params: sled::Tree,
    pub tags: sled::Tree,
    pub latest_metrics: sled::Tree,
    pub metric_chunks: sled::Tree,
    pub chunk_spans: sled::Tree,
    pub streams: sled::Tree,
    pub run_io: sled::Tree,
    /// Logged models by id (`ModelId` bytes → postcard `LoggedModel`).
    pub logged_models: sled::Tree,
    /// The model registry by name (name bytes → postcard `RegisteredModel`, versions inside).
    pub registered_models: sled::Tree,
    /// Users by name (name → postcard `User`).
    pub auth_users: sled::Tree,
    /// API tokens by id (id → postcard `ApiToken`).
    pub auth_tokens: sled::Tree,
    /// Grants (resource key · 0x00 · user → level code); see `access`.
    pub auth_grants: sled::Tree,
    /// The payloads of sealed chunks, referred to from `metric_chunks`.
    pub chunk_log: Arc<chunk_log::ChunkLog>,
}

impl Trees {
    fn open(db: &sled::Db, chunk_log: Arc<chunk_log::ChunkLog>) -> Result<Self, StoreError> {
        Ok(Trees {
            chunk_log,
            meta: db.open_tree("meta")?,
            experiments: db.open_tree("experiments")?,
            experiment_names: db.open_tree("experiment_names")?,
            runs: db.open_tree("runs")?,
            experiment_runs: db.open_tree("experiment_runs")?,
            params: db.open_tree("params")?,
            tags: db.open_tree("tags")?,
            latest_metrics: db.open_tree("latest_metrics")?,
            metric_chunks: db.open_tree("metric_chunks")?,
            chunk_spans: db.open_tree("chunk_spans")?,
            streams: db.open_tree("streams")?,
            run_io: db.open_tree("run_io")?,
            logged_models: db.open_tree("logged_models")?,
            registered_models: db.open_tree("registered_models")?,
            auth_users: db.open_tree("auth_users")?,
            auth_tokens: db.open_tree("auth_tokens")?,
            auth_grants: db.open_tree("auth_grants")?,
        })
    }
}

/// Handle to an open store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    trees: Trees,
    catalog: Arc<Catalog>,
    committer: committer::Handle,
}

const FORMAT_KEY: &[u8] = b"format_version";
/// Format 3 added chunk spans (`spans`); format 4 the chunk log (`chunk_log`). Format 2 and
/// 3 stores are upgraded on open (3 → 4 changes nothing stored: inline chunks stay valid).
const FORMAT_VERSION: u64 = 4;

impl Store {
    /// Opens (creating if needed) the store in `config.dir`, creates the `Default`
    /// experiment on first open, and starts the committer.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let db_path = config.dir.join("db");
        std::fs::create_dir_all(&config.dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                StoreError::PermissionDenied {
                    path: config.dir.clone(),
                }
            } else {
                StoreError::Sled(format!("cannot create {}: {e}", config.dir.display()))
            }
        })?;
        let flush_every = match config.durability {
            // The committer flushes every group itself.
            Durability::Durable => None,
            Durability::Buffered => Some(committer::BUFFERED_FLUSH_MS),
        };
        if lock_wait::wait_for_lock(&db_path.join("db"), lock_wait::LOCK_WAIT)
            == lock_wait::LockState::Held
        {
            return Err(StoreError::Locked {
                path: config.dir.clone(),
            });
        }
        let db = sled::Config::new()
            .path(&db_path)
            .cache_capacity(config.cache_bytes)
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(flush_every)
            .open()
            .map_err(|e| classify_open_error(e, &config.dir))?;
        let meta = db.open_tree("meta")?;
        let was_closed = meta.remove(chunk_refs::CLOSED_KEY)?.is_some();
        let (chunk_log, recovery) = chunk_log::ChunkLog::open_with(
            &config.dir.join("chunks"),
            chunk_refs::stored_mark(&meta)?,
            config.chunk_segment_bytes,
        )?;
        let trees = Trees::open(&db, Arc::new(chunk_log))?;
        check_format(&trees)?;
        if !was_closed || recovery != chunk_log::Recovery::default() {
            let reconciled = chunk_refs::reconcile(&trees)?;
            if recovery != chunk_log::Recovery::default() || reconciled.dropped > 0 {
                tracing::warn!(
                    cut_bytes = recovery.cut_bytes,
                    cut_segments = recovery.cut_segments,
                    references_dropped = reconciled.dropped,
                    "the chunk log held writes past its synced mark (never acknowledged: the \
                     last stop was not clean); they were removed"
                );
            }
        }
        ensure_default_experiment(&trees, &config.dir)?;
        db.flush()?;
        let catalog = Arc::new(Catalog::load(&trees)?);
        let committer = committer::spawn(db.clone(), trees.clone(), catalog.clone(), &config)?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: config.dir,
                db,
                trees,
                catalog,
                committer,
            }),
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Root directory of artifacts stored under this store.
    pub fn artifact_root(&self) -> PathBuf {
        self.inner.dir.join("artifacts")
    }

    /// The acknowledgement mode.
    pub fn durability(&self) -> Durability {
        self.inner.committer.durability()
    }

    /// Counters of the committer (for `/metrics`).
    pub fn commit_stats(&self) -> &CommitStats {
        self.inner.committer.stats()
    }

    /// Queues a write and waits until it is applied (and, in durable mode, fsynced).
    /// Waits when the queue is full.
    pub async fn write(&self, op: WriteOp) -> crate::error::Result<Outcome> {
        self.enqueue(op).await?.await
    }

    /// Queues a write (waiting while the queue is full) and returns a future of its answer.
    /// Writes are applied in the order they were queued, so a caller that must keep an order
    /// (a stream's batches) enqueues one after another and awaits the answers later.
    pub async fn enqueue(&self, op: WriteOp) -> crate::error::Result<PendingWrite> {
        Ok(PendingWrite(self.inner.committer.enqueue(op).await?))
    }

    /// Stops accepting writes, drains the queue, flushes, and stops the committer.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.inner.committer.close().await;
        let db = self.inner.db.clone();
        let trees = self.inner.trees.clone();
        tokio::task::spawn_blocking(move || {
            chunk_refs::sync_and_mark(&trees)?;
            trees.meta.insert(chunk_refs::CLOSED_KEY, &[])?;
            db.flush()?;
            Ok::<_, StoreError>(())
        })
        .await
        .map_err(|e| StoreError::Sled(e.to_string()))??;
        Ok(())
    }

    /// Every run with its latest data, in memory (for searches).
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub(crate) fn trees(&self) -> &Trees {
        &self.inner.trees
    }
}

fn classify_open_error(err: sled::Error, dir: &Path) -> StoreError {
    if let sled::Error::Io(io) = &err {
        let text = io.to_string();
        if io.kind() == std::io::ErrorKind::WouldBlock || text.contains("lock") {
            return StoreError::Locked {
                path: dir.to_path_buf(),
            };
        }
        if io.kind() == std::io::ErrorKind::PermissionDenied {
            return StoreError::PermissionDenied {
                path: dir.to_path_buf(),
            };
        }
    }
    match err {
        sled::Error::Corruption { .. } => StoreError::Corrupted(format!(
            "the store at {} is corrupted: {err}",
            dir.display()
        )),
        other => StoreError::Sled(format!(
            "cannot open the store at {}: {other}",
            dir.display()
        )),
    }
}

fn check_format(trees: &Trees) -> Result<(), StoreError> {
    let version = match trees.meta.get(FORMAT_KEY)? {
        None => FORMAT_VERSION,
        Some(v) => <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupted("unreadable store format version".into()))?,
    };
    match version {
        FORMAT_VERSION | 3 => {}
        2 => {
            let chunks = add_chunk_spans(trees)?;
            tracing::info!(chunks, "store upgraded to format 3 (chunk spans added)");
        }
        other => {
            return Err(StoreError::Corrupted(format!(
                "unsupported store format {other}; this trackd reads formats 2 to \
                 {FORMAT_VERSION}"
            )))
        }
    }
    trees
        .meta
        .insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
    Ok(())
}

/// Format 2 → 3: writes the span of every chunk (decoding each once). Returns the number of
/// chunks.
fn add_chunk_spans(trees: &Trees) -> Result<u64, StoreError> {
    let mut done = 0u64;
    let mut points = Vec::with_capacity(writer::MAX_CHUNK_POINTS);
    for entry in trees.metric_chunks.iter() {
        let (key, value) = entry?;
        points.clear();
        trees.chunk_points_into(&value, &mut points)?;
        if points.is_empty() {
            continue;
        }
        trees
            .chunk_spans
            .insert(key, &spans::Span::of(&points).encode()[..])?;
        done += 1;
    }
    Ok(done)
}

fn ensure_default_experiment(trees: &Trees, _dir: &Path) -> Result<(), StoreError> {
    let id = ExperimentId::DEFAULT;
    if trees.experiments.get(keys::experiment(id))?.is_some() {
        return Ok(());
    }
    let exp = default_experiment(now_ms());
    trees
        .experiments
        .insert(keys::experiment(id), encode_record(&exp))?;
    trees
        .experiment_names
        .insert(exp.name.as_bytes(), &id.0.to_be_bytes())?;
    Ok(())
}

/// The experiment every store starts with: `0`, "Default", created at `now`.
pub fn default_experiment(now: i64) -> Experiment {
    new_experiment(ExperimentId::DEFAULT, "Default", None, &[], now)
}

/// A new active experiment with the id its store chose; without a location it gets the
/// default one for its id.
pub fn new_experiment(
    id: ExperimentId,
    name: &str,
    location: Option<&str>,
    tags: &[(String, String)],
    now: i64,
) -> Experiment {
    Experiment {
        id,
        name: name.to_owned(),
        artifact_location: location
            .map(str::to_owned)
            .unwrap_or_else(|| default_artifact_location(id)),
        lifecycle: Lifecycle::Active,
        creation_time: now,
        last_update_time: now,
        tags: tags.iter().cloned().collect(),
    }
}

/// Artifact location of an experiment that did not ask for one.
pub fn default_artifact_location(id: ExperimentId) -> String {
    format!("mlflow-artifacts:/{id}")
}

pub(crate) fn encode_record<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("records serialise infallibly")
}

pub(crate) fn decode_record<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupted(format!("undecodable record: {e}")))
}

#[cfg(test)]
mod error_tests {
    use super::StoreError;
    use crate::error::TrackingError;

    #[test]
    fn a_full_disk_is_named_and_retryable() {
        let full = sled::Error::Io(std::io::Error::from_raw_os_error(libc::ENOSPC));
        let store = StoreError::from(full);
        assert!(matches!(store, StoreError::DiskFull));
        match TrackingError::from(store) {
            TrackingError::Overloaded {
                message,
                retry_after_ms,
            } => {
                assert!(
                    message.contains("disk holding the store is full"),
                    "{message}"
                );
                assert!(retry_after_ms > 0);
            }
            other => panic!("{other:?}"),
        }
        let other = StoreError::from(sled::Error::Io(std::io::Error::other("boom")));
        assert!(matches!(other, StoreError::Sled(_)));
    }
}

//! `trackd copy`: moves everything one store holds into another — sled ↔ PostgreSQL, local
//! artifacts ↔ an object store — keeping every id, time and lifecycle, so clients, links and
//! `runs:/` URIs keep working.
//!
//! - **What is copied:** experiments, runs (metadata, params, tags, dataset inputs, model
//!   inputs and outputs, every metric point in history order, exact duplicates included),
//!   logged models, registered models with their versions and aliases, users, API tokens and
//!   grants, and every file under the artifact root.
//! - **How:** records are written through the target's own writer as [`Restore`] ops, the
//!   same queue and durability as any write; a series travels a block of points at a time,
//!   and a file a chunk at a time, so memory stays bounded whatever the store holds.
//! - **Resumable:** a restored record replaces what the target holds under its id. A run
//!   already in the target is compared by its fingerprint (a SHA-256 of its record and every
//!   point) and skipped when identical, copied again when not (an interrupted copy), and a
//!   file already in the target with the source's size is not copied again. Running the same
//!   command after an interruption finishes the job.
//! - **Verified:** a last pass reads the target back: every experiment, model, registered
//!   model, user, token and grant compared with the source's, every run's fingerprint, and
//!   every file's SHA-256, with counts on both sides (see [`Verification`]).
//! - **Consistent:** the source must not change while it is copied. A sled source is locked
//!   by the copy (a server holding it makes the copy refuse to start); for a PostgreSQL
//!   source stop its servers first (a change made during the copy shows in the verification).

mod digest;
mod files;
mod records;
mod verify;

use std::sync::Arc;

use crate::artifacts::{open_destination, ArtifactRepository};
use crate::backend::{AccessBackend, TrackingBackend};
use crate::error::TrackingError;
use crate::store::postgres::{is_postgres_uri, PgConfig, PgStore};
use crate::store::{Store, StoreConfig};

pub use verify::{Count, Verification};

/// Where a store is: its tracking data and its artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    /// A sled store directory (a path or `file://` URL) or `postgresql://USER[:PASS]@HOST[:PORT]/DB`.
    pub tracking: String,
    /// The artifact root: a directory, `file://`, `s3://`, `gs://` or `az://`. For a sled
    /// store it defaults to the store's `artifacts` directory; a PostgreSQL store needs it.
    pub artifacts: Option<String>,
}

/// Which side of a copy a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Read from; must exist.
    Source,
    /// Written to; a sled directory is created when missing.
    Target,
}

/// A store opened for a copy.
pub struct OpenedStore {
    tracking: Arc<dyn TrackingBackend>,
    access: Arc<dyn AccessBackend>,
    artifacts: Arc<dyn ArtifactRepository>,
    description: String,
}

impl OpenedStore {
    /// Opens the store `spec` names as one `side` of a copy.
    pub async fn open(spec: &StoreSpec, side: Side) -> Result<OpenedStore, CopyError> {
        let failed = |message: String| CopyError::Open {
            store: spec.tracking.clone(),
            message,
        };
        if is_postgres_uri(&spec.tracking) {
            let Some(artifacts) = spec.artifacts.as_deref() else {
                return Err(failed(format!(
                    "a PostgreSQL store keeps its artifacts where its servers' \
                     --artifacts-destination says: name it with --{}-artifacts",
                    match side {
                        Side::Source => "from",
                        Side::Target => "to",
                    }
                )));
            };
            let store = PgStore::open(PgConfig::new(&spec.tracking))
                .await
                .map_err(|e| failed(e.to_string()))?;
            let artifacts = open_destination(Some(artifacts), std::path::Path::new("."))
                .map_err(|e| failed(e.to_string()))?;
            let description = format!(
                "{} (artifacts in {})",
                store.location(),
                artifacts_name(spec)
            );
            return Ok(OpenedStore {
                tracking: Arc::new(store.clone()),
                access: Arc::new(store),
                artifacts,
                description,
            });
        }
        let dir = std::path::PathBuf::from(
            spec.tracking
                .strip_prefix("file://")
                .unwrap_or(&spec.tracking),
        );
        if side == Side::Source && !dir.join("db").exists() {
            return Err(failed(format!(
                "no trackd store in {} (it has no db/)",
                dir.display()
            )));
        }
        let store = Store::open(StoreConfig::new(&dir)).map_err(|e| failed(e.to_string()))?;
        let artifacts = open_destination(spec.artifacts.as_deref(), &store.artifact_root())
            .map_err(|e| failed(e.to_string()))?;
        let description = format!("{} (artifacts in {})", dir.display(), artifacts_name(spec));
        Ok(OpenedStore {
            tracking: Arc::new(store.clone()),
            access: Arc::new(store),
            artifacts,
            description,
        })
    }

    /// What the store is, for people (no password).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Makes everything written durable and closes the store.
    pub async fn close(&self) -> Result<(), CopyError> {
        self.tracking
            .close()
            .await
            .map_err(|source| CopyError::Write {
                what: "the last writes".into(),
                source,
            })
    }
}

fn artifacts_name(spec: &StoreSpec) -> String {
    spec.artifacts
        .clone()
        .unwrap_or_else(|| "the store's artifacts directory".into())
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A store could not be opened.
    #[error("cannot open {store}: {message}")]
    Open {
        /// The store, as named.
        store: String,
        /// Why.
        message: String,
    },
    /// The source could not be read.
    #[error("reading {what} from the source failed: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// The store's error.
        source: TrackingError,
    },
    /// The target refused or failed a write.
    #[error("writing {what} to the target failed: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The store's error.
        source: TrackingError,
    },
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CopyReport {
    /// Experiments written.
    pub experiments: u64,
    /// Runs copied in this invocation.
    pub runs_copied: u64,
    /// Runs the target already held, identical (copied before).
    pub runs_already_copied: u64,
    /// Params of the copied runs.
    pub params: u64,
    /// Tags of the copied runs.
    pub tags: u64,
    /// Metric series of the copied runs.
    pub series: u64,
    /// Metric points of the copied runs.
    pub points: u64,
    /// Dataset inputs of the copied runs.
    pub dataset_inputs: u64,
    /// Logged models written.
    pub logged_models: u64,
    /// Registered models written.
    pub registered_models: u64,
    /// Their versions.
    pub model_versions: u64,
    /// Users written.
    pub users: u64,
    /// API tokens written.
    pub tokens: u64,
    /// Grants written.
    pub grants: u64,
    /// Artifact files copied in this invocation.
    pub files_copied: u64,
    /// Artifact files the target already held with the source's size.
    pub files_already_copied: u64,
    /// Bytes of the files copied.
    pub bytes_copied: u64,
    /// Runs whose artifacts live outside the store's artifact root (an experiment with an
    /// artifact location of its own), as (run, artifact URI): their records are copied, their
    /// files stay where they are.
    pub artifacts_elsewhere: Vec<(String, String)>,
    /// The verification pass, unless it was skipped.
    pub verification: Option<Verification>,
}

/// Progress, reported as the copy goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// An experiment and its runs are in the target.
    Experiment {
        /// Its id.
        id: String,
        /// Its name.
        name: String,
        /// Runs copied.
        runs_copied: u64,
        /// Runs already there.
        runs_already_copied: u64,
        /// Points copied.
        points: u64,
    },
    /// Models, registered models and access data are in the target.
    Records,
    /// The artifact files are in the target.
    Artifacts {
        /// Files copied.
        files_copied: u64,
        /// Bytes copied.
        bytes_copied: u64,
    },
}

/// How to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Run the verification pass at the end.
    pub verify: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions { verify: true }
    }
}

/// Copies everything `from` holds into `to` (see the module docs), reporting progress to
/// `progress`. Both stores stay open; close them after.
pub async fn copy(
    from: &OpenedStore,
    to: &OpenedStore,
    options: CopyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<CopyReport, CopyError> {
    let mut report = CopyReport::default();
    let fingerprints = records::copy_tracking(from, to, &mut report, progress).await?;
    records::copy_models_and_access(from, to, &mut report).await?;
    progress(Progress::Records);
    let files = files::copy_artifacts(from, to, &mut report).await?;
    progress(Progress::Artifacts {
        files_copied: report.files_copied,
        bytes_copied: report.bytes_copied,
    });
    if options.verify {
        report.verification = Some(verify::verify(from, to, &fingerprints, &files).await?);
    }
    Ok(report)
}

/// Runs a blocking read of a store off the async workers.
async fn blocking<T: Send + 'static>(
    what: impl Into<String>,
    read: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, CopyError> {
    let what = what.into();
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(CopyError::Read { what, source }),
        Err(e) => Err(CopyError::Read {
            what,
            source: TrackingError::Unavailable(format!("the read task failed: {e}")),
        }),
    }
}

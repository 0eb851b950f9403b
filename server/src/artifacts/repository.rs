//! The artifact seam: what the Tracker needs from wherever artifact files live (the local
//! file system today, an object store next). Implementations store bytes; the rules stay
//! above them in the Tracker — which run a path belongs to, whether the run may be written,
//! path validation (`validate_relative_path`), the largest file.
//!
//! Paths are split in two: `run_dir`, a run's directory relative to the artifact root (from
//! its `mlflow-artifacts:/…` URI), and `rel`, a validated path inside it (`""` is the run's
//! artifact root). Listings name entries relative to `run_dir`.

use std::ops::Range;

use super::ArtifactFile;
use crate::error::Result;

/// The bytes of an artifact file, read as they are sent.
pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// An artifact file being read.
pub struct ArtifactRead {
    /// Size of what is read, in bytes (the range's length for a ranged read).
    pub size: u64,
    /// The bytes, in order.
    pub bytes: ByteStream,
}

/// Where artifact files live.
#[tonic::async_trait]
pub trait ArtifactRepository: Send + Sync + 'static {
    /// Starts writing the file `rel` of a run (`rel` not empty); the file appears whole
    /// when the upload finishes, or not at all.
    async fn put(&self, run_dir: &str, rel: &str) -> Result<Box<dyn ArtifactUpload>>;

    /// Reads the file `rel` of a run, whole or the byte `range` of it (clamped to the file).
    async fn get(
        &self,
        run_dir: &str,
        rel: &str,
        range: Option<Range<u64>>,
    ) -> Result<ArtifactRead>;

    /// What `rel` is: a file (with its size), a directory, or nothing (`None`).
    async fn stat(&self, run_dir: &str, rel: &str) -> Result<Option<ArtifactFile>>;

    /// The entries of the directory `rel` (one level, or the whole subtree), named
    /// relative to `run_dir`, sorted by path; a file lists as itself, nothing as empty.
    async fn list(&self, run_dir: &str, rel: &str, recursive: bool) -> Result<Vec<ArtifactFile>>;

    /// Deletes the file or directory tree `rel` of a run (`rel` not empty).
    async fn delete(&self, run_dir: &str, rel: &str) -> Result<()>;

    /// Deletes every file of a run (`trackd gc`, for a run being removed for good); returns
    /// the bytes freed (0 when it had none).
    async fn purge_run_files(&self, run_dir: &str) -> Result<u64>;
}

/// A file being written; see [`ArtifactRepository::put`]. Dropped unfinished, it leaves
/// nothing behind.
#[tonic::async_trait]
pub trait ArtifactUpload: Send {
    /// Appends a chunk.
    async fn write(&mut self, chunk: &[u8]) -> Result<()>;

    /// Bytes written so far.
    fn written(&self) -> u64;

    /// Makes the file durable and visible.
    async fn finish(self: Box<Self>) -> Result<ArtifactFile>;
}

//! The artifact seam: what the Tracker needs from wherever artifact files live (the local
//! file system today, an object store next). Implementations store bytes; the rules stay
//! above them in the Tracker — which run a path belongs to, whether the run may be written,
//! path validation (`validate_relative_path`), the largest file.
//!
//! Paths are split in two: `run_dir`, a run's directory relative to the artifact root (from
//! its `mlflow-artifacts:/…` URI), and `rel`, a validated path inside it (`""` is the run's
//! artifact root). Listings name entries relative to `run_dir`.

use std::ops::Range;
use std::time::Duration;

use super::ArtifactFile;
use crate::error::{Result, TrackingError};

/// The bytes of an artifact file, read as they are sent.
pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// An artifact file being read.
pub struct ArtifactRead {
    /// Size of what is read, in bytes (the range's length for a ranged read).
    pub size: u64,
    /// The bytes, in order.
    pub bytes: ByteStream,
}

/// What a repository hands out for clients to move bytes to and from the store directly
/// (object stores that sign URLs); the local directory hands out nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectTransfers {
    /// Presigned GETs (and PUTs) of single files.
    pub presigned_downloads: bool,
    /// Multipart uploads with presigned part URLs (MLflow's `mpu/*`).
    pub multipart_uploads: bool,
}

/// One presigned HTTP request: where to send it and the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// The signed URL.
    pub url: String,
    /// Headers the request must carry.
    pub headers: Vec<(String, String)>,
}

/// The presigned PUT of one part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPart {
    /// Its number, from 1.
    pub part_number: u32,
    /// Where to PUT it.
    pub request: PresignedRequest,
}

fn unsigned() -> TrackingError {
    TrackingError::Unsupported(
        "Presigned URLs are not supported for the current artifact repository".into(),
    )
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

    /// What this repository hands out for direct transfers (nothing, unless overridden).
    fn direct_transfers(&self) -> DirectTransfers {
        DirectTransfers::default()
    }

    /// A presigned GET of the file `rel`, valid for `expires`, with the file's size.
    async fn presign_get(
        &self,
        _run_dir: &str,
        _rel: &str,
        _expires: Duration,
    ) -> Result<(PresignedRequest, u64)> {
        Err(unsigned())
    }

    /// A presigned PUT of the file `rel`, valid for `expires`.
    async fn presign_put(
        &self,
        _run_dir: &str,
        _rel: &str,
        _expires: Duration,
    ) -> Result<PresignedRequest> {
        Err(unsigned())
    }

    /// Starts a multipart upload of `rel` in `parts` parts: the upload id and a presigned
    /// PUT per part, valid for `expires`.
    async fn create_multipart(
        &self,
        _run_dir: &str,
        _rel: &str,
        _parts: u32,
        _expires: Duration,
    ) -> Result<(String, Vec<PresignedPart>)> {
        Err(super::multipart_unsupported())
    }

    /// Completes a multipart upload from its parts' ETags in part order; returns the
    /// file's size. The file appears whole, or not at all.
    async fn complete_multipart(
        &self,
        _run_dir: &str,
        _rel: &str,
        _upload_id: &str,
        _etags: Vec<String>,
    ) -> Result<u64> {
        Err(super::multipart_unsupported())
    }

    /// Aborts a multipart upload, discarding its parts.
    async fn abort_multipart(&self, _run_dir: &str, _rel: &str, _upload_id: &str) -> Result<()> {
        Err(super::multipart_unsupported())
    }
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

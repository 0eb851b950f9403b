//! Direct transfers: presigned URLs and multipart uploads, for artifact repositories that can
//! hand them out (object stores that sign URLs). The Tracker checks the caller's permission
//! and the run's (or model's) state when it signs; the bytes then move between the client
//! and the store without passing through trackd.

use std::time::Duration;

use tracing::instrument;

use super::{ProxyTarget, Tracker};
use crate::artifacts::{validate_relative_path, DirectTransfers, PresignedPart, PresignedRequest};
use crate::domain::caller::{Caller, Need, Permission};
use crate::error::{Result, TrackingError};

/// How long a presigned URL stays valid.
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(3600);

/// A started multipart upload: its id and where to PUT each part.
#[derive(Debug, Clone)]
pub struct MultipartStarted {
    /// The store's upload id (passed back to complete or abort).
    pub upload_id: String,
    /// One presigned PUT per part, parts numbered from 1.
    pub parts: Vec<PresignedPart>,
}

impl Tracker {
    /// What the artifact repository hands out for direct transfers (MLflow's
    /// `server-info`); any signed-in user may ask.
    pub fn direct_transfers(&self, caller: &Caller) -> Result<DirectTransfers> {
        self.authorize(caller, Need::Search)?;
        Ok(self.artifacts.direct_transfers())
    }

    /// The directory and file an artifact-proxy path names, for a write: the caller may
    /// edit, the run (or model) is active, and the path is a file path.
    async fn writable_at(&self, caller: &Caller, path: &str) -> Result<(String, String)> {
        let (dir, rel) = match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.check_model_writable(caller, &model)?;
                (dir, rel)
            }
            ProxyTarget::Run { run_id, rel } => {
                self.authorize(caller, Need::Run(Permission::Edit, &run_id))?;
                let (_, dir) = self.artifact_dir(&run_id, true).await?;
                (dir, rel)
            }
        };
        let rel = validate_relative_path(&rel)?;
        if rel.is_empty() {
            return Err(TrackingError::invalid(
                "an upload needs a file path, not the artifact root",
            ));
        }
        Ok((dir, rel))
    }

    /// The directory and file an artifact-proxy path names, for a read.
    async fn readable_at(&self, caller: &Caller, path: &str) -> Result<(String, String)> {
        let (dir, rel) = match self.locate_proxy_path(path).await? {
            ProxyTarget::Model { model, dir, rel } => {
                self.authorize(
                    caller,
                    Need::Experiment(Permission::Read, &model.experiment_id.to_string()),
                )?;
                (dir, rel)
            }
            ProxyTarget::Run { run_id, rel } => {
                self.authorize(caller, Need::Run(Permission::Read, &run_id))?;
                let (_, dir) = self.artifact_dir(&run_id, false).await?;
                (dir, rel)
            }
        };
        Ok((dir, validate_relative_path(&rel)?))
    }

    /// Starts a multipart upload of the file at an artifact-proxy path (MLflow's
    /// `mpu/create`): `parts` presigned part URLs.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn create_multipart_upload_at(
        &self,
        caller: &Caller,
        path: &str,
        parts: u32,
    ) -> Result<MultipartStarted> {
        let (dir, rel) = self.writable_at(caller, path).await?;
        let (upload_id, parts) = self
            .artifacts
            .create_multipart(&dir, &rel, parts, PRESIGNED_URL_TTL)
            .await?;
        Ok(MultipartStarted { upload_id, parts })
    }

    /// Completes a multipart upload with the parts' `(part number, ETag)`: every part from 1
    /// to the last, once each. A file over the largest artifact size is removed and refused.
    #[instrument(skip(self, parts), err(level = "debug"))]
    pub async fn complete_multipart_upload_at(
        &self,
        caller: &Caller,
        path: &str,
        upload_id: &str,
        mut parts: Vec<(u32, String)>,
    ) -> Result<()> {
        let (dir, rel) = self.writable_at(caller, path).await?;
        if upload_id.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'upload_id'.",
            ));
        }
        parts.sort_by_key(|(number, _)| *number);
        let numbered_in_order = parts
            .iter()
            .enumerate()
            .all(|(i, (number, _))| *number as usize == i + 1);
        if parts.is_empty() || !numbered_in_order {
            return Err(TrackingError::invalid(
                "'parts' must list every part from 1 to the last, once each.",
            ));
        }
        let etags = parts.into_iter().map(|(_, etag)| etag).collect();
        let size = self
            .artifacts
            .complete_multipart(&dir, &rel, upload_id, etags)
            .await?;
        if size > self.max_artifact_bytes {
            self.artifacts.delete(&dir, &rel).await?;
            return Err(crate::artifacts::too_large(&rel, self.max_artifact_bytes));
        }
        Ok(())
    }

    /// Aborts a multipart upload; its parts are discarded.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn abort_multipart_upload_at(
        &self,
        caller: &Caller,
        path: &str,
        upload_id: &str,
    ) -> Result<()> {
        let (dir, rel) = self.writable_at(caller, path).await?;
        self.artifacts.abort_multipart(&dir, &rel, upload_id).await
    }

    /// A presigned GET of the file at an artifact-proxy path, with the file's size (MLflow's
    /// `mlflow-artifacts/presigned/<path>`).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn presigned_download_at(
        &self,
        caller: &Caller,
        path: &str,
    ) -> Result<(PresignedRequest, u64)> {
        let (dir, rel) = self.readable_at(caller, path).await?;
        self.artifacts
            .presign_get(&dir, &rel, PRESIGNED_URL_TTL)
            .await
    }

    /// A presigned URL of the store itself for a run's artifact file, when the repository
    /// signs URLs (`None` otherwise: the caller points at the artifact proxy instead). Checks
    /// as [`Tracker::artifact_target`] does; `expiration` is capped at one hour.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn presigned_store_url(
        &self,
        caller: &Caller,
        run_id: &str,
        path: &str,
        for_upload: bool,
        expiration: Option<Duration>,
    ) -> Result<Option<(PresignedRequest, Option<u64>)>> {
        if !self.artifacts.direct_transfers().presigned_downloads {
            return Ok(None);
        }
        // The same permission, state and path checks as a proxy URL.
        let (dir, rel, _) = self
            .checked_artifact_file(caller, run_id, path, for_upload)
            .await?;
        let ttl = expiration
            .unwrap_or(PRESIGNED_URL_TTL)
            .min(PRESIGNED_URL_TTL);
        if for_upload {
            let request = self.artifacts.presign_put(&dir, &rel, ttl).await?;
            Ok(Some((request, None)))
        } else {
            let (request, size) = self.artifacts.presign_get(&dir, &rel, ttl).await?;
            Ok(Some((request, Some(size))))
        }
    }
}

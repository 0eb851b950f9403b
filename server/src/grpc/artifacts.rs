//! The gRPC edge of artifacts: `trackd.v1.ArtifactService` over the [`Tracker`]; a request
//! with a `model_id` addresses a logged model's files instead of a run's.
//!
//! Uploads are written chunk by chunk as they arrive and downloads are read chunk by chunk
//! as the client takes them, so neither side holds a whole file.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::instrument;
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_server::ArtifactService;

use super::convert;
use crate::error::TrackingError;
use crate::identity::grpc_caller;
use crate::tracker::Tracker;

pub use trackd_proto::v1::artifact_service_server::ArtifactServiceServer;

/// `ArtifactService` implementation.
#[derive(Clone)]
pub struct ArtifactGrpc {
    tracker: Tracker,
}

impl ArtifactGrpc {
    /// A service over `tracker`.
    pub fn new(tracker: Tracker) -> Self {
        ArtifactGrpc { tracker }
    }

    /// The tonic server wrapper with trackd's message limits.
    pub fn into_server(self) -> ArtifactServiceServer<Self> {
        ArtifactServiceServer::new(self).max_decoding_message_size(super::MAX_MESSAGE_BYTES)
    }
}

/// The response stream of DownloadArtifact.
pub type DownloadStream =
    Pin<Box<dyn Stream<Item = Result<pb::DownloadArtifactResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ArtifactService for ArtifactGrpc {
    #[instrument(skip_all, fields(run_id = tracing::field::Empty))]
    async fn upload_artifact(
        &self,
        request: Request<Streaming<pb::UploadArtifactRequest>>,
    ) -> Result<Response<pb::UploadArtifactResponse>, Status> {
        let caller = grpc_caller(&request)?;
        let mut parts = request.into_inner();
        let header = match parts.message().await? {
            Some(pb::UploadArtifactRequest {
                part: Some(pb::upload_artifact_request::Part::Header(h)),
            }) => h,
            _ => {
                return Err(TrackingError::invalid(
                    "the first upload message must be a header (run_id, path)",
                )
                .into())
            }
        };
        tracing::Span::current().record("run_id", header.run_id.as_str());
        let mut upload = if header.model_id.is_empty() {
            self.tracker
                .begin_artifact_upload(&caller, &header.run_id, &header.path)
                .await?
        } else {
            self.tracker
                .begin_logged_model_upload(&caller, &header.model_id, &header.path)
                .await?
        };
        while let Some(part) = parts.message().await? {
            match part.part {
                Some(pb::upload_artifact_request::Part::Chunk(bytes)) => {
                    upload.write(&bytes).await?
                }
                _ => {
                    return Err(
                        TrackingError::invalid("only chunks may follow the upload header").into(),
                    )
                }
            }
        }
        let file = upload.finish().await?;
        Ok(Response::new(pb::UploadArtifactResponse {
            file: Some(convert::file_info(file)),
        }))
    }

    type DownloadArtifactStream = DownloadStream;

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn download_artifact(
        &self,
        request: Request<pb::DownloadArtifactRequest>,
    ) -> Result<Response<DownloadStream>, Status> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let read = if r.model_id.is_empty() {
            self.tracker
                .open_artifact(&caller, &r.run_id, &r.path)
                .await?
        } else {
            self.tracker
                .open_logged_model_file(&caller, &r.model_id, &r.path)
                .await?
        };
        // The first message carries the size (and the first chunk, or none for an empty
        // file); the others carry chunks.
        let mut size = Some(read.size as i64);
        let first = if read.size == 0 {
            Some(Ok(pb::DownloadArtifactResponse {
                file_size: size.take(),
                chunk: Vec::new(),
            }))
        } else {
            None
        };
        let chunks = read.bytes.map(move |chunk| match chunk {
            Ok(bytes) => Ok(pb::DownloadArtifactResponse {
                file_size: size.take(),
                chunk: bytes.to_vec(),
            }),
            Err(e) => Err(Status::internal(format!(
                "reading the artifact failed: {}",
                e.kind()
            ))),
        });
        Ok(Response::new(Box::pin(
            futures::stream::iter(first).chain(chunks),
        )))
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn list_artifacts(
        &self,
        request: Request<pb::ListArtifactsRequest>,
    ) -> Result<Response<pb::ListArtifactsResponse>, Status> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let (root_uri, files) = if r.model_id.is_empty() {
            self.tracker
                .list_artifacts(&caller, &r.run_id, &r.path, r.recursive)
                .await?
        } else {
            self.tracker
                .list_logged_model_files(&caller, &r.model_id, &r.path, r.recursive)
                .await?
        };
        Ok(Response::new(pb::ListArtifactsResponse {
            root_uri,
            files: files.into_iter().map(convert::file_info).collect(),
        }))
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn delete_artifact(
        &self,
        request: Request<pb::DeleteArtifactRequest>,
    ) -> Result<Response<pb::DeleteArtifactResponse>, Status> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        if r.model_id.is_empty() {
            self.tracker
                .delete_artifact(&caller, &r.run_id, &r.path)
                .await?;
        } else {
            self.tracker
                .delete_logged_model_file(&caller, &r.model_id, &r.path)
                .await?;
        }
        Ok(Response::new(pb::DeleteArtifactResponse {}))
    }
}

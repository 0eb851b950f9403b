//! The domain error: one enum for every operation of the [`Tracker`](crate::Tracker).
//!
//! Each variant is one [`ErrorKind`] of the shared table in the proto crate
//! (`trackd_proto::errors`), which gives its gRPC code, MLflow `error_code` and HTTP status,
//! so the gRPC and REST edges and the client cannot disagree about what an error means. Messages are written for the person who sent
//! the request: they name the field or id at fault and, where MLflow has a fixed wording that
//! clients match on, they use it.

use std::fmt;
use std::sync::Arc;

pub use trackd_proto::errors::ErrorKind;
use trackd_proto::errors::RETRY_AFTER_HEADER;

/// Result of a domain operation.
pub type Result<T, E = TrackingError> = std::result::Result<T, E>;

/// Why a tracking operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackingError {
    /// The request is malformed or breaks a rule (limits, names, write-once params, writes to
    /// a deleted run).
    #[error("{0}")]
    InvalidArgument(String),
    /// The experiment, run, tag or metric named by the request does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An experiment with that name already exists (also while deleted).
    #[error("{0}")]
    AlreadyExists(String),
    /// The object is in a state that forbids the operation (e.g. renaming a deleted
    /// experiment).
    #[error("{0}")]
    InvalidState(String),
    /// The request (a body, an upload) is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The server is saturated; retry after the hinted delay.
    #[error("{message}")]
    Overloaded {
        /// What is saturated.
        message: String,
        /// Suggested delay before retrying, in milliseconds.
        retry_after_ms: u64,
    },
    /// The server is shutting down and accepts no more writes.
    #[error("{0}")]
    Unavailable(String),
    /// The server does not implement this operation (e.g. multipart artifact uploads).
    #[error("{0}")]
    Unsupported(String),
    /// The store failed (I/O error, flush failure). Nothing was acknowledged. The message
    /// says what was being done; the error underneath is kept as the source (logged by the
    /// edges with the whole chain, never sent to clients, who see only the context).
    #[error("storage failure: {context}")]
    Storage {
        /// What was being done.
        context: String,
        /// The error underneath, if any.
        #[source]
        cause: Option<Cause>,
    },
    /// The store holds data it cannot decode.
    #[error("store data is corrupted: {0}")]
    Corrupted(String),
    /// Authentication is on and the request carries no valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller lacks the permission the operation needs.
    #[error("{0}")]
    PermissionDenied(String),
}

/// The error underneath a [`TrackingError`], kept as its source so logs show the whole
/// chain. Causes do not take part in equality (two failures of the same operation are the
/// same error to a caller).
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// Wraps `err`.
    pub fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(err))
    }
}

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

pub use trackd_proto::errors::chain;

impl TrackingError {
    /// A storage failure while doing `context`, caused by `cause`.
    pub fn storage(
        context: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Storage {
            context: context.into(),
            cause: Some(Cause::new(cause)),
        }
    }

    /// A storage failure with nothing underneath (an invariant broken, a missing piece).
    pub fn storage_context(context: impl Into<String>) -> Self {
        Self::Storage {
            context: context.into(),
            cause: None,
        }
    }

    /// Logs a failure of the server's own (internal, data loss) with its whole chain; the
    /// caller's mistakes are not logged. Called by the edges once per failed request.
    pub fn log_if_internal(&self) {
        if matches!(self.kind(), ErrorKind::Internal | ErrorKind::DataLoss) {
            tracing::error!(error = %chain(self), "request failed");
        }
    }

    /// Shorthand for [`TrackingError::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// Shorthand for [`TrackingError::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The kind of failure (its row in the shared error table).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Self::TooLarge(_) => ErrorKind::TooLarge,
            Self::InvalidState(_) => ErrorKind::InvalidState,
            Self::Overloaded { .. } => ErrorKind::Overloaded,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Unsupported(_) => ErrorKind::Unsupported,
            Self::Storage { .. } => ErrorKind::Internal,
            Self::Corrupted(_) => ErrorKind::DataLoss,
            Self::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Self::PermissionDenied(_) => ErrorKind::PermissionDenied,
        }
    }

    /// The gRPC status code of this error.
    pub fn grpc_code(&self) -> tonic::Code {
        self.kind().grpc_code()
    }

    /// MLflow's `error_code` name for this error.
    pub fn mlflow_error_code(&self) -> &'static str {
        self.kind().mlflow_error_code()
    }

    /// The HTTP status MLflow's REST API answers with for this error.
    pub fn http_status(&self) -> u16 {
        self.kind().http_status()
    }
}

impl From<TrackingError> for tonic::Status {
    fn from(err: TrackingError) -> Self {
        err.log_if_internal();
        let mut status = err.kind().status(err.to_string());
        if let TrackingError::Overloaded { retry_after_ms, .. } = &err {
            if let Ok(v) = retry_after_ms.to_string().parse() {
                status.metadata_mut().insert(RETRY_AFTER_HEADER, v);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_consistently() {
        let all = [
            TrackingError::invalid("x"),
            TrackingError::not_found("x"),
            TrackingError::AlreadyExists("x".into()),
            TrackingError::TooLarge("x".into()),
            TrackingError::InvalidState("x".into()),
            TrackingError::Overloaded {
                message: "x".into(),
                retry_after_ms: 5,
            },
            TrackingError::Unavailable("x".into()),
            TrackingError::Unsupported("x".into()),
            TrackingError::storage_context("x"),
            TrackingError::Corrupted("x".into()),
            TrackingError::Unauthenticated("x".into()),
            TrackingError::PermissionDenied("x".into()),
        ];
        let expected = [
            (tonic::Code::InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
            (tonic::Code::NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
            (tonic::Code::AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
            (tonic::Code::InvalidArgument, "INVALID_PARAMETER_VALUE", 413),
            (tonic::Code::FailedPrecondition, "INVALID_STATE", 500),
            (tonic::Code::ResourceExhausted, "RESOURCE_EXHAUSTED", 429),
            (tonic::Code::Unavailable, "TEMPORARILY_UNAVAILABLE", 503),
            (tonic::Code::Unimplemented, "NOT_IMPLEMENTED", 501),
            (tonic::Code::Internal, "INTERNAL_ERROR", 500),
            (tonic::Code::DataLoss, "DATA_LOSS", 500),
            (tonic::Code::Unauthenticated, "UNAUTHENTICATED", 401),
            (tonic::Code::PermissionDenied, "PERMISSION_DENIED", 403),
        ];
        for (err, (code, name, http)) in all.iter().zip(expected) {
            assert_eq!(err.grpc_code(), code, "{err:?}");
            assert_eq!(err.mlflow_error_code(), name, "{err:?}");
            assert_eq!(err.http_status(), http, "{err:?}");
            let status = tonic::Status::from(err.clone());
            let header = trackd_proto::errors::MLFLOW_ERROR_CODE_HEADER;
            assert_eq!(status.metadata().get(header).unwrap(), name);
        }
    }

    #[test]
    fn storage_failures_keep_their_cause_out_of_the_message() {
        let io = std::io::Error::other("disk on fire at /secret/path");
        let err = TrackingError::storage("writing a chunk", io);
        assert_eq!(err.to_string(), "storage failure: writing a chunk");
        let source = std::error::Error::source(&err).expect("the cause is the source");
        assert!(source.to_string().contains("disk on fire"));
        assert_eq!(
            chain(&err),
            "storage failure: writing a chunk: disk on fire at /secret/path"
        );
        assert!(!tonic::Status::from(err).message().contains("secret"));
    }
}

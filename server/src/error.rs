//! The domain error: one enum for every operation of the [`Tracker`](crate::Tracker).
//!
//! Each variant maps exactly once to a gRPC code, an MLflow `error_code` and an HTTP status
//! (the table in `shared/reference/mlflow-tracking-api.md` §2.4), so the gRPC and REST edges
//! cannot disagree about what an error means. Messages are written for the person who sent
//! the request: they name the field or id at fault and, where MLflow has a fixed wording that
//! clients match on, they use it.

use crate::store::StoreError;

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
    /// The store failed (I/O error, flush failure). Nothing was acknowledged.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The store holds data it cannot decode.
    #[error("store data is corrupted: {0}")]
    Corrupted(String),
}

impl TrackingError {
    /// Shorthand for [`TrackingError::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// Shorthand for [`TrackingError::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The gRPC status code of this error.
    pub fn grpc_code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Self::InvalidArgument(_) | Self::TooLarge(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::InvalidState(_) => Code::FailedPrecondition,
            Self::Overloaded { .. } => Code::ResourceExhausted,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Unsupported(_) => Code::Unimplemented,
            Self::Storage(_) => Code::Internal,
            Self::Corrupted(_) => Code::DataLoss,
        }
    }

    /// MLflow's `error_code` name for this error.
    pub fn mlflow_error_code(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) | Self::TooLarge(_) => "INVALID_PARAMETER_VALUE",
            Self::NotFound(_) => "RESOURCE_DOES_NOT_EXIST",
            Self::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            Self::InvalidState(_) => "INVALID_STATE",
            Self::Overloaded { .. } => "RESOURCE_EXHAUSTED",
            Self::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
            Self::Unsupported(_) => "NOT_IMPLEMENTED",
            Self::Storage(_) => "INTERNAL_ERROR",
            Self::Corrupted(_) => "DATA_LOSS",
        }
    }

    /// The HTTP status MLflow's REST API answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidArgument(_) | Self::AlreadyExists(_) => 400,
            Self::NotFound(_) => 404,
            Self::TooLarge(_) => 413,
            Self::InvalidState(_) | Self::Storage(_) | Self::Corrupted(_) => 500,
            Self::Overloaded { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::Unsupported(_) => 501,
        }
    }
}

impl From<StoreError> for TrackingError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Corrupted(m) => Self::Corrupted(m),
            StoreError::Closed => {
                Self::Unavailable("the store is closed (server shutting down)".into())
            }
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<TrackingError> for tonic::Status {
    fn from(err: TrackingError) -> Self {
        let mut status = tonic::Status::new(err.grpc_code(), err.to_string());
        if let Ok(v) = err.mlflow_error_code().parse() {
            status.metadata_mut().insert("x-mlflow-error-code", v);
        }
        if let TrackingError::Overloaded { retry_after_ms, .. } = &err {
            if let Ok(v) = retry_after_ms.to_string().parse() {
                status.metadata_mut().insert("retry-after-ms", v);
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
            TrackingError::Storage("x".into()),
            TrackingError::Corrupted("x".into()),
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
        ];
        for (err, (code, name, http)) in all.iter().zip(expected) {
            assert_eq!(err.grpc_code(), code, "{err:?}");
            assert_eq!(err.mlflow_error_code(), name, "{err:?}");
            assert_eq!(err.http_status(), http, "{err:?}");
            let status = tonic::Status::from(err.clone());
            assert_eq!(status.metadata().get("x-mlflow-error-code").unwrap(), name);
        }
    }
}

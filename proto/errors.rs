//! The one error table of trackd: every kind of failure, with its gRPC code, its MLflow
//! `error_code` and its HTTP status, shared by the server (which maps its errors through it)
//! and the client (which reads errors back through it), so the two cannot disagree.
//!
//! The MLflow error code travels with a gRPC status in the [`MLFLOW_ERROR_CODE_HEADER`]
//! metadata; a status without it (from a proxy, or the transport) is read by its gRPC code
//! ([`ErrorKind::from_grpc_code`]).

/// gRPC metadata key carrying the MLflow `error_code` of a failed call.
pub const MLFLOW_ERROR_CODE_HEADER: &str = "x-mlflow-error-code";
/// gRPC metadata key carrying the suggested retry delay (milliseconds) of an overloaded call.
pub const RETRY_AFTER_HEADER: &str = "retry-after-ms";

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule.
    InvalidArgument,
    /// What the request names does not exist.
    NotFound,
    /// A name that must be unique is taken.
    AlreadyExists,
    /// The request (a body, an upload) is larger than the server accepts.
    TooLarge,
    /// The object's state forbids the operation.
    InvalidState,
    /// The server is saturated; retry later.
    Overloaded,
    /// The server is shutting down, or cannot be reached.
    Unavailable,
    /// The server does not implement the operation.
    Unsupported,
    /// The server failed (storage, a bug); nothing was acknowledged.
    Internal,
    /// No valid credentials (authentication is on and the request has none, or wrong ones).
    Unauthenticated,
    /// The caller is known but lacks the permission the operation needs.
    PermissionDenied,
    /// Stored data cannot be decoded.
    DataLoss,
}

impl ErrorKind {
    /// Every kind, in table order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::TooLarge,
        ErrorKind::InvalidState,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::Unsupported,
        ErrorKind::Internal,
        ErrorKind::DataLoss,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
    ];

    /// The table: (gRPC code, MLflow `error_code`, HTTP status).
    const fn row(self) -> (tonic::Code, &'static str, u16) {
        use tonic::Code;
        match self {
            ErrorKind::InvalidArgument => (Code::InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
            ErrorKind::NotFound => (Code::NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
            ErrorKind::AlreadyExists => (Code::AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
            ErrorKind::TooLarge => (Code::InvalidArgument, "INVALID_PARAMETER_VALUE", 413),
            ErrorKind::InvalidState => (Code::FailedPrecondition, "INVALID_STATE", 500),
            ErrorKind::Overloaded => (Code::ResourceExhausted, "RESOURCE_EXHAUSTED", 429),
            ErrorKind::Unavailable => (Code::Unavailable, "TEMPORARILY_UNAVAILABLE", 503),
            ErrorKind::Unsupported => (Code::Unimplemented, "NOT_IMPLEMENTED", 501),
            ErrorKind::Internal => (Code::Internal, "INTERNAL_ERROR", 500),
            ErrorKind::DataLoss => (Code::DataLoss, "DATA_LOSS", 500),
            ErrorKind::Unauthenticated => (Code::Unauthenticated, "UNAUTHENTICATED", 401),
            ErrorKind::PermissionDenied => (Code::PermissionDenied, "PERMISSION_DENIED", 403),
        }
    }

    /// The gRPC status code.
    pub const fn grpc_code(self) -> tonic::Code {
        self.row().0
    }

    /// MLflow's `error_code` name.
    pub const fn mlflow_error_code(self) -> &'static str {
        self.row().1
    }

    /// The HTTP status MLflow's REST API answers with.
    pub const fn http_status(self) -> u16 {
        self.row().2
    }

    /// The kind a status without an MLflow error code stands for, by its gRPC code.
    pub fn from_grpc_code(code: tonic::Code) -> ErrorKind {
        use tonic::Code;
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidArgument,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists => ErrorKind::AlreadyExists,
            Code::FailedPrecondition => ErrorKind::InvalidState,
            Code::ResourceExhausted => ErrorKind::Overloaded,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ErrorKind::Unavailable,
            Code::Unimplemented => ErrorKind::Unsupported,
            Code::DataLoss => ErrorKind::DataLoss,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Internal,
        }
    }

    /// The MLflow `error_code` a failed gRPC status carries: its
    /// [`MLFLOW_ERROR_CODE_HEADER`], or the one its gRPC code stands for.
    pub fn mlflow_error_code_of(status: &tonic::Status) -> String {
        status
            .metadata()
            .get(MLFLOW_ERROR_CODE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                Self::from_grpc_code(status.code())
                    .mlflow_error_code()
                    .to_owned()
            })
    }

    /// A gRPC status of this kind with `message`, carrying the MLflow error code.
    pub fn status(self, message: impl Into<String>) -> tonic::Status {
        let mut status = tonic::Status::new(self.grpc_code(), message.into());
        status.metadata_mut().insert(
            MLFLOW_ERROR_CODE_HEADER,
            tonic::metadata::MetadataValue::from_static(self.mlflow_error_code()),
        );
        status
    }
}

/// `err` and its sources, `": "`-separated (for logs and messages that must show the cause).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself_or_its_twin() {
        for kind in ErrorKind::ALL {
            let status = kind.status("x");
            assert_eq!(status.code(), kind.grpc_code());
            assert_eq!(
                ErrorKind::mlflow_error_code_of(&status),
                kind.mlflow_error_code()
            );
            let back = ErrorKind::from_grpc_code(kind.grpc_code());
            assert_eq!(back.grpc_code(), kind.grpc_code(), "{kind:?}");
            assert!((400..600).contains(&kind.http_status()));
        }
        let bare = tonic::Status::not_found("gone");
        assert_eq!(
            ErrorKind::mlflow_error_code_of(&bare),
            "RESOURCE_DOES_NOT_EXIST"
        );
    }
}

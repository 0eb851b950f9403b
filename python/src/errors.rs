//! Client errors as Python exceptions: `trackd.TrackdError` carries MLflow's `error_code`
//! (e.g. `"RESOURCE_DOES_NOT_EXIST"`) and the gRPC code name, so callers (and the MLflow
//! plugin) can branch on them.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use trackd_client::{ClientError, ErrorKind};

pyo3::create_exception!(
    _native,
    TrackdError,
    PyException,
    "A refusal or failure of trackd: `error_code` is MLflow's error code name \
     (INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ...), `grpc_code` the gRPC status name."
);

/// The MLflow error code of a failure that is not the server's answer.
fn local_error_code(err: &ClientError) -> &'static str {
    match err {
        ClientError::Uri { .. } | ClientError::Usage(_) => "INVALID_PARAMETER_VALUE",
        ClientError::Connect { .. } | ClientError::Delivery(_) => "TEMPORARILY_UNAVAILABLE",
        ClientError::Io(_) | ClientError::Api { .. } => "INTERNAL_ERROR",
    }
}

/// A `TrackdError` with `message`, `error_code` and `grpc_code` attributes.
pub fn to_py(err: ClientError) -> PyErr {
    let error_code = err
        .error_code()
        .map(str::to_owned)
        .unwrap_or_else(|| local_error_code(&err).to_owned());
    let grpc_code = format!("{:?}", err.code());
    let message = match &err {
        ClientError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Python::attach(|py| {
        let exc = TrackdError::new_err(message.clone());
        let value = exc.value(py);
        // Setting attributes on a fresh exception instance cannot fail in practice; if it
        // did, the exception without them is still the right one to raise.
        let _ = value.setattr("message", message);
        let _ = value.setattr("error_code", error_code);
        let _ = value.setattr("grpc_code", grpc_code);
        exc
    })
}

/// A refusal of the caller's input before anything is sent (a bad argument).
pub fn invalid(message: impl Into<String>) -> PyErr {
    let kind = ErrorKind::InvalidArgument;
    to_py(ClientError::Api {
        code: kind.grpc_code(),
        error_code: kind.mlflow_error_code().into(),
        message: message.into(),
    })
}

//! The client's error type.

pub use trackd_proto::errors::ErrorKind;

/// Result of a client call.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// # let run = client.start_run().start().await?;
/// async fn train(run: &trackd_client::RunHandle) -> trackd_client::Result<()> {
///     run.log_param("lr", 0.01).await?;
///     run.log_metric("loss", 0.5, 0).await
/// }
/// train(&run).await?;
/// # run.finish().await?;
/// # Ok(()) }
/// ```
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Why a client call failed.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use trackd_client::ClientError;
/// match client.get_run("0123456789abcdef0123456789abcdef").await {
///     Err(ClientError::Api { error_code, .. }) => assert_eq!(error_code, "RESOURCE_DOES_NOT_EXIST"),
///     other => panic!("expected an API error, got {other:?}"),
/// }
/// let err = trackd_client::Client::connect("s3://bucket").await.unwrap_err();
/// assert!(matches!(err, ClientError::Uri { .. }));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server (or the embedded tracker) refused the request.
    #[error("{message} ({error_code})")]
    Api {
        /// gRPC status code.
        code: tonic::Code,
        /// MLflow error code name, e.g. `RESOURCE_DOES_NOT_EXIST`.
        error_code: String,
        /// What went wrong.
        message: String,
    },
    /// The tracking URI is not usable.
    #[error("invalid tracking URI '{uri}': {reason}")]
    Uri {
        /// The URI as given.
        uri: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the tracking server at {uri}: {message}")]
    Connect {
        /// Where we tried.
        uri: String,
        /// The transport's explanation.
        message: String,
    },
    /// The API was used in a way it does not allow (e.g. starting a second top-level run).
    #[error("{0}")]
    Usage(String),
    /// Metric points could not be delivered (the stream failed for longer than the
    /// reconnect timeout); the message says how many points were dropped.
    #[error("metric delivery failed: {0}")]
    Delivery(String),
    /// A local file operation failed.
    #[error("{0}")]
    Io(String),
}

impl ClientError {
    /// An API error of `kind`, as the server would report it.
    pub(crate) fn api(kind: ErrorKind, message: impl Into<String>) -> Self {
        ClientError::Api {
            code: kind.grpc_code(),
            error_code: kind.mlflow_error_code().to_owned(),
            message: message.into(),
        }
    }

    /// The gRPC code of an API error (`InvalidArgument` for a bad URI or API misuse,
    /// `Unavailable` when the server cannot be reached or delivery failed, `Unknown` for local
    /// I/O errors).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let err = client.get_experiment("999").await.unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn code(&self) -> tonic::Code {
        match self {
            ClientError::Api { code, .. } => *code,
            ClientError::Connect { .. } | ClientError::Delivery(_) => tonic::Code::Unavailable,
            ClientError::Uri { .. } | ClientError::Usage(_) => tonic::Code::InvalidArgument,
            ClientError::Io(_) => tonic::Code::Unknown,
        }
    }

    /// MLflow's error code name of an API error, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let err = client.get_experiment("999").await.unwrap_err();
    /// assert_eq!(err.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
    /// # Ok(()) }
    /// ```
    pub fn error_code(&self) -> Option<&str> {
        match self {
            ClientError::Api { error_code, .. } => Some(error_code),
            _ => None,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        let error_code = ErrorKind::mlflow_error_code_of(&status);
        ClientError::Api {
            code: status.code(),
            error_code,
            message: status.message().to_owned(),
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(err: std::io::Error) -> Self {
        ClientError::Io(err.to_string())
    }
}

//! Credentials for a server with `--auth`: every gRPC request carries an `authorization`
//! header — `Bearer <token>` (`MLFLOW_TRACKING_TOKEN`) or HTTP Basic
//! (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`), MLflow's variables — added by
//! an interceptor on the one channel every call and the metric stream share.

use base64::Engine;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

use crate::error::{ClientError, Result};

/// MLflow's variable naming a CA bundle (PEM) to trust for an `https://` server.
pub const SERVER_CERT_PATH_ENV: &str = "MLFLOW_TRACKING_SERVER_CERT_PATH";

/// TLS settings of an `https://` connection: the system's roots, plus the CA bundle in
/// `MLFLOW_TRACKING_SERVER_CERT_PATH` if set.
pub(crate) fn tls_config() -> Result<tonic::transport::ClientTlsConfig> {
    let mut config = tonic::transport::ClientTlsConfig::new().with_native_roots();
    if let Some(path) = std::env::var_os(SERVER_CERT_PATH_ENV).filter(|p| !p.is_empty()) {
        let pem = std::fs::read(&path).map_err(|e| {
            ClientError::Io(format!(
                "{SERVER_CERT_PATH_ENV}={}: {e}",
                std::path::Path::new(&path).display()
            ))
        })?;
        config = config.ca_certificate(tonic::transport::Certificate::from_pem(pem));
    }
    Ok(config)
}

/// The channel every stub uses: the connection plus the credentials interceptor.
pub(crate) type Transport = InterceptedService<crate::failover::Failover, Credentials>;

/// MLflow's token variable.
pub const TOKEN_ENV: &str = "MLFLOW_TRACKING_TOKEN";
/// MLflow's user name variable.
pub const USERNAME_ENV: &str = "MLFLOW_TRACKING_USERNAME";
/// MLflow's password variable.
pub const PASSWORD_ENV: &str = "MLFLOW_TRACKING_PASSWORD";

/// What a client authenticates with.
///
/// # Examples
///
/// ```
/// use trackd_client::Credentials;
/// let none = Credentials::none();
/// let basic = Credentials::basic("ann", "s3cret-pass").unwrap();
/// let token = Credentials::token("trk_0123456789abcdef_00").unwrap();
/// assert!(none.is_none() && !basic.is_none() && !token.is_none());
/// ```
#[derive(Clone, Default)]
pub struct Credentials {
    header: Option<AsciiMetadataValue>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str(if self.header.is_some() {
            "Credentials(<set>)"
        } else {
            "Credentials(none)"
        })
    }
}

fn header(value: String) -> Result<Credentials> {
    let mut value: AsciiMetadataValue = MetadataValue::try_from(value)
        .map_err(|_| ClientError::Usage("credentials must be printable ASCII".into()))?;
    value.set_sensitive(true);
    Ok(Credentials {
        header: Some(value),
    })
}

impl Credentials {
    /// No credentials (a server without `--auth`).
    pub fn none() -> Credentials {
        Credentials::default()
    }

    /// HTTP Basic credentials.
    pub fn basic(user: &str, password: &str) -> Result<Credentials> {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        header(format!("Basic {encoded}"))
    }

    /// A bearer token (`trk_…`, from `trackd tokens create`).
    pub fn token(token: &str) -> Result<Credentials> {
        header(format!("Bearer {token}"))
    }

    /// MLflow's variables: `MLFLOW_TRACKING_TOKEN`, else `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`, else none.
    pub fn from_env() -> Result<Credentials> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        if let Some(token) = var(TOKEN_ENV) {
            return Self::token(&token);
        }
        match (var(USERNAME_ENV), var(PASSWORD_ENV)) {
            (Some(user), Some(password)) => Self::basic(&user, &password),
            _ => Ok(Self::none()),
        }
    }

    /// Whether there are none.
    pub fn is_none(&self) -> bool {
        self.header.is_none()
    }
}

impl Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

//! `MLFLOW_TRACKING_INSECURE_TLS=true` (MLflow's variable): TLS without checking the
//! server's certificate, for a development server with a self-signed one. The traffic is
//! encrypted but the server is not authenticated (anyone in the path can impersonate it),
//! so a warning is logged. The handshake's signature is still verified.
//!
//! tonic adds TLS itself only with certificate checks; here the channel is given an
//! `http://` URI and a connector that does TCP and the unchecked TLS handshake (ALPN `h2`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tonic::codegen::http::Uri;

/// MLflow's variable.
pub const INSECURE_TLS_ENV: &str = "MLFLOW_TRACKING_INSECURE_TLS";

/// Whether `MLFLOW_TRACKING_INSECURE_TLS` is `true` (any case).
pub(crate) fn requested() -> bool {
    std::env::var(INSECURE_TLS_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Accepts any certificate; checks the handshake signature with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The connector: TCP to the URI's host and port, then TLS without certificate checks.
#[derive(Clone)]
pub(crate) struct InsecureConnector {
    tls: tokio_rustls::TlsConnector,
}

impl InsecureConnector {
    pub(crate) fn new() -> Self {
        tracing::warn!(
            "{INSECURE_TLS_ENV}=true: the server's TLS certificate is not checked; use this only \
             with a development server"
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        InsecureConnector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<TokioIo<TlsStream<TcpStream>>, std::io::Error>> + Send>>;

impl tower_service::Service<Uri> for InsecureConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| std::io::Error::other("the URI has no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(host)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            Ok(TokioIo::new(tls.connect(name, tcp).await?))
        })
    }
}

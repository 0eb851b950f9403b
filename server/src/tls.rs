//! TLS on the one port: `--tls-cert` / `--tls-key` (PEM). ALPN offers `h2` and `http/1.1`,
//! so gRPC clients, grpcurl, the stock Python client (HTTP/1.1) and browsers all connect to
//! the same port. The certificate and key are read again on SIGHUP and when either file
//! changes (checked every few seconds), so a renewed certificate needs no restart; a
//! renewal that cannot be read is logged and the previous certificate stays in use.
//! A client speaking plaintext to a TLS port fails the handshake and is disconnected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for a change.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key does not fit the certificate, or rustls refused them.
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate chain and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    fn load(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let file_error = |path: &Path, reason: String| TlsError::File {
            path: path.to_path_buf(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| file_error(&self.cert, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| file_error(&self.cert, e.to_string()))?;
        if certs.is_empty() {
            return Err(file_error(&self.cert, "no CERTIFICATE in the file".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| file_error(&self.key, format!("no usable private key ({e})")))?;
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(certs, key, &provider)?;
        Ok(Arc::new(certified))
    }

    fn modified(&self) -> Option<(SystemTime, SystemTime)> {
        let at = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((at(&self.cert)?, at(&self.key)?))
    }
}

/// The certificate in use, replaceable while serving.
struct Reloadable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Reloadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reloadable")
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// A TLS acceptor whose certificate follows its files.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    files: TlsFiles,
    certificate: Arc<Reloadable>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Loads the files and builds the acceptor (ALPN `h2`, `http/1.1`).
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let certificate = Arc::new(Reloadable {
            current: RwLock::new(files.load()?),
        });
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(certificate.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            files,
            certificate,
        })
    }

    /// The acceptor.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reads the files again; on failure the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = self.files.load()?;
        *self
            .certificate
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// Reloads on SIGHUP and when the files change, until the returned task is aborted.
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut seen = tls.files.modified();
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hangup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<()>();
                tokio::select! {
                    () = signalled => {}
                    () = tokio::time::sleep(WATCH_EVERY) => {
                        let now = tls.files.modified();
                        if now == seen {
                            continue;
                        }
                        seen = now;
                    }
                }
                if let Err(e) = tls.reload() {
                    tracing::error!(error = %e, "TLS certificate reload failed; keeping the previous one");
                }
            }
        })
    }
}

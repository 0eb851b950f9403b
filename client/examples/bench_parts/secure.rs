//! `--secure`: what `--auth` and TLS cost. The default workloads — stream ingest (8 clients,
//! durable acks), unary `LogMetric` latency and REST log-batch (4 clients) — each against a
//! server child without, then with authentication (HTTP Basic, a verified-credential cache)
//! and TLS (rustls, a CA and certificate made here), alternating, twice, in one sitting.
//! Target (issue 16): with both, within 10 % of the same build without them.
//!
//! The server child turns both on when `TRACKD_BENCH_PKI` names a directory with
//! `cert.pem`/`key.pem` (see `serve`); clients take MLflow's variables
//! (`MLFLOW_TRACKING_USERNAME`/`PASSWORD`, `MLFLOW_TRACKING_SERVER_CERT_PATH`), which this
//! module sets for the secure rounds and clears for the plain ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// The user the secure server child creates.
pub const USER: (&str, &str) = ("bench", "bench-password");
/// The variable naming the certificate directory for the server child.
pub const PKI_ENV: &str = "TRACKD_BENCH_PKI";

/// Writes a CA and a certificate for 127.0.0.1 it signed into `dir` (`ca.pem`, `cert.pem`,
/// `key.pem`).
pub fn make_pki(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "trackd bench CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

/// Turns the secure mode on (`Some(pki dir)`) or off for this process and its children.
pub fn set_mode(pki: Option<&Path>) {
    // SAFETY: called between workloads, when no other thread of this process reads the
    // environment (clients read it when they connect, inside a workload).
    unsafe {
        match pki {
            Some(dir) => {
                std::env::set_var(PKI_ENV, dir);
                std::env::set_var("MLFLOW_TRACKING_USERNAME", USER.0);
                std::env::set_var("MLFLOW_TRACKING_PASSWORD", USER.1);
                std::env::set_var("MLFLOW_TRACKING_SERVER_CERT_PATH", dir.join("ca.pem"));
            }
            None => {
                for v in [
                    PKI_ENV,
                    "MLFLOW_TRACKING_USERNAME",
                    "MLFLOW_TRACKING_PASSWORD",
                    "MLFLOW_TRACKING_SERVER_CERT_PATH",
                ] {
                    std::env::remove_var(v);
                }
            }
        }
    }
}

/// The certificate directory when the secure mode is on.
pub fn pki() -> Option<PathBuf> {
    std::env::var_os(PKI_ENV).map(PathBuf::from)
}

/// `Authorization` header value in the secure mode.
pub fn authorization() -> Option<String> {
    pki().map(|_| trackd_server::auth::credentials::basic_header(USER.0, USER.1))
}

/// A gRPC channel to `url`, with TLS trusting the bench CA in the secure mode.
pub async fn channel(url: &str) -> tonic::transport::Channel {
    let mut endpoint = tonic::transport::Channel::from_shared(url.to_owned()).unwrap();
    if let Some(dir) = pki() {
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        endpoint = endpoint
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(ca)),
            )
            .unwrap();
    }
    endpoint.connect().await.unwrap()
}

/// A request with the secure mode's credentials.
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization() {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

/// A byte stream to the server: TCP, or TLS over it in the secure mode (for the REST
/// workload's HTTP/1.1 client).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Connects to `addr` (HOST:PORT), with TLS (ALPN http/1.1) in the secure mode.
pub async fn connect(addr: &str) -> Box<dyn Io> {
    use rustls_pki_types::pem::PemObject;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let Some(dir) = pki() else {
        return Box::new(tcp);
    };
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls_pki_types::ServerName::IpAddress(
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap().into(),
    );
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    Box::new(tls)
}

/// The comparison: each workload plain then secure, two rounds, figures and ratios.
pub async fn compare(root: &Path, quick: bool) {
    let pki_dir = root.join("pki");
    make_pki(&pki_dir);
    let steps: i64 = if quick { 25_000 } else { 250_000 };
    let calls = if quick { 300 } else { 2000 };
    let requests = if quick { 50 } else { 300 };
    // (mode, stream points/s, unary p50 µs, unary p99 µs, REST 4 clients points/s)
    let mut rows: Vec<(&str, f64, f64, f64, f64)> = Vec::new();
    for round in 0..2 {
        for (mode, pki) in [("plain", None), ("auth+TLS", Some(pki_dir.as_path()))] {
            set_mode(pki);
            let sub = root.join(format!("{mode}-{round}").replace('+', "-"));
            let (ingest, ..) = super::stream_ingest(&sub.join("ingest"), steps).await;
            let (p50, p99, _) = super::unary_latency(&sub.join("unary"), "durable", calls).await;
            let rest = super::rest_ingest(&sub.join("rest"), requests).await;
            println!(
                "secure round {round} {mode}: stream {:.0} points/s, unary durable p50 {p50:.0} µs p99 {p99:.0} µs, REST log-batch 4 clients {:.0} points/s",
                ingest.rate(),
                rest[1]
            );
            rows.push((mode, ingest.rate(), p50, p99, rest[1]));
        }
    }
    set_mode(None);
    let mean = |mode: &str, f: fn(&(&str, f64, f64, f64, f64)) -> f64| {
        let v: Vec<f64> = rows.iter().filter(|r| r.0 == mode).map(f).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (sp, ss) = (mean("plain", |r| r.1), mean("auth+TLS", |r| r.1));
    let (up, us) = (mean("plain", |r| r.2), mean("auth+TLS", |r| r.2));
    let (rp, rs) = (mean("plain", |r| r.4), mean("auth+TLS", |r| r.4));
    println!(
        "secure vs plain (means of 2): stream {:.1} %, unary p50 {:+.1} %, REST log-batch {:.1} % of plain",
        100.0 * ss / sp,
        100.0 * (us - up) / up,
        100.0 * rs / rp
    );
    println!(
        "{{\"workload\":\"secure\",\"stream_plain\":{sp:.0},\"stream_secure\":{ss:.0},\"unary_p50_plain_us\":{up:.0},\"unary_p50_secure_us\":{us:.0},\"rest_plain\":{rp:.0},\"rest_secure\":{rs:.0}}}"
    );
}

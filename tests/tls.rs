//! TLS on the one port: certificates made here (rcgen: a CA and a certificate for
//! 127.0.0.1), a real server with `--tls-cert`/`--tls-key` and `--auth`, and real clients
//! over the network — the Rust client (gRPC over h2), raw TLS with ALPN, the stock Python
//! client (HTTP/1.1, MLFLOW_TRACKING_SERVER_CERT_PATH) and grpcurl `-cacert`. Plaintext to the
//! TLS port fails cleanly, and a renewed certificate is picked up without a restart.

mod common;
#[path = "support/tls.rs"]
mod tls_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tls_support::{make_pki, start, write_pki, Pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use trackd_client::{Client, Credentials, IngestConfig};
use trackd_server::tls::{Tls, TlsFiles};

/// The CA every test's Rust client trusts, through MLflow's variable (set once per process).
static SHARED: LazyLock<(Pki, PathBuf)> = LazyLock::new(|| {
    let pki = make_pki("shared");
    let dir = tempfile::tempdir().unwrap().keep();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    // SAFETY: set once, before any client of this test binary reads it.
    unsafe { std::env::set_var("MLFLOW_TRACKING_SERVER_CERT_PATH", &ca) };
    (pki, ca)
});

fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS handshake trusting `ca_pem`: the ALPN protocol agreed, or the error.
async fn handshake(
    addr: SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> Result<Option<Vec<u8>>, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config(ca_pem, alpn));
    let name = ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into());
    match connector.connect(name, tcp).await {
        Ok(stream) => Ok(stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_http1_and_grpcurl_share_the_tls_port() {
    let (pki, ca_path) = &*SHARED;
    let dir = tempfile::tempdir().unwrap();
    let server = start(write_pki(dir.path(), pki), dir.path()).await;
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // ALPN offers both protocols.
    assert_eq!(
        handshake(server.addr(), &pki.ca_pem, &[b"h2"])
            .await
            .unwrap()
            .as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        handshake(server.addr(), &pki.ca_pem, &[b"http/1.1"])
            .await
            .unwrap()
            .as_deref(),
        Some(&b"http/1.1"[..])
    );
    // An untrusted certificate is refused by the client.
    let stranger = make_pki("stranger");
    assert!(handshake(server.addr(), &stranger.ca_pem, &[b"h2"])
        .await
        .is_err());

    // The Rust client: gRPC over TLS with a password (the CA from MLflow's variable).
    let client = Client::connect_with_credentials(
        &url,
        IngestConfig::default(),
        Credentials::basic("ann", "ann-password").unwrap(),
    )
    .await
    .unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..1000 {
        run.log_metric("loss", 1.0 / f64::from(step + 1), i64::from(step))
            .await
            .unwrap();
    }
    run.flush().await.unwrap();
    assert_eq!(
        client.metric_history(run.id(), "loss").await.unwrap().len(),
        1000
    );
    let run_id = run.id().to_owned();
    run.finish().await.unwrap();

    // The stock Python client: HTTP/1.1 over TLS, the CA from MLflow's variable, with a
    // password and with a token.
    if let Some(python) = common::usable_python("import mlflow") {
        let (_, token) = server
            .tracker()
            .create_token(&trackd_server::domain::Caller::InProcess, "ann", "tls test")
            .await
            .unwrap();
        let script = format!(
            "import mlflow\nr = mlflow.get_run('{run_id}')\nassert r.data.metrics['loss'] == 0.001, r.data.metrics\nprint('python over tls ok')"
        );
        for credentials in [
            vec![
                ("MLFLOW_TRACKING_USERNAME", "ann"),
                ("MLFLOW_TRACKING_PASSWORD", "ann-password"),
            ],
            vec![("MLFLOW_TRACKING_TOKEN", token.as_str())],
        ] {
            let out = tokio::process::Command::new(&python)
                .args(["-c", &script])
                .env("MLFLOW_TRACKING_URI", &url)
                .env("MLFLOW_TRACKING_SERVER_CERT_PATH", ca_path)
                .envs(credentials)
                .output()
                .await
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("python over tls ok"), "{text}");
        }
    }

    // grpcurl with -cacert and an authorization header (reflection works through both).
    if std::process::Command::new("grpcurl")
        .arg("-version")
        .output()
        .is_ok()
    {
        let out = tokio::process::Command::new("grpcurl")
            .args([
                "-cacert",
                ca_path.to_str().unwrap(),
                "-H",
                &format!(
                    "authorization: {}",
                    trackd_server::auth::credentials::basic_header("ann", "ann-password")
                ),
                &server.addr().to_string(),
                "list",
            ])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("trackd.v1.TrackingService"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(!common::tools_required(), "grpcurl is required");
    }

    // Plaintext to the TLS port fails cleanly: no HTTP answer, the connection is closed.
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "{answer:?}"
    );
    let plaintext = Client::connect_with_credentials(
        &url.replace("https://", "http://"),
        IngestConfig::default(),
        Credentials::basic("ann", "ann-password").unwrap(),
    )
    .await;
    match plaintext {
        Err(e) => assert_eq!(e.code(), tonic::Code::Unavailable, "{e}"),
        Ok(c) => assert!(c.get_experiment("0").await.is_err()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = make_pki("first");
    let files = write_pki(dir.path(), &first);
    let server = start(files.clone(), dir.path()).await;
    assert!(handshake(server.addr(), &first.ca_pem, &[b"h2"])
        .await
        .is_ok());
    let renewed = make_pki("renewed");
    assert!(handshake(server.addr(), &renewed.ca_pem, &[b"h2"])
        .await
        .is_err());
    // A renewal that cannot be used is refused and the old certificate stays.
    let broken = dir.path().join("broken-key.pem");
    std::fs::write(&broken, "not a key").unwrap();
    assert!(Tls::load(TlsFiles {
        cert: files.cert.clone(),
        key: broken
    })
    .is_err());
    // The renewed pair lands (key first, then the certificate, as tools do).
    std::fs::write(&files.key, &renewed.key_pem).unwrap();
    std::fs::write(&files.cert, &renewed.cert_pem).unwrap();
    let addr = server.addr();
    let ca = renewed.ca_pem.clone();
    common::eventually("the renewed certificate is served", || {
        let ca = ca.clone();
        async move { handshake(addr, &ca, &[b"h2"]).await.is_ok() }
    })
    .await;
    assert!(handshake(server.addr(), &first.ca_pem, &[b"h2"])
        .await
        .is_err());
}

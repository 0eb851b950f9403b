//! `MLFLOW_TRACKING_INSECURE_TLS=true`: the Rust client reaches a TLS server whose
//! certificate it cannot check (a development server), and only then. A test binary of its
//! own: it sets the process's environment.

mod common;
#[path = "support/tls.rs"]
mod tls_support;

use tls_support::{make_pki, start, write_pki};
use trackd_client::{Client, ClientError, Credentials, IngestConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_tls_is_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("self-signed dev server");
    let server = start(write_pki(dir.path(), &pki), dir.path()).await;
    let url = server.url();
    let connect = || {
        Client::connect_with_credentials(
            &url,
            IngestConfig::default(),
            Credentials::basic("ann", "ann-password").unwrap(),
        )
    };
    // No CA for this server, no opt-in: the certificate is refused.
    match connect().await {
        Err(ClientError::Connect { message, .. }) => {
            assert!(
                message.to_ascii_lowercase().contains("certificate"),
                "{message}"
            )
        }
        Err(other) => panic!("expected a certificate failure, got {other}"),
        Ok(_) => panic!("an unknown certificate was accepted"),
    }
    // SAFETY: the only test of this binary; no other thread reads the environment now.
    unsafe { std::env::set_var("MLFLOW_TRACKING_INSECURE_TLS", "true") };
    let client = connect().await.unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..100 {
        run.log_metric("loss", 1.0, step).await.unwrap();
    }
    run.flush().await.unwrap();
    assert_eq!(
        client.metric_history(run.id(), "loss").await.unwrap().len(),
        100
    );
    run.finish().await.unwrap();
    // Credentials still matter.
    let wrong = Client::connect_with_credentials(
        &server.url(),
        IngestConfig::default(),
        Credentials::basic("ann", "wrong-password").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        wrong.get_experiment("0").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
}

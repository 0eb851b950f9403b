//! The stock Python `mlflow` client (mlflow-skinny) against a real trackd: runs
//! `tests/mlflow_client.py`, which asserts every value it reads back. `.ci/run` installs
//! mlflow-skinny into `target/ci-tools` and points `TRACKD_TEST_PYTHON` at that interpreter;
//! without it the test says so and passes, except under CI (`CI=true`), where it fails.

mod common;

use std::process::Command;

/// MLflow's own client logs, searches, downloads and manages experiments through trackd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_mlflow_client_works() {
    let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_mlflow = Command::new(&python)
        .args(["-c", "import mlflow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_mlflow {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide mlflow (TRACKD_TEST_PYTHON, set by .ci/run)"
        );
        eprintln!("no Python with mlflow; run `bash .ci/run` to exercise the stock client");
        return;
    }
    let server = common::TestServer::start().await;
    let url = server.handle.url();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mlflow_client.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("MLFLOW_TRACKING_URI", url)
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the mlflow script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

//! The stock Python `mlflow` client against a real trackd: `tests/mlflow_client.py` (the
//! tracking API) and `tests/mlflow_models.py` (MLflow's logging tutorial: `log_model` of a
//! scikit-learn model, then `load_model` by every URI), each asserting every value it reads
//! back. `.ci/run` installs mlflow 3.17.2 and scikit-learn into `target/ci-tools` and points
//! `TRACKD_TEST_PYTHON` at that interpreter; without them a test says so and passes, except
//! under CI (`CI=true`), where it fails.

mod common;

use std::process::Command;

/// MLflow's own client logs, searches, downloads and manages experiments through trackd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_mlflow_client_works() {
    run_script("mlflow_client.py", "import mlflow").await;
}

/// The MLflow tutorial's `mlflow.sklearn.log_model`, then the model loaded back through
/// `runs:/`, `models:/<model_id>` and the returned URI, searched, tagged, finalized, deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_tutorial_logs_and_loads_a_model() {
    run_script("mlflow_models.py", "import mlflow, sklearn, skops").await;
}

/// Runs `tests/<script>` against a fresh server with a Python that can `probe`.
async fn run_script(script: &str, probe: &str) {
    let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = Command::new(&python)
        .args(["-c", probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide a Python where `{probe}` works (TRACKD_TEST_PYTHON, set by .ci/run)"
        );
        eprintln!("no Python where `{probe}` works; run `bash .ci/run` to exercise {script}");
        return;
    }
    let server = common::TestServer::start().await;
    let url = server.handle.url();
    let script = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("MLFLOW_TRACKING_URI", url)
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
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

//! The stock Python `mlflow` client against a real trackd: `tests/mlflow_client.py` (the
//! tracking API) and `tests/mlflow_models.py` (MLflow's logging tutorial: `log_model` of a
//! scikit-learn model, then `load_model` by every URI), each asserting every value it reads
//! back. `.ci/run` installs mlflow 3.17.2 and scikit-learn into `target/ci-tools` and points
//! `TRACKD_TEST_PYTHON` at that interpreter and requires it (`TRACKD_TEST_TOOLS=required`):
//! there a missing tool fails; only a plain `cargo test` without them skips, saying so.

mod common;

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
    let Some(python) = common::usable_python(probe) else {
        return;
    };
    let server = common::TestServer::start().await;
    let script = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let stdout = common::run_python(&python, &server.handle.url(), &[&script]).await;
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

/// Across languages: a model logged from Rust is downloaded and its `MLmodel` parsed by
/// Python's `mlflow.models.Model.load`; an sklearn model logged from Python loads in Rust
/// (files plus the parsed `MLmodel`) by `runs:/` and, registered, by `models:/<name>/1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_cross_between_rust_and_python() {
    let Some(python) = common::usable_python("import mlflow, sklearn, skops") else {
        return;
    };
    let server = common::TestServer::start().await;
    let url = server.handle.url();
    let client = trackd_client::Client::connect(&url).await.unwrap();

    // Rust → Python.
    let run = client.start_run().start().await.unwrap();
    let weights = vec![0.25_f64, -2.0, 3.5];
    let logged = run
        .log_model("rust_model")
        .serde(&weights)
        .unwrap()
        .log()
        .await
        .unwrap();
    let check = format!(
        "import mlflow, tempfile, os\n\
         d = mlflow.artifacts.download_artifacts('models:/{id}', dst_path=tempfile.mkdtemp())\n\
         m = mlflow.models.Model.load(os.path.join(d, 'MLmodel'))\n\
         assert m.model_id == '{id}', m.model_id\n\
         assert m.run_id == '{run}', m.run_id\n\
         assert 'trackd_serde' in m.flavors, m.flavors\n\
         assert open(os.path.join(d, 'model.json')).read() == '[0.25,-2.0,3.5]'\n\
         print('python read it')",
        id = logged.model_id,
        run = run.id()
    );
    let out = common::run_python(&python, &url, &["-c", &check]).await;
    assert!(out.contains("python read it"), "{out}");

    // Python → Rust.
    let script = "import mlflow, mlflow.sklearn\n\
        from sklearn.datasets import load_iris\n\
        from sklearn.linear_model import LogisticRegression\n\
        X, y = load_iris(return_X_y=True)\n\
        with mlflow.start_run() as run:\n\
        \x20   mlflow.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y), name='iris_model')\n\
        mlflow.register_model(f'runs:/{run.info.run_id}/iris_model', 'iris')\n\
        print('RUN', run.info.run_id)";
    let out = common::run_python(&python, &url, &["-c", script]).await;
    let run_id = out
        .lines()
        .find_map(|l| l.strip_prefix("RUN "))
        .unwrap_or_else(|| panic!("{out}"))
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    for (uri, sub) in [
        (format!("runs:/{run_id}/iris_model"), "by-run"),
        ("models:/iris/1".to_owned(), "by-version"),
    ] {
        let loaded = client.load_model(&uri, dir.path().join(sub)).await.unwrap();
        let flavors = &loaded.mlmodel.flavors;
        assert!(
            flavors.contains_key("sklearn") && flavors.contains_key("python_function"),
            "{uri}: {flavors:?}"
        );
        assert_eq!(loaded.mlmodel.run_id.as_deref(), Some(run_id.as_str()));
        let model_file = flavors["sklearn"]["pickled_model"].as_str().unwrap();
        assert!(
            loaded.path.join(model_file).is_file(),
            "{uri}: {model_file} downloaded"
        );
        assert!(
            loaded.load_serde::<Vec<f64>>().is_err(),
            "not a serde model"
        );
    }
}

/// Images and tables logged from Rust in MLflow's layouts read back with the stock client:
/// `load_table` returns the rows, and the step-indexed image files are where MLflow's UI
/// looks for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_images_and_tables_read_back_in_python() {
    let Some(python) = common::usable_python("import mlflow, pandas") else {
        return;
    };
    let server = common::TestServer::start().await;
    let url = server.handle.url();
    let client = trackd_client::Client::connect(&url).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let png = b"\x89PNG\r\n\x1a\nnot really pixels";
    run.log_image(png, "val/samples", 7).await.unwrap();
    use serde_json::json;
    run.log_table(
        &["q", "score"],
        vec![vec![json!("a"), json!(1.5)], vec![json!("b"), json!(2.5)]],
        "eval.json",
    )
    .await
    .unwrap();
    let check = format!(
        "import mlflow\n\
         c = mlflow.MlflowClient()\n\
         r = c.get_run('{run}')\n\
         df = c.load_table(r.info.experiment_id, 'eval.json', run_ids=['{run}'])\n\
         assert list(df['q']) == ['a', 'b'], df\n\
         assert list(df['score']) == [1.5, 2.5], df\n\
         names = [f.path for f in c.list_artifacts('{run}', 'images')]\n\
         assert len(names) == 2, names\n\
         assert any(n.startswith('images/val~samples+step+7+timestamp+') and n.endswith('.png') for n in names), names\n\
         assert any(n.endswith('+compressed.webp') for n in names), names\n\
         assert r.data.tags['mlflow.loggedImages'] == 'True'\n\
         print('python read them')",
        run = run.id()
    );
    let out = common::run_python(&python, &url, &["-c", &check]).await;
    assert!(out.contains("python read them"), "{out}");
    run.finish().await.unwrap();
}

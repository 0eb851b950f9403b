//! `trackd import-mlflow` on stores made by the stock `mlflow` package itself (a file store
//! and a SQLite database, by `tests/data/make_mlflow_store.py`), compared value by value with
//! what MLflow's own client reads from them; resumed, redone after an interruption, and run
//! on a damaged store. `.ci/run` installs mlflow into `target/ci-tools` and requires it
//! there; a plain `cargo test` without it skips, saying so.

#[path = "../../tests/support/small_disk.rs"]
mod small_disk;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use small_disk::SmallDisk;
use trackd_client::{Client, Run, RunView};
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

fn tools_required() -> bool {
    std::env::var("CI").is_ok() || std::env::var("TRACKD_TEST_TOOLS").is_ok_and(|v| v == "required")
}

/// A Python with mlflow, or `None` (a skip) where the tools are not required.
fn python() -> Option<String> {
    let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = Command::new(&python)
        .args(["-c", "import mlflow, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            !tools_required(),
            "a Python with mlflow is required (TRACKD_TEST_PYTHON, set by .ci/run)"
        );
        eprintln!("SKIPPED: no Python with mlflow; run `bash .ci/run`");
        return None;
    }
    Some(python)
}

/// Makes a store at `uri` with the stock client; returns MLflow's own manifest of it.
fn make_store(python: &str, uri: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/make_mlflow_store.py"
    );
    let out = Command::new(python)
        .args([script, uri])
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MANIFEST "))
        .expect("a manifest");
    serde_json::from_str(line).unwrap()
}

struct Imported {
    code: i32,
    summary: Value,
    stderr: String,
}

async fn import(from: &str, into: &str) -> Imported {
    let (from, into) = (from.to_owned(), into.to_owned());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
            .args([
                "import-mlflow",
                "--from",
                &from,
                "--tracking-uri",
                &into,
                "--json",
            ])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        Imported {
            code: out.status.code().unwrap_or(-1),
            summary: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// Every run trackd holds, by the source run id it was imported from.
async fn imported_runs(client: &Client) -> BTreeMap<String, Vec<Run>> {
    let mut ids: Vec<String> = client
        .search_experiments_in("", RunView::All)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.experiment_id)
        .collect();
    ids.sort();
    let mut out: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for run in client
        .search_runs()
        .experiments(ids)
        .view(RunView::All)
        .all()
        .await
        .unwrap()
    {
        if let Some(src) = run.data.tags.get("trackd.import.source_run_id") {
            out.entry(src.clone()).or_default().push(run);
        }
    }
    out
}

fn value(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        v => v.as_f64().unwrap(),
    }
}

/// Every run of the manifest is in trackd with the same values.
async fn assert_same(client: &Client, manifest: &Value) {
    let runs = imported_runs(client).await;
    let expected = manifest["runs"].as_object().unwrap();
    assert_eq!(
        runs.len(),
        expected.len(),
        "{:?}",
        runs.keys().collect::<Vec<_>>()
    );
    for (source_id, want) in expected {
        let copies = &runs[source_id];
        let live: Vec<&Run> = copies
            .iter()
            .filter(|r| r.data.tags.contains_key("trackd.import.complete"))
            .collect();
        assert_eq!(live.len(), 1, "{source_id}: one complete copy");
        let run = live[0];
        assert_eq!(run.info.run_name, want["name"].as_str().unwrap());
        assert_eq!(run.info.status.as_str(), want["status"].as_str().unwrap());
        assert_eq!(run.info.start_time, want["start_time"].as_i64().unwrap());
        assert_eq!(run.info.end_time, want["end_time"].as_i64());
        assert_eq!(
            run.info.deleted,
            want["deleted"].as_bool().unwrap(),
            "{source_id}"
        );
        let experiment = client
            .get_experiment(&run.info.experiment_id)
            .await
            .unwrap();
        assert_eq!(experiment.name, want["experiment"].as_str().unwrap());
        for (k, v) in want["params"].as_object().unwrap() {
            assert_eq!(run.data.params[k], v.as_str().unwrap(), "param {k}");
        }
        for (k, v) in want["tags"].as_object().unwrap() {
            assert_eq!(run.data.tags[k], v.as_str().unwrap(), "tag {k}");
        }
        let datasets: Vec<&str> = run
            .datasets
            .iter()
            .map(|d| d.dataset.name.as_str())
            .collect();
        let want_datasets: Vec<&str> = want["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(datasets, want_datasets);
        let metrics = want["metrics"].as_object().unwrap();
        assert_eq!(run.data.metrics.len(), metrics.len());
        for (key, points) in metrics {
            let mut got: Vec<(i64, i64, f64)> = client
                .metric_history(&run.info.run_id, key)
                .await
                .unwrap()
                .into_iter()
                .map(|m| (m.step, m.timestamp, m.value))
                .collect();
            got.sort_by_key(|p| (p.0, p.1));
            let want: Vec<(i64, i64, f64)> = points
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap(), value(&p[2])))
                .collect();
            assert_eq!(got.len(), want.len(), "{key}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "{key}");
                // serde_json's default float parsing can be 1 ulp off the manifest's text.
                let close = (g.2 - w.2).abs() <= 4.0 * f64::EPSILON * w.2.abs();
                assert!(
                    g.2 == w.2 || close || (g.2.is_nan() && w.2.is_nan()),
                    "{key}: {g:?} vs {w:?}"
                );
            }
        }
    }
    for (name, want) in manifest["experiments"].as_object().unwrap() {
        let e = client
            .get_experiment_by_name(name)
            .await
            .unwrap()
            .expect(name);
        assert_eq!(e.deleted, want["deleted"].as_bool().unwrap(), "{name}");
        for (k, v) in want["tags"].as_object().unwrap() {
            assert_eq!(e.tags[k], v.as_str().unwrap());
        }
    }
}

async fn baseline_notes(client: &Client) -> String {
    let runs = imported_runs(client).await;
    let baseline = runs
        .values()
        .flatten()
        .find(|r| r.info.run_name == "baseline")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = client
        .download_artifacts(&baseline.info.run_id, "docs/notes.txt", dir.path())
        .await
        .unwrap();
    std::fs::read_to_string(local).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_is_imported_into_a_server_resumed_and_redone() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let mlruns = work.path().join("mlruns");
    let manifest = make_store(&python, &format!("file://{}", mlruns.display()));
    let server = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(work.path().join("trackd")),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let url = server.url();
    let first = import(mlruns.to_str().unwrap(), &url).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let runs = manifest["runs"].as_object().unwrap().len() as u64;
    assert_eq!(first.summary["runs_imported"], runs);
    assert_eq!(first.summary["metric_points"], 1000 + 2 + 1 + 1 + 1);
    assert_eq!(first.summary["artifact_files"], 1);
    let client = Client::connect(&url).await.unwrap();
    assert_same(&client, &manifest).await;
    assert_eq!(baseline_notes(&client).await, "hello from mlflow\n");

    // Again: nothing is copied twice.
    let again = import(mlruns.to_str().unwrap(), &url).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.summary["runs_already_imported"], runs);
    assert_eq!(again.summary["runs_imported"], 0);

    // An interrupted copy (not marked complete) is deleted and redone.
    let all = imported_runs(&client).await;
    let baseline = all
        .values()
        .flatten()
        .find(|r| r.info.run_name == "baseline")
        .unwrap();
    client
        .delete_tag(&baseline.info.run_id, "trackd.import.complete")
        .await
        .unwrap();
    let redo = import(mlruns.to_str().unwrap(), &url).await;
    assert_eq!(redo.code, 0, "{}", redo.stderr);
    assert_eq!(redo.summary["runs_redone"], 1);
    assert_eq!(redo.summary["runs_imported"], 1);
    assert!(
        client
            .get_run(&baseline.info.run_id)
            .await
            .unwrap()
            .info
            .deleted,
        "the partial copy is deleted"
    );
    assert_same(&client, &manifest).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_is_imported_into_a_store_directory() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("mlflow.db");
    let manifest = make_store(&python, &format!("sqlite:///{}", db.display()));
    let store = work.path().join("trackd");
    let done = import(
        &format!("sqlite:///{}", db.display()),
        store.to_str().unwrap(),
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(
        done.summary["runs_imported"],
        manifest["runs"].as_object().unwrap().len() as u64
    );
    let client = Client::connect(store.to_str().unwrap()).await.unwrap();
    assert_same(&client, &manifest).await;
    assert_eq!(baseline_notes(&client).await, "hello from mlflow\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_imports_what_it_can_and_says_what_it_could_not() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let mlruns = work.path().join("mlruns");
    let manifest = make_store(&python, &format!("file://{}", mlruns.display()));
    let runs = manifest["runs"].as_object().unwrap();
    let id_of = |name: &str| {
        runs.iter()
            .find(|(_, r)| r["name"] == name)
            .map(|(id, r)| (id.clone(), r["experiment"].as_str().unwrap().to_owned()))
            .unwrap()
    };
    let run_dir = |name: &str| -> std::path::PathBuf {
        let (id, _) = id_of(name);
        std::fs::read_dir(&mlruns)
            .unwrap()
            .flatten()
            .map(|e| e.path().join(&id))
            .find(|p| p.is_dir())
            .unwrap()
    };
    std::fs::remove_file(run_dir("failed-one").join("meta.yaml")).unwrap();
    let acc = run_dir("child").join("metrics/acc");
    let mut text = std::fs::read_to_string(&acc).unwrap();
    text.push_str("this is not a point\n");
    std::fs::write(&acc, text).unwrap();

    let store = work.path().join("trackd");
    let result = import(mlruns.to_str().unwrap(), store.to_str().unwrap()).await;
    assert_eq!(result.code, 1, "{}", result.stderr);
    let failed = result.summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let reasons: String = failed
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(reasons.contains("meta.yaml"), "{reasons}");
    assert!(
        reasons.contains("line 2: expected 'timestamp value step'"),
        "{reasons}"
    );
    assert!(
        result.stderr.contains("run the same command again"),
        "{}",
        result.stderr
    );
    assert_eq!(result.summary["runs_imported"], runs.len() as u64 - 2);
    // The run that failed half-way is there but not marked complete, and a rerun redoes it.
    let client = Client::connect(store.to_str().unwrap()).await.unwrap();
    let imported = imported_runs(&client).await;
    let (child_id, _) = id_of("child");
    assert!(imported[&child_id]
        .iter()
        .all(|r| !r.data.tags.contains_key("trackd.import.complete")));
    drop(client);
    let missing = import(
        work.path().join("nope").to_str().unwrap(),
        store.to_str().unwrap(),
    )
    .await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let not_mlflow = import(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .to_str()
            .unwrap(),
        store.to_str().unwrap(),
    )
    .await;
    assert_eq!(not_mlflow.code, 4, "{}", not_mlflow.stderr);
    assert!(
        not_mlflow.stderr.contains("is not an MLflow file store"),
        "{}",
        not_mlflow.stderr
    );
}

/// `trackd import-mlflow` with a deadline: a hang fails the test instead of blocking it.
async fn import_within(from: &str, into: &str, limit: std::time::Duration) -> Imported {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args([
            "import-mlflow",
            "--from",
            from,
            "--tracking-uri",
            into,
            "--json",
        ])
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, child)
        .await
        .expect("the import answered (a full disk must not hang it)")
        .unwrap();
    Imported {
        code: out.status.code().unwrap_or(-1),
        summary: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_an_import_clearly_and_a_rerun_finishes_it() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("mlflow.db");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/make_big_mlflow_db.py"
    );
    let made = Command::new(&python)
        .args([script, db.to_str().unwrap(), "40", "40000"])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The store keeps 64 MiB free (its default reserve): a 68 MiB disk leaves it 4 MiB, a
    // fraction of the 1.6 M points (~7 bytes each in the chunk log).
    let Some(disk) = SmallDisk::mount(&work.path().join("disk"), 68) else {
        assert!(
            !tools_required(),
            "mounting a tmpfs failed (.ci/run runs as root)"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let store = disk.0.join("store");
    let from = format!("sqlite:///{}", db.display());
    let limit = std::time::Duration::from_secs(120);
    let full = import_within(&from, store.to_str().unwrap(), limit).await;
    assert_eq!(full.code, 1, "{}", full.stderr);
    let reasons = full.summary["failed"].to_string();
    assert!(
        reasons.contains("The disk holding the store is full"),
        "{reasons}"
    );
    assert!(reasons.contains("RESOURCE_EXHAUSTED"), "{reasons}");
    let first = full.summary["runs_imported"].as_u64().unwrap();
    assert!(first < 40 && !full.summary["failed"].as_array().unwrap().is_empty());
    // Space freed: the same command finishes the job, nothing twice.
    disk.grow(512);
    let rest = import_within(&from, store.to_str().unwrap(), limit).await;
    assert_eq!(rest.code, 0, "{}", rest.stderr);
    assert_eq!(
        rest.summary["runs_already_imported"].as_u64().unwrap(),
        first
    );
    assert_eq!(rest.summary["runs_imported"].as_u64().unwrap(), 40 - first);
    let client = Client::connect(store.to_str().unwrap()).await.unwrap();
    let runs = imported_runs(&client).await;
    assert_eq!(runs.len(), 40);
    for copies in runs.values() {
        let complete: Vec<_> = copies
            .iter()
            .filter(|r| r.data.tags.contains_key("trackd.import.complete"))
            .collect();
        assert_eq!(complete.len(), 1);
        assert_eq!(complete[0].data.metrics.len(), 4);
        assert!(!complete[0].info.deleted);
    }
    drop(client);
}

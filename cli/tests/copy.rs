//! `trackd copy` as a user runs it: a store filled through a real server and the Rust
//! client, copied by the real binary (sled → PostgreSQL → sled, and sled → sled), then read
//! back through real servers and compared with the original, call by call.

mod common;
#[path = "../../tests/support/moto.rs"]
mod moto;
#[path = "../../tests/support/postgres.rs"]
mod postgres;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use postgres::Postgres;
use serde_json::Value;
use trackd_client::{Client, RunView};
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

/// Runs `trackd copy ARGS --json` off the async workers; returns (exit code, stdout JSON or
/// Null, stderr).
async fn copy(args: &[&str]) -> (i32, Value, String) {
    copy_with(args, Vec::new()).await
}

/// [`copy`] with environment variables (an object store's endpoint and credentials).
async fn copy_with(args: &[&str], envs: Vec<(&'static str, String)>) -> (i32, Value, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
            .arg("copy")
            .args(&args)
            .arg("--json")
            .envs(envs)
            .env_remove("RUST_LOG")
            .output()
            .expect("the trackd binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr,
        )
    })
    .await
    .unwrap()
}

fn copied(result: (i32, Value, String)) -> Value {
    let (code, json, stderr) = result;
    assert_eq!(code, 0, "trackd copy failed:\n{stderr}\n{json:#}");
    assert_eq!(
        json["verification"]["passed"], true,
        "verification: {:#}",
        json["verification"]
    );
    json
}

async fn serve(dir: &Path) -> ServerHandle {
    ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(dir),
        ServeOptions::default(),
    )
    .await
    .unwrap()
}

/// Fills a store through a server: experiments (one deleted), runs (one deleted, one in the
/// deleted experiment) with params, tags, datasets, a multi-chunk series, an out-of-order
/// series with exact duplicates (stored by the stream as sent), artifacts, a logged model
/// registered twice with an alias, and a user.
async fn fill(dir: &Path) {
    let server = serve(dir).await;
    let client = Client::connect(&server.url()).await.unwrap();
    let kept = client.create_experiment("copy-kept").await.unwrap();
    client
        .set_experiment_tag(&kept, "team", Some("vision"))
        .await
        .unwrap();
    let doomed = client.create_experiment("copy-doomed").await.unwrap();

    let run = client
        .start_run()
        .experiment_id(kept.clone())
        .run_name("long")
        .start()
        .await
        .unwrap();
    run.log_param("lr", "0.01").await.unwrap();
    run.set_tag("phase", "train").await.unwrap();
    run.log_input(
        trackd_client::Dataset {
            name: "iris".into(),
            digest: "5f3a9c".into(),
            source_type: "local".into(),
            source: r#"{"uri": "data/iris.csv"}"#.into(),
            ..Default::default()
        },
        Some("train"),
    )
    .await
    .unwrap();
    for step in 0..10_000i64 {
        run.log_metric("loss", 1.0 / (step + 1) as f64, step)
            .await
            .unwrap();
    }
    for step in [5i64, 3, 9, 3, 1] {
        // Step 3 twice with the same time and value: both are kept.
        run.log_metric_at("acc", step as f64 / 10.0, step, 1_700_000_000_000)
            .await
            .unwrap();
    }
    run.log_metric_at("nan", f64::NAN, 0, 1_700_000_000_000)
        .await
        .unwrap();
    run.flush().await.unwrap();
    let files = dir.join("upload");
    std::fs::create_dir_all(files.join("sub")).unwrap();
    std::fs::write(files.join("notes.txt"), "hello").unwrap();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(files.join("sub/weights.bin"), &big).unwrap();
    client
        .log_artifacts(run.id(), &files, Some("inputs"))
        .await
        .unwrap();
    let model = run
        .log_model("classifier")
        .serde(&vec![1.0f64, 2.0, 3.0])
        .unwrap()
        .log()
        .await
        .unwrap();
    client
        .register_model(&model.model_uri(), "iris-classifier")
        .await
        .unwrap();
    client
        .register_model(&model.model_uri(), "iris-classifier")
        .await
        .unwrap();
    client
        .set_model_alias("iris-classifier", "champion", 2)
        .await
        .unwrap();
    run.finish().await.unwrap();

    let deleted = client
        .start_run()
        .experiment_id(kept.clone())
        .start()
        .await
        .unwrap();
    deleted.log_metric("loss", 0.5, 0).await.unwrap();
    deleted.flush().await.unwrap();
    let deleted_id = deleted.id().to_owned();
    deleted.finish().await.unwrap();
    client.delete_run(&deleted_id).await.unwrap();

    let orphan = client
        .start_run()
        .experiment_id(doomed.clone())
        .start()
        .await
        .unwrap();
    orphan.log_param("k", "v").await.unwrap();
    orphan.finish().await.unwrap();
    client.delete_experiment(&doomed).await.unwrap();
    server.shutdown().await.unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["users", "create", "alice", "--admin", "--store"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything a client reads from the store at `dir`, as text: experiments, runs, every
/// point of every series, every artifact's bytes, logged and registered models.
async fn snapshot(dir: &Path) -> String {
    let server = serve(dir).await;
    let client = Client::connect(&server.url()).await.unwrap();
    let mut out = String::new();
    let mut experiments = client
        .search_experiments_in("", RunView::All)
        .await
        .unwrap();
    experiments.sort_by(|a, b| a.experiment_id.cmp(&b.experiment_id));
    out += &format!("{experiments:#?}\n");
    let ids: Vec<String> = experiments
        .iter()
        .map(|e| e.experiment_id.clone())
        .collect();
    let mut runs = client
        .search_runs()
        .experiments(ids.clone())
        .view(RunView::All)
        .all()
        .await
        .unwrap();
    runs.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
    for run in &runs {
        out += &format!("{run:#?}\n");
        let mut keys: Vec<&String> = run.data.metrics.keys().collect();
        keys.sort();
        for key in keys {
            let history = client.metric_history(&run.info.run_id, key).await.unwrap();
            out += &format!("{key}: {} points {history:?}\n", history.len());
        }
        let files = client
            .list_artifacts(&run.info.run_id, "", true)
            .await
            .unwrap();
        out += &format!("{files:?}\n");
        let down = tempfile::tempdir().unwrap();
        for f in files.iter().filter(|f| !f.is_dir) {
            let path = client
                .download_artifacts(&run.info.run_id, &f.path, down.path())
                .await
                .unwrap();
            let bytes = std::fs::read(&path).unwrap();
            out += &format!(
                "{}: {} bytes, sum {}\n",
                f.path,
                bytes.len(),
                bytes.iter().map(|b| *b as u64).sum::<u64>()
            );
        }
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let models = client
        .search_logged_models(&id_refs, "", 100)
        .await
        .unwrap();
    out += &format!("{models:#?}\n");
    for name in client.search_registered_models("").await.unwrap() {
        for version in 1.. {
            match client.get_model_version(&name, version).await {
                Ok(v) => out += &format!("{v:#?}\n"),
                Err(_) => break,
            }
        }
    }
    server.shutdown().await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_copied_to_postgresql_and_s3_and_back_is_identical() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let uri = cluster.database();
    let tmp = tempfile::tempdir().unwrap();
    let (a, c) = (tmp.path().join("a"), tmp.path().join("c"));
    // The cluster's artifacts in a bucket of a real S3-compatible server (moto), or in a
    // directory where moto is missing and not required.
    let moto = moto::Moto::start();
    let (bucket, envs) = match &moto {
        Some(m) => {
            m.create_bucket_now("copy");
            ("s3://copy/mlartifacts".to_owned(), m.env())
        }
        None => (
            tmp.path().join("pg-artifacts").display().to_string(),
            Vec::new(),
        ),
    };
    let bucket = bucket.as_str();
    let to_cluster = [
        "--from",
        a.to_str().unwrap(),
        "--to",
        &uri,
        "--to-artifacts",
        bucket,
    ];
    fill(&a).await;
    let before = snapshot(&a).await;

    let there = copied(copy_with(&to_cluster, envs.clone()).await);
    assert_eq!(there["experiments"], 3, "{there:#}");
    assert_eq!(there["runs_copied"], 3, "{there:#}");
    assert_eq!(there["metric_points"], 10_000 + 5 + 1 + 1, "{there:#}");
    assert_eq!(there["model_versions"], 2, "{there:#}");
    assert_eq!(there["users"], 1, "{there:#}");
    let files = there["artifact_files_copied"].as_u64().unwrap();
    assert!(files >= 3, "{there:#}");
    if let Some(m) = &moto {
        assert_eq!(m.keys_now("copy", "mlartifacts/").len() as u64, files);
    }

    // Again: everything is found in place, nothing is copied twice.
    let again = copied(copy_with(&to_cluster, envs.clone()).await);
    assert_eq!(again["runs_copied"], 0, "{again:#}");
    assert_eq!(again["runs_already_copied"], 3, "{again:#}");
    assert_eq!(again["artifact_files_copied"], 0, "{again:#}");
    assert_eq!(again["artifact_files_already_copied"], files, "{again:#}");

    // A run changed in the target (as an interrupted copy leaves one) is copied anew.
    let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut server, addr) = common::start(
        &[
            "--port",
            "0",
            "--backend-store-uri",
            &uri,
            "--artifacts-destination",
            bucket,
        ],
        &env_refs,
    );
    let client = Client::connect(&format!("http://{addr}")).await.unwrap();
    let long = client
        .search_runs()
        .experiments(["1"])
        .filter("attributes.run_name = 'long'")
        .all()
        .await
        .unwrap();
    client
        .log_batch(
            &long[0].info.run_id,
            &[trackd_client::Metric {
                key: "loss".into(),
                value: 9.0,
                timestamp: 1,
                step: 10_000,
            }],
            [("extra", "1")],
            Vec::<(String, String)>::new(),
        )
        .await
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let redone = copied(copy_with(&to_cluster, envs.clone()).await);
    assert_eq!(redone["runs_copied"], 1, "{redone:#}");
    assert_eq!(redone["runs_already_copied"], 2, "{redone:#}");

    let back = copied(
        copy_with(
            &[
                "--from",
                &uri,
                "--from-artifacts",
                bucket,
                "--to",
                c.to_str().unwrap(),
            ],
            envs,
        )
        .await,
    );
    assert_eq!(back["runs_copied"], 3, "{back:#}");
    assert_eq!(snapshot(&c).await, before);

    // A user copied is a user who can log in: the same password hash arrived.
    let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["users", "list", "--store"])
        .arg(&c)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice"));
}

/// A store of `experiments` experiments of two runs of `points` points each.
async fn fill_many(dir: &Path, experiments: usize, points: i64) {
    let server = serve(dir).await;
    let client = Client::connect(&server.url()).await.unwrap();
    for e in 0..experiments {
        let id = client.create_experiment(&format!("e{e}")).await.unwrap();
        for _ in 0..2 {
            let run = client
                .start_run()
                .experiment_id(id.clone())
                .start()
                .await
                .unwrap();
            for step in 0..points {
                run.log_metric("loss", step as f64, step).await.unwrap();
            }
            run.finish().await.unwrap();
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_is_finished_by_running_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, c) = (tmp.path().join("a"), tmp.path().join("c"));
    fill_many(&a, 8, 50_000).await;
    let before = snapshot(&a).await;

    // Killed (SIGKILL) once the first experiment is reported copied.
    let (from, to) = (a.clone(), c.clone());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trackd"))
            .arg("copy")
            .arg("--from")
            .arg(&from)
            .arg("--to")
            .arg(&to)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut reported = 0;
        for line in lines.by_ref() {
            if line.unwrap().starts_with("experiment ") {
                reported += 1;
                // Experiment 0 (Default, no runs) and e0.
                if reported == 2 {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
    })
    .await
    .unwrap();

    let done = copied(copy(&["--from", a.to_str().unwrap(), "--to", c.to_str().unwrap()]).await);
    let (copied_now, already) = (
        done["runs_copied"].as_u64().unwrap(),
        done["runs_already_copied"].as_u64().unwrap(),
    );
    assert_eq!(copied_now + already, 16, "{done:#}");
    assert!(
        already >= 2,
        "the first experiment's runs were kept: {done:#}"
    );
    assert_eq!(snapshot(&c).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_finds_a_file_that_differs_and_a_bad_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, c) = (tmp.path().join("a"), tmp.path().join("c"));
    let server = serve(&a).await;
    let client = Client::connect(&server.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let file = tmp.path().join("model.txt");
    std::fs::write(&file, "weights-1").unwrap();
    client.log_artifact(run.id(), &file, None).await.unwrap();
    let run_id = run.id().to_owned();
    run.finish().await.unwrap();
    server.shutdown().await.unwrap();
    copied(copy(&["--from", a.to_str().unwrap(), "--to", c.to_str().unwrap()]).await);

    // The same size, other bytes: only the checksums can tell.
    let copied_file = std::fs::read_dir(c.join("artifacts/0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(&run_id))
        .unwrap()
        .join("artifacts/model.txt");
    std::fs::write(&copied_file, "weights-2").unwrap();
    let (code, json, stderr) =
        copy(&["--from", a.to_str().unwrap(), "--to", c.to_str().unwrap()]).await;
    assert_ne!(code, 0);
    assert_eq!(json["verification"]["passed"], false, "{json:#}");
    assert!(
        stderr.contains("model.txt differs (SHA-256)") && stderr.contains("verification failed"),
        "{stderr}"
    );

    // A source that is not a store is refused before anything is written.
    let (code, _, stderr) = copy(&[
        "--from",
        tmp.path().join("nothing").to_str().unwrap(),
        "--to",
        tmp.path().join("d").to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("no trackd store"), "{stderr}");
    assert!(!tmp.path().join("d").exists());
    // A PostgreSQL store needs its artifact root named.
    let (code, _, stderr) = copy(&[
        "--from",
        a.to_str().unwrap(),
        "--to",
        "postgresql://trackd@127.0.0.1:1/none",
    ])
    .await;
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("--to-artifacts"), "{stderr}");
}

//! The `trackd` tools for people (`experiments`, `runs`, `artifacts`, `metrics`) as a user
//! runs them: the real binary against a real server on 127.0.0.1:0, and on a store
//! directory; outputs parsed, exit codes checked.

use std::process::Command;

use serde_json::Value;
use trackd_client::Client;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `trackd ARGS` (with `MLFLOW_TRACKING_URI=uri`) off the async workers.
async fn trackd(uri: &str, args: &[&str]) -> Output {
    let (uri, args): (String, Vec<String>) =
        (uri.to_owned(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
            .args(&args)
            .env("MLFLOW_TRACKING_URI", uri)
            .env_remove("RUST_LOG")
            .output()
            .expect("the trackd binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn ok(out: &Output) -> &str {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    &out.stdout
}

fn json(out: &Output) -> Value {
    serde_json::from_str(ok(out)).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

async fn server() -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let handle = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(dir.path()),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    (handle, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_are_managed_from_the_command_line() {
    let (server, _dir) = server().await;
    let url = server.url();
    let id = ok(&trackd(&url, &["experiments", "create", "sweep a"]).await)
        .trim()
        .to_owned();
    assert_eq!(id, "1");
    let listed = json(&trackd(&url, &["experiments", "list", "--json"]).await);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sweep a", "Default"]);
    let taken = trackd(&url, &["experiments", "create", "sweep a"]).await;
    assert_eq!(taken.code, 4, "a taken name is refused: {}", taken.stderr);
    assert!(taken.stderr.contains("RESOURCE_ALREADY_EXISTS"));
    ok(&trackd(&url, &["experiments", "rename", "sweep a", "sweep b"]).await);
    ok(&trackd(&url, &["experiments", "delete", "1"]).await);
    let table = ok(&trackd(&url, &["experiments", "list"]).await).to_owned();
    assert!(!table.contains("sweep b"), "{table}");
    let all = ok(&trackd(&url, &["experiments", "list", "--all", "--csv"]).await).to_owned();
    assert!(
        all.starts_with("id,name,lifecycle,created,last update\n"),
        "{all}"
    );
    assert!(all.contains("1,sweep b,deleted,"), "{all}");
    ok(&trackd(&url, &["experiments", "restore", "sweep b"]).await);
    let filtered = json(
        &trackd(
            &url,
            &[
                "experiments",
                "list",
                "--filter",
                "name LIKE 'sweep%'",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let missing = trackd(&url, &["experiments", "delete", "nope"]).await;
    assert_eq!(missing.code, 3);
    assert!(missing.stderr.contains("no experiment named 'nope'"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_searched_described_deleted_and_restored() {
    let (server, _dir) = server().await;
    let url = server.url();
    let client = Client::connect(&url).await.unwrap();
    let exp = client.create_experiment("grid").await.unwrap();
    let mut ids = Vec::new();
    for (i, lr) in ["0.1", "0.01", "0.001"].iter().enumerate() {
        let run = client
            .start_run()
            .experiment_id(&exp)
            .run_name(format!("lr-{lr}"))
            .start()
            .await
            .unwrap();
        run.log_param("lr", *lr).await.unwrap();
        run.set_tag("team", "vision, core").await.unwrap();
        run.log_metric("loss", 1.0 / (i as f64 + 1.0), 0)
            .await
            .unwrap();
        ids.push(run.id().to_owned());
        run.finish().await.unwrap();
    }
    let csv = ok(&trackd(
        &url,
        &[
            "runs",
            "list",
            "-e",
            "grid",
            "--filter",
            "metrics.loss < 0.9",
            "--order-by",
            "metrics.loss ASC",
            "--columns",
            "metrics.loss,params.lr,tags.team",
            "--csv",
        ],
    )
    .await)
    .to_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "run_id,name,status,start,duration,metrics.loss,params.lr,tags.team"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with(&format!("{},lr-0.001,FINISHED,", ids[2])),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",0.3333333333333333,0.001,\"vision, core\""),
        "{csv}"
    );
    let table = ok(&trackd(
        &url,
        &["runs", "list", "-e", &exp, "--columns", "params.lr"],
    )
    .await)
    .to_owned();
    assert!(
        table.lines().next().unwrap().starts_with("run_id"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 4);

    let described = json(&trackd(&url, &["runs", "describe", &ids[0], "--json"]).await);
    assert_eq!(described["info"]["run_name"], "lr-0.1");
    assert_eq!(described["data"]["params"]["lr"], "0.1");
    assert_eq!(described["data"]["metrics"]["loss"]["value"], 1.0);

    ok(&trackd(&url, &["runs", "delete", &ids[0]]).await);
    let active = json(&trackd(&url, &["runs", "list", "-e", "grid", "--json"]).await);
    assert_eq!(active.as_array().unwrap().len(), 2);
    let deleted = json(
        &trackd(
            &url,
            &["runs", "list", "-e", "grid", "--view", "deleted", "--json"],
        )
        .await,
    );
    assert_eq!(deleted[0]["info"]["run_id"], ids[0].as_str());
    ok(&trackd(&url, &["runs", "restore", &ids[0]]).await);
    let limited = json(
        &trackd(
            &url,
            &["runs", "list", "-e", "grid", "--max-results", "2", "--json"],
        )
        .await,
    );
    assert_eq!(limited.as_array().unwrap().len(), 2);

    // Exit codes mean something.
    assert_eq!(
        trackd(
            &url,
            &["runs", "describe", "0123456789abcdef0123456789abcdef"]
        )
        .await
        .code,
        3
    );
    let bad = trackd(
        &url,
        &["runs", "list", "-e", "grid", "--filter", "metrics.loss <"],
    )
    .await;
    assert_eq!(bad.code, 4);
    assert!(
        bad.stderr.contains("Invalid filter at position"),
        "{}",
        bad.stderr
    );
    assert_eq!(
        trackd(&url, &["runs", "list", "--columns", "loss"])
            .await
            .code,
        2
    );
    assert_eq!(trackd(&url, &["runs", "frobnicate"]).await.code, 2);
    let unreachable = trackd("http://127.0.0.1:1", &["runs", "list"]).await;
    assert_eq!(unreachable.code, 5);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_and_histories_travel_both_ways() {
    let (server, dir) = server().await;
    let url = server.url();
    let client = Client::connect(&url).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..20_000 {
        run.log_metric(
            "loss",
            if step == 7 {
                f64::NAN
            } else {
                step as f64 * 0.5
            },
            step,
        )
        .await
        .unwrap();
    }
    run.flush().await.unwrap();
    let id = run.id().to_owned();

    let local = dir.path().join("upload");
    std::fs::create_dir_all(local.join("sub")).unwrap();
    std::fs::write(local.join("a.txt"), "alpha").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(local.join("sub/big.bin"), &big).unwrap();
    ok(&trackd(
        &url,
        &[
            "artifacts",
            "log",
            &id,
            local.to_str().unwrap(),
            "--artifact-path",
            "inputs",
        ],
    )
    .await);
    let listed = json(&trackd(&url, &["artifacts", "list", &id, "inputs", "-r", "--json"]).await);
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"inputs/a.txt") && paths.contains(&"inputs/sub/big.bin"),
        "{paths:?}"
    );
    let dst = dir.path().join("down");
    let printed = ok(&trackd(
        &url,
        &[
            "artifacts",
            "download",
            &id,
            "inputs",
            "-d",
            dst.to_str().unwrap(),
        ],
    )
    .await)
    .trim()
    .to_owned();
    assert_eq!(printed, dst.join("inputs").to_str().unwrap());
    assert_eq!(std::fs::read(dst.join("inputs/sub/big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(dst.join("inputs/a.txt")).unwrap(),
        "alpha"
    );
    assert_eq!(
        trackd(
            &url,
            &[
                "artifacts",
                "download",
                &id,
                "nope.txt",
                "-d",
                dst.to_str().unwrap()
            ]
        )
        .await
        .code,
        3
    );
    assert_eq!(
        trackd(&url, &["artifacts", "log", &id, "/no/such/file"])
            .await
            .code,
        3
    );

    let csv = ok(&trackd(&url, &["metrics", "history", &id, "loss", "--csv"]).await).to_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "step,timestamp,value");
    assert_eq!(lines.len(), 20_001);
    assert!(lines[1].starts_with("0,") && lines[1].ends_with(",0"));
    assert!(lines[8].ends_with(",NaN"), "{}", lines[8]);
    assert!(lines[20_000].starts_with("19999,") && lines[20_000].ends_with(",9999.5"));
    let as_json = json(&trackd(&url, &["metrics", "history", &id, "loss", "--json"]).await);
    assert_eq!(as_json.as_array().unwrap().len(), 20_000);
    assert_eq!(as_json[7]["value"], "NaN");
    assert_eq!(as_json[19_999]["step"], 19_999);
    let missing = trackd(&url, &["metrics", "history", &id, "accuracy"]).await;
    assert_eq!(missing.code, 3);
    assert!(missing.stderr.contains("no metric 'accuracy'"));
    run.finish().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_open_a_store_directory_unless_a_server_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mlruns");
    let store_uri = store.to_str().unwrap();
    ok(&trackd(store_uri, &["experiments", "create", "offline"]).await);
    let listed = json(&trackd(store_uri, &["experiments", "list", "--json"]).await);
    assert_eq!(listed[0]["name"], "offline");
    // While a server has the store open, the tools say to use the server.
    let server = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(&store),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let held = trackd(store_uri, &["experiments", "list"]).await;
    assert_eq!(held.code, 5, "{}", held.stderr);
    assert!(
        held.stderr.to_lowercase().contains("server"),
        "{}",
        held.stderr
    );
    let through_server = json(&trackd(&server.url(), &["experiments", "list", "--json"]).await);
    assert_eq!(through_server[0]["name"], "offline");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_deleted_runs_and_experiments_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let start = || {
        ServerHandle::start(
            "127.0.0.1:0".parse().unwrap(),
            StoreConfig::new(&store),
            ServeOptions::default(),
        )
    };
    let server = start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let kept_exp = client.create_experiment("kept").await.unwrap();
    let gone_exp = client.create_experiment("gone").await.unwrap();
    let payload = dir.path().join("weights.bin");
    std::fs::write(&payload, vec![7u8; 1 << 20]).unwrap();
    let mut ids = Vec::new();
    for exp in [&kept_exp, &kept_exp, &gone_exp] {
        let run = client
            .start_run()
            .experiment_id(exp.as_str())
            .start()
            .await
            .unwrap();
        for step in 0..50_000 {
            run.log_metric("loss", step as f64, step).await.unwrap();
        }
        run.log_artifact(&payload, None).await.unwrap();
        ids.push(run.id().to_owned());
        run.finish().await.unwrap();
    }
    let (kept, deleted_run, in_gone) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    client.delete_run(&deleted_run).await.unwrap();
    client.delete_experiment(&gone_exp).await.unwrap();
    let store_arg = store.to_str().unwrap();

    // While a server holds the store, gc refuses and says why.
    let held = trackd("", &["gc", "--store", store_arg]).await;
    assert_eq!(held.code, 5, "{}", held.stderr);
    server.shutdown().await.unwrap();

    let young = json(
        &trackd(
            "",
            &["gc", "--store", store_arg, "--older-than", "30d", "--json"],
        )
        .await,
    );
    assert_eq!(
        young["runs"].as_array().unwrap().len(),
        0,
        "nothing is 30 days old"
    );
    let active = trackd(
        "",
        &["gc", "--store", store_arg, "--experiment-ids", &kept_exp],
    )
    .await;
    assert_eq!(
        active.code, 4,
        "an active experiment is refused: {}",
        active.stderr
    );
    assert!(
        active.stderr.contains("is not deleted"),
        "{}",
        active.stderr
    );

    let report = json(&trackd("", &["gc", "--store", store_arg, "--json"]).await);
    let mut runs: Vec<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    runs.sort();
    let mut want = vec![deleted_run.as_str(), in_gone.as_str()];
    want.sort();
    assert_eq!(runs, want);
    assert_eq!(report["experiments"], serde_json::json!([gone_exp]));
    assert!(
        report["artifact_bytes_freed"].as_u64().unwrap() >= 2 << 20,
        "{report}"
    );
    assert!(!store
        .join("artifacts")
        .join(&kept_exp)
        .join(&deleted_run)
        .exists());

    // Gone for good; the rest untouched; the name is free again.
    let server = start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    for id in [&deleted_run, &in_gone] {
        let err = client.get_run(id).await.unwrap_err();
        assert_eq!(err.error_code(), Some("RESOURCE_DOES_NOT_EXIST"), "{id}");
    }
    assert!(client.get_experiment(&gone_exp).await.is_err());
    client.create_experiment("gone").await.unwrap();
    assert_eq!(
        client.metric_history(&kept, "loss").await.unwrap().len(),
        50_000
    );
    assert_eq!(
        client.list_artifacts(&kept, "", false).await.unwrap().len(),
        1
    );
    let all = client
        .search_runs()
        .experiments([kept_exp.clone()])
        .view(trackd_client::RunView::All)
        .all()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    server.shutdown().await.unwrap();
    let missing = trackd(
        "",
        &["gc", "--store", dir.path().join("nope").to_str().unwrap()],
    )
    .await;
    assert_eq!(missing.code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_live_store_holds_exactly_what_was_acknowledged_before_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let server = ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(&store),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let url = server.url();
    let client = Client::connect(&url).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    run.log_param("kind", "live").await.unwrap();
    let run_id = run.id().to_owned();
    let handle = run.handle();
    // A writer logs steps in order and publishes how many are acknowledged (flushed).
    let (acked_tx, mut acked_rx) = tokio::sync::watch::channel(0i64);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut step = 0i64;
            while !stop.load(Ordering::Relaxed) && step < 2_000_000 {
                for _ in 0..2000 {
                    handle.log_metric("x", step as f64, step).await.unwrap();
                    step += 1;
                }
                handle.flush().await.unwrap();
                acked_tx.send_replace(step);
            }
            step
        })
    };
    acked_rx.wait_for(|n| *n >= 20_000).await.unwrap();
    let acked_before = *acked_rx.borrow();
    let out = trackd(&url, &["backup", "live-1", "--json"]).await;
    let acked_after = *acked_rx.borrow();
    let report = json(&out);
    stop.store(true, Ordering::Relaxed);
    let total = writer.await.unwrap();
    assert!(total >= acked_after);
    let path = report["path"].as_str().unwrap().to_owned();
    assert!(path.ends_with("backups/live-1"), "{path}");
    // Names are checked, and never reused.
    assert_eq!(trackd(&url, &["backup", "../escape"]).await.code, 4);
    assert_eq!(trackd(&url, &["backup", "live-1"]).await.code, 4);
    run.finish().await.unwrap();
    server.shutdown().await.unwrap();

    let restored = dir.path().join("restored");
    ok(&trackd(
        "",
        &["restore", &path, "--store", restored.to_str().unwrap()],
    )
    .await);
    assert_eq!(
        trackd(
            "",
            &["restore", &path, "--store", restored.to_str().unwrap()]
        )
        .await
        .code,
        4,
        "a store is never overwritten"
    );
    assert_eq!(
        trackd(
            "",
            &["restore", dir.path().to_str().unwrap(), "--store", "/tmp/x"]
        )
        .await
        .code,
        3
    );
    let copy = Client::connect(restored.to_str().unwrap()).await.unwrap();
    let got = copy.get_run(&run_id).await.unwrap();
    assert_eq!(got.data.params["kind"], "live");
    let history = copy.metric_history(&run_id, "x").await.unwrap();
    let k = history.len() as i64;
    // A prefix of the writes, with no gaps: the copy is a cut.
    for (i, p) in history.iter().enumerate() {
        assert_eq!(p.step, i as i64);
    }
    assert!(
        k >= acked_before && k <= acked_after,
        "{acked_before} <= {k} <= {acked_after}: everything acknowledged before the backup, nothing acknowledged after it"
    );
    assert!(k < total, "the writer went on during and after the backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_cannot_be_written_fails_clearly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_uri = store.to_str().unwrap();
    ok(&trackd(store_uri, &["experiments", "create", "kept"]).await);
    // Where backups go is taken by a file: the directory cannot be made.
    std::fs::write(store.join("backups"), "not a directory").unwrap();
    let failed = trackd(store_uri, &["backup", "b1"]).await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("cannot create the backup directory"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        std::fs::read_to_string(store.join("backups")).unwrap(),
        "not a directory"
    );
    // Once the way is clear, a backup in embedded mode (no server) works too.
    std::fs::remove_file(store.join("backups")).unwrap();
    let done = json(&trackd(store_uri, &["backup", "b1", "--json"]).await);
    assert!(done["database_entries"].as_u64().unwrap() > 0);
    let restored = dir.path().join("restored");
    ok(&trackd(
        "",
        &[
            "restore",
            done["path"].as_str().unwrap(),
            "--store",
            restored.to_str().unwrap(),
        ],
    )
    .await);
    let listed = json(
        &trackd(
            restored.to_str().unwrap(),
            &["experiments", "list", "--json"],
        )
        .await,
    );
    assert_eq!(listed[0]["name"], "kept");
}

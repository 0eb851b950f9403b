//! The Rust client against a real server and in embedded mode: run handles, nested runs,
//! concurrency, stream cuts and re-sends, backpressure, errors, dropped runs.

mod common;

use std::time::Duration;

use common::*;
use trackd_client::{Client, ClientError, IngestConfig, RunStatus};
use trackd_proto::v1 as pb;

/// Deletes or restores a run behind the client's back, as another user (or the UI) would.
async fn set_run_deleted(server: &TestServer, run_id: &str, deleted: bool) {
    let mut raw = server.client().await;
    let run_id = run_id.to_owned();
    if deleted {
        raw.delete_run(pb::DeleteRunRequest { run_id })
            .await
            .unwrap();
    } else {
        raw.restore_run(pb::RestoreRunRequest { run_id })
            .await
            .unwrap();
    }
}

async fn assert_full_history(client: &Client, run_id: &str, key: &str, n: i64) {
    let history = client.metric_history(run_id, key).await.unwrap();
    let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    assert_eq!(
        steps,
        (0..n).collect::<Vec<_>>(),
        "every point of {key} exactly once"
    );
}

async fn exercise_handle_api(client: &Client) {
    let exp = client.get_or_create_experiment("handle-api").await.unwrap();
    assert_eq!(
        client.get_or_create_experiment("handle-api").await.unwrap(),
        exp,
        "idempotent"
    );
    let run = client
        .start_run()
        .experiment_id(&exp)
        .run_name("first")
        .tag("team", "a")
        .start()
        .await
        .unwrap();
    run.log_param("lr", 0.01).await.unwrap();
    run.log_params([("layers", 3), ("width", 64)])
        .await
        .unwrap();
    run.set_tag("phase", "train").await.unwrap();
    let iris = trackd_client::Dataset {
        name: "iris".into(),
        digest: "5f3a9c".into(),
        source_type: "local".into(),
        source: r#"{"uri": "data/iris.csv"}"#.into(),
        ..Default::default()
    };
    run.log_input(iris.clone(), Some("train")).await.unwrap();
    run.log_input(iris.clone(), Some("train")).await.unwrap();
    for step in 0..2500 {
        run.log_metrics(
            &[
                ("loss", 1.0 / (step + 1) as f64),
                ("acc", step as f64 / 2500.0),
            ],
            step,
        )
        .await
        .unwrap();
    }
    let err = run.log_param("lr", 0.02).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(err.error_code(), Some("INVALID_PARAMETER_VALUE"));
    let run_id = run.id().to_owned();
    run.finish().await.unwrap();

    let stored = client.get_run(&run_id).await.unwrap();
    let info = stored.info;
    assert_eq!(info.status, RunStatus::Finished);
    assert!(info.end_time.is_some());
    assert_eq!(info.run_name, "first");
    let inputs = stored.datasets;
    assert_eq!(inputs.len(), 1, "the same dataset twice is linked once");
    assert_eq!(inputs[0].dataset, iris);
    assert_eq!(inputs[0].tags["mlflow.data.context"], "train");
    let data = stored.data;
    let tag = |k: &str| data.tags.get(k).cloned();
    assert_eq!(tag("team").as_deref(), Some("a"));
    assert_eq!(tag("phase").as_deref(), Some("train"));
    assert_eq!(tag("mlflow.source.type").as_deref(), Some("LOCAL"));
    assert!(tag("mlflow.user").is_some() && tag("mlflow.source.name").is_some());
    assert_eq!(data.params.len(), 3);
    let loss = data.metrics["loss"];
    assert_eq!(loss.step, 2499);
    assert_full_history(client, &run_id, "loss", 2500).await;
    assert_full_history(client, &run_id, "acc", 2500).await;

    // Nested runs carry their parent.
    let parent = client
        .start_run()
        .experiment_id(&exp)
        .start()
        .await
        .unwrap();
    let child = parent
        .start_child()
        .run_name("child")
        .start()
        .await
        .unwrap();
    let child_run = client.get_run(child.id()).await.unwrap();
    assert_eq!(child_run.data.tags["mlflow.parentRunId"], parent.id());
    assert_eq!(child_run.info.experiment_id, exp);
    child.finish().await.unwrap();
    parent.end(RunStatus::Failed).await.unwrap();
    let runs = client
        .search_runs()
        .experiments([&exp])
        .all()
        .await
        .unwrap();
    assert_eq!(runs.len(), 3);
}

/// The run-handle API works end to end against a server.
#[tokio::test]
async fn handle_api_against_a_server() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    exercise_handle_api(&client).await;
}

/// The same API works embedded: a directory URI runs the Tracker in-process.
#[tokio::test]
async fn handle_api_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::connect(dir.path().to_str().unwrap()).await.unwrap();
    exercise_handle_api(&client).await;
    // A second client on the same directory shares the open store.
    let uri = format!("file://{}", dir.path().display());
    let again = Client::connect(&uri).await.unwrap();
    assert!(again
        .get_experiment_by_name("handle-api")
        .await
        .unwrap()
        .is_some());
}

/// Connecting to nothing or to a bad URI is a clear error.
#[tokio::test]
async fn connection_errors_are_clear() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match Client::connect(&format!("http://127.0.0.1:{port}")).await {
        Err(ClientError::Connect { uri, .. }) => assert!(uri.contains(&port.to_string())),
        other => panic!("expected a connect error, got {:?}", other.err()),
    }
    assert!(matches!(
        Client::connect("s3://bucket/x").await,
        Err(ClientError::Uri { .. })
    ));
    // https:// is a TLS server: nothing listening is a connect error, like http://.
    assert!(matches!(
        Client::connect("https://127.0.0.1:1").await,
        Err(ClientError::Connect { .. })
    ));
}

/// Many tasks log to many runs (and many tasks into one run) through one client at once.
#[tokio::test]
async fn concurrent_runs_from_many_tasks() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let shared = client.start_run().run_name("shared").start().await.unwrap();
    let mut tasks = Vec::new();
    for rank in 0..16i64 {
        let client = client.clone();
        let shared = shared.handle();
        tasks.push(tokio::spawn(async move {
            let own = client
                .start_run()
                .run_name(format!("rank-{rank}"))
                .start()
                .await
                .unwrap();
            for step in 0..5000 {
                own.log_metric("loss", step as f64, step).await.unwrap();
                if step % 10 == 0 {
                    shared
                        .log_metric(&format!("rank{rank}"), step as f64, step / 10)
                        .await
                        .unwrap();
                }
            }
            let id = own.id().to_owned();
            own.finish().await.unwrap();
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    shared.flush().await.unwrap();
    for id in &ids {
        assert_full_history(&client, id, "loss", 5000).await;
    }
    for rank in 0..16 {
        assert_full_history(&client, shared.id(), &format!("rank{rank}"), 500).await;
    }
    shared.finish().await.unwrap();
}

/// Cutting every connection mid-stream loses nothing and duplicates nothing: the client
/// reconnects and re-sends what was not acknowledged, and the server stores each batch once.
#[tokio::test]
async fn stream_cut_midway_resumes_without_loss_or_duplicates() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.handle.addr()).await;
    let config = IngestConfig::default()
        .with_batch_points(500)
        .with_flush_interval(Duration::from_millis(5));
    let client = Client::connect_with(&proxy.url(), config).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..20_000 {
        run.log_metric("x", step as f64, step).await.unwrap();
        if step == 1_000 {
            run.flush().await.unwrap(); // the stream is up and acknowledging
        }
        if step == 5_000 {
            // Acks stop arriving, so batches are stored but unacknowledged; then the cut.
            proxy.pause_downstream(true);
        }
        if step == 10_000 {
            // Make sure a batch is stored but its acknowledgement is held, so the re-send
            // after the cut must be recognised as a duplicate.
            let acked = client
                .ingest_stats()
                .points_acked
                .load(std::sync::atomic::Ordering::Relaxed);
            let addr = server.handle.addr();
            eventually(
                "a batch stored whose acknowledgement is held",
                || async move { server_metric(addr, "trackd_points_ingested_total").await > acked },
            )
            .await;
            proxy.cut();
            proxy.pause_downstream(false);
        }
    }
    run.flush().await.unwrap();
    let stats = client.ingest_stats();
    assert!(
        stats.connections.load(std::sync::atomic::Ordering::Relaxed) >= 2,
        "reconnected"
    );
    assert!(
        stats
            .batches_resent
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "re-sent unacknowledged batches"
    );
    assert!(
        server_metric(
            server.handle.addr(),
            "trackd_stream_batches_duplicate_total"
        )
        .await
            >= 1,
        "the (stream, seq) de-duplication recognised a re-sent batch"
    );
    let direct = Client::connect(&server.handle.url()).await.unwrap();
    assert_full_history(&direct, run.id(), "x", 20_000).await;
    run.finish().await.unwrap();
}

/// The server side of the contract, on the raw RPC: a re-sent (stream, seq) is acknowledged
/// without being stored twice, across streams.
#[tokio::test]
async fn resent_stream_batches_are_stored_once() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let batch = |seq: u64| pb::LogStreamRequest {
        stream_id: "test-stream".into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.clone(),
            metrics: vec![pb::MetricColumns {
                key: "m".into(),
                steps: (0..100).map(|i| seq as i64 * 100 + i).collect(),
                timestamps: vec![1; 100],
                values: vec![0.5; 100],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let first: Vec<_> = (1..=5).map(batch).collect();
    let acks = stream_acks(&mut c, first).await;
    assert_eq!(
        acks.iter().map(|a| a.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(acks
        .iter()
        .all(|a| a.points_stored == 100 && a.durability == pb::Durability::Durable as i32));
    let second: Vec<_> = (3..=7).map(batch).collect();
    let acks = stream_acks(&mut c, second).await;
    let stored: Vec<(u64, u64)> = acks.iter().map(|a| (a.seq, a.points_stored)).collect();
    assert_eq!(stored, vec![(3, 0), (4, 0), (5, 0), (6, 100), (7, 100)]);
    let history = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: run_id.clone(),
            metric_key: "m".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .metrics;
    assert_eq!(history.len(), 700);

    // A refused batch answers with an error and the stream goes on.
    let mut bad = batch(8);
    bad.runs[0].metrics[0].timestamps.pop();
    let acks = stream_acks(&mut c, vec![bad, batch(9)]).await;
    assert_eq!(
        acks[0].error.as_ref().unwrap().error_code,
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(acks[1].points_stored, 100);
}

/// Each run of a batch is judged on its own: a deleted run, a changed param, a bad run id
/// or a value over a limit refuses that run (reported in `run_errors`), and the other runs'
/// points are stored. A re-send of the batch is then a duplicate; so is the re-send of a
/// batch whose every run was refused (it took its sequence number all the same).
#[tokio::test]
async fn refused_runs_do_not_cost_other_runs_of_the_batch() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let good = run(&mut c, "0").await;
    let deleted = run(&mut c, "0").await;
    let param_changed = run(&mut c, "0").await;
    let over_limit = run(&mut c, "0").await;
    c.delete_run(pb::DeleteRunRequest {
        run_id: deleted.clone(),
    })
    .await
    .unwrap();
    c.log_param(pb::LogParamRequest {
        run_id: param_changed.clone(),
        key: "lr".into(),
        value: "0.1".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let writes = |run_id: &str| pb::RunWrites {
        run_id: run_id.to_owned(),
        metrics: vec![pb::MetricColumns {
            key: "m".into(),
            steps: (0..50).collect(),
            timestamps: vec![1; 50],
            values: vec![0.5; 50],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut changed = writes(&param_changed);
    changed.params.push(pb::Param {
        key: "lr".into(),
        value: "0.2".into(),
    });
    let mut long_tag = writes(&over_limit);
    long_tag.tags.push(pb::RunTag {
        key: "notes".into(),
        value: "x".repeat(10_000), // MLflow's limit is 8,000
    });
    let unknown = "0123456789abcdef0123456789abcdef";
    let batch = |seq: u64, runs: Vec<pb::RunWrites>| pb::LogStreamRequest {
        stream_id: "mixed".into(),
        seq,
        runs,
    };
    let all = vec![
        writes(&good),
        writes(&deleted),
        changed.clone(),
        writes("not-a-run-id"),
        long_tag,
        writes(unknown),
    ];
    let requests = vec![
        batch(1, all.clone()),
        batch(1, all),
        batch(2, vec![writes(&deleted)]),
        batch(2, vec![writes(&deleted)]),
    ];
    let acks = stream_acks(&mut c, requests).await;
    let first = &acks[0];
    assert!(first.error.is_none(), "{first:?}");
    assert_eq!(first.points_stored, 50, "the good run's points");
    assert_eq!(first.durability, pb::Durability::Durable as i32);
    let refused: Vec<(&str, &str)> = first
        .run_errors
        .iter()
        .map(|r| {
            (
                r.run_id.as_str(),
                r.error.as_ref().unwrap().error_code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        vec![
            // Limits are checked as the batch arrives, MLflow's rules by the writer.
            ("not-a-run-id", "RESOURCE_DOES_NOT_EXIST"),
            (over_limit.as_str(), "INVALID_PARAMETER_VALUE"),
            (deleted.as_str(), "INVALID_PARAMETER_VALUE"),
            (param_changed.as_str(), "INVALID_PARAMETER_VALUE"),
            (unknown, "RESOURCE_DOES_NOT_EXIST"),
        ]
    );
    let message = &first.run_errors[2].error.as_ref().unwrap().message;
    assert!(
        message.contains("must be in the 'active' state"),
        "{message}"
    );
    assert_eq!(
        (acks[1].points_stored, acks[1].run_errors.len()),
        (0, 0),
        "a re-send of a stored batch is a duplicate"
    );
    assert_eq!(
        (acks[2].points_stored, acks[2].run_errors.len()),
        (0, 1),
        "a batch whose every run is refused: {:?}",
        acks[2]
    );
    assert_eq!(
        (acks[3].points_stored, acks[3].run_errors.len()),
        (0, 0),
        "it still takes its sequence number; a re-send is a duplicate: {:?}",
        acks[3]
    );
    let history = |run_id: String| {
        let mut c = c.clone();
        async move {
            c.get_metric_history(pb::GetMetricHistoryRequest {
                run_id,
                metric_key: "m".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .metrics
            .len()
        }
    };
    assert_eq!(history(good.clone()).await, 50);
    assert_eq!(history(deleted.clone()).await, 0);
    assert_eq!(
        history(param_changed.clone()).await,
        0,
        "a refused run writes nothing"
    );
    assert_eq!(history(over_limit.clone()).await, 0);
}

/// Through the client: a run deleted while another run of the same client logs loses only
/// its own points; the error names it and comes back on flush.
#[tokio::test]
async fn a_deleted_run_does_not_cost_another_runs_points() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let kept = client.start_run().start().await.unwrap();
    let deleted = client.start_run().start().await.unwrap();
    set_run_deleted(&server, deleted.id(), true).await;
    // The refusal comes back on a later call of the deleted run or on its flush, never to
    // the other run.
    let mut errors = Vec::new();
    for step in 0..2000 {
        errors.extend(deleted.log_metric("x", 1.0, step).await.err());
        kept.log_metric("x", 1.0, step)
            .await
            .expect("another run's refusal is not this run's error");
    }
    kept.flush()
        .await
        .expect("the kept run's points are all stored");
    errors.extend(deleted.flush().await.err());
    assert!(!errors.is_empty(), "the refused run was never reported");
    assert!(
        errors.iter().all(|e| e.to_string().contains(deleted.id())),
        "{errors:?}"
    );
    assert_full_history(&client, kept.id(), "x", 2000).await;
    assert_eq!(
        client
            .ingest_stats()
            .points_acked
            .load(std::sync::atomic::Ordering::Relaxed),
        2000,
        "only the stored points count as acknowledged"
    );
    kept.finish().await.unwrap();
    set_run_deleted(&server, deleted.id(), false).await;
    deleted.finish().await.unwrap();
}

use futures::StreamExt;

/// A batch larger than the server's whole ingest budget is stored (it waits for all of the
/// budget rather than for more than exists); one over the batch limit is refused whole.
#[tokio::test]
async fn batches_beyond_the_ingest_budget_are_stored() {
    use trackd_server::tracker::{INGEST_BUDGET_POINTS, MAX_STREAM_BATCH_POINTS};
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let batch = |seq: u64, first_step: usize, n: usize| {
        column_batch("big", seq, &run_id, "m", first_step as i64, n, 0.25)
    };
    let big = INGEST_BUDGET_POINTS + 10_000;
    assert!(big <= MAX_STREAM_BATCH_POINTS);
    let requests = vec![
        batch(1, 0, big),
        batch(2, big, MAX_STREAM_BATCH_POINTS + 1),
        batch(3, big, 5),
    ];
    let acks = tokio::time::timeout(Duration::from_secs(60), stream_acks(&mut c, requests))
        .await
        .expect("a batch larger than the budget must not wait forever");
    assert_eq!(acks[0].points_stored, big as u64);
    assert_eq!(
        acks[1].error.as_ref().unwrap().error_code,
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(acks[2].points_stored, 5);
    let client = Client::connect(&server.handle.url()).await.unwrap();
    assert_full_history(&client, &run_id, "m", big as i64 + 5).await;
}

/// Server-side backpressure: batches that together exceed the ingest budget make the
/// server wait for room (counted on `/metrics`) instead of reading on — the stream is not
/// read meanwhile, so HTTP/2 flow control slows the sender — and every batch is still
/// stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ingest_budget_stops_reading_and_loses_nothing() {
    use trackd_server::tracker::INGEST_BUDGET_POINTS;
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    // Each batch is ~60 % of the budget: two cannot be held at once.
    let n = INGEST_BUDGET_POINTS * 3 / 5;
    let batch = |stream: &str, seq: u64, first_step: usize| {
        column_batch(stream, seq, &run_id, stream, first_step as i64, n, 0.5)
    };
    assert_eq!(
        server_metric(addr, "trackd_ingest_budget_waits_total").await,
        0
    );
    // Two streams, each sending six batches without waiting for acknowledgements.
    let mut sends = Vec::new();
    for stream in ["a", "b"] {
        let requests: Vec<_> = (0..6u64)
            .map(|i| batch(stream, i + 1, i as usize * n))
            .collect();
        let mut c = c.clone();
        sends.push(tokio::spawn(
            async move { stream_acks(&mut c, requests).await },
        ));
    }
    for send in sends {
        let acks = send.await.unwrap();
        assert_eq!(acks.len(), 6);
        assert!(acks
            .iter()
            .all(|a| a.error.is_none() && a.points_stored == n as u64));
    }
    assert!(
        server_metric(addr, "trackd_ingest_budget_waits_total").await > 0,
        "batches beyond the budget waited for room"
    );
    let client = Client::connect(&server.handle.url()).await.unwrap();
    for key in ["a", "b"] {
        assert_full_history(&client, &run_id, key, 6 * n as i64).await;
    }
}

/// A stream takes room in the ingest budget for its next batch before reading it (so a
/// saturating stream waits unread instead of holding a decoded batch). One whose writer goes
/// quiet gives that room back: it must not hold the budget other streams wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gives_back_the_room_it_reserved() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let store = trackd_server::Store::open(trackd_server::StoreConfig::new(dir.path())).unwrap();
    // Room for 20,000 points: a stream expecting another 16,000-point batch leaves too
    // little for one of 12,000.
    let tracker = trackd_server::Tracker::new(store).with_ingest_budget(20_000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = trackd_server::server::ServerHandle::start_on(
        listener,
        tracker,
        trackd_server::server::ServeOptions::default(),
    )
    .unwrap();
    let mut c = connect(&server.url()).await;
    let run_id = run(&mut c, "0").await;
    let batch = |key: &str, seq: u64, first_step: i64, n: usize| {
        column_batch(key, seq, &run_id, key, first_step, n, 0.5)
    };
    // Stream "quiet": one batch of 16,000 points, then nothing, its sender still open.
    let (quiet_tx, quiet_rx) = tokio::sync::mpsc::channel(4);
    quiet_tx.send(batch("quiet", 1, 0, 16_000)).await.unwrap();
    let mut quiet = c
        .clone()
        .log_stream(tokio_stream::wrappers::ReceiverStream::new(quiet_rx))
        .await
        .unwrap()
        .into_inner();
    let first = quiet.next().await.unwrap().unwrap();
    assert_eq!(first.points_stored, 16_000);
    // Stream "busy": batches of 12,000 points, which need the room "quiet" reserved.
    let requests = (0..5u64)
        .map(|i| batch("busy", i + 1, i as i64 * 12_000, 12_000))
        .collect();
    let acks = tokio::time::timeout(Duration::from_secs(30), stream_acks(&mut c, requests))
        .await
        .expect("a quiet stream must not keep the ingest budget from a busy one");
    assert!(acks
        .iter()
        .all(|a| a.error.is_none() && a.points_stored == 12_000));
    // The quiet stream goes on when its writer does.
    quiet_tx.send(batch("quiet", 2, 16_000, 10)).await.unwrap();
    let second = quiet.next().await.unwrap().unwrap();
    assert_eq!((second.seq, second.points_stored), (2, 10));
    drop(quiet_tx);
    let client = Client::connect(&server.url()).await.unwrap();
    assert_full_history(&client, &run_id, "busy", 60_000).await;
    assert_full_history(&client, &run_id, "quiet", 16_010).await;
}

/// A silent stream is closed after the per-stream idle timeout, not kept forever.
#[tokio::test]
async fn idle_streams_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = trackd_server::server::ServeOptions::default();
    options.grpc.stream_idle_timeout = Duration::from_millis(200);
    let handle = start_on_dir(dir.path(), options).await;
    let mut c = connect(&handle.url()).await;
    let (_keep_open, rx) = tokio::sync::mpsc::channel::<pb::LogStreamRequest>(1);
    let mut acks = c
        .log_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let end = acks.next().await.expect("a status").unwrap_err();
    assert_eq!(end.code(), tonic::Code::DeadlineExceeded);
}

/// A full buffer makes logging wait (bounded memory) until acknowledgements free it; then
/// everything arrives once.
#[tokio::test]
async fn backpressure_with_a_tiny_buffer() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.handle.addr()).await;
    let config = IngestConfig::default()
        .with_buffer_points(100)
        .with_batch_points(10)
        .with_flush_interval(Duration::from_millis(5));
    let client = Client::connect_with(&proxy.url(), config).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    proxy.pause_downstream(true);
    let handle = run.handle();
    let logged = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = logged.clone();
    let logging = tokio::spawn(async move {
        for step in 0..1000 {
            handle.log_metric("y", step as f64, step).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // No acknowledgement can arrive, so at most 100 points fit: the logger must come to
    // wait for room (a counted event, not a time window), having logged at most 100.
    let stats = client.ingest_stats();
    eventually("the logger waits for room in the full buffer", || async {
        stats.buffer_waits.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    let before_acks = logged.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        before_acks <= 100 && !logging.is_finished(),
        "{before_acks} points logged without acknowledgements: the buffer is not bounded"
    );
    proxy.pause_downstream(false);
    logging.await.unwrap();
    run.flush().await.unwrap();
    assert_full_history(&client, run.id(), "y", 1000).await;
    run.finish().await.unwrap();
}

/// A batch refused by the server surfaces on flush (and the next call sees no stale error).
#[tokio::test]
async fn delivery_errors_surface_on_flush() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    set_run_deleted(&server, run.id(), true).await;
    run.log_metric("z", 1.0, 0).await.unwrap();
    let err = run.flush().await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.to_string().contains("must be in the 'active' state"),
        "{err}"
    );
    run.flush().await.expect("the error is reported once");
    set_run_deleted(&server, run.id(), false).await;
    run.finish().await.unwrap();
}

/// A batch refused by the server also surfaces on a later logging call, without a flush of
/// that run: the training loop learns of it at its next `log_metric`.
#[tokio::test]
async fn delivery_errors_surface_on_the_next_call() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let other = client.start_run().start().await.unwrap();
    set_run_deleted(&server, run.id(), true).await;
    run.log_metric("z", 1.0, 0).await.unwrap(); // buffered; the server will refuse it
                                                // Flushing another run waits for every acknowledgement of the client, the refusal
                                                // included, and leaves this run's error to this run.
    other
        .flush()
        .await
        .expect("another run's refusal is not this run's");
    let err = run.log_metric("z", 1.0, 1).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.to_string().contains("must be in the 'active' state"),
        "{err}"
    );
    set_run_deleted(&server, run.id(), false).await;
    run.log_metric("after", 2.0, 0).await.unwrap();
    run.flush()
        .await
        .expect("reported once, nothing refused since");
    assert_eq!(
        client
            .metric_history(run.id(), "after")
            .await
            .unwrap()
            .len(),
        1
    );
    other.finish().await.unwrap();
    run.finish().await.unwrap();
}

/// Dropping a run without finishing it ends it as KILLED (with its metrics flushed).
#[tokio::test]
async fn dropped_run_is_killed() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let id = run.id().to_owned();
    run.log_metric("m", 1.0, 0).await.unwrap();
    drop(run);
    eventually("the dropped run is KILLED", || {
        let client = client.clone();
        let id = id.clone();
        async move { client.get_run(&id).await.unwrap().info.status == RunStatus::Killed }
    })
    .await;
    assert_eq!(client.metric_history(&id, "m").await.unwrap().len(), 1);
}

/// A run dropped while its task panics is ended FAILED, not KILLED (the README's promise).
#[tokio::test]
async fn a_run_dropped_by_a_panicking_task_ends_failed() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let id = run.id().to_owned();
    let task = tokio::spawn(async move {
        run.log_metric("m", 1.0, 0).await.unwrap();
        panic!("training blew up (on purpose)");
    });
    assert!(task.await.unwrap_err().is_panic());
    eventually("the run is FAILED", || {
        let client = client.clone();
        let id = id.clone();
        async move { client.get_run(&id).await.unwrap().info.status == RunStatus::Failed }
    })
    .await;
}

/// Resuming a run by id sets it RUNNING again and keeps its data.
#[tokio::test]
async fn resume_by_id() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    run.log_metric("m", 1.0, 0).await.unwrap();
    let id = run.id().to_owned();
    run.finish().await.unwrap();
    let resumed = client.resume_run(&id).await.unwrap();
    assert_eq!(
        client.get_run(&id).await.unwrap().info.status,
        RunStatus::Running
    );
    resumed.log_metric("m", 2.0, 1).await.unwrap();
    resumed.finish().await.unwrap();
    assert_full_history(&client, &id, "m", 2).await;
}

/// `--durability buffered`: acknowledgements say BUFFERED (not a false DURABLE), the
/// points are readable at once, and a graceful shutdown makes them durable.
#[tokio::test]
async fn buffered_mode_acknowledges_buffered_and_keeps_data_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = trackd_server::StoreConfig::new(dir.path());
    config.durability = trackd_server::Durability::Buffered;
    let handle = trackd_server::server::ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        config,
        trackd_server::server::ServeOptions::default(),
    )
    .await
    .unwrap();
    let mut c = connect(&handle.url()).await;
    let run_id = run(&mut c, "0").await;
    let batch = |seq: u64| pb::LogStreamRequest {
        stream_id: "buffered".into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.clone(),
            metrics: vec![pb::MetricColumns {
                key: "m".into(),
                steps: vec![seq as i64],
                timestamps: vec![1],
                values: vec![0.5],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let acks = stream_acks(&mut c, vec![batch(1), batch(2)]).await;
    assert!(acks
        .iter()
        .all(|a| a.durability == pb::Durability::Buffered as i32 && a.points_stored == 1));
    let client = Client::connect(&handle.url()).await.unwrap();
    assert_eq!(client.metric_history(&run_id, "m").await.unwrap().len(), 2);
    drop(client);
    handle.shutdown().await.unwrap();
    let again = start_on_dir(dir.path(), trackd_server::server::ServeOptions::default()).await;
    let client = Client::connect(&again.url()).await.unwrap();
    assert_eq!(client.metric_history(&run_id, "m").await.unwrap().len(), 2);
    again.shutdown().await.unwrap();
}

/// The run-search builder against a server: views, filters, order, pages and the stream
/// agree, and a bad filter is refused with INVALID_ARGUMENT.
#[tokio::test]
async fn search_runs_builder_views_pages_and_errors() {
    use futures::TryStreamExt;
    use trackd_client::RunView;
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let exp = client.create_experiment("builder").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let run = client
            .start_run()
            .experiment_id(&exp)
            .start()
            .await
            .unwrap();
        run.log_param("i", i).await.unwrap();
        ids.push(run.id().to_owned());
        run.finish().await.unwrap();
    }
    set_run_deleted(&server, &ids[0], true).await;
    let search = || client.search_runs().experiments([&exp]);
    assert_eq!(search().all().await.unwrap().len(), 4);
    let deleted = search().view(RunView::DeletedOnly).all().await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].info.run_id, ids[0]);
    assert_eq!(search().view(RunView::All).all().await.unwrap().len(), 5);
    let ordered: Vec<String> = search()
        .order_by(["params.i ASC"])
        .max_results(1)
        .stream()
        .map_ok(|r| r.data.params["i"].clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ordered,
        ["1", "2", "3", "4"],
        "one per page, in order, each once"
    );
    let page = search().filter("params.i = '3'").page().await.unwrap();
    assert_eq!(page.runs.len(), 1);
    assert!(page.next_page_token.is_empty());
    let err = search().filter("metrics.x >").all().await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

/// Every acknowledged batch has its latency on both sides: the client's `ack_latency`
/// counts one per batch (quantiles ordered, bounded by the max), and the server's
/// `trackd_stream_ack_seconds` histogram on `/metrics` counts every batch it answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_latency_is_recorded_per_batch_on_both_sides() {
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let before = server_metric(addr, "trackd_stream_ack_seconds_count").await;
    let config = trackd_client::IngestConfig::default().with_batch_points(1000);
    let client = Client::connect_with(&server.handle.url(), config)
        .await
        .unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..10_000i64 {
        run.log_metric("loss", step as f64, step).await.unwrap();
        if step % 2_000 == 1_999 {
            run.flush().await.unwrap();
        }
    }
    run.flush().await.unwrap();
    let stats = client.ingest_stats();
    let latency = &stats.ack_latency;
    let batches = stats
        .batches_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(batches >= 10, "{batches} batches");
    assert_eq!(latency.count(), batches);
    let (p50, p99, max) = (
        latency.quantile(0.5).unwrap(),
        latency.quantile(0.99).unwrap(),
        latency.max().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{p50:?} {p99:?} {max:?}");
    assert!(max < std::time::Duration::from_secs(30), "{max:?}");
    let answered = server_metric(addr, "trackd_stream_ack_seconds_count").await - before;
    assert_eq!(answered, batches);
    let (status, body) = http(addr, "GET", "/metrics", None, b"").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("# TYPE trackd_stream_ack_seconds histogram")
            && text.contains(&format!(
                "trackd_stream_ack_seconds_bucket{{le=\"+Inf\"}} {}",
                before + answered
            )),
        "{text}"
    );
    run.finish().await.unwrap();
}

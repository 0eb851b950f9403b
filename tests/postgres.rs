//! What only the PostgreSQL backend promises: several replicas on one database behave as
//! one server (MLflow's write rules under racing writers, LogStream re-sends to another
//! replica neither lost nor doubled, a search on one replica sees what another
//! acknowledged), and the schema is versioned. (The rest of the suite runs on PostgreSQL
//! too, in `.ci/run`'s second pass.)

mod common;

use std::collections::BTreeSet;

use common::postgres::Postgres;
use common::*;
use trackd_proto::v1 as pb;
use trackd_server::server::{ServeOptions, ServerHandle};

/// Two replicas serving one fresh database.
struct Replicas {
    a: ServerHandle,
    b: ServerHandle,
    _dir: tempfile::TempDir,
    _cluster: Postgres,
}

async fn replicas() -> Option<Replicas> {
    let cluster = Postgres::start()?;
    let uri = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let a = start_on_postgres(&uri, dir.path(), ServeOptions::default()).await;
    let b = start_on_postgres(&uri, dir.path(), ServeOptions::default()).await;
    Some(Replicas {
        a,
        b,

        _dir: dir,
        _cluster: cluster,
    })
}

fn params(run_id: &str, key: &str, value: &str) -> pb::LogBatchRequest {
    pb::LogBatchRequest {
        run_id: run_id.into(),
        params: vec![pb::Param {
            key: key.into(),
            value: value.into(),
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_on_two_replicas_keep_mlflows_rules() {
    let Some(r) = replicas().await else { return };
    let mut a = connect(&r.a.url()).await;
    let exp = experiment(&mut a, "races").await;
    let run_id = run(&mut a, &exp).await;

    // 16 writers, alternating replicas, each logging param "lr" with its own value: exactly
    // one value is stored; every other writer is told the param is write-once.
    let mut writers = Vec::new();
    for i in 0..16 {
        let url = if i % 2 == 0 { r.a.url() } else { r.b.url() };
        let run_id = run_id.clone();
        writers.push(tokio::spawn(async move {
            let mut c = connect(&url).await;
            c.log_batch(params(&run_id, "lr", &format!("0.{i}"))).await
        }));
    }
    let mut won = Vec::new();
    for (i, w) in writers.into_iter().enumerate() {
        match w.await.unwrap() {
            Ok(_) => won.push(i),
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
                assert!(status
                    .message()
                    .contains("Changing param values is not allowed"));
            }
        }
    }
    assert_eq!(
        won.len(),
        1,
        "exactly one writer's value is stored: {won:?}"
    );
    let mut b = connect(&r.b.url()).await;
    let stored = get_run(&mut b, &run_id).await.data.unwrap().params;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, format!("0.{}", won[0]));
    // The same value again is accepted on either replica.
    a.log_batch(params(&run_id, "lr", &stored[0].value))
        .await
        .unwrap();

    // 16 creators of one experiment name on two replicas: one id, 15 "already exists".
    let mut creators = Vec::new();
    for i in 0..16 {
        let url = if i % 2 == 0 { r.a.url() } else { r.b.url() };
        creators.push(tokio::spawn(async move {
            let mut c = connect(&url).await;
            c.create_experiment(pb::CreateExperimentRequest {
                name: "one-name".into(),
                ..Default::default()
            })
            .await
        }));
    }
    let mut created = BTreeSet::new();
    for c in creators {
        match c.await.unwrap() {
            Ok(reply) => {
                created.insert(reply.into_inner().experiment_id);
            }
            Err(status) => assert_eq!(status.code(), tonic::Code::AlreadyExists, "{status:?}"),
        }
    }
    assert_eq!(created.len(), 1, "one experiment made: {created:?}");

    // A run deleted on B refuses writes sent to A.
    b.delete_run(pb::DeleteRunRequest {
        run_id: run_id.clone(),
    })
    .await
    .unwrap();
    let refused = a.log_batch(params(&run_id, "other", "x")).await;
    let status = expect_code(refused, tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("must be in the 'active' state"),
        "{status:?}"
    );
    r.a.shutdown().await.unwrap();
    r.b.shutdown().await.unwrap();
}

fn batch(stream: &str, run_id: &str, seq: u64) -> pb::LogStreamRequest {
    pb::LogStreamRequest {
        stream_id: stream.into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.into(),
            metrics: vec![pb::MetricColumns {
                key: "loss".into(),
                steps: (0..1000).map(|i| (seq as i64 - 1) * 1000 + i).collect(),
                timestamps: vec![1_700_000_000_000; 1000],
                values: (0..1000)
                    .map(|i| 1.0 / (seq as f64 * 1000.0 + i as f64))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resent_to_another_replica_is_stored_once() {
    let Some(r) = replicas().await else { return };
    let mut a = connect(&r.a.url()).await;
    let exp = experiment(&mut a, "failover").await;
    let run_id = run(&mut a, &exp).await;
    // Batches 1..=5 acknowledged by A; then A goes away.
    let acks = stream_acks(&mut a, (1..=5).map(|s| batch("s1", &run_id, s)).collect()).await;
    assert_eq!(acks.iter().map(|a| a.seq).max(), Some(5));
    assert!(acks.iter().all(|a| a.error.is_none()));
    r.a.shutdown().await.unwrap();
    // The client did not see the last acknowledgements, so it re-sends 3..=8 to B: 3..=5
    // are recognised as stored, 6..=8 are new.
    let mut b = connect(&r.b.url()).await;
    let acks = stream_acks(&mut b, (3..=8).map(|s| batch("s1", &run_id, s)).collect()).await;
    let stored: u64 = acks.iter().map(|a| a.points_stored).sum();
    assert_eq!(stored, 3000, "only batches 6..=8 are new: {acks:?}");
    // A gap is refused on B as it would be on A.
    let gap = stream_acks(&mut b, vec![batch("s1", &run_id, 10)]).await;
    assert!(gap[0].error.is_some(), "{gap:?}");

    let history = b
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: run_id.clone(),
            metric_key: "loss".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .metrics;
    let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    assert_eq!(
        steps,
        (0..8000).collect::<Vec<_>>(),
        "every point exactly once"
    );
    r.b.shutdown().await.unwrap();
}

async fn count_matching(c: &mut TrackingClient, exp: &str, filter: &str) -> usize {
    c.search_runs(pb::SearchRunsRequest {
        experiment_ids: vec![exp.to_owned()],
        filter: filter.into(),
        max_results: 1000,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .runs
    .len()
}

type TrackingClient =
    trackd_proto::v1::tracking_service_client::TrackingServiceClient<tonic::transport::Channel>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_on_one_replica_sees_what_the_other_acknowledged() {
    let Some(r) = replicas().await else { return };
    let mut a = connect(&r.a.url()).await;
    let mut b = connect(&r.b.url()).await;
    let exp = experiment(&mut a, "visible").await;
    let log_acc = |run_id: String, acc: f64, step: i64| pb::LogBatchRequest {
        run_id,
        metrics: vec![metric("acc", acc, 1, step)],
        ..Default::default()
    };
    let mut runs = Vec::new();
    for i in 0..20 {
        let run_id = run(&mut a, &exp).await;
        a.log_batch(log_acc(run_id.clone(), i as f64 / 20.0, 0))
            .await
            .unwrap();
        runs.push(run_id);
        // Immediately after A's acknowledgement, B's search counts it.
        assert_eq!(
            count_matching(&mut b, &exp, "metrics.acc >= 0").await,
            i + 1
        );
    }
    // B now holds every run decoded; changes made through A are seen all the same: a new
    // latest value, a tag, a deletion.
    a.log_batch(log_acc(runs[0].clone(), -1.0, 1))
        .await
        .unwrap();
    assert_eq!(count_matching(&mut b, &exp, "metrics.acc >= 0").await, 19);
    a.set_tag(pb::SetTagRequest {
        run_id: runs[1].clone(),
        key: "seen".into(),
        value: "yes".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(count_matching(&mut b, &exp, "tags.seen = 'yes'").await, 1);
    a.delete_run(pb::DeleteRunRequest {
        run_id: runs[2].clone(),
    })
    .await
    .unwrap();
    assert_eq!(count_matching(&mut b, &exp, "").await, 19);
    r.a.shutdown().await.unwrap();
    r.b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_trackd_is_refused() {
    use trackd_server::store::postgres::{schema::SCHEMA_VERSION, PgConfig, PgStore};
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let uri = cluster.database();
    // First start migrates; a second start finds the schema current.
    let store = PgStore::open(PgConfig::new(&uri)).await.unwrap();
    drop(store);
    let db = uri.rsplit('/').next().unwrap();
    assert_eq!(
        cluster.psql(db, "SELECT version FROM trackd_schema").trim(),
        SCHEMA_VERSION.to_string()
    );
    PgStore::open(PgConfig::new(&uri)).await.unwrap();
    cluster.psql(db, "UPDATE trackd_schema SET version = version + 1");
    let err = PgStore::open(PgConfig::new(&uri))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("newer than this build"), "{err}");
    // A wrong address is a clear error, not a hang or a panic.
    let err = PgStore::open(PgConfig::new("postgresql://trackd@127.0.0.1:1/nowhere"))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
}

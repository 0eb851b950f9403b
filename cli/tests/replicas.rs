//! Replicas of the real binary on one PostgreSQL database behave as one server: a client
//! given both addresses keeps streaming while each replica in turn is killed with SIGKILL
//! mid-stream, and every point it logged is stored exactly once.

mod common;
#[path = "../../tests/support/postgres.rs"]
mod postgres;

use std::process::Child;
use std::sync::atomic::Ordering;

use common::start;
use postgres::Postgres;
use trackd_client::Client;

/// A replica process, killed if the test ends (or fails) with it still running.
struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replica(uri: &str, store: &std::path::Path, port: &str) -> (Replica, String) {
    let (child, addr) = start(
        &[
            "--port",
            port,
            "--backend-store-uri",
            uri,
            "--store",
            store.to_str().unwrap(),
        ],
        &[],
    );
    (Replica(child), addr)
}

fn kill9(replica: &mut Replica) {
    replica.0.kill().unwrap(); // SIGKILL
    replica.0.wait().unwrap();
}

fn value(step: i64) -> f64 {
    1.0 / (1.0 + step as f64)
}

async fn log_steps(client: &Client, run_id: &str, steps: std::ops::Range<i64>) {
    for step in steps {
        client
            .log_metric(run_id, "loss", value(step), step, 1_700_000_000_000 + step)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_streams_on_while_each_replica_is_killed_in_turn() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let uri = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, addr_a) = replica(&uri, &dir.path().join("a"), "0");
    let (mut b, addr_b) = replica(&uri, &dir.path().join("b"), "0");
    let client = Client::connect(&format!("http://{addr_a},http://{addr_b}"))
        .await
        .unwrap();
    let run = client.start_run().experiment_id("0").start().await.unwrap();
    let run_id = run.id().to_owned();

    // Phase 1 is logged, and A dies while it is being streamed (nothing flushed yet).
    log_steps(&client, &run_id, 0..100_000).await;
    kill9(&mut a);
    log_steps(&client, &run_id, 100_000..200_000).await;
    client.flush().await.unwrap();

    // A comes back on its address; then B dies mid-stream.
    let port_a = addr_a.rsplit(':').next().unwrap();
    let (mut a, _) = replica(&uri, &dir.path().join("a"), port_a);
    log_steps(&client, &run_id, 200_000..300_000).await;
    kill9(&mut b);
    log_steps(&client, &run_id, 300_000..400_000).await;
    client.flush().await.unwrap();
    run.finish().await.unwrap();

    // Both kills broke the stream: it was opened three times (A, then B, then A again).
    let stats = client.ingest_stats();
    let streams = stats.connections.load(Ordering::Relaxed);
    assert!(streams >= 3, "streams opened: {streams}");
    assert_eq!(stats.points_acked.load(Ordering::Relaxed), 400_000);

    let history = client.metric_history(&run_id, "loss").await.unwrap();
    assert_eq!(history.len(), 400_000, "every point exactly once");
    for (i, m) in history.iter().enumerate() {
        assert_eq!(m.step, i as i64);
        assert_eq!(m.value, value(m.step));
    }
    kill9(&mut a);
}

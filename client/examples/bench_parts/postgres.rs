//! `--postgres`: the PostgreSQL backend (issue 17), in one sitting on one throwaway cluster
//! (`.ci/postgres start`, durable: fsync and synchronous commit on, as a production
//! PostgreSQL), every server a child process of this binary (`--serve URI`):
//!
//! 1. LogStream ingest on one replica (8 clients × steps × 4 keys, durable acks), then on
//!    two replicas of one database (8 clients on each, the same points in all).
//! 2. REST `log-batch` (1,000 metrics per request, keep-alive HTTP/1.1, 1 and 4 clients) on
//!    trackd, then on MLflow 3.17's own server over a database of the same cluster (the
//!    tools venv's `mlflow`, with `psycopg[binary]`, the driver MLflow 3 uses).
//! 3. SearchRuns with a two-clause filter over 10,000 runs (10 params, 10 metrics, 5 tags
//!    each), p50 of 20.
//! 4. The full history of a 1,000,000-point metric read by the client, p50 of 20.
//! 5. Stored bytes per point: the size of `trackd_metric_chunks` (table, TOAST and index)
//!    over the points in it, for the one-replica ingest (32 long series) and for the reads
//!    database (one 1 M-point series and 100,000 one-point series of the 10,000 runs).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ServerChild, log_ranks, million_point_history, p50_ms, populate, rest_load};
use trackd_client::Client;
use trackd_proto::v1 as pb;

/// A throwaway cluster, stopped when dropped.
pub(super) struct Cluster {
    dir: std::path::PathBuf,
    uri: String,
}

impl Cluster {
    pub(super) fn start(dir: &Path) -> Cluster {
        let out = Command::new("bash")
            .arg(".ci/postgres")
            .args(["start", dir.to_str().unwrap()])
            .env("TRACKD_PG_DURABLE", "1")
            .output()
            .expect("run .ci/postgres (from the repository root)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster {
            dir: dir.to_owned(),
            uri: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        }
    }

    fn psql(&self, database: &str, sql: &str) -> String {
        let port = self
            .uri
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-U",
                "trackd",
                "-d",
                database,
                "-At",
            ])
            .args(["-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A new database; its URI.
    pub(super) fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.uri.replace("/postgres", &format!("/{name}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(".ci/postgres")
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

/// MLflow's own tracking server over `uri`, stopped when dropped.
struct MlflowServer {
    child: Child,
    addr: String,
}

impl MlflowServer {
    async fn start(uri: &str, artifacts: &Path) -> MlflowServer {
        let python = std::env::var("TRACKD_TEST_PYTHON")
            .unwrap_or_else(|_| "target/ci-tools/bin/python".into());
        let ok = Command::new(&python)
            .args(["-c", "import psycopg"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let pip = Path::new(&python).with_file_name("pip");
            let status = Command::new(pip)
                .args(["install", "--quiet", "psycopg[binary]"])
                .status()
                .unwrap();
            assert!(status.success(), "pip install psycopg[binary]");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&python)
            .args(["-m", "mlflow", "server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--backend-store-uri", uri])
            .arg("--artifacts-destination")
            .arg(artifacts)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mlflow server");
        let addr = format!("127.0.0.1:{port}");
        // MLflow creates its schema on first start (tens of seconds); bounded wait.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if tokio::net::TcpStream::connect(&addr).await.is_ok()
                && super::get_body(&addr, "/health").await.0 == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "mlflow server did not come up");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        MlflowServer { child, addr }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Size of `trackd_metric_chunks` (table, TOAST, index) over the points it holds.
fn bytes_per_point(cluster: &Cluster, uri: &str) -> f64 {
    let db = uri.rsplit('/').next().unwrap();
    let bytes: f64 = cluster
        .psql(db, "SELECT pg_total_relation_size('trackd_metric_chunks')")
        .parse()
        .unwrap();
    let points: f64 = cluster
        .psql(db, "SELECT sum(count) FROM trackd_metric_chunks")
        .parse()
        .unwrap();
    bytes / points
}

pub async fn postgres(dir: &Path, quick: bool) {
    let cluster = Cluster::start(&dir.join("cluster"));
    let steps: i64 = if quick { 25_000 } else { 125_000 };
    let mut json = Vec::new();

    // 1. LogStream ingest: one replica, then two on one database.
    let uri = cluster.database("ingest_one");
    let server = ServerChild::spawn(Path::new(&uri), "durable");
    let one = log_ranks(&server.url, steps).await;
    server.stop();
    let long_series = bytes_per_point(&cluster, &uri);
    println!(
        "stream ingest, 1 replica: {} points in {:.2} s = {:.0} points/s (8 clients, durable acks)",
        one.points,
        one.seconds,
        one.rate()
    );
    let uri = cluster.database("ingest_two");
    let (a, b) = (
        ServerChild::spawn(Path::new(&uri), "durable"),
        ServerChild::spawn(Path::new(&uri), "durable"),
    );
    let started = Instant::now();
    let (fa, fb) = tokio::join!(log_ranks(&a.url, steps / 2), log_ranks(&b.url, steps / 2));
    let two_seconds = started.elapsed().as_secs_f64();
    let two_points = fa.points + fb.points;
    a.stop();
    b.stop();
    let two_rate = two_points as f64 / two_seconds;
    println!(
        "stream ingest, 2 replicas: {two_points} points in {two_seconds:.2} s = {two_rate:.0} points/s (8 clients on each); {:.2}× one replica",
        two_rate / one.rate()
    );
    json.push(format!(
        "\"stream_one_replica_points_per_s\":{:.0},\"stream_two_replicas_points_per_s\":{two_rate:.0}",
        one.rate()
    ));

    // 2. REST log-batch: trackd on PostgreSQL, then MLflow on the same cluster.
    let uri = cluster.database("rest_trackd");
    let server = ServerChild::spawn(Path::new(&uri), "durable");
    let addr = server.url.trim_start_matches("http://").to_owned();
    let requests = if quick { 50 } else { 200 };
    let trackd_one = rest_load(&addr, 1, requests).await;
    let trackd_four = rest_load(&addr, 4, requests).await;
    server.stop();
    let mlflow_uri = cluster.database("rest_mlflow");
    let mlflow = MlflowServer::start(&mlflow_uri, &dir.join("mlflow-artifacts")).await;
    let mlflow_requests = if quick { 5 } else { 20 };
    let mlflow_one = rest_load(&mlflow.addr, 1, mlflow_requests).await;
    let mlflow_four = rest_load(&mlflow.addr, 4, mlflow_requests).await;
    drop(mlflow);
    println!(
        "rest log-batch on PostgreSQL, 1 client: trackd {trackd_one:.0} points/s, MLflow 3.17 {mlflow_one:.0} points/s = {:.0}×",
        trackd_one / mlflow_one
    );
    println!(
        "rest log-batch on PostgreSQL, 4 clients: trackd {trackd_four:.0} points/s, MLflow 3.17 {mlflow_four:.0} points/s = {:.0}×",
        trackd_four / mlflow_four
    );
    json.push(format!(
        "\"rest_trackd_1\":{trackd_one:.0},\"rest_trackd_4\":{trackd_four:.0},\"rest_mlflow_1\":{mlflow_one:.0},\"rest_mlflow_4\":{mlflow_four:.0}"
    ));

    // 3. and 4. Reads, and 5. bytes per point.
    let uri = cluster.database("reads");
    let server = ServerChild::spawn(Path::new(&uri), "durable");
    let channel = tonic::transport::Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let stub = pb::tracking_service_client::TrackingServiceClient::new(channel)
        .max_decoding_message_size(256 << 20);
    let exp = stub
        .clone()
        .create_experiment(pb::CreateExperimentRequest {
            name: "search-10k".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .experiment_id;
    let runs = if quick { 2_000 } else { 10_000 };
    let started = Instant::now();
    populate(&stub, &exp, runs).await;
    let load = started.elapsed().as_secs_f64();
    let filter = "metrics.m0 > 0.5 AND params.p1 = 'v3'";
    let search = p50_ms(|| {
        let mut stub = stub.clone();
        let exp = exp.clone();
        async move {
            stub.search_runs(pb::SearchRunsRequest {
                experiment_ids: vec![exp],
                filter: filter.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    })
    .await;
    println!(
        "search over {runs} runs ({load:.1} s to create them): '{filter}', p50 {search:.1} ms"
    );
    let client = Client::connect(&server.url).await.unwrap();
    let (run, history) = million_point_history(&client).await;
    println!("full history of a 1,000,000-point metric: p50 {history:.1} ms");
    run.finish().await.unwrap();
    server.stop();
    let mixed = bytes_per_point(&cluster, &uri);
    println!(
        "stored (trackd_metric_chunks: table + TOAST + index): {long_series:.2} bytes per point for the ingest's 32 long series; {mixed:.2} for the reads database (1 M points in one series, 100,000 points in one-point series)"
    );
    json.push(format!(
        "\"search_p50_ms\":{search:.1},\"search_runs\":{runs},\"history_1m_p50_ms\":{history:.1},\"bytes_per_point_long_series\":{long_series:.2},\"bytes_per_point_reads_db\":{mixed:.2}"
    ));
    println!("{{\"workload\":\"postgres\",{}}}", json.join(","));
}

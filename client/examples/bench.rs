//! trackd's benchmark. Prints a line per figure and one final JSON line.
//!
//! ```text
//! cargo run --release -p trackd-client --example bench            # full size
//! cargo run --release -p trackd-client --example bench -- --quick # 1/10 of the points
//! ```
//!
//! Workloads (all on 127.0.0.1, every loop bounded):
//! 1. `stream_ingest`: a trackd server in a child process (this binary with `--serve`), 8
//!    concurrent runs (one client each) × 250,000 steps × 4 keys (one `log_metrics_at` call
//!    per step, as a training loop does) through the client's buffered LogStream path,
//!    durable acks; the clock stops when every client's `finish()`
//!    returned (all points fsynced). Also: the server's peak RSS (VmHWM) and the store's size
//!    on disk after a graceful shutdown, per point.
//! 2. `store_ceiling`: the same points through `Tracker::log_stream_batch` in-process (no
//!    gRPC, no client), 16,384-point batches from 8 tasks: the ceiling for (1).
//! 3. `unary_log_metric`: sequential LogMetric calls to a server child in durable and in
//!    buffered mode, latency p50/p99.
//!
//! With `--queries` it measures reads instead: SearchRuns with a 2-clause filter over
//! 10,000 and over 1,000 runs (each with 10 params, 10 metrics, 5 tags), the full history of
//! a 1,000,000-point metric over gRPC, and that history sampled to 1,000 points (p50 of 20
//! calls each, server child process, 127.0.0.1).
//!
//! With `--history` it measures long history reads: series of 1 M, 10 M and 50 M points
//! (`--quick`: 1 M, 2 M, 5 M) logged through the client to a server child, then read back
//! whole with `metric_history_stream` (points counted, not kept): points/s, and the peak RSS
//! of the server and of this process during each read (VmHWM reset through `clear_refs`
//! before it). Then MLflow's REST `get-history` of the 1 M series, 1 and 8 requests at once,
//! with the server's peak RSS.
//!
//! With `--rest` it measures MLflow REST ingest: `POST /api/2.0/mlflow/runs/log-batch` with
//! 1000 metrics per request (MLflow's limit) over keep-alive HTTP/1.1 connections, 1 and 4
//! concurrent clients, each waiting for its answer (durable) before the next request.
//!
//! With `--embedded` it measures the stream-ingest workload (1) through the client's embedded
//! mode instead: the tracking URI is a store directory, the Tracker runs in this process.
//!
//! With `--models` it measures MLflow 3 model searches instead: 10,000 logged models and
//! 10,000 registered models (with a version each) created over REST in a server child, then
//! the p50 of `logged-models/search` and `registered-models/search` with a filter.
//!
//! With `--ui` it measures the web UI's budgets (`bench_parts/ui.rs`): page and chart
//! request times and sizes over a 10,000-run experiment and a run with 10 × 1 M points,
//! plus the browser's figures when Playwright and Chromium are installed.
//!
//! With `--secure` it measures what `--auth` and TLS cost (`bench_parts/secure.rs`): stream
//! ingest, unary latency and REST log-batch without and with them, alternating.
//!
//! With `--postgres` it measures the PostgreSQL backend (`bench_parts/postgres.rs`): stream
//! ingest on one and on two replicas, REST log-batch against MLflow 3.17 on the same
//! PostgreSQL, a 10,000-run search, a 1 M-point history and bytes per point. Run it from the
//! repository root (it starts a cluster with `.ci/postgres`).
//!
//! With `--backup` it measures a backup of a live store while a client streams
//! (`bench_parts/backup.rs`).
//!
//! With `--latency` it measures the acknowledgement latency clients see at 100 %, 50 % and
//! 15 % of capacity (`bench_parts/latency.rs`).
//!
//! With `--disk` it measures bytes per point on disk for smooth f32, noisy f32 and noisy
//! float64 values, with sled's overhead separated from the chunk encoding
//! (`bench_parts/disk.rs`).
//!
//! With `--streams` it measures the server under 1, 8, 64 and 256 saturating LogStreams:
//! points/s, the server's peak RSS, acknowledgement p50/p99 (`bench_parts/streams.rs`).
//!
//! With `--soak [--minutes N]` it runs N minutes (default 30) of mixed load — streams, REST
//! writes, searches, history reads, artifact uploads — and samples the server's RSS, open
//! files, store size and latencies into `docs/soak/soak.csv` (`bench_parts/soak.rs`; run it
//! from the repository root; `docs/soak/plot.py` draws it).
//!
//! With `--copy` it measures `trackd copy` sled → PostgreSQL → sled, copy and verification
//! each (`bench_parts/copy.rs`; from the repository root, it starts a cluster).
//!
//! With `--artifacts` it measures only artifacts instead: a 1 GiB file uploaded with
//! `log_artifact` to a server child and downloaded back over loopback, MiB/s, and the peak
//! RSS of both processes (`cargo run --release -p trackd-client --example bench -- --artifacts`).
//!
//! With `--client-memory` it measures the client's memory bound: one client in a process of
//! its own (this binary with `--client-probe`) logs 2 M or 8 M points as fast as it can, with
//! a 64 Ki- or a 1 Mi-point buffer, and reports its peak RSS. The bound should follow the
//! buffer, not the number of points.

#[path = "bench_parts/backup.rs"]
mod backup;
#[path = "bench_parts/copy.rs"]
mod copy;
#[path = "bench_parts/disk.rs"]
mod disk;
#[path = "bench_parts/latency.rs"]
mod latency;
#[path = "bench_parts/postgres.rs"]
mod postgres;
#[path = "bench_parts/secure.rs"]
mod secure;
#[path = "bench_parts/soak.rs"]
mod soak;
#[path = "bench_parts/streams.rs"]
mod streams;
#[path = "bench_parts/ui.rs"]
mod ui;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use trackd_client::{Client, IngestConfig};
use trackd_proto::v1 as pb;
use trackd_server::domain::{Caller, Point, RunWrites};
use trackd_server::{Durability, Store, StoreConfig, Tracker};

const RUNS: usize = 8;
const KEYS: [&str; 4] = ["loss", "accuracy", "lr", "grad_norm"];

fn value(key: usize, step: i64) -> f64 {
    // Values like a real curve: f32 precision, slowly changing.
    let x = step as f32;
    f64::from(match key {
        0 => 2.0 / (1.0 + x * 1e-3) + 0.01 * ((step % 17) as f32),
        1 => 1.0 - 1.0 / (1.0 + x * 1e-3),
        2 => 1e-3 * (1.0 - x / 1e6),
        _ => 5.0 + ((step % 101) as f32) * 0.03,
    })
}

/// Logs `count` steps of the 4 keys from `*step` on (one `log_metrics_at` per step, as a
/// training loop does), moving `*step` past them.
async fn log_steps(run: &trackd_client::RunHandle, step: &mut i64, count: usize) {
    for _ in 0..count {
        let metrics: [(&str, f64); 4] = std::array::from_fn(|k| (KEYS[k], value(k, *step)));
        run.log_metrics_at(&metrics, *step, 1_700_000_000_000 + *step)
            .await
            .unwrap();
        *step += 1;
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A memory figure of `/proc/PID/status` (`VmRSS`, `VmHWM`), in MiB.
fn proc_status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn rss_mib(pid: u32) -> f64 {
    proc_status_mib(pid, "VmRSS")
}

fn peak_rss_mib(pid: u32) -> f64 {
    proc_status_mib(pid, "VmHWM")
}

struct ServerChild {
    child: Child,
    url: String,
}

impl ServerChild {
    fn spawn(store: &Path, durability: &str) -> ServerChild {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", store.to_str().unwrap(), durability])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server child");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = loop {
            let line = lines
                .next()
                .expect("server child printed its port")
                .unwrap();
            if let Some(p) = line.strip_prefix("PORT=") {
                break p.parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let scheme = if secure::pki().is_some() {
            "https"
        } else {
            "http"
        };
        ServerChild {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
        }
    }

    /// SIGTERM (graceful: final flush), then wait.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn serve(store: &str, durability: &str) {
    if store.starts_with("postgresql://") {
        // As `trackd server --backend-store-uri postgresql://…` (artifacts in a temporary
        // directory).
        let artifacts = tempfile::tempdir().unwrap();
        let pg = trackd_server::store::postgres::PgStore::open(
            trackd_server::store::postgres::PgConfig::new(store),
        )
        .await
        .expect("open the PostgreSQL store");
        let files = trackd_server::artifacts::ArtifactStore::open(artifacts.path()).unwrap();
        let tracker = Tracker::on_postgres(pg, std::sync::Arc::new(files));
        return serve_tracker(tracker, Default::default()).await;
    }
    let mut config = StoreConfig::new(store);
    if let Some(mb) = std::env::var("TRACKD_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config.cache_bytes = mb << 20; // as `trackd server --cache-mb`
    }
    config.durability = if durability == "buffered" {
        Durability::Buffered
    } else {
        Durability::Durable
    };
    let store = Store::open(config).expect("open store");
    // As `trackd server --memory-budget-mb`.
    let budget = trackd_server::memory::MemoryBudget::from_mb(
        std::env::var("TRACKD_MEMORY_BUDGET_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(trackd_server::memory::DEFAULT_MEMORY_BUDGET_MB),
    );
    let mut tracker = Tracker::new(store).with_ingest_budget(budget.ingest_points);
    let mut options = trackd_server::server::ServeOptions::default();
    options.connections.stream_window = budget.stream_window;
    options.connections.connection_window = budget.connection_window;
    if let Some(dir) = secure::pki() {
        // As `trackd server --auth --tls-cert … --tls-key …` with a first administrator.
        tracker = tracker
            .with_auth(trackd_server::domain::access::Level::Read)
            .unwrap();
        tracker
            .ensure_first_admin(secure::USER.0, secure::USER.1)
            .await
            .unwrap();
        options.tls = Some(
            trackd_server::tls::Tls::load(trackd_server::tls::TlsFiles {
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            })
            .unwrap(),
        );
    }
    serve_tracker(tracker, options).await;
}

/// Serves `tracker` on 127.0.0.1:0 (printing `PORT=…`) until SIGTERM.
async fn serve_tracker(tracker: Tracker, options: trackd_server::server::ServeOptions) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("PORT={}", listener.local_addr().unwrap().port());
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        term.recv().await;
    };
    trackd_server::serve(listener, tracker, options, shutdown)
        .await
        .unwrap();
}

struct Figures {
    points: u64,
    seconds: f64,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.points as f64 / self.seconds
    }
}

/// Returns the figures, the server's peak RSS, disk bytes per point and this process's peak
/// RSS (8 clients, each with the default buffer) at the end of the stream phase.
async fn stream_ingest(dir: &Path, steps: i64) -> (Figures, f64, f64, f64) {
    let server = ServerChild::spawn(dir, "durable");
    let pid = server.child.id();
    let figures = log_ranks(&server.url, steps).await;
    let rss = peak_rss_mib(pid);
    let client_rss = peak_rss_mib(std::process::id());
    let stored = server_points_ingested(&server.url).await;
    assert_eq!(stored, figures.points, "the server stored every point once");
    server.stop();
    let bytes_per_point = dir_size(dir) as f64 / figures.points as f64;
    (figures, rss, bytes_per_point, client_rss)
}

/// `--embedded`: the stream-ingest workload through the client's embedded mode (a store
/// directory as the tracking URI, the server's Tracker in this process).
async fn embedded_ingest(dir: &Path, steps: i64) -> Figures {
    std::fs::create_dir_all(dir).unwrap();
    log_ranks(dir.to_str().unwrap(), steps).await
}

/// 8 clients on `uri`, one run each, `steps` × 4 keys through the buffered LogStream path;
/// the clock stops when every client's `finish()` returned (every point durable).
async fn log_ranks(uri: &str, steps: i64) -> Figures {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for rank in 0..RUNS {
        let uri = uri.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = Client::connect_with(&uri, IngestConfig::default())
                .await
                .unwrap();
            let run = client
                .start_run()
                .run_name(format!("bench-rank-{rank}"))
                .system_tags(false)
                .start()
                .await
                .unwrap();
            let ts0 = 1_700_000_000_000i64;
            for step in 0..steps {
                let metrics: [(&str, f64); 4] = std::array::from_fn(|k| (KEYS[k], value(k, step)));
                run.log_metrics_at(&metrics, step, ts0 + step * 10)
                    .await
                    .unwrap();
            }
            run.finish().await.unwrap();
            // A figure must come from a complete run: every point acknowledged, durably.
            let stats = client.ingest_stats();
            assert_eq!(
                stats
                    .points_acked
                    .load(std::sync::atomic::Ordering::Relaxed),
                (steps * KEYS.len() as i64) as u64,
                "every point of rank {rank} acknowledged as stored"
            );
            assert_eq!(
                stats
                    .acks_not_durable
                    .load(std::sync::atomic::Ordering::Relaxed),
                0,
                "every acknowledgement of rank {rank} said DURABLE"
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Figures {
        points: (RUNS as i64 * steps * KEYS.len() as i64) as u64,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `--client-probe URL BUFFER POINTS`: one client logs POINTS points (4 keys per step) with
/// a BUFFER-point buffer, then prints its own peak RSS.
async fn client_probe(url: &str, buffer: usize, points: i64) {
    let config = IngestConfig::default().with_buffer_points(buffer);
    let client = Client::connect_with(url, config).await.unwrap();
    let run = client
        .start_run()
        .run_name("client-memory")
        .system_tags(false)
        .start()
        .await
        .unwrap();
    let steps = points / KEYS.len() as i64;
    for step in 0..steps {
        let metrics: [(&str, f64); 4] = std::array::from_fn(|k| (KEYS[k], value(k, step)));
        run.log_metrics_at(&metrics, step, 1_700_000_000_000 + step)
            .await
            .unwrap();
    }
    run.finish().await.unwrap();
    println!("CLIENT_RSS={:.1}", peak_rss_mib(std::process::id()));
}

async fn client_memory(dir: &Path) {
    let server = ServerChild::spawn(dir, "durable");
    let mut cells = Vec::new();
    for buffer in [1usize << 16, 1 << 20] {
        for points in [2_000_000i64, 8_000_000] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--client-probe",
                    &server.url,
                    &buffer.to_string(),
                    &points.to_string(),
                ])
                .output()
                .expect("run the client probe");
            let text = String::from_utf8_lossy(&out.stdout);
            let rss: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("CLIENT_RSS="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            println!(
                "client_memory: buffer {buffer} points, {points} points logged: client peak RSS {rss:.1} MiB"
            );
            cells.push(format!(
                "\"buffer_{buffer}_points_{points}_rss_mib\":{rss:.1}"
            ));
        }
    }
    server.stop();
    println!("{{\"workload\":\"client_memory\",{}}}", cells.join(","));
}

async fn store_ceiling(dir: &Path, steps: i64) -> Figures {
    let tracker = Tracker::new(Store::open(StoreConfig::new(dir)).unwrap());
    let mut run_ids = Vec::new();
    for rank in 0..RUNS {
        let new = trackd_server::tracker::NewRun {
            run_name: format!("ceiling-{rank}"),
            ..Default::default()
        };
        run_ids.push(
            tracker
                .create_run(&Caller::InProcess, new)
                .await
                .unwrap()
                .info
                .run_id
                .to_string(),
        );
    }
    let per_batch = 16_384 / KEYS.len() as i64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (rank, run_id) in run_ids.into_iter().enumerate() {
        let tracker = tracker.clone();
        tasks.push(tokio::spawn(async move {
            let mut seq = 0;
            let mut step = 0;
            let ts0 = 1_700_000_000_000i64;
            while step < steps {
                let end = (step + per_batch).min(steps);
                let metrics = KEYS
                    .iter()
                    .enumerate()
                    .map(|(k, key)| {
                        let points = (step..end)
                            .map(|s| Point {
                                step: s,
                                timestamp: ts0 + s * 10,
                                value: value(k, s),
                            })
                            .collect();
                        ((*key).to_owned(), points)
                    })
                    .collect();
                seq += 1;
                let writes = RunWrites {
                    metrics,
                    ..Default::default()
                };
                tracker
                    .log_stream_batch(
                        &Caller::InProcess,
                        &format!("ceiling-{rank}"),
                        seq,
                        vec![(run_id.clone(), writes)],
                    )
                    .await
                    .unwrap();
                step = end;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    tracker.close().await.unwrap();
    Figures {
        points: (RUNS as i64 * steps * KEYS.len() as i64) as u64,
        seconds,
    }
}

async fn unary_latency(dir: &Path, durability: &str, calls: usize) -> (f64, f64, f64) {
    let server = ServerChild::spawn(dir, durability);
    let channel = secure::channel(&server.url).await;
    let mut stub = pb::tracking_service_client::TrackingServiceClient::new(channel);
    let run = stub
        .create_run(secure::request(pb::CreateRunRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap()
        .info
        .unwrap()
        .run_id;
    let mut micros = Vec::with_capacity(calls);
    let started = Instant::now();
    for i in 0..calls {
        let t = Instant::now();
        stub.log_metric(secure::request(pb::LogMetricRequest {
            run_id: run.clone(),
            key: "latency".into(),
            value: i as f64,
            timestamp: 1_700_000_000_000,
            step: i as i64,
            ..Default::default()
        }))
        .await
        .unwrap();
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = started.elapsed().as_secs_f64();
    server.stop();
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() as f64 * p) as usize).min(micros.len() - 1)];
    (pct(0.50), pct(0.99), calls as f64 / total)
}

async fn artifact_transfer(dir: &Path, bytes: u64) {
    let server = ServerChild::spawn(&dir.join("store"), "durable");
    let pid = server.child.id();
    let file = dir.join("blob.bin");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut state = 0x2545f4914f6cdd1du64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..bytes / block.len() as u64 {
            for word in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            out.write_all(&block).unwrap();
        }
    }
    let client = Client::connect(&server.url).await.unwrap();
    let run = client.start_run().system_tags(false).start().await.unwrap();
    let mib = bytes as f64 / f64::from(1 << 20);
    let started = Instant::now();
    run.log_artifact(&file, Some("blobs")).await.unwrap();
    let up = started.elapsed().as_secs_f64();
    let dst = dir.join("download");
    let started = Instant::now();
    let local = run
        .download_artifacts("blobs/blob.bin", &dst)
        .await
        .unwrap();
    let down = started.elapsed().as_secs_f64();
    assert_eq!(std::fs::metadata(&local).unwrap().len(), bytes);
    run.finish().await.unwrap();
    let server_rss = peak_rss_mib(pid);
    let client_rss = peak_rss_mib(std::process::id());
    server.stop();
    println!(
        "artifact_upload: {mib:.0} MiB in {up:.2} s = {:.0} MiB/s",
        mib / up
    );
    println!(
        "artifact_download: {mib:.0} MiB in {down:.2} s = {:.0} MiB/s",
        mib / down
    );
    println!("peak RSS: server {server_rss:.1} MiB, client {client_rss:.1} MiB");
    println!(
        "{{\"workload\":\"artifact_upload\",\"bytes\":{bytes},\"seconds\":{up:.3},\"mib_per_s\":{:.0},\
         \"download_mib_per_s\":{:.0},\"server_peak_rss_mib\":{server_rss:.1},\"client_peak_rss_mib\":{client_rss:.1}}}",
        mib / up,
        mib / down
    );
}

async fn populate(
    stub: &pb::tracking_service_client::TrackingServiceClient<tonic::transport::Channel>,
    exp: &str,
    runs: usize,
) {
    let mut tasks = Vec::new();
    for t in 0..8 {
        let mut stub = stub.clone();
        let exp = exp.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in (t..runs).step_by(8) {
                let run = stub
                    .create_run(pb::CreateRunRequest {
                        experiment_id: exp.clone(),
                        start_time: Some(i as i64),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .run
                    .unwrap()
                    .info
                    .unwrap()
                    .run_id;
                let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                stub.log_batch(pb::LogBatchRequest {
                    run_id: run,
                    metrics: (0..10)
                        .map(|m| pb::Metric {
                            key: format!("m{m}"),
                            value: ((h >> (m * 4)) % 1000) as f64 / 1000.0,
                            timestamp: 1,
                            step: 0,
                        })
                        .collect(),
                    params: (0..10)
                        .map(|p| pb::Param {
                            key: format!("p{p}"),
                            value: format!("v{}", (h >> (p * 3)) % 10),
                        })
                        .collect(),
                    tags: (0..5)
                        .map(|g| pb::RunTag {
                            key: format!("t{g}"),
                            value: format!("tag-{}", (h >> g) % 4),
                        })
                        .collect(),
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn p50_ms<F, Fut>(mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    call().await; // warm-up
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        call().await;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Logs a 1,000,000-point metric `loss` to a new run through `client` and measures the
/// p50 of reading it whole (`metric_history_columns`); the run (still open) and the p50, ms.
async fn million_point_history(client: &Client) -> (trackd_client::ActiveRun, f64) {
    let run = client.start_run().system_tags(false).start().await.unwrap();
    for step in 0..1_000_000i64 {
        run.log_metric_at("loss", value(0, step), step, 1_700_000_000_000 + step)
            .await
            .unwrap();
    }
    run.flush().await.unwrap();
    let run_id = run.id().to_owned();
    let p50 = p50_ms(|| {
        let client = client.clone();
        let run_id = run_id.clone();
        async move {
            let c = client
                .metric_history_columns(&run_id, "loss")
                .await
                .unwrap();
            assert_eq!(c.values.len(), 1_000_000);
        }
    })
    .await;
    (run, p50)
}

async fn queries(dir: &Path) {
    let server = ServerChild::spawn(dir, "durable");
    let channel = tonic::transport::Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let stub = pb::tracking_service_client::TrackingServiceClient::new(channel)
        .max_decoding_message_size(256 << 20);
    let mut results = Vec::new();
    for (name, runs) in [("search-10k", 10_000usize), ("search-1k", 1_000)] {
        let exp = stub
            .clone()
            .create_experiment(pb::CreateExperimentRequest {
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .experiment_id;
        let started = Instant::now();
        populate(&stub, &exp, runs).await;
        let load = started.elapsed().as_secs_f64();
        let filter = "metrics.m0 > 0.5 AND params.p1 = 'v3'";
        let matched = std::sync::atomic::AtomicUsize::new(0);
        let ms = p50_ms(|| {
            let mut stub = stub.clone();
            let exp = exp.clone();
            let matched = &matched;
            async move {
                let r = stub
                    .search_runs(pb::SearchRunsRequest {
                        experiment_ids: vec![exp],
                        filter: filter.into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                matched.store(r.runs.len(), std::sync::atomic::Ordering::Relaxed);
            }
        })
        .await;
        let matched = matched.into_inner();
        println!(
            "search over {runs} runs ({load:.1} s to load): '{filter}' -> {matched} runs, p50 {ms:.2} ms"
        );
        results.push(ms);
    }
    // One metric with 1,000,000 points, streamed in.
    let client = Client::connect(&server.url).await.unwrap();
    let (run, full) = million_point_history(&client).await;
    let run_id = run.id().to_owned();
    println!(
        "full history of a 1,000,000-point metric, StreamMetricHistory collected by the client: p50 {full:.1} ms"
    );
    let columns = p50_ms(|| {
        let mut stub = stub.clone();
        let run_id = run_id.clone();
        async move {
            let r = stub
                .get_metric_history_columns(pb::GetMetricHistoryColumnsRequest {
                    run_id,
                    metric_key: "loss".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.columns.unwrap().values.len(), 1_000_000);
        }
    })
    .await;
    println!("the same via GetMetricHistoryColumns: p50 {columns:.1} ms");
    let sampled = p50_ms(|| {
        let mut stub = stub.clone();
        let run_id = run_id.clone();
        async move {
            let r = stub
                .get_sampled_metric_history(pb::GetSampledMetricHistoryRequest {
                    run_ids: vec![run_id],
                    metric_keys: vec!["loss".into()],
                    max_points: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(r.series[0].points.len() <= 1000);
        }
    })
    .await;
    println!("the same sampled to 1,000 points: p50 {sampled:.1} ms");
    run.finish().await.unwrap();
    server.stop();
    println!(
        "{{\"workload\":\"queries\",\"search_10k_runs_p50_ms\":{:.2},\"search_1k_runs_p50_ms\":{:.2},\
         \"history_1m_points_p50_ms\":{full:.1},\"history_columns_1m_points_p50_ms\":{columns:.1},\
         \"sampled_1k_of_1m_p50_ms\":{sampled:.1}}}",
        results[0], results[1]
    );
}

/// One keep-alive HTTP/1.1 connection sending JSON POSTs (enough client for the benchmark).
struct Http1 {
    stream: Box<dyn secure::Io>,
    buf: Vec<u8>,
    /// The `Authorization` header line (secure mode), or empty.
    auth: String,
}

impl Http1 {
    async fn connect(addr: &str) -> Http1 {
        Http1 {
            stream: secure::connect(addr).await,
            buf: Vec::with_capacity(1 << 16),
            auth: secure::authorization()
                .map(|v| format!("Authorization: {v}\r\n"))
                .unwrap_or_default(),
        }
    }

    async fn post(&mut self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.auth,
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.unwrap();
        self.stream.write_all(body).await.unwrap();
        self.buf.clear();
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                if head.contains("transfer-encoding: chunked") {
                    let body = self.read_chunked(end + 4).await;
                    return (status, body);
                }
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    let mut chunk = [0u8; 8192];
                    let n = self.stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return (status, self.buf[end + 4..end + 4 + len].to_vec());
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Http1 {
    /// Reads a chunked body that starts at `start` in the buffer (a streamed answer).
    async fn read_chunked(&mut self, start: usize) -> Vec<u8> {
        let mut body = Vec::new();
        let mut pos = start;
        loop {
            // The chunk's size line.
            let line_end = loop {
                if let Some(i) = self.buf[pos..].windows(2).position(|w| w == b"\r\n") {
                    break pos + i;
                }
                self.fill().await;
            };
            let size_hex = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
            let size = usize::from_str_radix(size_hex.split(';').next().unwrap().trim(), 16)
                .expect("a chunk size");
            let data = line_end + 2;
            while self.buf.len() < data + size + 2 {
                self.fill().await;
            }
            body.extend_from_slice(&self.buf[data..data + size]);
            pos = data + size + 2;
            if size == 0 {
                return body;
            }
        }
    }

    async fn fill(&mut self) {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

async fn rest_ingest(dir: &Path, requests_per_client: i64) -> Vec<f64> {
    let server = ServerChild::spawn(dir, "durable");
    let addr = server.url.split("://").nth(1).unwrap().to_owned();
    let mut results = Vec::new();
    for clients in [1usize, 4] {
        results.push(rest_load(&addr, clients, requests_per_client).await);
    }
    server.stop();
    println!(
        "{{\"workload\":\"rest_log_batch\",\"points_per_request\":1000,\"one_client_points_per_s\":{:.0},\"four_clients_points_per_s\":{:.0}}}",
        results[0], results[1]
    );
    results
}

/// `clients` keep-alive connections to the MLflow REST API at `addr`, each creating a run in
/// experiment 0 and then sending `requests_per_client` log-batch requests of 1000 metrics,
/// one at a time; prints and returns points/s.
async fn rest_load(addr: &str, clients: usize, requests_per_client: i64) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut http = Http1::connect(&addr).await;
            let (status, body) = http
                .post("/api/2.0/mlflow/runs/create", br#"{"experiment_id": "0"}"#)
                .await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let run: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
            for r in 0..requests_per_client {
                // Written directly (as a lean client would), so the figure is the server's.
                let mut body = String::with_capacity(80_000);
                body.push_str("{\"run_id\":\"");
                body.push_str(&run_id);
                body.push_str("\",\"metrics\":[");
                for i in 0..1000i64 {
                    let step = r * 1000 + i;
                    let k = (i % 4) as usize;
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(&format!(
                        "{{\"key\":\"{}\",\"value\":{:?},\"timestamp\":{},\"step\":{}}}",
                        KEYS[k],
                        value(k, step),
                        1_700_000_000_000i64 + step,
                        step
                    ));
                }
                body.push_str("]}");
                let body = body.into_bytes();
                let (status, answer) = http.post("/api/2.0/mlflow/runs/log-batch", &body).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let points = clients as f64 * requests_per_client as f64 * 1000.0;
    println!(
        "rest log-batch, {clients} client(s): {points:.0} points in {seconds:.2} s = {:.0} points/s",
        points / seconds
    );
    points / seconds
}

/// The server's `trackd_points_ingested_total` (from `/metrics`).
/// `--models`: 10,000 logged models (each with a param and a metric) and 10,000 registered
/// models (each with a version) created over REST in a server child, then the p50 of MLflow's
/// `logged-models/search` and `registered-models/search` with a filter, a page of 100.
async fn model_searches(dir: &Path, count: usize) {
    let server = ServerChild::spawn(dir, "buffered");
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut http = Http1::connect(&addr).await;
    let started = Instant::now();
    for i in 0..count {
        let body = format!(
            r#"{{"experiment_id": "0", "name": "model-{i}", "params": [{{"key": "p", "value": "v{}"}}], "tags": [{{"key": "t", "value": "x"}}]}}"#,
            i % 10
        );
        let (status, answer) = http
            .post("/api/2.0/mlflow/logged-models", body.as_bytes())
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let model: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        let id = model["model"]["info"]["model_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = format!(r#"{{"name": "reg-{i}"}}"#);
        let (status, _) = http
            .post("/api/2.0/mlflow/registered-models/create", body.as_bytes())
            .await;
        assert_eq!(status, 200);
        let body = format!(r#"{{"name": "reg-{i}", "source": "models:/{id}"}}"#);
        let (status, _) = http
            .post("/api/2.0/mlflow/model-versions/create", body.as_bytes())
            .await;
        assert_eq!(status, 200);
    }
    let load = started.elapsed().as_secs_f64();
    let logged = p50_ms(|| async {
        let (status, body) = get_body(
            &addr,
            "/api/2.0/mlflow/logged-models/search?experiment_ids=0&filter=params.p%20%3D%20%27v3%27%20AND%20name%20LIKE%20%27model-1%25%27&max_results=100",
        )
        .await;
        assert_eq!(status, 200);
        assert!(body.len() > 100, "the search finds models");
    })
    .await;
    let registered = p50_ms(|| async {
        let (status, body) = get_body(
            &addr,
            "/api/2.0/mlflow/registered-models/search?filter=name%20LIKE%20%27reg-1%25%27&max_results=100",
        )
        .await;
        assert_eq!(status, 200);
        assert!(body.len() > 100, "the search finds registered models");
    })
    .await;
    server.stop();
    println!(
        "search over {count} logged models ({load:.1} s to create them and {count} registered models): 'params.p = 'v3' AND name LIKE 'model-1%'', page of 100, p50 {logged:.2} ms"
    );
    println!(
        "search over {count} registered models: 'name LIKE 'reg-1%'', page of 100, p50 {registered:.2} ms"
    );
    println!(
        "{{\"workload\":\"model_searches\",\"entries\":{count},\"logged_models_p50_ms\":{logged:.2},\"registered_models_p50_ms\":{registered:.2}}}"
    );
}

async fn server_points_ingested(url: &str) -> u64 {
    scrape_metric(url, "trackd_points_ingested_total").await
}

/// A figure of the server's `/metrics`, by its whole name.
async fn scrape_metric(url: &str, name: &str) -> u64 {
    let addr = url.split("://").nth(1).unwrap();
    let (status, body) = get_body(addr, "/metrics").await;
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} on /metrics"))
}

/// One HTTP/1.1 GET (Connection: close): the status and the body.
async fn get_body(addr: &str, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // TLS and credentials in `--secure`'s secure rounds.
    let mut stream = secure::connect(addr).await;
    let auth = secure::authorization()
        .map(|v| format!("Authorization: {v}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header")
        + 4;
    let status = String::from_utf8_lossy(&raw[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, raw[split..].to_vec())
}

/// Resets a process's peak RSS (VmHWM) to its current RSS (Linux `clear_refs`, value 5).
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// One HTTP/1.1 GET (Connection: close) whose body is read and counted, not kept.
async fn get_counting(addr: &str, path: &str) -> (u16, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut first = Vec::new();
    let mut total = 0usize;
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        if first.len() < 16 {
            first.extend_from_slice(&buf[..n.min(16)]);
        }
        total += n;
    }
    let status = String::from_utf8_lossy(&first)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, total)
}

async fn history_reads(dir: &Path, quick: bool) {
    use futures::TryStreamExt;
    let server = ServerChild::spawn(dir, "durable");
    let pid = server.child.id();
    let me = std::process::id();
    let client = Client::connect(&server.url).await.unwrap();
    let sizes: &[i64] = if quick {
        &[1_000_000, 2_000_000, 5_000_000]
    } else {
        &[1_000_000, 10_000_000, 50_000_000]
    };
    let mut report = Vec::new();
    let mut first_run = String::new();
    for &n in sizes {
        let run = client.start_run().system_tags(false).start().await.unwrap();
        let started = Instant::now();
        for step in 0..n {
            run.log_metric_at("loss", value(0, step), step, 1_700_000_000_000 + step)
                .await
                .unwrap();
        }
        run.flush().await.unwrap();
        let logged = started.elapsed().as_secs_f64();
        let run_id = run.id().to_owned();
        run.finish().await.unwrap();
        if first_run.is_empty() {
            first_run = run_id.clone();
        }
        let mut best = 0.0f64;
        let (mut server_rss, mut client_rss) = (0.0f64, 0.0f64);
        let server_before = rss_mib(pid);
        for _ in 0..3 {
            reset_peak_rss(pid);
            reset_peak_rss(me);
            let started = Instant::now();
            let mut pieces = client.metric_history_stream(&run_id, "loss").await.unwrap();
            let mut count = 0usize;
            while let Some(piece) = pieces.try_next().await.unwrap() {
                count += piece.values.len();
            }
            let seconds = started.elapsed().as_secs_f64();
            assert_eq!(count as i64, n);
            best = best.max(n as f64 / seconds);
            server_rss = server_rss.max(peak_rss_mib(pid));
            client_rss = client_rss.max(peak_rss_mib(me));
        }
        println!(
            "history read, {n} points (logged in {logged:.1} s): best of 3 {best:.0} points/s; \
             peak RSS during the reads: server {server_rss:.1} MiB (before: {server_before:.1}, \
             after: {:.1}), client {client_rss:.1} MiB",
            rss_mib(pid)
        );
        report.push(format!(
            "{{\"points\":{n},\"points_per_s\":{best:.0},\"server_peak_rss_mib\":{server_rss:.1},\"client_peak_rss_mib\":{client_rss:.1}}}"
        ));
    }
    let addr = server.url.trim_start_matches("http://").to_owned();
    let path = format!("/api/2.0/mlflow/metrics/get-history?run_id={first_run}&metric_key=loss");
    let mut rest = Vec::new();
    for concurrent in [1usize, 8] {
        let before = rss_mib(pid);
        reset_peak_rss(pid);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrent {
            let (addr, path) = (addr.clone(), path.clone());
            tasks.push(tokio::spawn(
                async move { get_counting(&addr, &path).await },
            ));
        }
        let mut bytes = 0;
        for t in tasks {
            let (status, n) = t.await.unwrap();
            assert_eq!(status, 200);
            bytes = n;
        }
        let seconds = started.elapsed().as_secs_f64();
        let rss = peak_rss_mib(pid);
        println!(
            "REST get-history of 1,000,000 points, {concurrent} at once: {seconds:.2} s, {:.0} MB each; server peak RSS {rss:.1} MiB (before: {before:.1})",
            bytes as f64 / 1e6
        );
        rest.push(format!(
            "{{\"concurrent\":{concurrent},\"seconds\":{seconds:.2},\"server_peak_rss_mib\":{rss:.1}}}"
        ));
    }
    server.stop();
    println!(
        "{{\"workload\":\"history_reads\",\"stream\":[{}],\"rest_1m\":[{}]}}",
        report.join(","),
        rest.join(",")
    );
}

// No #[global_allocator]: the system allocator, as in the `trackd` binary, so the server
// child (`--serve`) runs what `trackd server` runs.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("--serve") {
        rt.block_on(serve(&args[2], &args[3]));
        return;
    }
    if args.get(1).map(String::as_str) == Some("--client-probe") {
        let buffer: usize = args[3].parse().unwrap();
        let points: i64 = args[4].parse().unwrap();
        rt.block_on(client_probe(&args[2], buffer, points));
        return;
    }
    if args.iter().any(|a| a == "--client-memory") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(client_memory(root.path()));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--rest") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(rest_ingest(root.path(), if quick { 50 } else { 500 }));
        return;
    }
    if args.iter().any(|a| a == "--secure") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(secure::compare(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--history") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(history_reads(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--embedded") {
        let root = tempfile::tempdir().unwrap();
        let steps = if quick { 25_000 } else { 250_000 };
        let figures = rt.block_on(embedded_ingest(&root.path().join("embedded"), steps));
        println!(
            "embedded_ingest: {} points in {:.2} s = {:.0} points/s (8 clients on one store directory, durable acks)",
            figures.points,
            figures.seconds,
            figures.rate()
        );
        println!(
            "{{\"workload\":\"embedded_ingest\",\"points\":{},\"seconds\":{:.3},\"points_per_s\":{:.0}}}",
            figures.points,
            figures.seconds,
            figures.rate()
        );
        return;
    }
    if args.iter().any(|a| a == "--models") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(model_searches(
            root.path(),
            if quick { 1000 } else { 10_000 },
        ));
        return;
    }
    if args.iter().any(|a| a == "--postgres") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(postgres::postgres(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--latency") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(latency::latency(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--disk") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(disk::disk(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--streams") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(streams::streams(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--soak") {
        let root = tempfile::tempdir().unwrap();
        let minutes: f64 = args
            .iter()
            .position(|a| a == "--minutes")
            .and_then(|i| args.get(i + 1))
            .map(|m| m.parse().expect("--minutes N"))
            .unwrap_or(if quick { 2.0 } else { 30.0 });
        let csv = PathBuf::from("docs/soak/soak.csv");
        rt.block_on(soak::soak(root.path(), minutes, quick, &csv));
        return;
    }
    if args.iter().any(|a| a == "--copy") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(copy::copy(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--backup") {
        let root = tempfile::tempdir().unwrap();
        let large = args.iter().any(|a| a == "--large");
        rt.block_on(backup::backup(root.path(), quick, large));
        return;
    }
    if args.iter().any(|a| a == "--ui") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(ui::ui(root.path(), quick));
        return;
    }
    if args.iter().any(|a| a == "--queries") {
        let root = tempfile::tempdir().unwrap();
        rt.block_on(queries(root.path()));
        return;
    }
    if args.iter().any(|a| a == "--artifacts") {
        let root = tempfile::tempdir().unwrap();
        let bytes = if quick { 128 << 20 } else { 1 << 30 };
        rt.block_on(artifact_transfer(root.path(), bytes));
        return;
    }
    let steps: i64 = if quick { 25_000 } else { 250_000 };
    let calls = if quick { 300 } else { 2000 };
    let root = tempfile::tempdir().unwrap();
    let sub = |name: &str| -> PathBuf { root.path().join(name) };
    rt.block_on(async {
        let (ingest, rss, bytes_per_point, client_rss) = stream_ingest(&sub("ingest"), steps).await;
        println!(
            "stream_ingest: {} points in {:.2} s = {:.0} points/s (durable acks); server peak RSS {:.1} MiB; {:.2} bytes/point on disk; client process (8 clients) peak RSS {:.1} MiB",
            ingest.points, ingest.seconds, ingest.rate(), rss, bytes_per_point, client_rss
        );
        let ceiling = store_ceiling(&sub("ceiling"), steps).await;
        println!(
            "store_ceiling: {} points in {:.2} s = {:.0} points/s (in-process, durable); stream/ceiling = {:.0}%",
            ceiling.points, ceiling.seconds, ceiling.rate(), 100.0 * ingest.rate() / ceiling.rate()
        );
        let (d50, d99, drate) = unary_latency(&sub("unary-durable"), "durable", calls).await;
        println!("unary_log_metric durable: p50 {d50:.0} µs, p99 {d99:.0} µs, {drate:.0} calls/s sequential");
        let (b50, b99, brate) = unary_latency(&sub("unary-buffered"), "buffered", calls).await;
        println!("unary_log_metric buffered: p50 {b50:.0} µs, p99 {b99:.0} µs, {brate:.0} calls/s sequential");
        println!(
            "{{\"workload\":\"stream_ingest\",\"points\":{},\"seconds\":{:.3},\"points_per_s\":{:.0},\
             \"ceiling_points_per_s\":{:.0},\"ratio_to_ceiling\":{:.3},\"server_peak_rss_mib\":{:.1},\
             \"disk_bytes_per_point\":{:.2},\"client_peak_rss_mib\":{:.1},\"unary_durable_p50_us\":{:.0},\"unary_durable_p99_us\":{:.0},\
             \"unary_buffered_p50_us\":{:.0},\"unary_buffered_p99_us\":{:.0}}}",
            ingest.points, ingest.seconds, ingest.rate(), ceiling.rate(), ingest.rate() / ceiling.rate(), rss,
            bytes_per_point, client_rss, d50, d99, b50, b99
        );
    });
}

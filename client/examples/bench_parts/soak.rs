//! `bench -- --soak [--minutes N]` (default 30; `--quick`: 2): mixed load on one durable
//! server child for N minutes, sampled every 10 s (`--quick`: 2 s) into a CSV:
//!
//! - 4 streaming clients, each logging 4 keys at 5,000 steps/s (80,000 points/s in all) to a
//!   run it finishes after 60 s (`--quick`: 10 s) and replaces with a new one (jobs come and
//!   go);
//! - a REST writer: `runs/log-batch` with 100 points and `runs/set-tag` every 100 ms, a new run
//!   as often;
//! - searches: `runs/search` with a filter and an order every 250 ms;
//! - history reads: the whole `loss` series of the newest finished run (≈ 300,000 points) by
//!   `metric_history_stream`, every 2 s;
//! - artifact uploads: a 1 MiB file every 5 s.
//!
//! Each sample row: server RSS, open file descriptors, store size, points stored and their
//! rate, stream acknowledgement p50/p99, REST write p99, search p50/p99, history read time,
//! upload p99, errors. At the end the last third of the run is held against the middle
//! third: RSS, descriptors and latencies must not keep growing (store size grows with the
//! data, as it should). `docs/soak/plot.py` draws the CSV.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trackd_client::{AckLatency, Client, IngestConfig};

use super::{Http1, KEYS, ServerChild, dir_size, rss_mib, scrape_metric, value};

/// Latencies of one kind of operation since the last sample, in ms.
#[derive(Default)]
struct Latencies(Mutex<Vec<f64>>);

impl Latencies {
    fn record(&self, since: Instant) {
        self.0
            .lock()
            .unwrap()
            .push(since.elapsed().as_secs_f64() * 1e3);
    }

    /// (p50, p99) of what was recorded since the last call, and forgets it.
    fn drain(&self) -> (f64, f64) {
        let mut v = std::mem::take(&mut *self.0.lock().unwrap());
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99))
    }
}

/// What the load tasks share with the sampler.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    errors: AtomicU64,
    acks: Vec<Arc<Client>>,
    rest: Latencies,
    search: Latencies,
    history: Latencies,
    history_points: AtomicU64,
    upload: Latencies,
    /// The newest finished streamed run (for history reads).
    finished: Mutex<Option<String>>,
    /// How long a run lives before it is finished and replaced.
    run_length: Duration,
}

impl Shared {
    fn failed(&self, what: &str, err: impl std::fmt::Display) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < 10 {
            eprintln!("soak: {what} failed: {err}");
        }
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
}

/// Sleeps until `next` and moves it on by `every` (a paced loop that catches up, bounded by
/// the caller's stop flag).
async fn tick(next: &mut Instant, every: Duration) {
    tokio::time::sleep_until((*next).into()).await;
    *next += every;
}

async fn stream_writer(shared: Arc<Shared>, client: Arc<Client>) {
    const STEPS_PER_S: u64 = 5_000;
    while shared.running() {
        let run = match client.start_run().system_tags(false).start().await {
            Ok(run) => run,
            Err(e) => return shared.failed("start run", e),
        };
        let started = Instant::now();
        let mut next = Instant::now();
        let mut step = 0i64;
        // 100 steps per 20 ms tick: 5,000 steps/s.
        while shared.running() && started.elapsed() < shared.run_length {
            tick(&mut next, Duration::from_millis(20)).await;
            for _ in 0..STEPS_PER_S / 50 {
                let metrics: [(&str, f64); 4] = std::array::from_fn(|k| (KEYS[k], value(k, step)));
                if let Err(e) = run
                    .log_metrics_at(&metrics, step, 1_700_000_000_000 + step)
                    .await
                {
                    return shared.failed("log metrics", e);
                }
                step += 1;
            }
        }
        let id = run.id().to_owned();
        match run.finish().await {
            Ok(()) => *shared.finished.lock().unwrap() = Some(id),
            Err(e) => return shared.failed("finish run", e),
        }
    }
}

async fn rest_writer(shared: Arc<Shared>, addr: String, upload: std::path::PathBuf) {
    let mut http = Http1::connect(&addr).await;
    let client = Client::connect(&format!("http://{addr}")).await.unwrap();
    let mut next = Instant::now();
    let mut last_upload = Instant::now();
    while shared.running() {
        let (status, body) = http
            .post("/api/2.0/mlflow/runs/create", br#"{"experiment_id": "0"}"#)
            .await;
        if status != 200 {
            return shared.failed("runs/create", String::from_utf8_lossy(&body));
        }
        let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let run_id = reply["run"]["info"]["run_id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let mut step = 0i64;
        while shared.running() && started.elapsed() < shared.run_length {
            tick(&mut next, Duration::from_millis(100)).await;
            let metrics: Vec<serde_json::Value> = (0..100)
                .map(|i| {
                    serde_json::json!({"key": format!("rest_{}", i % 4), "value": value(i % 4, step),
                        "timestamp": 1_700_000_000_000i64 + step, "step": step})
                })
                .collect();
            step += 25;
            let batch = serde_json::json!({"run_id": run_id, "metrics": metrics});
            let sent = Instant::now();
            let (status, body) = http
                .post(
                    "/api/2.0/mlflow/runs/log-batch",
                    batch.to_string().as_bytes(),
                )
                .await;
            if status != 200 {
                shared.failed("runs/log-batch", String::from_utf8_lossy(&body));
            }
            let tag =
                serde_json::json!({"run_id": run_id, "key": "progress", "value": step.to_string()});
            let (status, body) = http
                .post("/api/2.0/mlflow/runs/set-tag", tag.to_string().as_bytes())
                .await;
            if status != 200 {
                shared.failed("runs/set-tag", String::from_utf8_lossy(&body));
            }
            shared.rest.record(sent);
            if last_upload.elapsed() >= Duration::from_secs(5) {
                last_upload = Instant::now();
                let sent = Instant::now();
                let name = format!("files/{step}");
                match client.log_artifact(&run_id, &upload, Some(&name)).await {
                    Ok(()) => shared.upload.record(sent),
                    Err(e) => shared.failed("log_artifact", e),
                }
            }
        }
    }
}

async fn searcher(shared: Arc<Shared>, addr: String) {
    let mut http = Http1::connect(&addr).await;
    let mut next = Instant::now();
    let query = br#"{"experiment_ids": ["0"], "filter": "metrics.loss < 1.5", "order_by": ["metrics.loss ASC"], "max_results": 100}"#;
    while shared.running() {
        tick(&mut next, Duration::from_millis(250)).await;
        let sent = Instant::now();
        let (status, body) = http.post("/api/2.0/mlflow/runs/search", query).await;
        if status == 200 {
            shared.search.record(sent);
        } else {
            shared.failed("runs/search", String::from_utf8_lossy(&body));
        }
    }
}

async fn history_reader(shared: Arc<Shared>, url: String) {
    use futures::StreamExt;
    let client = Client::connect(&url).await.unwrap();
    let mut next = Instant::now();
    while shared.running() {
        tick(&mut next, Duration::from_secs(2)).await;
        let Some(run) = shared.finished.lock().unwrap().clone() else {
            continue;
        };
        let sent = Instant::now();
        let mut points = 0u64;
        match client.metric_history_stream(&run, "loss").await {
            Ok(mut pieces) => {
                while let Some(piece) = pieces.next().await {
                    match piece {
                        Ok(columns) => points += columns.steps.len() as u64,
                        Err(e) => {
                            shared.failed("history read", e);
                            break;
                        }
                    }
                }
            }
            Err(e) => shared.failed("history read", e),
        }
        shared.history.record(sent);
        shared.history_points.store(points, Ordering::Relaxed);
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// One sample row.
struct Row {
    seconds: f64,
    rss_mib: f64,
    fds: usize,
    store_mib: f64,
    points: u64,
    points_per_s: f64,
    ack: (f64, f64),
    rest_p99: f64,
    search: (f64, f64),
    history_ms: f64,
    history_points: u64,
    upload_p99: f64,
    errors: u64,
}

const CSV_HEADER: &str = "seconds,server_rss_mib,open_fds,store_mib,points_stored,points_per_s,\
stream_ack_p50_ms,stream_ack_p99_ms,rest_write_p99_ms,search_p50_ms,search_p99_ms,\
history_read_ms,history_points,upload_p99_ms,errors";

impl Row {
    fn csv(&self) -> String {
        format!(
            "{:.0},{:.1},{},{:.1},{},{:.0},{:.2},{:.2},{:.2},{:.2},{:.2},{:.1},{},{:.1},{}",
            self.seconds,
            self.rss_mib,
            self.fds,
            self.store_mib,
            self.points,
            self.points_per_s,
            self.ack.0,
            self.ack.1,
            self.rest_p99,
            self.search.0,
            self.search.1,
            self.history_ms,
            self.history_points,
            self.upload_p99,
            self.errors
        )
    }
}

/// Median of `f` over `rows`, NaNs left out.
fn median(rows: &[Row], f: impl Fn(&Row) -> f64) -> f64 {
    let mut v: Vec<f64> = rows.iter().map(f).filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(rows: &[Row], f: impl Fn(&Row) -> f64) -> f64 {
    rows.iter().map(f).fold(f64::NAN, f64::max)
}

/// Runs the soak for `minutes` and writes the samples to `csv_path`.
pub async fn soak(root: &Path, minutes: f64, quick: bool, csv_path: &Path) {
    let length = Duration::from_secs_f64(minutes * 60.0);
    let every = Duration::from_secs(if quick { 2 } else { 10 });
    let store = root.join("soak");
    let server = ServerChild::spawn(&store, "durable");
    let pid = server.child.id();
    let addr = server.url.split("://").nth(1).unwrap().to_owned();
    let upload = root.join("upload.bin");
    std::fs::write(&upload, vec![7u8; 1 << 20]).unwrap();

    let mut acks = Vec::new();
    for _ in 0..4 {
        acks.push(Arc::new(
            Client::connect_with(&server.url, IngestConfig::default())
                .await
                .unwrap(),
        ));
    }
    let shared = Arc::new(Shared {
        acks: acks.clone(),
        run_length: Duration::from_secs(if quick { 10 } else { 60 }),
        ..Shared::default()
    });
    let mut tasks = Vec::new();
    for client in acks {
        tasks.push(tokio::spawn(stream_writer(shared.clone(), client)));
    }
    tasks.push(tokio::spawn(rest_writer(
        shared.clone(),
        addr.clone(),
        upload,
    )));
    tasks.push(tokio::spawn(searcher(shared.clone(), addr.clone())));
    tasks.push(tokio::spawn(history_reader(
        shared.clone(),
        server.url.clone(),
    )));

    println!(
        "soak: {minutes} min of mixed load, a sample every {} s → {}",
        every.as_secs(),
        csv_path.display()
    );
    println!("{CSV_HEADER}");
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut last_points = 0u64;
    let mut next = Instant::now() + every;
    while started.elapsed() < length {
        tick(&mut next, every).await;
        let merged = AckLatency::default();
        for client in &shared.acks {
            let latency = &client.ingest_stats().ack_latency;
            merged.merge(latency);
            latency.reset();
        }
        let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        let points = scrape_metric(&server.url, "trackd_points_ingested_total").await;
        let row = Row {
            seconds: started.elapsed().as_secs_f64(),
            rss_mib: rss_mib(pid),
            fds: open_fds(pid),
            store_mib: dir_size(&store) as f64 / (1 << 20) as f64,
            points,
            points_per_s: (points - last_points) as f64 / every.as_secs_f64(),
            ack: (ms(merged.quantile(0.5)), ms(merged.quantile(0.99))),
            rest_p99: shared.rest.drain().1,
            search: shared.search.drain(),
            history_ms: shared.history.drain().0,
            history_points: shared.history_points.load(Ordering::Relaxed),
            upload_p99: shared.upload.drain().1,
            errors: shared.errors.load(Ordering::Relaxed),
        };
        last_points = points;
        println!("{}", row.csv());
        rows.push(row);
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    server.stop();

    let mut csv = String::from(CSV_HEADER);
    csv.push('\n');
    for row in &rows {
        csv.push_str(&row.csv());
        csv.push('\n');
    }
    if let Some(parent) = csv_path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(csv_path, csv).unwrap();

    // Growth: the last third against the middle third (the first is warm-up).
    let third = rows.len() / 3;
    let (middle, last) = (&rows[third..2 * third], &rows[2 * third..]);
    let verdicts = [
        (
            "server RSS max, MiB",
            "rss_max_mib",
            max(middle, |r| r.rss_mib),
            max(last, |r| r.rss_mib),
        ),
        (
            "open descriptors max",
            "fds_max",
            max(middle, |r| r.fds as f64),
            max(last, |r| r.fds as f64),
        ),
        (
            "stream ack p99 median, ms",
            "ack_p99_ms",
            median(middle, |r| r.ack.1),
            median(last, |r| r.ack.1),
        ),
        (
            "search p99 median, ms",
            "search_p99_ms",
            median(middle, |r| r.search.1),
            median(last, |r| r.search.1),
        ),
        (
            "history read median, ms",
            "history_read_ms",
            median(middle, |r| r.history_ms),
            median(last, |r| r.history_ms),
        ),
    ];
    let errors = rows.last().map_or(0, |r| r.errors);
    println!(
        "soak summary ({} samples; middle third → last third):",
        rows.len()
    );
    let mut json = format!(
        "{{\"workload\":\"soak\",\"minutes\":{minutes},\"samples\":{},\"errors\":{errors},\"points\":{}",
        rows.len(),
        last_points
    );
    // JSON has no NaN: a figure with no sample is null.
    let number = |x: f64| {
        if x.is_nan() {
            "null".to_owned()
        } else {
            format!("{x:.2}")
        }
    };
    for (name, key, mid, end) in verdicts {
        let growth = 100.0 * (end - mid) / mid;
        println!("  {name}: {mid:.1} → {end:.1} ({growth:+.0} %)");
        json.push_str(&format!(
            ",\"{key}_middle\":{},\"{key}_last\":{}",
            number(mid),
            number(end)
        ));
    }
    println!(
        "  store: {:.0} MiB for {} points; errors: {errors}",
        rows.last().map_or(0.0, |r| r.store_mib),
        last_points
    );
    json.push('}');
    println!("{json}");
}

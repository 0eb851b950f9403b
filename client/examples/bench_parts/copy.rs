//! `bench -- --copy`: `trackd copy` (the library the command runs, in this process) between
//! a sled store and a durable throwaway PostgreSQL (`.ci/postgres`, fsync on). A sled store
//! of 8 runs × 4 keys × 500,000 steps (16 M points; `--quick`: 50,000 steps, 1.6 M) is
//! filled through a server child, then copied sled → PostgreSQL and PostgreSQL → a new sled
//! store: for each, the copy's time and points/s, and the verification pass's time (reading
//! the target back and comparing every run's fingerprint).

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use trackd_server::copy::{self, CopyOptions, OpenedStore, Progress, Side, StoreSpec};

use super::postgres::Cluster;
use super::{ServerChild, log_ranks};

/// Copies `from` into `to`; prints and returns (points, copy seconds, verification seconds).
async fn timed_copy(label: &str, from: StoreSpec, to: StoreSpec) -> (u64, f64, f64) {
    let source = OpenedStore::open(&from, Side::Source).await.unwrap();
    let target = OpenedStore::open(&to, Side::Target).await.unwrap();
    let started = Instant::now();
    let copied_at: Mutex<Option<Instant>> = Mutex::new(None);
    let progress = |p: Progress| {
        if matches!(p, Progress::Artifacts { .. }) {
            *copied_at.lock().unwrap() = Some(Instant::now());
        }
    };
    let report = copy::copy(&source, &target, CopyOptions { verify: true }, &progress)
        .await
        .unwrap();
    target.close().await.unwrap();
    source.close().await.unwrap();
    let ended = Instant::now();
    let copied = copied_at.lock().unwrap().unwrap();
    let verification = report.verification.as_ref().unwrap();
    assert!(verification.passed(), "{verification:?}");
    let (copy_s, verify_s) = (
        (copied - started).as_secs_f64(),
        (ended - copied).as_secs_f64(),
    );
    println!(
        "copy {label}: {} runs, {} points in {copy_s:.2} s = {:.0} points/s (durable); \
         verification {verify_s:.2} s = {:.0} points/s",
        report.runs_copied,
        report.points,
        report.points as f64 / copy_s,
        report.points as f64 / verify_s
    );
    println!(
        "{{\"workload\":\"copy\",\"direction\":\"{label}\",\"points\":{},\"copy_s\":{copy_s:.3},\"verify_s\":{verify_s:.3}}}",
        report.points
    );
    (report.points, copy_s, verify_s)
}

/// Runs the copy benchmark under `dir`.
pub async fn copy(dir: &Path, quick: bool) {
    let steps = if quick { 50_000 } else { 500_000 };
    let store = dir.join("sled-a");
    let server = ServerChild::spawn(&store, "durable");
    let fill = log_ranks(&server.url, steps).await;
    server.stop();
    println!(
        "copy: sled store filled with {} points in {:.1} s",
        fill.points, fill.seconds
    );
    let cluster = Cluster::start(&dir.join("pg"));
    let uri = cluster.database("copy_bench");
    let bucket = dir.join("pg-artifacts").display().to_string();
    let sled = |path: &Path| StoreSpec {
        tracking: path.display().to_string(),
        artifacts: None,
    };
    let pg = StoreSpec {
        tracking: uri,
        artifacts: Some(bucket),
    };
    timed_copy("sled->postgresql", sled(&store), pg.clone()).await;
    timed_copy("postgresql->sled", pg, sled(&dir.join("sled-b"))).await;
}

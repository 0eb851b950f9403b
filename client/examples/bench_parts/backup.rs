//! `bench -- --backup`: a consistent backup of a live store while a client keeps streaming.
//! A server child is filled through 8 clients (`log_ranks`, 8 runs × 4 keys; 2,000,000 steps
//! each, 64 M points; `--quick`: 200,000 steps, 6.4 M points; `--large`: 53 M steps, 1.7 G
//! points, about 10 GB), then one client streams
//! (4 keys per step, a flush every 10,000 points) for 3 s alone and on through a backup:
//! backup time, MB/s, how long writes waited, and the streaming client's points/s and
//! slowest flush before and during the backup. Every loop is bounded in time and count.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trackd_client::Client;

use super::{ServerChild, dir_size, log_ranks};

/// (points, slowest flush in ms) of one window of the streaming client.
#[derive(Default)]
struct Window {
    points: u64,
    slowest_flush_ms: f64,
}

/// Runs the backup benchmark against a fresh store under `dir`.
pub async fn backup(dir: &std::path::Path, quick: bool, large: bool) {
    let store = dir.join("store");
    let server = ServerChild::spawn(&store, "durable");
    // `--large`: 53 M steps per rank, 1.7 G points, about 10 GB on disk.
    let steps = if large {
        53_000_000
    } else if quick {
        200_000
    } else {
        2_000_000
    };
    let fill = log_ranks(&server.url, steps).await;
    println!(
        "backup: store filled with {} points in {:.1} s; {:.0} MiB on disk",
        fill.points,
        fill.seconds,
        dir_size(&store) as f64 / 1048576.0
    );
    let client = Client::connect(&server.url).await.unwrap();
    let run = client.start_run().system_tags(false).start().await.unwrap();
    let handle = run.handle();
    let during = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let windows = Arc::new(Mutex::new([Window::default(), Window::default()]));
    let writer = {
        let (during, stop, windows) = (during.clone(), stop.clone(), windows.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(600);
            let mut step = 0i64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let w = usize::from(during.load(Ordering::Relaxed));
                for _ in 0..2500 {
                    let metrics = [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", step as f64)];
                    handle
                        .log_metrics_at(&metrics, step, 1_700_000_000_000 + step)
                        .await
                        .unwrap();
                    step += 1;
                }
                let t = Instant::now();
                handle.flush().await.unwrap();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let mut ws = windows.lock().unwrap();
                ws[w].points += 10_000;
                ws[w].slowest_flush_ms = ws[w].slowest_flush_ms.max(ms);
            }
        })
    };
    let alone = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await; // the measurement window, not a sync
    let alone_s = alone.elapsed().as_secs_f64();
    during.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let b = client.backup("bench").await.unwrap();
    let backup_s = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    run.finish().await.unwrap();
    let ws = windows.lock().unwrap();
    let on_disk = dir_size(std::path::Path::new(&b.path));
    println!(
        "backup: {:.2} s for {:.0} MiB of keys and values ({} entries; {:.0} MiB on disk): {:.0} MB/s; writes waited {:.2} s",
        backup_s,
        b.database_bytes as f64 / 1048576.0,
        b.database_entries,
        on_disk as f64 / 1048576.0,
        (b.database_bytes + b.artifact_bytes) as f64 / 1e6 / backup_s,
        b.writes_waited_seconds
    );
    println!(
        "backup: a streaming client alone {:.0} points/s (slowest flush {:.0} ms); during the backup {:.0} points/s (slowest flush {:.0} ms)",
        ws[0].points as f64 / alone_s,
        ws[0].slowest_flush_ms,
        ws[1].points as f64 / backup_s,
        ws[1].slowest_flush_ms
    );
    println!(
        "{{\"workload\":\"backup\",\"store_points\":{},\"backup_seconds\":{backup_s:.3},\"database_bytes\":{},\"mb_per_s\":{:.1},\"writes_waited_seconds\":{:.3},\"ingest_alone_points_per_s\":{:.0},\"ingest_during_points_per_s\":{:.0},\"slowest_flush_during_ms\":{:.0}}}",
        fill.points,
        b.database_bytes,
        (b.database_bytes + b.artifact_bytes) as f64 / 1e6 / backup_s,
        b.writes_waited_seconds,
        ws[0].points as f64 / alone_s,
        ws[1].points as f64 / backup_s,
        ws[1].slowest_flush_ms
    );
    server.stop();
}

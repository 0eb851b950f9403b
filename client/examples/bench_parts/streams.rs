//! `bench -- --streams`: the server under 1, 8, 64 and 256 saturating LogStreams (issue 19,
//! part 1's rows). Each row is a fresh durable server child and N clients in this process,
//! each with its own connection and stream, logging 4 keys per step as fast as it can for
//! 6 s (`--quick`: 2 s). The clients' buffers are 65,536 points (not the default 1 Mi), so
//! that 256 of them fit in this process; batches are the default size.
//!
//! Per row: points/s (acknowledged, durable), the server's peak RSS (VmHWM), and the
//! per-batch acknowledgement latency p50/p99 over every client.

use std::sync::atomic::Ordering;
use std::time::Duration;

use trackd_client::{AckLatency, Client, IngestConfig};

use super::{ServerChild, log_steps, peak_rss_mib};

/// One row: `streams` clients against a fresh server for `length`.
async fn row(root: &std::path::Path, streams: usize, length: Duration) -> (f64, f64, AckLatency) {
    let server = ServerChild::spawn(&root.join(format!("streams-{streams}")), "durable");
    let pid = server.child.id();
    let started = tokio::time::Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    for rank in 0..streams {
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut config = IngestConfig::default();
            config.buffer_points = 1 << 16;
            let client = Client::connect_with(&url, config).await.unwrap();
            let run = client
                .start_run()
                .run_name(format!("streams-{rank}"))
                .system_tags(false)
                .start()
                .await
                .unwrap();
            let mut step = 0i64;
            while tokio::time::Instant::now() < deadline {
                log_steps(&run, &mut step, 250).await;
            }
            run.finish().await.unwrap();
            let stats = client.ingest_stats();
            assert_eq!(stats.acks_not_durable.load(Ordering::Relaxed), 0);
            let latency = AckLatency::default();
            latency.merge(&stats.ack_latency);
            ((step * 4) as u64, latency)
        }));
    }
    let all = AckLatency::default();
    let mut points = 0u64;
    for t in tasks {
        let (p, latency) = t.await.unwrap();
        points += p;
        all.merge(&latency);
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss = peak_rss_mib(pid);
    server.stop();
    (points as f64 / seconds, rss, all)
}

/// Runs the rows and prints them.
pub async fn streams(root: &std::path::Path, quick: bool) {
    let length = Duration::from_secs(if quick { 2 } else { 6 });
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "saturating LogStreams: {} s per row, durable, one client and connection per stream",
        length.as_secs()
    );
    println!(
        "{:>8} {:>14} {:>16} {:>12} {:>12}",
        "streams", "points/s", "server RSS max", "ack p50", "ack p99"
    );
    for streams in [1usize, 8, 64, 256] {
        let (rate, rss, latency) = row(root, streams, length).await;
        let (p50, p99) = (ms(latency.quantile(0.5)), ms(latency.quantile(0.99)));
        println!("{streams:>8} {rate:>14.0} {rss:>12.1} MiB {p50:>9.1} ms {p99:>9.1} ms");
        println!(
            "{{\"workload\":\"saturating_streams\",\"streams\":{streams},\"points_per_s\":{rate:.0},\"server_peak_rss_mib\":{rss:.1},\"ack_p50_ms\":{p50:.1},\"ack_p99_ms\":{p99:.1}}}"
        );
    }
}

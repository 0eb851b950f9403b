//! `bench -- --streams`: the server under 1, 8, 64 and 256 saturating LogStreams (issue 19,
//! part 1's rows). Each row is a fresh durable server child and N clients in this process,
//! each with its own connection and stream, logging 4 keys per step as fast as it can for
//! 6 s (`--quick`: 2 s). The clients' buffers are 65,536 points (not the default 1 Mi), so
//! that 256 of them fit in this process; batches are the default size.
//!
//! Per row: points/s (acknowledged, durable), the server's peak RSS (VmHWM), and the
//! per-batch acknowledgement latency p50/p99 over every client.

use std::time::Duration;

use trackd_client::{AckLatency, IngestConfig};

use super::{ServerChild, peak_rss_mib};

/// One row: `streams` clients against a fresh server for `length` (the latency benchmark's
/// saturating phase, with small client buffers): points/s, server peak RSS, latencies.
async fn row(root: &std::path::Path, streams: usize, length: Duration) -> (f64, f64, AckLatency) {
    let server = ServerChild::spawn(&root.join(format!("streams-{streams}")), "durable");
    let pid = server.child.id();
    let mut config = IngestConfig::default();
    config.buffer_points = 1 << 16;
    let phase = super::latency::phase(&server.url, streams, config, length, None).await;
    let rss = peak_rss_mib(pid);
    server.stop();
    (phase.points as f64 / phase.seconds, rss, phase.latency)
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

//! `bench -- --latency`: per-batch acknowledgement latency as clients see it
//! (`IngestStats::ack_latency`: from a batch's sending to its durable acknowledgement) at
//! 100 %, 50 % and 15 % of capacity. 8 clients (one stream each, 4 keys per step, default
//! `IngestConfig`) against a durable server child: first as fast as they can for 6 s — the
//! points/s reached is the capacity — then paced to 50 % and to 15 % of it for 6 s each.
//! Per phase: points/s, and p50 / p99 / max of every batch of every client; the server's
//! `trackd_stream_ack_seconds` histogram must have counted the same batches. Every loop is
//! bounded in time.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use trackd_client::{AckLatency, Client, IngestConfig};

use super::{RUNS, ServerChild, log_steps};

/// One phase's figures.
pub(super) struct Phase {
    pub points: u64,
    pub seconds: f64,
    pub latency: AckLatency,
    pub batches: u64,
}

/// `clients` clients (each with its own connection and stream, configured by `config`)
/// logging for `length`, each at `per_client` points/s (`None`: as fast as it can).
pub(super) async fn phase(
    url: &str,
    clients: usize,
    config: IngestConfig,
    length: Duration,
    per_client: Option<f64>,
) -> Phase {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for rank in 0..clients {
        let url = url.to_owned();
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client::connect_with(&url, config).await.unwrap();
            let run = client
                .start_run()
                .run_name(format!("latency-{rank}"))
                .system_tags(false)
                .start()
                .await
                .unwrap();
            let begun = tokio::time::Instant::now();
            let deadline = begun + length;
            let mut step = 0i64;
            while tokio::time::Instant::now() < deadline {
                log_steps(&run, &mut step, 250).await;
                if let Some(rate) = per_client {
                    // Pacing (load shaping, not synchronisation): the next 1,000 points
                    // leave when the rate says so.
                    let due = begun + Duration::from_secs_f64((step * 4) as f64 / rate);
                    tokio::time::sleep_until(due.min(deadline)).await;
                }
            }
            run.finish().await.unwrap();
            let stats = client.ingest_stats();
            assert_eq!(
                stats.acks_not_durable.load(Ordering::Relaxed),
                0,
                "every acknowledgement said DURABLE"
            );
            let latency = AckLatency::default();
            latency.merge(&stats.ack_latency);
            (
                (step * 4) as u64,
                latency,
                stats.batches_sent.load(Ordering::Relaxed),
            )
        }));
    }
    let all = AckLatency::default();
    let (mut points, mut batches) = (0u64, 0u64);
    for t in tasks {
        let (p, latency, b) = t.await.unwrap();
        points += p;
        batches += b;
        all.merge(&latency);
    }
    Phase {
        points,
        seconds: started.elapsed().as_secs_f64(),
        latency: all,
        batches,
    }
}

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// Runs the latency benchmark under `dir`.
pub async fn latency(dir: &std::path::Path, quick: bool) {
    let length = Duration::from_secs(if quick { 2 } else { 6 });
    let server = ServerChild::spawn(&dir.join("store"), "durable");
    let url = server.url.clone();
    let mut capacity = 0.0;
    let mut batches = 0;
    for (label, share) in [("100 %", None), ("50 %", Some(0.5)), ("15 %", Some(0.15))] {
        let per_client = share.map(|s: f64| s * capacity / RUNS as f64);
        let p = phase(&url, RUNS, IngestConfig::default(), length, per_client).await;
        let rate = p.points as f64 / p.seconds;
        if share.is_none() {
            capacity = rate;
        }
        batches += p.batches;
        let l = &p.latency;
        println!(
            "ack latency at {label} of capacity: {:.0} points/s, {} batches; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (durable)",
            rate,
            l.count(),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.99)),
            ms(l.max())
        );
        println!(
            "{{\"workload\":\"ack_latency\",\"load\":\"{label}\",\"points_per_s\":{rate:.0},\"batches\":{},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
            l.count(),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.99)),
            ms(l.max())
        );
    }
    let counted = super::scrape_metric(&url, "trackd_stream_ack_seconds_count").await;
    assert_eq!(
        counted, batches,
        "the server's histogram counted every batch"
    );
    server.stop();
}

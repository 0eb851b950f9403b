//! The HTTP edge on the gRPC port: `/health` and `/metrics` (Prometheus text format).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::tracker::Tracker;

/// Routes served over HTTP/1.1 and HTTP/2 next to gRPC.
pub fn router(tracker: Tracker) -> Router {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/metrics", get(metrics))
        .with_state(tracker)
}

async fn metrics(State(tracker): State<Tracker>) -> impl IntoResponse {
    let s = tracker.commit_stats();
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    counter(
        "trackd_points_ingested_total",
        "Metric points stored.",
        "counter",
        s.points.load(Ordering::Relaxed),
    );
    counter(
        "trackd_commit_groups_total",
        "Write groups committed.",
        "counter",
        s.groups.load(Ordering::Relaxed),
    );
    counter(
        "trackd_commit_ops_total",
        "Write operations applied.",
        "counter",
        s.ops.load(Ordering::Relaxed),
    );
    counter(
        "trackd_flushes_total",
        "sled flush() calls.",
        "counter",
        s.flushes.load(Ordering::Relaxed),
    );
    counter(
        "trackd_flush_microseconds_total",
        "Time spent in flush(), in microseconds (divide by flushes for the mean).",
        "counter",
        s.flush_micros.load(Ordering::Relaxed),
    );
    counter(
        "trackd_stream_records_pruned_total",
        "LogStream sequence records removed after their retention.",
        "counter",
        s.stream_records_pruned.load(Ordering::Relaxed),
    );
    counter(
        "trackd_write_queue_depth",
        "Writes waiting for the committer.",
        "gauge",
        s.queue_depth.load(Ordering::Relaxed),
    );
    let reads = tracker.read_stats();
    counter(
        "trackd_history_reads_open",
        "Streaming history reads whose reading task is running.",
        "gauge",
        reads.open_reads(),
    );
    counter(
        "trackd_history_buffered_bytes",
        "Bytes of history blocks held by reads in flight.",
        "gauge",
        reads.buffered_bytes(),
    );
    counter(
        "trackd_history_buffered_bytes_max",
        "The most trackd_history_buffered_bytes has been since the server started.",
        "gauge",
        reads.buffered_bytes_max(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

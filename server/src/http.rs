//! The HTTP edge on the gRPC port: `/health` and `/metrics` (Prometheus text format).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::backend::MetricKind;
use crate::tracker::Tracker;

/// Routes served over HTTP/1.1 and HTTP/2 next to gRPC.
pub fn router(tracker: Tracker, shutting_down: tokio::sync::watch::Receiver<bool>) -> Router {
    Router::new()
        .route(
            "/health",
            get(move || {
                let draining = *shutting_down.borrow();
                async move {
                    if draining {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING")
                    } else {
                        (axum::http::StatusCode::OK, "OK")
                    }
                }
            }),
        )
        .route("/metrics", get(metrics))
        .with_state(tracker)
}

async fn metrics(State(tracker): State<Tracker>) -> impl IntoResponse {
    let mut out = String::new();
    let mut figure = |name: &str, help: &str, kind: &str, value: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    for m in tracker.backend_metrics() {
        let kind = match m.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        figure(m.name, m.help, kind, m.value);
    }
    figure(
        "trackd_stream_batches_duplicate_total",
        "LogStream batches recognised as re-sends of stored batches (not stored again).",
        "counter",
        tracker.duplicate_stream_batches(),
    );
    figure(
        "trackd_ingest_budget_waits_total",
        "LogStream batches that waited for room in the ingest budget (their stream was not read meanwhile).",
        "counter",
        tracker.budget_waits(),
    );
    let reads = tracker.read_stats();
    figure(
        "trackd_history_reads_open",
        "Streaming history reads whose reading task is running.",
        "gauge",
        reads.open_reads(),
    );
    figure(
        "trackd_history_buffered_bytes",
        "Bytes of history blocks held by reads in flight.",
        "gauge",
        reads.buffered_bytes(),
    );
    figure(
        "trackd_history_buffered_bytes_max",
        "The most trackd_history_buffered_bytes has been since the server started.",
        "gauge",
        reads.buffered_bytes_max(),
    );
    tracker.stream_ack_latency().render(
        "trackd_stream_ack_seconds",
        "Time from reading a LogStream batch to its acknowledgement (durable unless the store is buffered).",
        &mut out,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::store::{Store, StoreConfig};
    use crate::tracker::Tracker;

    /// `/health` says what gRPC health says: OK while serving, 503 NOT_SERVING once
    /// shutdown has begun.
    #[tokio::test]
    async fn health_turns_not_serving_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = Tracker::new(Store::open(StoreConfig::new(dir.path())).unwrap());
        let (shutting_down, rx) = tokio::sync::watch::channel(false);
        let app = super::router(tracker, rx);
        let health = || Request::get("/health").body(Body::empty()).unwrap();
        let serving = app.clone().oneshot(health()).await.unwrap();
        assert_eq!(serving.status(), StatusCode::OK);
        shutting_down.send(true).unwrap();
        let draining = app.oneshot(health()).await.unwrap();
        assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(draining.into_body(), 64)
            .await
            .unwrap();
        assert_eq!(&body[..], b"NOT_SERVING");
    }
}

//! Long histories (issue 22): series of any length are read back whole, in bounded pieces,
//! over gRPC, REST and in embedded mode, and the server's memory for a read stays bounded.

mod common;

use common::*;
use futures::TryStreamExt;
use tonic::Code;
use trackd_client::Client;
use trackd_proto::v1 as pb;

/// Points of the long-series tests (`TRACKD_HISTORY_POINTS` overrides; the figure
/// is 20 million).
fn long_series_points() -> i64 {
    std::env::var("TRACKD_HISTORY_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000)
}

/// The value logged at `step`: a smooth curve with one spike up and one down, so the
/// extremes are known.
fn value(step: i64, n: i64) -> f64 {
    if step == n / 3 {
        1e6
    } else if step == 2 * n / 3 {
        -1e6
    } else {
        (step as f64 * 1e-3).sin()
    }
}

/// Logs `n` points of "loss" through the client, one `log_metric` per step.
async fn log_long_series(client: &Client, n: i64) -> String {
    let run = client.start_run().start().await.unwrap();
    for step in 0..n {
        run.log_metric("loss", value(step, n), step).await.unwrap();
    }
    run.flush().await.unwrap();
    let id = run.id().to_owned();
    run.finish().await.unwrap();
    id
}

/// Reads the series back through the stream and checks count, order, ends and extremes
/// without keeping it.
async fn check_long_series(client: &Client, run_id: &str, n: i64) {
    let mut pieces = client.metric_history_stream(run_id, "loss").await.unwrap();
    let (mut count, mut next_step) = (0i64, 0i64);
    let (mut lowest, mut highest) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut last_value = f64::NAN;
    while let Some(piece) = pieces.try_next().await.unwrap() {
        assert!(piece.steps.len() <= 65_536, "bounded pieces");
        assert_eq!(piece.steps.len(), piece.values.len());
        for (&step, &v) in piece.steps.iter().zip(&piece.values) {
            assert_eq!(step, next_step, "in step order, none missing or repeated");
            assert_eq!(
                v.to_bits(),
                value(step, n).to_bits(),
                "value at step {step}"
            );
            next_step += 1;
            lowest = lowest.min(v);
            highest = highest.max(v);
            last_value = v;
        }
        count += piece.steps.len() as i64;
    }
    assert_eq!(count, n);
    assert_eq!((lowest, highest), (-1e6, 1e6));
    assert_eq!(last_value, value(n - 1, n));
}

/// 20 million points logged through the client are read back whole over gRPC, with the
/// memory the server holds for the read bounded by a few blocks.
#[tokio::test]
async fn a_twenty_million_point_series_reads_back_over_grpc() {
    let n = long_series_points();
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run_id = log_long_series(&client, n).await;
    check_long_series(&client, &run_id, n).await;
    // Also whole, through the collecting calls.
    let columns = client
        .metric_history_columns(&run_id, "loss")
        .await
        .unwrap();
    assert_eq!(columns.steps.len() as i64, n);
    drop(columns);
    let most = server_metric(server.handle.addr(), "trackd_history_buffered_bytes_max").await;
    assert!(most > 0, "the reads were counted");
    assert!(
        most <= 3 * 65_536 * 24,
        "a read holds at most three blocks, held {most} bytes"
    );
}

/// The same in embedded mode (the Tracker in-process, no server).
#[tokio::test]
async fn a_twenty_million_point_series_reads_back_embedded() {
    let n = long_series_points();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::connect(dir.path().to_str().unwrap()).await.unwrap();
    let run_id = log_long_series(&client, n).await;
    check_long_series(&client, &run_id, n).await;
}

/// A read whose client goes away frees everything it held, and the reading task stops.
#[tokio::test]
async fn a_dropped_read_frees_everything() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run_id = log_long_series(&client, 1_000_000).await;
    let mut pieces = client.metric_history_stream(&run_id, "loss").await.unwrap();
    let first = pieces.try_next().await.unwrap().unwrap();
    assert_eq!(first.steps.len(), 65_536);
    assert_eq!(
        server_metric(server.handle.addr(), "trackd_history_reads_open").await,
        1
    );
    drop(pieces);
    drop(client);
    eventually("the read to stop and free its blocks", || async {
        server_metric(server.handle.addr(), "trackd_history_reads_open").await == 0
            && server_metric(server.handle.addr(), "trackd_history_buffered_bytes").await == 0
    })
    .await;
}

/// Series logged out of order (steps backwards, a step counter reset each epoch) read back
/// in step order; a step range reads only what it names.
#[tokio::test]
async fn out_of_order_series_and_step_ranges() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    for epoch in 0..3i64 {
        for step in (0..50_000i64).rev() {
            run.log_metric("loss", (epoch * 100_000 + step) as f64, step)
                .await
                .unwrap();
        }
    }
    run.flush().await.unwrap();
    let columns = client
        .metric_history_columns(run.id(), "loss")
        .await
        .unwrap();
    assert_eq!(columns.steps.len(), 150_000);
    assert!(columns.steps.windows(2).all(|w| w[0] <= w[1]));
    let mut c = server.client().await;
    let answers: Vec<pb::StreamMetricHistoryResponse> = c
        .stream_metric_history(pb::StreamMetricHistoryRequest {
            run_id: run.id().into(),
            metric_key: "loss".into(),
            start_step: Some(100),
            end_step: Some(102),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .try_collect()
        .await
        .unwrap();
    let steps: Vec<i64> = answers
        .iter()
        .flat_map(|a| a.columns.as_ref().unwrap().steps.clone())
        .collect();
    assert_eq!(steps, vec![100, 100, 100, 101, 101, 101, 102, 102, 102]);
    run.finish().await.unwrap();
}

/// The one-message reads refuse series longer than they can hold, naming the streaming
/// call; pages still work; REST streams a whole history of any length.
#[tokio::test]
async fn one_message_reads_have_a_documented_limit_and_rest_streams() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run_id = log_long_series(&client, 300_000).await;
    let mut c = server.client().await;
    let whole = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: run_id.clone(),
            metric_key: "loss".into(),
            ..Default::default()
        })
        .await;
    let status = expect_code(whole, Code::InvalidArgument);
    assert!(
        status.message().contains("StreamMetricHistory"),
        "{status:?}"
    );
    let page = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: run_id.clone(),
            metric_key: "loss".into(),
            max_results: 25_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.metrics.len(), 25_000);
    assert!(!page.next_page_token.is_empty());
    let next = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: run_id.clone(),
            metric_key: "loss".into(),
            max_results: 25_000,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.metrics[0].step, 25_000);

    let (status, body) = http(
        server.handle.addr(),
        "GET",
        &format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss"),
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let metrics = parsed["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 300_000);
    assert_eq!(metrics[299_999]["step"], 299_999);
    assert_eq!(metrics[100_000]["value"], 1e6);
    assert_eq!(metrics[0]["key"], "loss");
    let most = server_metric(server.handle.addr(), "trackd_history_buffered_bytes_max").await;
    assert!(most <= 3 * 65_536 * 24, "held {most} bytes");
    // An unknown metric of a known run is an empty answer, as in MLflow.
    let (status, body) = http(
        server.handle.addr(),
        "GET",
        &format!("/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=nothing"),
        None,
        b"",
    )
    .await;
    assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));
}

//! Graceful shutdown with open streams, against a real server: health turns NOT_SERVING,
//! every batch a stream sent is acknowledged and stored, the stream then ends with
//! UNAVAILABLE, and the grace period bounds how long an open request can hold shutdown.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use trackd_proto::v1 as pb;
use trackd_server::server::ServeOptions;

fn one_point(seq: u64, run_id: &str) -> pb::LogStreamRequest {
    pb::LogStreamRequest {
        stream_id: "shutdown-test".into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.into(),
            metrics: vec![pb::MetricColumns {
                key: "m".into(),
                steps: vec![seq as i64],
                timestamps: vec![1],
                values: vec![seq as f64],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// An open LogStream and a health watcher across a graceful shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_are_acknowledged_then_ended_and_health_says_not_serving() {
    let TestServer {
        handle,
        dir,
        database,
    } = TestServer::start().await;
    let chan = channel(&handle.url()).await;
    let mut c = trackd_proto::v1::tracking_service_client::TrackingServiceClient::new(chan.clone());
    let run_id = run(&mut c, "0").await;

    let mut health = HealthClient::new(chan.clone())
        .watch(HealthCheckRequest {
            service: "trackd.v1.TrackingService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = health.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut acks = c
        .log_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(one_point(1, &run_id)).await.unwrap();
    let ack = acks.next().await.unwrap().unwrap();
    assert_eq!((ack.seq, ack.points_stored), (1, 1));
    // More batches in flight, then shutdown while the stream is open (its sender stays
    // alive: the client never ends it).
    for seq in 2..=40 {
        tx.send(one_point(seq, &run_id)).await.unwrap();
    }
    let shutdown = tokio::spawn(handle.shutdown());

    let next = health.next().await.unwrap().unwrap();
    assert_eq!(
        next.status,
        ServingStatus::NotServing as i32,
        "health turns NOT_SERVING when shutdown begins"
    );
    // Acknowledgements of what the server read come in order, then the stream ends with
    // UNAVAILABLE.
    let mut acked = vec![1u64];
    let end = loop {
        match acks.next().await.expect("the stream ends with a status") {
            Ok(ack) => {
                assert_eq!(ack.points_stored, 1);
                acked.push(ack.seq);
            }
            Err(status) => break status,
        }
    };
    assert_eq!(end.code(), tonic::Code::Unavailable, "{end:?}");
    let expected: Vec<u64> = (1..=acked.len() as u64).collect();
    assert_eq!(acked, expected, "acknowledgements in order, none skipped");
    // The health watch stays open until the client ends it (or the grace period does).
    drop((tx, acks, health, c, chan));
    tokio::time::timeout(Duration::from_secs(30), shutdown)
        .await
        .expect("shutdown completes")
        .unwrap()
        .expect("clean shutdown");

    // Everything acknowledged is in the store.
    let handle = reopen(dir.path(), &database, ServeOptions::default()).await;
    let client = trackd_client::Client::connect(&handle.url()).await.unwrap();
    let steps: Vec<i64> = client
        .metric_history(&run_id, "m")
        .await
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    let acked_steps: Vec<i64> = acked.iter().map(|s| *s as i64).collect();
    assert_eq!(
        steps, acked_steps,
        "exactly the acknowledged batches are stored: every batch the server took was acknowledged"
    );
    handle.shutdown().await.unwrap();
}

/// A request that never ends (an upload whose sender stalls) holds shutdown only for the
/// grace period; the store still closes cleanly and reopens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions {
        shutdown_grace: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let handle = start_on_dir(dir.path(), options).await;
    let chan = channel(&handle.url()).await;
    let mut c = trackd_proto::v1::tracking_service_client::TrackingServiceClient::new(chan.clone());
    let run_id = run(&mut c, "0").await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Header(
            pb::UploadHeader {
                run_id: run_id.clone(),
                path: "stalled.bin".into(),
                ..Default::default()
            },
        )),
    })
    .await
    .unwrap();
    tx.send(pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Chunk(vec![1; 1024])),
    })
    .await
    .unwrap();
    let mut artifacts =
        trackd_proto::v1::artifact_service_client::ArtifactServiceClient::new(chan.clone());
    let upload = tokio::spawn(async move {
        artifacts
            .upload_artifact(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    // The upload is open on the server (its temporary file exists) before shutdown begins.
    let run_dir = dir
        .path()
        .join("artifacts")
        .join("0")
        .join(&run_id)
        .join("artifacts");
    eventually("the upload is in progress", || {
        let run_dir = run_dir.clone();
        async move {
            std::fs::read_dir(&run_dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().contains(".upload-"))
            })
        }
    })
    .await;
    // The body timeout (30 s by default) would end the stalled upload long after the
    // 30 s allowed here only if the grace period did not bound the drain first.
    let done = tokio::time::timeout(Duration::from_secs(20), handle.shutdown()).await;
    assert!(
        done.is_ok(),
        "shutdown waited past its grace period for a stalled request"
    );
    done.unwrap().expect("the store closes cleanly");
    drop(tx);
    assert!(
        upload.await.unwrap().is_err(),
        "the stalled upload did not complete"
    );
    let handle = start_on_dir(dir.path(), ServeOptions::default()).await;
    let files = trackd_client::Client::connect(&handle.url())
        .await
        .unwrap()
        .list_artifacts(&run_id, "", true)
        .await
        .unwrap();
    assert!(
        files.is_empty(),
        "a broken upload leaves nothing: {files:?}"
    );
    handle.shutdown().await.unwrap();
}

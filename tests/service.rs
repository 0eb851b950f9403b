//! The server as a service: restart durability, reflection, health, HTTP on the same port,
//! the store lock, and graceful shutdown.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use trackd_proto::v1 as pb;

/// Everything acknowledged before a shutdown is there after reopening the store.
#[tokio::test]
async fn restart_keeps_everything_acknowledged() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let exp = experiment(&mut c, "durable").await;
    c.set_experiment_tag(pb::SetExperimentTagRequest {
        experiment_id: exp.clone(),
        key: "k".into(),
        value: "v".into(),
    })
    .await
    .unwrap();
    let id = run(&mut c, &exp).await;
    let metrics: Vec<pb::Metric> = (0..998)
        .map(|i| metric("loss", 1.0 / f64::from(i + 1), 7, i64::from(i)))
        .collect();
    c.log_batch(pb::LogBatchRequest {
        run_id: id.clone(),
        metrics,
        params: vec![pb::Param {
            key: "lr".into(),
            value: "0.1".into(),
        }],
        tags: vec![pb::RunTag {
            key: "t".into(),
            value: "x".into(),
        }],
    })
    .await
    .unwrap();
    c.update_run(pb::UpdateRunRequest {
        run_id: id.clone(),
        status: Some(pb::RunStatus::Finished as i32),
        end_time: Some(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let before = get_run(&mut c, &id).await;
    drop(c);

    let server = server.restart().await;
    let mut c = server.client().await;
    assert_eq!(get_run(&mut c, &id).await, before);
    let history = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "loss".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .metrics;
    assert_eq!(history.len(), 998);
    let exp_after = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: exp.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    assert_eq!(exp_after.tags.len(), 1);
    // Ids keep counting after a restart.
    assert_eq!(experiment(&mut c, "next").await, "2");
}

/// A second process (or open) on the same store fails with a message that names the fix.
#[tokio::test]
async fn locked_store_is_a_clear_error() {
    if on_postgres() {
        // A directory has one process; a database has replicas (tests/postgres.rs).
        return;
    }
    let server = TestServer::start().await;
    let err = trackd_server::Store::open(trackd_server::StoreConfig::new(server.dir.path()))
        .err()
        .expect("second open must fail");
    let text = err.to_string();
    assert!(text.contains("in use by another process"), "{text}");
    assert!(text.contains("MLFLOW_TRACKING_URI"), "{text}");
}

/// Reflection (v1 and v1alpha) lists the services and resolves symbols without .proto files.
#[tokio::test]
async fn reflection_lists_and_resolves() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha;

    let server = TestServer::start().await;
    let channel = channel(&server.handle.url()).await;
    let mut client = ServerReflectionClient::new(channel.clone());
    let requests = tokio_stream::iter(vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "trackd.v1.TrackingService".into(),
            )),
        },
    ]);
    let mut responses = client
        .server_reflection_info(requests)
        .await
        .unwrap()
        .into_inner();
    let list = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(services)) = list.message_response else {
        panic!("{list:?}")
    };
    let names: Vec<String> = services.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "trackd.v1.TrackingService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let file = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(fd)) = file.message_response else {
        panic!("{file:?}")
    };
    assert!(!fd.file_descriptor_proto.is_empty());

    let mut old = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "trackd.v1.LogStreamRequest".into(),
            ),
        ),
    };
    let mut responses = old
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let answer = responses.next().await.unwrap().unwrap();
    assert!(matches!(
        answer.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
    ));
}

/// grpc.health.v1 reports SERVING for the server and for TrackingService.
#[tokio::test]
async fn health_check_serving() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(channel(&server.handle.url()).await);
    for service in ["", "trackd.v1.TrackingService", "trackd.v1.ArtifactService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await;
    expect_code(unknown, tonic::Code::NotFound);
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Plain HTTP/1.1 on the gRPC port: /health answers OK; /metrics counts exactly what
/// happened (every counter read by its exact name and value, not a substring).
#[tokio::test]
async fn http_health_and_metrics_on_the_grpc_port() {
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let health = http_get(addr, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("OK"), "{health}");
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let metric = |name: &'static str| server_metric(addr, name);
    let (points, ops, groups, flushes, flush_us) = (
        metric("trackd_points_ingested_total").await,
        metric("trackd_commit_ops_total").await,
        metric("trackd_commit_groups_total").await,
        metric("trackd_flushes_total").await,
        metric("trackd_flush_microseconds_total").await,
    );
    let point = pb::LogMetricRequest {
        run_id: id,
        key: "m".into(),
        value: 1.0,
        timestamp: 1,
        ..Default::default()
    };
    c.log_metric(point.clone()).await.unwrap();
    // A retried exact duplicate is acknowledged but not stored, and not counted as a point.
    c.log_metric(point).await.unwrap();
    assert_eq!(metric("trackd_points_ingested_total").await, points + 1);
    // Two sequential durable writes: two ops, two groups, a flush each.
    assert_eq!(metric("trackd_commit_ops_total").await, ops + 2);
    assert_eq!(metric("trackd_commit_groups_total").await, groups + 2);
    assert_eq!(metric("trackd_flushes_total").await, flushes + 2);
    assert!(metric("trackd_flush_microseconds_total").await > flush_us);
    // At rest: nothing queued, no read open, nothing buffered, no duplicate batch, nothing
    // pruned.
    for name in [
        "trackd_write_queue_depth",
        "trackd_history_reads_open",
        "trackd_history_buffered_bytes",
        "trackd_stream_batches_duplicate_total",
        "trackd_stream_records_pruned_total",
    ] {
        assert_eq!(metric(name).await, 0, "{name}");
    }
}

/// Shutdown: acknowledged writes survive, and a new server can open the store at once.
#[tokio::test]
async fn graceful_shutdown_releases_the_store() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let TestServer {
        handle,
        dir,
        database,
    } = server;
    handle.shutdown().await.unwrap();
    let after = c
        .get_run(pb::GetRunRequest {
            run_id: id.clone(),
            ..Default::default()
        })
        .await;
    assert!(after.is_err(), "the old server no longer answers");
    let handle = reopen(dir.path(), &database, Default::default()).await;
    let mut c = connect(&handle.url()).await;
    assert_eq!(get_run(&mut c, &id).await.info.unwrap().run_id, id);
    handle.shutdown().await.unwrap();
}

//! Hostile input: each test here is a hole a hostile probe found (issue 12), replayed
//! against a real server on 127.0.0.1:0 over the network. Each one failed before its fix.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use trackd_client::{Client, ClientError, IngestConfig};
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_client::ArtifactServiceClient;
use trackd_server::connections::ConnectionLimits;
use trackd_server::grpc::GrpcOptions;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::{Store, StoreConfig, Tracker};

const PROXY: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Uploads `bytes` through the REST artifact proxy; returns the status and body.
async fn put(server: &TestServer, path: &str, bytes: &[u8]) -> (u16, String) {
    let (status, body) = http(
        server.handle.addr(),
        "PUT",
        &format!("{PROXY}/{path}"),
        None,
        bytes,
    )
    .await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends `DELETE` through the REST artifact proxy; returns the status.
async fn delete(server: &TestServer, path: &str) -> u16 {
    let (status, _) = http(
        server.handle.addr(),
        "DELETE",
        &format!("{PROXY}/{path}"),
        None,
        b"",
    )
    .await;
    status
}

/// Every file under `<store>/artifacts`, relative.
fn artifact_files(server: &TestServer) -> Vec<String> {
    let root = server.dir.path().join("artifacts");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Hole 1: `DELETE …/artifacts/.` (and `%2e`, `./`, `.?path=x`) deleted every artifact on
/// the server. Now `.` and empty segments are refused by the one validator, and no path
/// that names the artifact root, an experiment's or a run's directory, or a run's artifact
/// root can be deleted, over REST or gRPC.
#[tokio::test]
async fn no_request_deletes_the_artifact_root_or_a_run_tree() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let file = format!("0/{run_id}/artifacts/model/weights.bin");
    assert_eq!(put(&server, &file, b"weights").await.0, 200);
    let before = artifact_files(&server);
    assert_eq!(before, vec![file.clone()]);

    for path in [
        ".",
        "%2e",
        "%252e",
        "./",
        ".?path=x",
        "./0",
        "0",
        "0/",
        &format!("0/{run_id}"),
        &format!("0/{run_id}/"),
        &format!("0/{run_id}/artifacts"),
        &format!("0/{run_id}/artifacts/"),
        &format!("0/{run_id}/artifacts/."),
        &format!("0/{run_id}/artifacts/./model"),
        &format!("0//{run_id}/artifacts/model"),
        &format!("0/{run_id}/artifacts/model/.."),
    ] {
        let status = delete(&server, path).await;
        assert!((400..500).contains(&status), "DELETE {path}: {status}");
        assert_eq!(artifact_files(&server), before, "after DELETE {path}");
    }

    let mut artifacts = ArtifactServiceClient::new(channel(&server.handle.url()).await);
    for path in ["", ".", "./", "%2e", "model/.", "model//"] {
        let result = artifacts
            .delete_artifact(pb::DeleteArtifactRequest {
                run_id: run_id.clone(),
                path: path.into(),
                ..Default::default()
            })
            .await;
        expect_code(result, Code::InvalidArgument);
        assert_eq!(
            artifact_files(&server),
            before,
            "after gRPC delete {path:?}"
        );
    }

    // What is meant to work still does: a directory inside the run's artifacts.
    assert_eq!(
        delete(&server, &format!("0/{run_id}/artifacts/model")).await,
        200
    );
    assert!(artifact_files(&server).is_empty());
}

/// Hole 2: connections that send part of a request and stall, or announce a huge body,
/// were held forever, and enough of them made the server unresponsive. Now the body is
/// checked against its limit before reading, a stalled header or body times out, and at
/// most `max_connections` are served at once while the rest wait.
#[tokio::test]
async fn stalled_and_oversized_requests_do_not_hold_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions {
        connections: ConnectionLimits {
            max_connections: 8,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            ..ConnectionLimits::default()
        },
        ..ServeOptions::default()
    };
    let handle = start_on_dir(dir.path(), options).await;
    let addr = handle.addr();

    // A body announced as 1 TiB is refused before any of it is read.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(30), s.read_exact(&mut head))
        .await
        .unwrap_or_else(held("announced 1 TiB"))
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");

    // Headers, then one byte of a 1,000,000-byte body, then silence: the request fails
    // after the body timeout and the connection is closed.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .unwrap_or_else(held("a stalled body"))
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    // Half a header line, then silence: closed after the header timeout.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut rest))
        .await
        .unwrap_or_else(held("a stalled header"))
        .unwrap();

    // Twice the connection cap of silent connections: they are closed after the header
    // timeout, so a real request still gets its answer.
    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(30),
        http(addr, "GET", "/health", None, b""),
    )
    .await
    .unwrap_or_else(held("/health behind silent connections"));
    assert_eq!((status, body.as_slice()), (200, b"OK".as_slice()));
    for mut s in silent {
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "a silent connection was held open");
    }
    handle.shutdown().await.unwrap();
}

/// Hole 3: an unreadable request on a LogStream ended the stream with `grpc-status: 0`,
/// the bad batch unanswered and the next one silently dropped. Now the batches before it
/// are answered and the stream ends with INVALID_ARGUMENT naming the reason.
#[tokio::test]
async fn an_unreadable_stream_request_ends_the_stream_with_an_error() {
    use prost::Message;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let batch = |seq: u64, step: i64| one_point_batch("bad-bytes", seq, &run_id, step);
    let frames = vec![
        bytes::Bytes::from(batch(1, 1).encode_to_vec()),
        bytes::Bytes::from_static(&[0xff; 16]), // not a protobuf message
        bytes::Bytes::from(batch(2, 2).encode_to_vec()),
    ];
    let mut grpc = tonic::client::Grpc::new(channel(&server.handle.url()).await);
    grpc.ready().await.unwrap();
    let mut answers = grpc
        .streaming(
            tonic::Request::new(tokio_stream::iter(frames)),
            tonic::codegen::http::uri::PathAndQuery::from_static(
                "/trackd.v1.TrackingService/LogStream",
            ),
            trackd_proto::codec::PreEncodedCodec::<pb::LogStreamResponse>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let first = answers.next().await.unwrap().unwrap();
    assert_eq!((first.seq, first.points_stored), (1, 1));
    let ended = answers.next().await.expect("the stream ends with a status");
    let status = ended.expect_err("an error status, not OK");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("after seq 1") && status.message().contains("could not be read"),
        "{status:?}"
    );
    assert!(answers.next().await.is_none());
    let history = get_history(&mut c, &run_id, "m").await;
    assert_eq!(history, vec![1], "seq 2 came after the unreadable request");
}

/// A batch over the server's message limit ends the stream the same way, and the Rust
/// client reports it instead of retrying forever or losing it silently.
#[tokio::test]
async fn the_client_reports_a_stream_the_server_ended() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions {
        grpc: GrpcOptions {
            max_message_bytes: 4096,
            ..GrpcOptions::default()
        },
        ..ServeOptions::default()
    };
    let handle = start_on_dir(dir.path(), options).await;
    let config = IngestConfig::default().with_batch_points(100_000);
    let client = Client::connect_with(&handle.url(), config).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    for step in 0..20_000 {
        // Values that do not compress: the batch is far over 4 KiB.
        let _ = run
            .log_metric("loss", (step as f64).sin() * 1e-3 + step as f64, step)
            .await;
    }
    let err = client
        .flush()
        .await
        .expect_err("the server refused the batch");
    match &err {
        ClientError::Api { code, message, .. } => {
            assert_eq!(*code, Code::InvalidArgument, "{err}");
            assert!(message.contains("LogStream closed"), "{err}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    handle.shutdown().await.unwrap();
}

/// Hole 4: on a fresh stream, seq 1, seq 3, then seq 2 acknowledged seq 2 as DURABLE with
/// nothing stored, and a first batch with seq 2^64-1 made every later batch vanish. Now a
/// gap is an error answer and nothing is acknowledged that was not stored.
#[tokio::test]
async fn stream_sequence_gaps_are_errors_not_acknowledgements() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let batch = |stream: &str, seq: u64, step: i64| one_point_batch(stream, seq, &run_id, step);
    let acks = stream_acks(
        &mut c,
        vec![
            batch("gaps", 1, 1),
            batch("gaps", 3, 3),
            batch("gaps", 2, 2),
            batch("gaps", 3, 3),
            batch("gaps", 3, 3),
        ],
    )
    .await;
    let summary: Vec<(u64, u64, Option<String>)> = acks
        .iter()
        .map(|a| {
            (
                a.seq,
                a.points_stored,
                a.error.as_ref().map(|e| e.error_code.clone()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 1, None),
            (3, 0, Some("INVALID_PARAMETER_VALUE".into())),
            (2, 1, None),
            (3, 1, None),
            (3, 0, None), // a re-send
        ]
    );
    let gap = &acks[1].error.as_ref().unwrap().message;
    assert!(gap.contains("batches 2 to 2 never arrived"), "{gap}");

    let acks = stream_acks(
        &mut c,
        vec![batch("huge", u64::MAX, 10), batch("huge", 1, 4)],
    )
    .await;
    assert!(acks[0].error.is_some(), "{:?}", acks[0]);
    assert_eq!(acks[0].points_stored, 0);
    assert_eq!((acks[1].error.as_ref(), acks[1].points_stored), (None, 1));
    assert_eq!(get_history(&mut c, &run_id, "m").await, vec![1, 2, 3, 4]);
}

/// Hole 5: a file name the file system cannot hold answered 500 with the server's
/// absolute path. Now it is a 400 / INVALID_ARGUMENT, and no message carries a server path.
#[tokio::test]
async fn long_names_are_bad_requests_without_server_paths() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let store = server.dir.path().display().to_string();
    let long = "n".repeat(256);
    let (status, body) = put(&server, &format!("0/{run_id}/artifacts/{long}"), b"x").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("INVALID_PARAMETER_VALUE"), "{body}");
    assert!(!body.contains(&store), "{body}");
    // 255 bytes is a legal name.
    let longest = "n".repeat(255);
    let (status, body) = put(&server, &format!("0/{run_id}/artifacts/{longest}"), b"x").await;
    assert_eq!(status, 200, "{body}");

    let mut artifacts = ArtifactServiceClient::new(channel(&server.handle.url()).await);
    let upload = artifacts
        .upload_artifact(tokio_stream::iter(vec![pb::UploadArtifactRequest {
            part: Some(pb::upload_artifact_request::Part::Header(
                pb::UploadHeader {
                    run_id: run_id.clone(),
                    path: long.clone(),
                    ..Default::default()
                },
            )),
        }]))
        .await;
    let status = expect_code(upload, Code::InvalidArgument);
    assert!(!status.message().contains(&store), "{status:?}");
    let download = artifacts
        .download_artifact(pb::DownloadArtifactRequest {
            run_id: run_id.clone(),
            path: long.clone(),
            ..Default::default()
        })
        .await;
    let status = expect_code(download, Code::InvalidArgument);
    assert!(!status.message().contains(&store), "{status:?}");
    let list = artifacts
        .list_artifacts(pb::ListArtifactsRequest {
            run_id: run_id.clone(),
            path: long.clone(),
            recursive: false,
            ..Default::default()
        })
        .await;
    expect_code(list, Code::InvalidArgument);
    let delete = artifacts
        .delete_artifact(pb::DeleteArtifactRequest {
            run_id,
            path: long,
            ..Default::default()
        })
        .await;
    expect_code(delete, Code::InvalidArgument);
}

/// Hole 6: an experiment could be created inside another run's artifact tree (its runs
/// then showed up in that run's listing, and deleting that run's artifacts deleted them),
/// and `mlflow-artifacts://host/x` was silently rewritten. Now locations may not overlap,
/// and a URI with a host is refused.
#[tokio::test]
async fn experiment_locations_cannot_overlap_other_trees() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let create = |name: &str, location: &str| pb::CreateExperimentRequest {
        name: name.into(),
        artifact_location: location.into(),
        ..Default::default()
    };
    for (i, location) in [
        format!("mlflow-artifacts:/0/{run_id}/artifacts"),
        format!("mlflow-artifacts:/0/{run_id}/artifacts/x"),
        "mlflow-artifacts:/0".to_owned(),
        "mlflow-artifacts:/8".to_owned(),
        "mlflow-artifacts://evilhost/x".to_owned(),
        "mlflow-artifacts:///x".to_owned(),
        "mlflow-artifacts:/".to_owned(),
        "mlflow-artifacts:/.".to_owned(),
        "mlflow-artifacts:x".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let result = c
            .create_experiment(create(&format!("bad-{i}"), location))
            .await;
        expect_code(result, Code::InvalidArgument);
    }
    let team = c
        .create_experiment(create("team", "mlflow-artifacts:/team/vision"))
        .await
        .unwrap()
        .into_inner()
        .experiment_id;
    for (i, location) in [
        "mlflow-artifacts:/team",
        "mlflow-artifacts:/team/vision",
        "mlflow-artifacts:/team/vision/",
        "mlflow-artifacts:/team/vision/sub",
    ]
    .iter()
    .enumerate()
    {
        let result = c
            .create_experiment(create(&format!("overlap-{i}"), location))
            .await;
        let status = expect_code(result, Code::InvalidArgument);
        assert!(status.message().contains("overlaps"), "{status:?}");
    }
    // Siblings are fine, also when one name is a prefix of the other.
    c.create_experiment(create("sibling", "mlflow-artifacts:/team/visionary"))
        .await
        .unwrap();
    let team_run = run(&mut c, &team).await;
    let info = get_run(&mut c, &team_run).await.info.unwrap();
    assert_eq!(
        info.artifact_uri,
        format!("mlflow-artifacts:/team/vision/{team_run}/artifacts")
    );
    // Over REST, the same answers.
    let (status, _) = http(
        server.handle.addr(),
        "POST",
        "/api/2.0/mlflow/experiments/create",
        Some("application/json"),
        br#"{"name": "rest-evil", "artifact_location": "mlflow-artifacts://evilhost/x"}"#,
    )
    .await;
    assert_eq!(status, 400);
}

/// Hole 7: the REST artifact proxy wrote into deleted runs where gRPC refused. Both edges
/// now go through one rule.
#[tokio::test]
async fn deleted_runs_refuse_artifact_writes_on_every_edge() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let path = format!("0/{run_id}/artifacts/kept.txt");
    assert_eq!(put(&server, &path, b"kept").await.0, 200);
    c.delete_run(pb::DeleteRunRequest {
        run_id: run_id.clone(),
    })
    .await
    .unwrap();
    let (status, body) = put(&server, &format!("0/{run_id}/artifacts/new.txt"), b"x").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("must be in the 'active' state"), "{body}");
    assert_eq!(delete(&server, &path).await, 400);
    assert_eq!(
        artifact_files(&server),
        vec![path.clone()],
        "nothing written or deleted"
    );
    // Reading a deleted run's artifacts is still allowed (as in MLflow).
    let (status, body) = http(
        server.handle.addr(),
        "GET",
        &format!("{PROXY}/{path}"),
        None,
        b"",
    )
    .await;
    assert_eq!((status, body.as_slice()), (200, b"kept".as_slice()));
    // A path that is not inside any run's artifacts names nothing.
    let (status, _) = put(&server, "loose/file.txt", b"x").await;
    assert_eq!(status, 400);
    let (status, _) = put(
        &server,
        "0/0123456789abcdef0123456789abcdef/artifacts/x",
        b"x",
    )
    .await;
    assert_eq!(status, 404);
}

/// Uploads over the configured cap are refused (before reading when the length is
/// announced, as soon as it is passed otherwise), on both edges, leaving nothing behind.
#[tokio::test]
async fn uploads_over_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let tracker = Tracker::open(store).unwrap().with_max_artifact_bytes(1000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = ServerHandle::start_on(listener, tracker, ServeOptions::default()).unwrap();
    let mut c = connect(&handle.url()).await;
    let run_id = run(&mut c, "0").await;
    let path = format!("{PROXY}/0/{run_id}/artifacts/big.bin");
    let (status, body) = http(handle.addr(), "PUT", &path, None, &[7u8; 1001]).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let (status, _) = http(handle.addr(), "PUT", &path, None, &[7u8; 1000]).await;
    assert_eq!(status, 200, "exactly the cap is fine");

    let mut artifacts = ArtifactServiceClient::new(channel(&handle.url()).await);
    let upload = artifacts
        .upload_artifact(tokio_stream::iter(vec![
            pb::UploadArtifactRequest {
                part: Some(pb::upload_artifact_request::Part::Header(
                    pb::UploadHeader {
                        run_id: run_id.clone(),
                        path: "big2.bin".into(),
                        ..Default::default()
                    },
                )),
            },
            pb::UploadArtifactRequest {
                part: Some(pb::upload_artifact_request::Part::Chunk(vec![1; 600])),
            },
            pb::UploadArtifactRequest {
                part: Some(pb::upload_artifact_request::Part::Chunk(vec![1; 600])),
            },
        ]))
        .await;
    expect_code(upload, Code::InvalidArgument);
    let listed = artifacts
        .list_artifacts(pb::ListArtifactsRequest {
            run_id,
            path: String::new(),
            recursive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .files;
    let names: Vec<&str> = listed.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, vec!["big.bin"], "the refused upload left nothing");
    handle.shutdown().await.unwrap();
}

/// The smaller tightenings: runs/create takes at most MLflow's 100 tags; metric values
/// parse as MLflow's protobuf JSON parser does; the proxy's list answers 400 for escapes
/// that are not UTF-8, like its other routes.
#[tokio::test]
async fn small_limits_hold() {
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let tags: Vec<String> = (0..101)
        .map(|i| format!(r#"{{"key": "t{i}", "value": "v"}}"#))
        .collect();
    let body = format!(r#"{{"experiment_id": "0", "tags": [{}]}}"#, tags.join(","));
    let (status, reply) = http(
        addr,
        "POST",
        "/api/2.0/mlflow/runs/create",
        Some("application/json"),
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&reply));
    let mut c = server.client().await;
    let result = c
        .create_run(pb::CreateRunRequest {
            experiment_id: "0".into(),
            tags: (0..101)
                .map(|i| pb::RunTag {
                    key: format!("t{i}"),
                    value: "v".into(),
                })
                .collect(),
            ..Default::default()
        })
        .await;
    expect_code(result, Code::InvalidArgument);

    let run_id = run(&mut c, "0").await;
    let log = |value: &str| {
        format!(
            r#"{{"run_id": "{run_id}", "key": "m", "value": {value}, "timestamp": 1, "step": 0}}"#
        )
    };
    for (value, expected) in [
        (r#""nan""#, 400),
        ("1e999", 400),
        (r#""bogus""#, 400),
        ("true", 400),
        (r#""NaN""#, 200),
        (r#""NaN ""#, 200),
        (r#""inf""#, 200),
        (r#""1e999""#, 200),
        (r#""-Infinity""#, 200),
        (r#"" 2.5 ""#, 200),
    ] {
        let (status, reply) = http(
            addr,
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            Some("application/json"),
            log(value).as_bytes(),
        )
        .await;
        assert_eq!(
            status,
            expected,
            "value {value}: {}",
            String::from_utf8_lossy(&reply)
        );
    }

    // log-batch (its own fast parser) reads numbers by the same rule.
    for (value, expected) in [(r#""nan""#, 400), (r#""NaN ""#, 200), (r#""1e999""#, 200)] {
        let body = format!(
            r#"{{"run_id": "{run_id}", "metrics": [{{"key": "b", "value": {value}, "timestamp": 1, "step": 0}}]}}"#
        );
        let (status, reply) = http(
            addr,
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            Some("application/json"),
            body.as_bytes(),
        )
        .await;
        assert_eq!(
            status,
            expected,
            "log-batch value {value}: {}",
            String::from_utf8_lossy(&reply)
        );
    }

    let path = format!("0/{run_id}/artifacts");
    let (status, _) = http(addr, "GET", &format!("{PROXY}?path={path}"), None, b"").await;
    assert_eq!(status, 200);
    let (status, _) = http(addr, "GET", &format!("{PROXY}?path={path}/%ff"), None, b"").await;
    assert_eq!(status, 400);
}

/// A LogStream batch of one point (`step`, value `step`) of metric "m" for `run_id`.
fn one_point_batch(stream: &str, seq: u64, run_id: &str, step: i64) -> pb::LogStreamRequest {
    pb::LogStreamRequest {
        stream_id: stream.into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.into(),
            metrics: vec![pb::MetricColumns {
                key: "m".into(),
                steps: vec![step],
                timestamps: vec![1],
                values: vec![step as f64],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// For `timeout(..).unwrap_or_else(held(..))`: the server held a connection it should
/// have answered or closed.
fn held<T>(what: &'static str) -> impl FnOnce(tokio::time::error::Elapsed) -> T {
    move |_| panic!("{what}: the server held the connection for 30 s")
}

/// The steps stored for a metric, in order.
async fn get_history(
    c: &mut trackd_proto::v1::tracking_service_client::TrackingServiceClient<
        tonic::transport::Channel,
    >,
    run_id: &str,
    key: &str,
) -> Vec<i64> {
    c.get_metric_history(pb::GetMetricHistoryRequest {
        run_id: run_id.into(),
        metric_key: key.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .metrics
    .iter()
    .map(|m| m.step)
    .collect()
}

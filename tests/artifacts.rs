//! Artifacts: streaming round trips, MLflow's artifact_path semantics, embedded mode, and
//! the path validator against hostile input (checked on the filesystem).

mod common;
#[path = "support/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use futures::StreamExt;
use tonic::Code;
use trackd_client::{Client, ClientError};
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_client::ArtifactServiceClient;
use trackd_server::server::ServerHandle;

#[path = "support/artifact_round_trip.rs"]
mod artifact_round_trip;
use artifact_round_trip::{noise, round_trip};

/// Round trip against a server over gRPC.
#[tokio::test]
async fn round_trip_over_grpc() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    round_trip(&client).await;
}

/// A server whose artifacts go to `s3://BUCKET/PREFIX` in `moto`.
async fn server_on_s3(
    moto: &moto::Moto,
    bucket: &str,
    prefix: &str,
) -> (ServerHandle, tempfile::TempDir) {
    use trackd_server::{artifacts::ObjectArtifacts, Store, StoreConfig, Tracker};
    moto.create_bucket(bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let repository =
        ObjectArtifacts::open_with(&format!("s3://{bucket}/{prefix}"), &moto.options()).unwrap();
    let tracker = Tracker::open(Store::open(StoreConfig::new(dir.path())).unwrap())
        .unwrap()
        .with_artifact_repository(Arc::new(repository));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = ServerHandle::start_on(listener, tracker, Default::default()).unwrap();
    (handle, dir)
}

/// The same round trip with the artifacts in an S3 bucket (moto, a real S3 server): every
/// file is an object under the destination's prefix, nothing is on the local disk, and no
/// multipart upload is left open (the 65 MiB file went up in parts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_over_s3() {
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let (server, dir) = server_on_s3(&moto, "trackd-artifacts", "team/a").await;
    let client = Client::connect(&server.url()).await.unwrap();
    round_trip(&client).await;
    let keys = moto.keys("trackd-artifacts", "").await;
    assert!(
        keys.iter().any(|k| k.ends_with("/artifacts/data/a.txt"))
            && keys
                .iter()
                .any(|k| k.ends_with("/artifacts/model/model.json")),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| k.starts_with("team/a/0/")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.contains("data/sub")),
        "deleted: {keys:?}"
    );
    assert!(tree(&dir.path().join("artifacts")).is_empty());
    assert_eq!(moto.open_uploads("trackd-artifacts").await, 0);
}

/// The stock Python client against an S3 destination: it learns from `server-info` that
/// direct transfers are on, sends a 12 MiB file as parts PUT straight to the bucket (URLs
/// signed by trackd) and reads it back in ranged GETs from presigned URLs; the file arrives
/// whole, byte for byte, and no upload is left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_client_moves_large_files_directly_to_and_from_s3() {
    let Some(python) = usable_python("import mlflow") else {
        return;
    };
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let (server, _dir) = server_on_s3(&moto, "direct", "mlflow").await;
    let script = format!("{}/tests/mlflow_s3.py", env!("CARGO_MANIFEST_DIR"));
    let out = run_python(&python, &server.url(), &[&script]).await;
    let seen: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let parts = seen["part_urls"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "12 MiB in 5 MiB parts: {seen}");
    let downloads = seen["download_urls"].as_array().unwrap();
    assert!(downloads.len() >= 4, "12 MiB in 4 MiB ranges: {seen}");
    for url in parts.iter().chain(downloads) {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&moto.endpoint()),
            "not direct to the bucket: {url}"
        );
        assert!(url.contains("X-Amz-Signature="), "not signed: {url}");
    }
    let run_id = seen["run_id"].as_str().unwrap();
    let keys = moto.keys("direct", "mlflow/").await;
    assert!(
        keys.contains(&format!("mlflow/0/{run_id}/artifacts/model/weights.bin")),
        "{keys:?}"
    );
    assert_eq!(moto.open_uploads("direct").await, 0);
}

/// An upload to S3 that breaks off past its first part (a multipart upload is open in the
/// bucket) is aborted: no parts stay behind and no object appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_upload_to_s3_leaves_no_parts() {
    use tokio::io::AsyncWriteExt;
    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let (server, _dir) = server_on_s3(&moto, "broken", "").await;
    let mut c = connect(&server.url()).await;
    let run_id = run(&mut c, "0").await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        40 << 20
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&noise(20 << 20, 5)).await.unwrap();
    tcp.flush().await.unwrap();
    eventually("a multipart upload to open", || async {
        moto.open_uploads("broken").await == 1
    })
    .await;
    drop(tcp);
    eventually("the upload to be aborted", || async {
        moto.open_uploads("broken").await == 0
    })
    .await;
    assert!(moto.keys("broken", "").await.is_empty());
}

/// MLflow's direct-transfer endpoints over REST: `mpu/create` signs one URL per part,
/// `complete` refuses a part list with gaps, `abort` discards the parts; a local artifact
/// directory answers MLflow's "not supported" (the stock client then falls back to the
/// proxy) and `server-info` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_endpoints_check_their_input_and_abort_cleanly() {
    let local = TestServer::start().await;
    let (status, body) = http(
        local.handle.addr(),
        "GET",
        "/api/3.0/mlflow/server-info",
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(info["multipart_uploads_enabled"], false, "{info}");
    assert_eq!(info["multipart_downloads_enabled"], false, "{info}");
    let client = Client::connect(&local.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let dir = format!("0/{}/artifacts", run.id());
    let create_body = br#"{"path": "/tmp/weights.bin", "num_parts": 2}"#;
    let (status, body) = http(
        local.handle.addr(),
        "POST",
        &format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}"),
        Some("application/json"),
        create_body,
    )
    .await;
    assert_eq!(status, 501, "{}", String::from_utf8_lossy(&body));
    let refusal: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(refusal["message"]
        .as_str()
        .unwrap()
        .starts_with("Multipart upload is not supported"));

    let Some(moto) = moto::Moto::start() else {
        return;
    };
    let (server, _dir) = server_on_s3(&moto, "mpu", "").await;
    let client = Client::connect(&server.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let dir = format!("0/{}/artifacts/model", run.id());
    let post = |path: String, body: String| {
        let addr = server.addr();
        async move {
            let (status, body) = http(
                addr,
                "POST",
                &path,
                Some("application/json"),
                body.as_bytes(),
            )
            .await;
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (status, created) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}"),
        r#"{"path": "/home/me/weights.bin", "num_parts": 2}"#.into(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let upload_id = created["upload_id"].as_str().unwrap().to_owned();
    let credentials = created["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 2);
    assert_eq!(credentials[1]["part_number"], 2);
    assert_eq!(moto.open_uploads("mpu").await, 1);
    // Part 1 goes straight to the bucket at its presigned URL.
    let url = credentials[0]["url"].as_str().unwrap();
    let path = &url[moto.endpoint().len()..];
    let (status, headers, _) =
        http_exchange(moto.addr, "PUT", path, &[], None, &noise(5 << 20, 3)).await;
    assert_eq!(status, 200, "{headers}");
    let etag = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("etag"))
                .map(|(_, value)| value)
        })
        .unwrap()
        .trim()
        .to_owned();
    // A part list with a gap is refused before the store sees it.
    let (status, refused) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/complete/{dir}"),
        serde_json::json!({"path": "weights.bin", "upload_id": upload_id,
            "parts": [{"part_number": 2, "etag": etag}]})
        .to_string(),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error_code"], "INVALID_PARAMETER_VALUE");
    // Too many parts, and a path that climbs out, are refused without an upload.
    let (status, _) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}"),
        r#"{"path": "w.bin", "num_parts": 10001}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}/../../.."),
        r#"{"path": "w.bin", "num_parts": 1}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(moto.open_uploads("mpu").await, 1);
    let (status, aborted) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/abort/{dir}"),
        serde_json::json!({"path": "weights.bin", "upload_id": upload_id}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{aborted}");
    assert_eq!(moto.open_uploads("mpu").await, 0);
    assert!(moto.keys("mpu", "").await.is_empty());
    assert!(run.list_artifacts("", true).await.unwrap().is_empty());
    // MLflow 3's presigned-upload/download-url: the store's own URLs, used without trackd.
    let (status, upload) = post(
        "/api/2.0/mlflow/artifacts/presigned-upload-url".into(),
        serde_json::json!({"run_id": run.id(), "path": "model/direct.txt"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{upload}");
    let url = upload["presigned_url"].as_str().unwrap();
    assert!(url.starts_with(&moto.endpoint()), "{url}");
    let (status, _) = http(
        moto.addr,
        "PUT",
        &url[moto.endpoint().len()..],
        None,
        b"hello",
    )
    .await;
    assert_eq!(status, 200);
    let (status, download) = post(
        "/api/2.0/mlflow/artifacts/presigned-download-url".into(),
        serde_json::json!({"run_id": run.id(), "path": "model/direct.txt"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{download}");
    assert_eq!(download["file_size"], 5);
    let url = download["presigned_url"].as_str().unwrap();
    let (status, body) = http(moto.addr, "GET", &url[moto.endpoint().len()..], None, b"").await;
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    // A deleted run takes no more uploads, multipart or not.
    client.delete_run(run.id()).await.unwrap();
    let (status, refused) = post(
        format!("/api/2.0/mlflow-artifacts/mpu/create/{dir}"),
        r#"{"path": "w.bin", "num_parts": 1}"#.into(),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
}

/// Round trip in embedded mode; files live under <store>/artifacts/<exp>/<run>/artifacts.
#[tokio::test]
async fn round_trip_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::connect(dir.path().to_str().unwrap()).await.unwrap();
    round_trip(&client).await;
    let run = client.start_run().start().await.unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"x").unwrap();
    run.log_artifact(&file, Some("p")).await.unwrap();
    let on_disk = dir
        .path()
        .join(format!("artifacts/0/{}/artifacts/p/f.txt", run.id()));
    assert_eq!(std::fs::read(on_disk).unwrap(), b"x");
    run.finish().await.unwrap();
}

fn header(run_id: &str, path: &str) -> pb::UploadArtifactRequest {
    pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Header(
            pb::UploadHeader {
                run_id: run_id.into(),
                path: path.into(),
                ..Default::default()
            },
        )),
    }
}

fn chunk(bytes: &[u8]) -> pb::UploadArtifactRequest {
    pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Chunk(bytes.to_vec())),
    }
}

/// Every files the tree under `root` holds (relative paths).
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Hostile paths on every route are INVALID_ARGUMENT, and nothing outside the store's root
/// is written or read.
#[tokio::test]
async fn hostile_paths_are_refused_on_every_route() {
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("store");
    let outside = parent.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    let handle = start_on_dir(&store, Default::default()).await;
    let mut tracking = connect(&handle.url()).await;
    let mut artifacts = ArtifactServiceClient::new(channel(&handle.url()).await);
    let run_id = run(&mut tracking, "0").await;
    let before = tree(parent.path());

    let hostile = [
        "../x",
        "../../outside/secret.txt",
        "a/../../x",
        "%2e%2e/x",
        "%2e%2e%2fx",
        "%252e%252e%252fx",
        "..%2f..%2foutside%2fsecret.txt",
        "/etc/passwd",
        "C:\\x",
        "c:/x",
        "..\\x",
        "a\\b",
        "a\0b",
        "a%00b",
        "a?b",
        "a#b",
        "a\nb",
        "file:///etc/passwd",
    ];
    for path in hostile {
        let upload = artifacts
            .upload_artifact(tokio_stream::iter(vec![
                header(&run_id, path),
                chunk(b"pwned"),
            ]))
            .await;
        expect_code(upload, Code::InvalidArgument);
        let download = artifacts
            .download_artifact(pb::DownloadArtifactRequest {
                run_id: run_id.clone(),
                path: path.into(),
                ..Default::default()
            })
            .await;
        expect_code(download.map(|_| ()), Code::InvalidArgument);
        let list = artifacts
            .list_artifacts(pb::ListArtifactsRequest {
                run_id: run_id.clone(),
                path: path.into(),
                recursive: true,
                ..Default::default()
            })
            .await;
        expect_code(list, Code::InvalidArgument);
        let delete = artifacts
            .delete_artifact(pb::DeleteArtifactRequest {
                run_id: run_id.clone(),
                path: path.into(),
                ..Default::default()
            })
            .await;
        expect_code(delete, Code::InvalidArgument);
    }
    let mut after = tree(parent.path());
    after.retain(|p| !p.starts_with("store"));
    let mut expected = before.clone();
    expected.retain(|p| !p.starts_with("store"));
    assert_eq!(after, expected, "nothing appeared outside the store");
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"secret"
    );
    assert!(!parent.path().join("x").exists());
    handle.shutdown().await.unwrap();
}

/// A symbolic link inside a run's artifacts pointing out of the root is never followed:
/// not for reading, listing, writing through it, or deleting its target.
#[tokio::test]
async fn symlinks_out_of_the_root_are_not_followed() {
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("store");
    let outside = parent.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    let handle = start_on_dir(&store, Default::default()).await;
    let client = Client::connect(&handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let f = parent.path().join("ok.txt");
    std::fs::write(&f, b"ok").unwrap();
    run.log_artifact(&f, None).await.unwrap();
    let run_dir = store.join(format!("artifacts/0/{}/artifacts", run.id()));
    std::os::unix::fs::symlink(&outside, run_dir.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), run_dir.join("file-link")).unwrap();

    let names: Vec<String> = run
        .list_artifacts("", true)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(names, vec!["ok.txt".to_owned()], "links are not listed");
    let dst = tempfile::tempdir().unwrap();
    for path in ["link/secret.txt", "file-link", "link"] {
        let err = client.download_artifacts(run.id(), path, dst.path()).await;
        assert!(err.is_err(), "{path} must not be readable");
    }
    let mut artifacts = ArtifactServiceClient::new(channel(&handle.url()).await);
    for path in ["link/secret.txt", "file-link"] {
        let d = artifacts
            .download_artifact(pb::DownloadArtifactRequest {
                run_id: run.id().into(),
                path: path.into(),
                ..Default::default()
            })
            .await;
        expect_code(d.map(|_| ()), Code::InvalidArgument);
    }
    let up = artifacts
        .upload_artifact(tokio_stream::iter(vec![
            header(run.id(), "link/new.txt"),
            chunk(b"x"),
        ]))
        .await;
    expect_code(up, Code::InvalidArgument);
    assert!(!outside.join("new.txt").exists());
    let del = artifacts
        .delete_artifact(pb::DeleteArtifactRequest {
            run_id: run.id().into(),
            path: "link/secret.txt".into(),
            ..Default::default()
        })
        .await;
    expect_code(del, Code::InvalidArgument);
    // Deleting the link itself removes the link, never its target.
    client.delete_artifact(run.id(), "link").await.unwrap();
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"secret"
    );
    run.finish().await.unwrap();
}

/// log_artifacts refuses a source tree with a link pointing outside it (links inside are fine).
#[tokio::test]
async fn uploading_a_link_out_of_the_source_tree_is_refused() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.handle.url()).await.unwrap();
    let run = client.start_run().start().await.unwrap();
    let src = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("private"), b"p").unwrap();
    std::fs::write(src.path().join("real.txt"), b"r").unwrap();
    std::os::unix::fs::symlink(src.path().join("real.txt"), src.path().join("inside-link"))
        .unwrap();
    run.log_artifacts(src.path(), None).await.unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("private"), src.path().join("escape"))
        .unwrap();
    let err = run
        .log_artifacts(src.path(), Some("again"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Usage(ref m) if m.contains("outside")),
        "{err}"
    );
    let names: Vec<String> = run
        .list_artifacts("", true)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(names, vec!["inside-link".to_owned(), "real.txt".to_owned()]);
    run.finish().await.unwrap();
}

/// A broken upload leaves no file (and no temporary file); deleted runs refuse uploads.
#[tokio::test]
async fn broken_uploads_leave_nothing_and_deleted_runs_refuse() {
    let server = TestServer::start().await;
    let mut tracking = server.client().await;
    let mut artifacts = ArtifactServiceClient::new(channel(&server.handle.url()).await);
    let run_id = run(&mut tracking, "0").await;
    let broken = artifacts
        .upload_artifact(tokio_stream::iter(vec![
            header(&run_id, "half.bin"),
            chunk(&[1; 1000]),
            header(&run_id, "again"),
        ]))
        .await;
    expect_code(broken, Code::InvalidArgument);
    let no_header = artifacts
        .upload_artifact(tokio_stream::iter(vec![chunk(b"x")]))
        .await;
    expect_code(no_header, Code::InvalidArgument);
    let run_dir = server
        .dir
        .path()
        .join(format!("artifacts/0/{run_id}/artifacts"));
    let left: Vec<_> = std::fs::read_dir(&run_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");

    let mut downloads = artifacts
        .download_artifact(pb::DownloadArtifactRequest {
            run_id: run_id.clone(),
            path: "half.bin".into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner());
    if let Ok(stream) = downloads.as_mut() {
        let first = stream.next().await.unwrap();
        assert_eq!(first.unwrap_err().code(), Code::NotFound);
    } else {
        assert_eq!(downloads.err().unwrap().code(), Code::NotFound);
    }
    tracking
        .delete_run(pb::DeleteRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap();
    let refused = artifacts
        .upload_artifact(tokio_stream::iter(vec![header(&run_id, "x"), chunk(b"x")]))
        .await;
    expect_code(refused, Code::InvalidArgument);
}

/// Whether an upload's hidden temporary file is in `dir`.
fn upload_in_progress(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".upload-"))
    })
}

/// A connection dropped in the middle of an upload — over the REST proxy (TCP closed
/// mid-body) and over gRPC (the call abandoned mid-stream) — leaves nothing: the
/// temporary file goes, no file appears, the listing stays empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_upload_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let run_dir = server
        .dir
        .path()
        .join("artifacts")
        .join("0")
        .join(&run_id)
        .join("artifacts");

    // REST: half of the announced body, then the connection closes.
    let mut tcp = tokio::net::TcpStream::connect(server.handle.addr())
        .await
        .unwrap();
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/rest.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&vec![7u8; 1_000_000]).await.unwrap();
    tcp.flush().await.unwrap();
    eventually("the REST upload to begin", || async {
        upload_in_progress(&run_dir)
    })
    .await;
    drop(tcp);
    eventually("the REST upload's temporary file to go", || async {
        !upload_in_progress(&run_dir)
    })
    .await;

    // gRPC: a header and a chunk, then the connection is cut (through a proxy).
    let proxy = Proxy::start(server.handle.addr()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Header(
            pb::UploadHeader {
                run_id: run_id.clone(),
                path: "grpc.bin".into(),
                ..Default::default()
            },
        )),
    })
    .await
    .unwrap();
    tx.send(pb::UploadArtifactRequest {
        part: Some(pb::upload_artifact_request::Part::Chunk(vec![7; 64 << 10])),
    })
    .await
    .unwrap();
    let mut artifacts = ArtifactServiceClient::new(channel(&proxy.url()).await);
    let call = tokio::spawn(async move {
        artifacts
            .upload_artifact(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    eventually("the gRPC upload to begin", || async {
        upload_in_progress(&run_dir)
    })
    .await;
    proxy.cut();
    assert!(
        call.await.unwrap().is_err(),
        "the cut upload did not succeed"
    );
    drop(tx);
    eventually("the gRPC upload's temporary file to go", || async {
        !upload_in_progress(&run_dir)
    })
    .await;

    let client = Client::connect(&server.handle.url()).await.unwrap();
    let files = client.list_artifacts(&run_id, "", true).await.unwrap();
    assert!(files.is_empty(), "nothing was stored: {files:?}");
    assert!(!run_dir.join("rest.bin").exists() && !run_dir.join("grpc.bin").exists());
}

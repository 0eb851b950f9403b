//! Test harness: a real trackd server on 127.0.0.1:0 over a temporary store, and clients
//! connected to it over the network.
//!
//! [`TestServer`] is the suite's one way to start a server, and it is parameterised by
//! backend: `TRACKD_TEST_BACKEND=postgres` (with `TRACKD_TEST_POSTGRES` naming a cluster,
//! as `.ci/run` sets both for its second pass) serves a fresh PostgreSQL database per
//! server instead of a sled directory, so the same tests check both backends.
#![allow(dead_code)]

#[path = "../support/postgres.rs"]
pub mod postgres;

use std::path::Path;
use std::sync::Arc;

use tonic::transport::Channel;
use trackd_proto::v1 as pb;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

/// A running server with its store directory (and its database on PostgreSQL).
pub struct TestServer {
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database served, when the suite runs on PostgreSQL.
    pub database: Option<String>,
}

/// Whether this test run serves PostgreSQL (`TRACKD_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("TRACKD_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Serves the PostgreSQL database `uri` (artifacts in `dir/artifacts`) on 127.0.0.1:0.
pub async fn start_on_postgres(uri: &str, dir: &Path, options: ServeOptions) -> ServerHandle {
    use trackd_server::artifacts::ArtifactStore;
    use trackd_server::store::postgres::{PgConfig, PgStore};
    let mut config = PgConfig::new(uri);
    config.spill_dir = dir.join("tmp");
    let store = PgStore::open(config).await.expect("PostgreSQL store opens");
    let artifacts = ArtifactStore::open(dir.join("artifacts")).expect("artifact directory");
    let tracker = trackd_server::Tracker::on_postgres(store, Arc::new(artifacts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ServerHandle::start_on(listener, tracker, options).expect("server starts")
}

impl TestServer {
    /// Starts a server over a fresh temporary store (a fresh database on PostgreSQL).
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        if on_postgres() {
            let uri = postgres::Postgres::shared().database();
            let handle = start_on_postgres(&uri, dir.path(), ServeOptions::default()).await;
            return TestServer {
                handle,
                dir,
                database: Some(uri),
            };
        }
        let handle = start_on_dir(dir.path(), ServeOptions::default()).await;
        TestServer {
            handle,
            dir,
            database: None,
        }
    }

    /// A gRPC client connected to the server.
    pub async fn client(&self) -> TrackingServiceClient<Channel> {
        connect(&self.handle.url()).await
    }

    /// Shuts the server down gracefully and starts a new one on the same store.
    pub async fn restart(self) -> TestServer {
        let TestServer {
            handle,
            dir,
            database,
        } = self;
        handle.shutdown().await.expect("clean shutdown");
        let handle = reopen(dir.path(), &database, ServeOptions::default()).await;
        TestServer {
            handle,
            dir,
            database,
        }
    }
}

/// Starts a server again over what a [`TestServer`] served: its database on PostgreSQL,
/// else its directory.
pub async fn reopen(dir: &Path, database: &Option<String>, options: ServeOptions) -> ServerHandle {
    match database {
        Some(uri) => start_on_postgres(uri, dir, options).await,
        None => start_on_dir(dir, options).await,
    }
}

/// Starts a server over the store in `dir`.
pub async fn start_on_dir(dir: &Path, options: ServeOptions) -> ServerHandle {
    ServerHandle::start(
        "127.0.0.1:0".parse().unwrap(),
        StoreConfig::new(dir),
        options,
    )
    .await
    .expect("server starts")
}

/// A gRPC channel to `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

/// A tracking client for `url`.
pub async fn connect(url: &str) -> TrackingServiceClient<Channel> {
    TrackingServiceClient::new(channel(url).await)
}

/// Creates an experiment and returns its id.
pub async fn experiment(c: &mut TrackingServiceClient<Channel>, name: &str) -> String {
    c.create_experiment(pb::CreateExperimentRequest {
        name: name.into(),
        ..Default::default()
    })
    .await
    .expect("create experiment")
    .into_inner()
    .experiment_id
}

/// Creates a run in `experiment_id` and returns its id.
pub async fn run(c: &mut TrackingServiceClient<Channel>, experiment_id: &str) -> String {
    c.create_run(pb::CreateRunRequest {
        experiment_id: experiment_id.into(),
        ..Default::default()
    })
    .await
    .expect("create run")
    .into_inner()
    .run
    .unwrap()
    .info
    .unwrap()
    .run_id
}

/// Fetches a run.
pub async fn get_run(c: &mut TrackingServiceClient<Channel>, run_id: &str) -> pb::Run {
    c.get_run(pb::GetRunRequest {
        run_id: run_id.into(),
        ..Default::default()
    })
    .await
    .expect("get run")
    .into_inner()
    .run
    .unwrap()
}

/// Asserts a call failed with `code`, returning the status for further checks.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// A metric message.
pub fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> pb::Metric {
    pb::Metric {
        key: key.into(),
        value,
        timestamp,
        step,
    }
}

/// Waits (up to 20 s, checking every 10 ms) until `check` returns true; panics otherwise.
/// For effects of fire-and-forget work (a dropped run being ended), not for ordering.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A TCP proxy on 127.0.0.1 that can cut every connection, and pause the server→client
/// direction (acknowledgements stop arriving).
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    paused: tokio::sync::watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<ephemeral> to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, target)
    }

    fn start_on(listener: tokio::net::TcpListener, target: std::net::SocketAddr) -> Proxy {
        let addr = listener.local_addr().unwrap();
        let connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            Default::default();
        let (paused, paused_rx) = tokio::sync::watch::channel(false);
        let conns = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let paused = paused_rx.clone();
                let task = tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::io::copy(&mut cr, &mut sw);
                    let down = async move {
                        let mut paused = paused;
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            while *paused.borrow() {
                                if paused.changed().await.is_err() {
                                    return;
                                }
                            }
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while *paused.borrow() {
                                if paused.changed().await.is_err() {
                                    return;
                                }
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
                conns.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            connections,
            paused,
            accept,
        }
    }

    /// Pauses or resumes server→client bytes.
    pub fn pause_downstream(&self, on: bool) {
        self.paused.send_replace(on);
    }

    /// Drops every open connection (new ones are still accepted).
    pub fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// `http://ADDR` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Sends only the header of a JSON request announcing a body of `length` bytes, and reads
/// the answer (for limits checked before the body is read): the status and the body.
pub async fn announce_body(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    length: u64,
) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer ends where its Content-Length says; the connection may stay open.
    loop {
        let n = s.read(&mut buf).await.unwrap();
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            assert!(n > 0, "the connection closed before an answer");
            continue;
        };
        let header = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let length: usize = header
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        if raw.len() >= split + 4 + length || n == 0 {
            let status = header.split_whitespace().nth(1).unwrap().parse().unwrap();
            return (status, raw[split + 4..].to_vec());
        }
    }
}

/// A raw HTTP/1.1 exchange (Connection: close): returns the status and the body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    http_with(addr, method, path, &[], content_type, body).await
}

/// [`http`] with extra request headers.
pub async fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (status, _, body) = http_exchange(addr, method, path, headers, content_type, body).await;
    (status, body)
}

/// [`http_with`], also returning the response's header block (lowercased names).
pub async fn http_exchange(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block")
        + 4;
    let header = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = header.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut payload = raw[split..].to_vec();
    if header
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &payload[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 2 + size + 2..];
        }
        payload = out;
    }
    (status, header, payload)
}

/// A LogStream batch of `n` points of `key` in one run, steps `first_step..` in compact
/// columns (timestamps 0, every value `value`).
pub fn column_batch(
    stream_id: &str,
    seq: u64,
    run_id: &str,
    key: &str,
    first_step: i64,
    n: usize,
    value: f32,
) -> pb::LogStreamRequest {
    pb::LogStreamRequest {
        stream_id: stream_id.into(),
        seq,
        runs: vec![pb::RunWrites {
            run_id: run_id.into(),
            metrics: vec![pb::MetricColumns {
                key: key.into(),
                step_deltas: std::iter::once(first_step)
                    .chain(std::iter::repeat(1))
                    .take(n)
                    .collect(),
                timestamp_deltas: vec![0; n],
                values_f32: vec![value; n],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Sends `requests` on one LogStream and returns every answer (each unwrapped).
pub async fn stream_acks(
    c: &mut TrackingServiceClient<Channel>,
    requests: Vec<pb::LogStreamRequest>,
) -> Vec<pb::LogStreamResponse> {
    use futures::StreamExt;
    c.log_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await
}

/// The value of `name` on the server's `/metrics` (Prometheus text), matched whole.
pub async fn server_metric(addr: std::net::SocketAddr, name: &str) -> u64 {
    let (status, body) = http(addr, "GET", "/metrics", None, b"").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not on /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Whether the external test tools (grpcurl, Python with mlflow) must be present: under
/// `.ci/run` (which installs them and sets `TRACKD_TEST_TOOLS=required`) and in CI. Only a
/// plain `cargo test` on a machine without them skips those tests, and says so on stderr.
#[allow(dead_code)]
pub fn tools_required() -> bool {
    std::env::var("CI").is_ok() || std::env::var("TRACKD_TEST_TOOLS").is_ok_and(|v| v == "required")
}

/// `TRACKD_TEST_PYTHON` (or `python3`) if `probe` runs in it; where the tools are required
/// (`.ci/run`, CI) its absence fails.
#[allow(dead_code)]
pub fn usable_python(probe: &str) -> Option<String> {
    let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = std::process::Command::new(&python)
        .args(["-c", probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            !tools_required(),
            "a Python where `{probe}` works is required (TRACKD_TEST_PYTHON, set by .ci/run)"
        );
        eprintln!("SKIPPED: no Python where `{probe}` works; run `bash .ci/run`");
        return None;
    }
    Some(python)
}

/// Runs Python with `args` and `MLFLOW_TRACKING_URI=url`; its stdout, or a panic with both
/// streams.
#[allow(dead_code)]
pub async fn run_python(python: &str, url: &str, args: &[&str]) -> String {
    let (python, url) = (python.to_owned(), url.to_owned());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(&args)
            .env("MLFLOW_TRACKING_URI", url)
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

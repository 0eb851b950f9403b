//! Test harness: a real trackd server on 127.0.0.1:0 over a temporary store, and clients
//! connected to it over the network.
#![allow(dead_code)]

use std::path::Path;

use tonic::transport::Channel;
use trackd_proto::v1 as pb;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::StoreConfig;

/// A running server with its store directory.
pub struct TestServer {
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server over a fresh temporary store.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = start_on_dir(dir.path(), ServeOptions::default()).await;
        TestServer { handle, dir }
    }

    /// A gRPC client connected to the server.
    pub async fn client(&self) -> TrackingServiceClient<Channel> {
        connect(&self.handle.url()).await
    }

    /// Shuts the server down gracefully and starts a new one on the same store.
    pub async fn restart(self) -> TestServer {
        let TestServer { handle, dir } = self;
        handle.shutdown().await.expect("clean shutdown");
        let handle = start_on_dir(dir.path(), ServeOptions::default()).await;
        TestServer { handle, dir }
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

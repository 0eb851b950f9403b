//! The gRPC services served inside this process, for the client's embedded mode: the client
//! talks to a [`Tracker`] over an in-memory HTTP/2 connection (`tokio::io::duplex`) with the
//! same stubs, messages and LogStream protocol it uses against a remote server, so embedded
//! and remote mode run one client code path and the embedded side never reaches into the
//! gRPC edge's internals.
//!
//! Every request on this channel is the process's own: [`crate::identity::in_process`]
//! marks it [`crate::domain::Caller::InProcess`].

use std::io;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, watch};
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};

use crate::grpc::artifacts::ArtifactGrpc;
use crate::grpc::{GrpcOptions, TrackingGrpc};
use crate::tracker::Tracker;

/// Bytes buffered in each direction of an in-memory connection: a few LogStream batches,
/// so the client's encoder and the server's decoder overlap without holding much memory.
const PIPE_BYTES: usize = 1 << 20;

/// A channel to `tracker`'s gRPC services (tracking, artifacts, models) in this process.
///
/// Connections are made on demand (lazily, and again if one ends); the task serving them
/// stops when the last clone of the channel is dropped. Must be called inside a Tokio
/// runtime.
pub fn channel(tracker: Tracker) -> Channel {
    let (connections, mut accepted) = mpsc::unbounded_channel::<DuplexStream>();
    // In-process streams are never asked to stop early; they end when the client ends
    // them. The sender lives as long as the serving task.
    let (stop_streams, streams_stopped) = watch::channel(false);
    let app = app(tracker, streams_stopped);
    tokio::spawn(async move {
        let _stop_streams = stop_streams;
        while let Some(stream) = accepted.recv().await {
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let served = http2()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "in-process connection ended with an error");
                }
            });
        }
    });
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let connections = connections.clone();
        async move {
            let (client, server) = tokio::io::duplex(PIPE_BYTES);
            connections
                .send(server)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "in-process server gone"))?;
            Ok::<_, io::Error>(TokioIo::new(client))
        }
    });
    Endpoint::from_static("http://in-process.trackd")
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(16 << 20))
        .connect_with_connector_lazy(connector)
}

/// The services, marked as the process's own requests.
fn app(tracker: Tracker, streams_stopped: watch::Receiver<bool>) -> axum::Router {
    let grpc = TrackingGrpc::new(tracker.clone(), GrpcOptions::default(), streams_stopped);
    Routes::new(grpc.into_server())
        .add_service(ArtifactGrpc::new(tracker.clone()).into_server())
        .add_service(crate::grpc::models::ModelGrpc::new(tracker).into_server())
        .into_axum_router()
        .layer(axum::middleware::from_fn(crate::identity::in_process))
}

fn http2() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(1024)
        .keep_alive_interval(None::<Duration>)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20);
    builder
}

//! Serving: gRPC (tracking, health, reflection v1 + v1alpha) and HTTP on one listener, and
//! graceful shutdown.
//!
//! Shutdown order: health turns NOT_SERVING, streams stop reading and acknowledge what they
//! hold, the listener stops accepting and open requests drain (bounded by a deadline), then
//! the store commits what is queued and flushes.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::service::Routes;

use crate::connections::{serve_connections, ConnectionLimits};
use crate::grpc::artifacts::{ArtifactGrpc, ArtifactServiceServer};
use crate::grpc::models::{ModelGrpc, ModelServiceServer};
use crate::grpc::{GrpcOptions, TrackingGrpc, TrackingServiceServer};
use crate::store::{Store, StoreConfig, StoreError};
use crate::tracker::Tracker;

/// Settings of a running server beyond the store.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// gRPC edge settings.
    pub grpc: GrpcOptions,
    /// Longest wait for open requests at shutdown.
    pub shutdown_grace: Duration,
    /// Limits of the listener (connections, timeouts, HTTP/2).
    pub connections: ConnectionLimits,
    /// TLS on the port (`None`: plaintext).
    pub tls: Option<crate::tls::Tls>,
}

impl ServeOptions {
    /// The identity layer's authenticator: one when the tracker's authentication is on.
    fn authenticator(
        &self,
        tracker: &Tracker,
    ) -> Option<std::sync::Arc<crate::auth::Authenticator>> {
        tracker
            .auth_enabled()
            .then(|| std::sync::Arc::new(crate::auth::Authenticator::new(tracker.clone())))
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            grpc: GrpcOptions::default(),
            shutdown_grace: Duration::from_secs(30),
            connections: ConnectionLimits::default(),
            tls: None,
        }
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store could not be closed cleanly.
    #[error("closing the store: {0}")]
    Close(crate::error::TrackingError),
    /// Reflection could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// Binding or reading the listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `tracker` on `listener` until `shutdown` completes, then shuts down gracefully and
/// closes the store.
pub async fn serve(
    listener: TcpListener,
    tracker: Tracker,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<TrackingServiceServer<TrackingGrpc>>()
        .await;
    health_reporter
        .set_serving::<ArtifactServiceServer<ArtifactGrpc>>()
        .await;
    health_reporter
        .set_serving::<ModelServiceServer<ModelGrpc>>()
        .await;
    let (stop_streams, streams_stopped) = watch::channel(false);
    // `/health` says what gRPC health says: NOT_SERVING once shutdown has begun.
    let streams_stopped_for_health = streams_stopped.clone();
    let grpc = TrackingGrpc::new(tracker.clone(), options.grpc.clone(), streams_stopped);

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(trackd_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(trackd_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let routes = Routes::new(grpc.into_server())
        .add_service(ArtifactGrpc::new(tracker.clone()).into_server())
        .add_service(ModelGrpc::new(tracker.clone()).into_server())
        .add_service(crate::grpc::auth::AuthGrpc::new(tracker.clone()).into_server())
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    let app = routes
        .into_axum_router()
        .merge(crate::http::router(
            tracker.clone(),
            streams_stopped_for_health,
        ))
        .merge(crate::rest::router(tracker.clone()))
        .merge(crate::ui::router(tracker.clone()))
        .layer(axum::middleware::from_fn_with_state(
            options.authenticator(&tracker),
            crate::identity::identify,
        ));

    let local = listener.local_addr()?;
    tracing::info!(addr = %local, store = %tracker.location(), durability = ?tracker.durability(), "trackd serving");

    let shutdown_sequence = async move {
        shutdown.await;
        tracing::info!("shutdown requested: health NOT_SERVING, draining streams");
        health_reporter
            .set_not_serving::<TrackingServiceServer<TrackingGrpc>>()
            .await;
        health_reporter
            .set_not_serving::<ArtifactServiceServer<ArtifactGrpc>>()
            .await;
        health_reporter
            .set_not_serving::<ModelServiceServer<ModelGrpc>>()
            .await;
        let _ = stop_streams.send(true);
    };
    // Returns once every connection has closed, or (past the grace period) has been
    // aborted: no request outlives this point, so none touches the closed store.
    let reloads = options.tls.as_ref().map(crate::tls::Tls::watch);
    serve_connections(
        listener,
        app,
        options.connections.clone(),
        options.tls.clone(),
        shutdown_sequence,
        options.shutdown_grace,
    )
    .await;
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    tracker.close().await.map_err(ServeError::Close)?;
    tracing::info!("store flushed and closed");
    Ok(())
}

/// A server running in the background (tests, benchmarks, the demo, embedded use).
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
    tracker: Tracker,
}

impl ServerHandle {
    /// Opens the store and serves it on `addr` (use `127.0.0.1:0` for an ephemeral port).
    pub async fn start(
        addr: SocketAddr,
        store: StoreConfig,
        options: ServeOptions,
    ) -> Result<Self, ServeError> {
        // On the blocking pool: the open reads the catalog and may wait for the store's lock,
        // which a previous server's tasks on this runtime may still need to run to let go.
        let store = tokio::task::spawn_blocking(move || Store::open(store))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
        let listener = TcpListener::bind(addr).await?;
        Self::start_on(listener, Tracker::new(store), options)
    }

    /// Serves `tracker` on an already bound listener.
    pub fn start_on(
        listener: TcpListener,
        tracker: Tracker,
        options: ServeOptions,
    ) -> Result<Self, ServeError> {
        let addr = listener.local_addr()?;
        let tls = options.tls.is_some();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, tracker.clone(), options, async {
            let _ = stopped.await;
        }));
        Ok(ServerHandle {
            addr,
            tls,
            stop: Some(stop),
            task,
            tracker,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://` with TLS), for clients.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The tracker being served.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Shuts down gracefully and waits until the store is closed.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Io(std::io::Error::other(e))),
        }
    }
}

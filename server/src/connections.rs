//! The listener: accepts TCP connections and serves HTTP/1.1 and HTTP/2 (gRPC, REST,
//! `/health`, `/metrics`) on them with deliberate limits, so a client that holds a
//! connection open without finishing its request cannot make the server unresponsive.
//!
//! - At most [`ConnectionLimits::max_connections`] connections are served at once; past
//!   that the server stops accepting (new connections wait in the kernel's backlog) until
//!   one closes.
//! - A connection must send its first bytes, and an HTTP/1.1 request its complete header,
//!   within [`ConnectionLimits::header_timeout`]; an idle keep-alive connection is closed
//!   after the same time.
//! - A request body (REST, artifact uploads) that sends nothing for
//!   [`ConnectionLimits::body_timeout`] fails (a JSON body must also arrive whole within
//!   `rest::JSON_BODY_DEADLINE`). gRPC streams have their own idle limit (LogStream) and are
//!   not cut here.
//! - HTTP/2: at most [`ConnectionLimits::max_concurrent_streams`] streams per connection,
//!   and a keep-alive ping every [`ConnectionLimits::http2_keepalive_interval`] that must be
//!   answered within [`ConnectionLimits::http2_keepalive_timeout`], so dead peers are found.
//! - Accept errors (e.g. out of file descriptors) back off instead of spinning.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Limits of the listener (see the module docs).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a connection's first bytes and for an HTTP/1.1 request header;
    /// also how long an idle HTTP/1.1 keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Longest silence inside a request body (REST and artifact uploads).
    pub body_timeout: Duration,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Interval of HTTP/2 keep-alive pings.
    pub http2_keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed.
    pub http2_keepalive_timeout: Duration,
    /// HTTP/2 receive window of one stream, in bytes (from the memory budget).
    pub stream_window: u32,
    /// HTTP/2 receive window of one connection, in bytes (from the memory budget).
    pub connection_window: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_concurrent_streams: 256,
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(20),
            stream_window: crate::memory::MemoryBudget::default().stream_window,
            connection_window: crate::memory::MemoryBudget::default().connection_window,
        }
    }
}

/// The HTTP/2 connection preface; a connection that starts with it is HTTP/2.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How often a connection that sent part of the HTTP/2 preface is looked at again.
const PREFACE_POLL: Duration = Duration::from_millis(10);
/// Pause after a failed accept (e.g. EMFILE), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `stop` completes; then stops accepting, asks every open
/// connection to finish (HTTP/2 GOAWAY, HTTP/1.1 closes after the response in flight), and
/// returns once they have all closed — or, after `grace`, once the ones still open have
/// been aborted (their tasks dropped, so nothing of theirs runs afterwards).
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<crate::tls::Tls>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits.body_timeout,
        limit_body_time,
    ));
    let builder = Arc::new(http_builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Connection tasks belong to this function, so the ones still open when the grace
    // period runs out can be aborted and awaited. Finished tasks are reaped as it goes.
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                drop(permit);
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        // One wrapper around the whole router, not `Router::layer` (which rebuilds every
        // route: ~150 KiB and a few µs per connection).
        let peer_addr = axum::Extension(crate::identity::PeerAddr {
            addr: peer,
            tls: tls.is_some(),
        });
        let service = TowerToHyperService::new(tower::Layer::layer(&peer_addr, app.clone()));
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        let tls = tls.clone();
        connections.spawn(async move {
            let _permit = permit;
            if !first_bytes_arrive(&stream, header_timeout).await {
                return;
            }
            let Some(tls) = tls else {
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            };
            // The handshake has the header timeout too; a plaintext client fails it here.
            let stream =
                match tokio::time::timeout(header_timeout, tls.acceptor().accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            open = connections.len(),
            "open requests did not finish in time; aborting them"
        );
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}

fn http_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(128);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout)
        .max_header_list_size(64 << 10)
        // Receive windows from the memory budget (`memory`): what a stream that is not
        // being read (waiting for the ingest budget) may still hold.
        .initial_stream_window_size(limits.stream_window)
        .initial_connection_window_size(limits.connection_window);
    builder
}

/// Waits until the connection has sent enough to tell HTTP/1.1 from HTTP/2 (the whole
/// HTTP/2 preface, or a first byte that differs from it), at most `timeout`. A connection
/// that sends nothing is closed instead of holding a slot.
async fn first_bytes_arrive(stream: &TcpStream, timeout: Duration) -> bool {
    let wait = async {
        let mut buf = [0u8; H2_PREFACE.len()];
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            if n == H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] {
                return true;
            }
            // Only part of the preface so far (real clients send it in one write): peek
            // returns at once while bytes are buffered, so look again a little later.
            tokio::time::sleep(PREFACE_POLL).await;
        }
    };
    tokio::time::timeout(timeout, wait).await.unwrap_or(false)
}

/// Whether a request is a gRPC call (its content type).
pub fn is_grpc(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Gives every non-gRPC request body an idle limit. (gRPC requests are streams with their
/// own limits; a whole-body deadline, where one applies, is the reader's: see
/// `rest::json_body`.)
async fn limit_body_time(
    axum::extract::State(idle): axum::extract::State<Duration>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if is_grpc(request.headers()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let timed = IdleTimedBody {
        inner: body,
        idle,
        timer: None,
    };
    next.run(Request::from_parts(parts, Body::new(timed))).await
}

/// Why a request body failed.
#[derive(Debug, thiserror::Error)]
#[error("no data for the body timeout ({0:?}); the request body was abandoned")]
pub struct BodyTimeout(Duration);

/// A request body that fails when it sends nothing for `idle`.
struct IdleTimedBody {
    inner: Body,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for IdleTimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let idle = this.idle;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTimeout(idle).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

//! The transport to a list of replicas (`http://a:5000,http://b:5000`): every call goes to
//! the current replica; when it cannot be reached, the next one becomes current.
//!
//! A call whose connection could not even be made was never sent, so a unary call (its
//! request is small and buffered) is tried on the next replicas at once, whatever it does.
//! A call that failed after it was sent is not repeated (it may have been applied); it
//! fails, and the next call goes to the next replica. The two client-streaming calls are not
//! buffered: LogStream re-sends its unacknowledged batches itself on a new stream (the
//! server recognises what was stored, on any replica), and an artifact upload fails and is
//! retried by its caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::Channel;
use tower_service::Service;

/// Methods whose request is a stream (never buffered).
const STREAMING_REQUESTS: [&str; 2] = [
    "/trackd.v1.TrackingService/LogStream",
    "/trackd.v1.ArtifactService/UploadArtifact",
];

/// One channel per replica and which one is current. Cheap to clone.
#[derive(Clone)]
pub struct Failover {
    channels: Arc<[Channel]>,
    current: Arc<AtomicUsize>,
}

impl Failover {
    /// A transport over one channel (one server, or the embedded store).
    pub fn single(channel: Channel) -> Self {
        Self::over(vec![channel])
    }

    /// A transport over the replicas' channels, the first current.
    pub fn over(channels: Vec<Channel>) -> Self {
        assert!(!channels.is_empty(), "at least one channel");
        Failover {
            channels: channels.into(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Makes the replica after `failed` current (unless another call already moved on).
    fn move_past(&self, failed: usize) {
        let next = (failed + 1) % self.channels.len();
        let _ = self
            .current
            .compare_exchange(failed, next, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// Whether `e` says the connection could not be made (so the request was never sent).
fn never_sent(e: &tonic::transport::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        let refused = err.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::AddrNotAvailable
            )
        });
        if refused {
            return true;
        }
        if err.to_string().contains("connect error") {
            return true;
        }
        source = err.source();
    }
    false
}

impl Service<http::Request<Body>> for Failover {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call waits for its own channel's readiness.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let this = self.clone();
        Box::pin(async move {
            let first = this.current.load(Ordering::Acquire) % this.channels.len();
            let streaming = STREAMING_REQUESTS.contains(&request.uri().path());
            if this.channels.len() == 1 || streaming {
                let result = this.channels[first].clone().oneshot(request).await;
                if result.is_err() {
                    this.move_past(first);
                }
                return result;
            }
            // A unary request: buffered, so it can be sent again where it was not sent.
            let (parts, body) = request.into_parts();
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(status) => {
                    // The request body is our own encoder's: it fails only when encoding
                    // failed; answer with that status as the server would.
                    return Ok(status.into_http());
                }
            };
            let mut last_error = None;
            for attempt in 0..this.channels.len() {
                let i = (first + attempt) % this.channels.len();
                let request = http::Request::from_parts(
                    parts.clone(),
                    Body::new(http_body_util::Full::new(bytes.clone())),
                );
                match this.channels[i].clone().oneshot(request).await {
                    Ok(response) => return Ok(response),
                    Err(e) => {
                        this.move_past(i);
                        if !never_sent(&e) {
                            return Err(e);
                        }
                        tracing::debug!(replica = i, error = %e, "replica unreachable; trying the next");
                        last_error = Some(e);
                    }
                }
            }
            Err(last_error.expect("at least one attempt"))
        })
    }
}

//! Who a request comes from: one layer in front of every route (gRPC, REST, the UI) puts
//! the request's [`Caller`] into its extensions, and every handler passes it to the Tracker,
//! which decides what the caller may do.
//!
//! Without authentication every request is [`Caller::Anonymous`] (and the Tracker grants
//! everything). With it ([`Authenticator`]), the `Authorization` header (gRPC's
//! `authorization` metadata is the same HTTP/2 header) is verified: good credentials make a
//! [`Caller::User`]; bad ones are refused here with `UNAUTHENTICATED` (401 with MLflow's
//! JSON and a `WWW-Authenticate: Basic` challenge, so a browser asks for a login; gRPC status
//! 16). A request without credentials is refused the same way, on every path but the few
//! that must stay open ([`is_open_path`]): deny by default, whatever a route does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Authenticator;
use crate::domain::Caller;
use crate::error::TrackingError;

/// The peer address of a connection, put into each request's extensions by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Paths served without credentials when authentication is on: health checks (HTTP and
/// gRPC), so load balancers and orchestrators need no secret.
pub fn is_open_path(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/grpc.health.v1.Health/Check" | "/grpc.health.v1.Health/Watch"
    )
}

/// The layer's function: marks the request with its caller (or refuses it).
pub async fn identify(
    State(auth): State<Option<Arc<Authenticator>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        request.extensions_mut().insert(Caller::Anonymous);
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let addr = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let caller = match auth.identify(header, addr).await {
        Ok(Caller::Anonymous) if !is_open_path(request.uri().path()) => {
            return refuse(
                &request,
                TrackingError::Unauthenticated(
                    "Authentication required: send HTTP Basic credentials \
                     (MLFLOW_TRACKING_USERNAME/PASSWORD) or a bearer token (MLFLOW_TRACKING_TOKEN)."
                        .into(),
                ),
            );
        }
        Ok(caller) => caller,
        Err(err) => return refuse(&request, err),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The refusal in the request's protocol: a gRPC status, or MLflow's JSON with a Basic
/// challenge.
fn refuse(request: &Request, err: TrackingError) -> Response {
    let is_grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        return tonic::Status::from(err)
            .into_http::<axum::body::Body>()
            .into_response();
    }
    let mut response = crate::rest::error_response(&err);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"trackd\", charset=\"UTF-8\""),
    );
    response
}

/// The layer's function for the in-process channel ([`crate::in_process`]): every request
/// on it comes from this process itself.
pub async fn in_process(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Caller::InProcess);
    next.run(request).await
}

/// The caller of a gRPC request (set by [`identify`]); a request that did not pass the
/// layer is refused rather than served as anyone.
pub fn grpc_caller<T>(request: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            tonic::Status::internal("the request has no caller (identity layer missing)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_request_without_a_caller_is_refused() {
        let bare = tonic::Request::new(());
        assert_eq!(
            grpc_caller(&bare).unwrap_err().code(),
            tonic::Code::Internal
        );
        let mut marked = tonic::Request::new(());
        marked.extensions_mut().insert(Caller::Anonymous);
        assert_eq!(grpc_caller(&marked).unwrap(), Caller::Anonymous);
    }

    #[test]
    fn only_health_checks_are_open() {
        assert!(is_open_path("/health"));
        assert!(is_open_path("/grpc.health.v1.Health/Check"));
        for closed in [
            "/",
            "/metrics",
            "/version",
            "/api/2.0/mlflow/runs/get",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(!is_open_path(closed), "{closed}");
        }
    }
}

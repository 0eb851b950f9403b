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

/// The connection a request came on, put into each request's extensions by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr {
    /// The peer's address.
    pub addr: SocketAddr,
    /// Whether the connection is TLS (session cookies are then `Secure`).
    pub tls: bool,
}

/// Paths served without credentials when authentication is on: health checks (HTTP and
/// gRPC), so load balancers and orchestrators need no secret, and the web UI's login page
/// with the static files it uses.
pub fn is_open_path(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/grpc.health.v1.Health/Check" | "/grpc.health.v1.Health/Watch" | "/login"
    ) || path.starts_with("/static/")
}

/// Whether an anonymous request is a browser asking for a UI page (sent to the login page
/// rather than answered 401).
fn wants_login_page(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == axum::http::Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/ajax-api/")
        && !path.starts_with("/ui-api/")
        && path != "/metrics"
        && path != "/version"
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
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
    let addr = request.extensions().get::<PeerAddr>().map(|p| p.addr.ip());
    let session = request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::sessions::from_cookie_header);
    let identified = match (header, session) {
        (None, Some(session)) => match auth.session_caller(session) {
            Ok(Some(caller)) => Ok(caller),
            Ok(None) => Ok(Caller::Anonymous),
            Err(e) => Err(e),
        },
        _ => auth.identify(header, addr).await,
    };
    request.extensions_mut().insert(auth.clone());
    let caller = match identified {
        Ok(Caller::Anonymous)
            if !is_open_path(request.uri().path()) && wants_login_page(&request) =>
        {
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            return axum::response::Redirect::to(&target).into_response();
        }
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
    if crate::connections::is_grpc(request.headers()) {
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
        assert!(is_open_path("/login") && is_open_path("/static/app.css"));
        for closed in [
            "/",
            "/metrics",
            "/version",
            "/api/2.0/mlflow/runs/get",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/logout",
            "/loginx",
        ] {
            assert!(!is_open_path(closed), "{closed}");
        }
    }
}

//! Who a request comes from: one layer in front of every route (gRPC, REST, the UI) puts
//! the request's [`Caller`] into its extensions, and every handler passes it to the Tracker,
//! which decides what the caller may do. Without authentication (today) every request is
//! [`Caller::Anonymous`]; authentication replaces this layer's decision and nothing else.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::Caller;

/// The layer's function: marks the request with its caller.
pub async fn identify(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Caller::Anonymous);
    next.run(request).await
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
}

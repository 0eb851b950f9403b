//! The MLflow REST edge: `/api/2.0/mlflow/…` and `/ajax-api/2.0/mlflow/…` over the same
//! [`Tracker`] as gRPC, plus the artifact proxy `/api/2.0/mlflow-artifacts/artifacts/…`, so
//! the stock `mlflow` client works against trackd.
//!
//! Each endpoint decodes its own request struct ([`requests`], with MLflow's field rules
//! from [`fields`]) from the body or the query string, calls the Tracker, and answers with
//! MLflow's JSON ([`json`], or [`streamed`] for answers that grow with the data); errors
//! answer `{"error_code", "message"}` with MLflow's HTTP status, through the one mapping in
//! [`crate::error`]. Tracking endpoints are in `tracking.rs`, logged models in `models.rs`,
//! artifact endpoints and the proxy in `artifacts.rs`.

mod artifacts;
pub mod fields;
pub mod json;
mod models;
mod registry;
pub mod requests;
mod streamed;
mod tracking;
mod transfers;
mod users;

pub use users::{GrantRequest, UserRequest};

use std::future::Future;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, on, post, MethodFilter, MethodRouter};
use axum::Extension;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::domain::Caller;
use crate::error::{Result, TrackingError};
use crate::tracker::Tracker;

/// Largest JSON request body, in bytes.
pub const MAX_JSON_BODY: usize = 16 << 20;
/// Longest a JSON body may take to arrive whole (16 MiB at ~280 KB/s); a body that trickles
/// slower is refused, so it cannot hold a connection slot indefinitely.
pub const JSON_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// Version reported by `/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error as MLflow's JSON.
pub fn error_response(err: &TrackingError) -> Response {
    err.log_if_internal();
    let status =
        StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error_code": err.mlflow_error_code(), "message": err.to_string()});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What an endpoint answers: MLflow's JSON, or a response it built itself (a streamed one).
trait Answer {
    fn answer(self) -> Response;
}

impl Answer for Value {
    fn answer(self) -> Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            self.to_string(),
        )
            .into_response()
    }
}

impl Answer for Response {
    fn answer(self) -> Response {
        self
    }
}

/// An endpoint's result as its answer or MLflow's error JSON.
fn respond(result: Result<impl Answer>) -> Response {
    match result {
        Ok(answer) => answer.answer(),
        Err(err) => error_response(&err),
    }
}

/// A JSON body: Content-Type must be application/json, size at most [`MAX_JSON_BODY`],
/// whole within [`JSON_BODY_DEADLINE`].
async fn json_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(TrackingError::invalid(format!(
            "Bad Request. Content-Type must be 'application/json', got '{content_type}'."
        )));
    }
    check_content_length(headers, MAX_JSON_BODY as u64, "request body")?;
    tokio::time::timeout(
        JSON_BODY_DEADLINE,
        axum::body::to_bytes(body, MAX_JSON_BODY),
    )
    .await
    .map_err(|_| {
        TrackingError::invalid(format!(
            "The request body did not arrive within {JSON_BODY_DEADLINE:?}."
        ))
    })?
    .map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            TrackingError::TooLarge(format!(
                "The request body is larger than {MAX_JSON_BODY} bytes."
            ))
        } else {
            TrackingError::invalid(format!("The request body could not be read: {e}"))
        }
    })
}

/// The announced body length, if any; refused at once (before any byte is read) when it
/// is over `limit`.
fn check_content_length(headers: &HeaderMap, limit: u64, what: &str) -> Result<()> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let length: u64 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| TrackingError::invalid("Content-Length is not a number."))?;
    if length > limit {
        return Err(TrackingError::TooLarge(format!(
            "The {what} is {length} bytes; this server accepts at most {limit}."
        )));
    }
    Ok(())
}

/// A request struct from a query string (absent: every field unset).
fn query_request<T: DeserializeOwned>(query: Option<&str>) -> Result<T> {
    let fields = match query {
        Some(q) => json::parse_query(q)?,
        None => json::Object::default(),
    };
    requests::from_query(fields)
}

/// A request struct from the query string (GET, and DELETE without a body) or the JSON body
/// (otherwise: MLflow's client sends DELETE requests of the registry with a JSON body).
async fn read_request<T: DeserializeOwned>(
    method: &Method,
    headers: &HeaderMap,
    query: Option<String>,
    body: Body,
) -> Result<T> {
    let json_delete = method == Method::DELETE && headers.contains_key(header::CONTENT_TYPE);
    if method == Method::GET || (method == Method::DELETE && !json_delete) {
        return query_request(query.as_deref());
    }
    requests::from_body(&json_body(headers, body).await?)
}

/// An endpoint: decodes its request struct `T`, calls `handler` with the Tracker and the
/// caller, answers.
fn endpoint<T, A, F, Fut>(methods: MethodFilter, handler: F) -> MethodRouter<Tracker>
where
    T: DeserializeOwned + Send + 'static,
    A: Answer,
    F: Fn(Tracker, Caller, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<A>> + Send + 'static,
{
    on(
        methods,
        move |State(t): State<Tracker>,
              Extension(c): Extension<Caller>,
              method: Method,
              headers: HeaderMap,
              RawQuery(q): RawQuery,
              request: Request| async move {
            let answer = match read_request::<T>(&method, &headers, q, request.into_body()).await {
                Ok(req) => handler(t, c, req).await,
                Err(e) => Err(e),
            };
            respond(answer)
        },
    )
}

/// [`endpoint`] for a route ending in a `{*path}` parameter: `handler` gets the path too.
fn path_endpoint<T, A, F, Fut>(methods: MethodFilter, handler: F) -> MethodRouter<Tracker>
where
    T: DeserializeOwned + Send + 'static,
    A: Answer,
    F: Fn(Tracker, Caller, String, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<A>> + Send + 'static,
{
    on(
        methods,
        move |State(t): State<Tracker>,
              Extension(c): Extension<Caller>,
              axum::extract::Path(path): axum::extract::Path<String>,
              method: Method,
              headers: HeaderMap,
              RawQuery(q): RawQuery,
              request: Request| async move {
            let answer = match read_request::<T>(&method, &headers, q, request.into_body()).await {
                Ok(req) => handler(t, c, path, req).await,
                Err(e) => Err(e),
            };
            respond(answer)
        },
    )
}

/// The MLflow tracking routes (relative to `/api/2.0/mlflow`).
fn tracking_routes() -> Router<Tracker> {
    use tracking::*;
    let g = MethodFilter::GET;
    let p = MethodFilter::POST;
    Router::new()
        .route("/experiments/create", endpoint(p, create_experiment))
        .route("/experiments/get", endpoint(g, get_experiment))
        .route(
            "/experiments/get-by-name",
            endpoint(g, get_experiment_by_name),
        )
        .route("/experiments/search", endpoint(g.or(p), search_experiments))
        .route("/experiments/update", endpoint(p, update_experiment))
        .route("/experiments/delete", endpoint(p, delete_experiment))
        .route("/experiments/restore", endpoint(p, restore_experiment))
        .route(
            "/experiments/set-experiment-tag",
            endpoint(p, set_experiment_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            endpoint(p, delete_experiment_tag),
        )
        .route("/runs/create", endpoint(p, create_run))
        .route("/runs/get", endpoint(g, get_run))
        .route("/runs/update", endpoint(p, update_run))
        .route("/runs/delete", endpoint(p, delete_run))
        .route("/runs/restore", endpoint(p, restore_run))
        .route("/runs/search", endpoint(g.or(p), search_runs))
        .route("/runs/log-metric", endpoint(p, log_metric))
        .route("/runs/log-parameter", endpoint(p, log_param))
        .route("/runs/set-tag", endpoint(p, set_tag))
        .route("/runs/delete-tag", endpoint(p, delete_tag))
        .route("/runs/log-batch", endpoint(p, log_batch))
        .route("/runs/log-inputs", endpoint(p, log_inputs))
        .route("/runs/outputs", endpoint(p, log_outputs))
        .route("/runs/log-model", endpoint(p, log_model))
        .route("/metrics/get-history", endpoint(g, get_history))
        .route(
            "/metrics/get-history-bulk-interval",
            endpoint(g, get_history_bulk_interval),
        )
        .route("/artifacts/list", endpoint(g, artifacts::list_artifacts))
        .route(
            "/artifacts/presigned-upload-url",
            post(|s, c, p, h, r| artifacts::presigned_url(s, c, p, h, r, true)),
        )
        .route(
            "/artifacts/presigned-download-url",
            post(|s, c, p, h, r| artifacts::presigned_url(s, c, p, h, r, false)),
        )
        .route("/logged-models", endpoint(p, models::create))
        .route("/logged-models/search", endpoint(g.or(p), models::search))
        .route(
            "/logged-models/{model_id}",
            models::endpoint_at(g, models::get)
                .merge(models::endpoint_at(MethodFilter::PATCH, models::finalize))
                .merge(models::endpoint_at(MethodFilter::DELETE, models::delete)),
        )
        .route(
            "/logged-models/{model_id}/tags",
            models::endpoint_at(MethodFilter::PATCH, models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            models::endpoint_at(MethodFilter::DELETE, models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/params",
            models::endpoint_at(p, models::log_params),
        )
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            models::endpoint_at(g, models::list_files),
        )
        .route(
            "/logged-models/{model_id}/artifacts/files",
            get(models::download_file),
        )
}

/// Tracking, registry and auth routes (relative to `/api/2.0/mlflow`).
fn mlflow_routes() -> Router<Tracker> {
    tracking_routes()
        .merge(registry::routes())
        .merge(users::v2_routes())
}

/// Every REST route: tracking under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`, the
/// artifact proxy, and `/version`.
pub fn router(tracker: Tracker) -> Router {
    Router::new()
        .nest("/api/2.0/mlflow", mlflow_routes())
        .nest("/ajax-api/2.0/mlflow", mlflow_routes())
        .nest("/api/2.0/mlflow-artifacts", artifacts::proxy_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts::proxy_routes())
        .nest(
            "/api/3.0/mlflow",
            users::v3_routes().merge(transfers::server_info_routes()),
        )
        .nest(
            "/ajax-api/3.0/mlflow",
            users::v3_routes().merge(transfers::server_info_routes()),
        )
        .nest("/api/2.0/trackd", users::token_routes())
        .route(
            "/api/2.0/trackd/backups/create",
            endpoint(MethodFilter::POST, tracking::create_backup),
        )
        .route("/version", get(|| async { VERSION }))
        // Unknown paths under the API prefixes get MLflow's 404. These are routes, not a
        // fallback: the gRPC router this is merged into owns the fallback (gRPC UNIMPLEMENTED).
        .route("/api/{*unknown}", any(endpoint_not_found))
        .route("/ajax-api/{*unknown}", any(endpoint_not_found))
        .with_state(tracker)
}

/// Unknown paths under the API prefixes: MLflow's 404, not the gRPC fallback.
async fn endpoint_not_found(method: Method, uri: axum::http::Uri) -> Response {
    let body = json!({"error_code": "ENDPOINT_NOT_FOUND", "message": format!("No API endpoint {method} {}", uri.path())});
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

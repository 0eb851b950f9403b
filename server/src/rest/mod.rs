//! The MLflow REST edge: `/api/2.0/mlflow/…` and `/ajax-api/2.0/mlflow/…` over the same
//! [`Tracker`] as gRPC, plus the artifact proxy `/api/2.0/mlflow-artifacts/artifacts/…`, so
//! the stock `mlflow` client works against trackd.
//!
//! Each endpoint reads a JSON object (body or query string, see `rest/json.rs`), calls the Tracker,
//! and answers with MLflow's JSON; errors answer `{"error_code", "message"}` with MLflow's
//! HTTP status, through the one mapping in [`crate::error`].

mod batch;
pub mod json;
mod streamed;

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, on, post, MethodFilter};
use axum::Extension;
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

use self::json::Object;
use crate::domain::{Caller, Point, RunWrites};
use crate::error::{Result, TrackingError};
use crate::tracker::{
    ExperimentSearch, HistoryRead, NewRun, RunSearch, RunUpdate, SampledHistory, Sampling, Tracker,
};

/// Largest JSON request body, in bytes.
pub const MAX_JSON_BODY: usize = 16 << 20;
/// Longest a JSON body may take to arrive whole (16 MiB at ~280 KB/s); a body that trickles
/// slower is refused, so it cannot hold a connection slot indefinitely.
pub const JSON_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// Points per chunk of a streamed REST history: JSON takes ~75 bytes a point, so a chunk
/// is ~600 KB and a request holds a few MB whatever the series' length.
const REST_HISTORY_BLOCK_POINTS: usize = 8192;
/// Version reported by `/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

type Reply = Pin<Box<dyn Future<Output = Result<Value>> + Send>>;
type Endpoint = fn(Tracker, Caller, Object) -> Reply;
/// An endpoint whose answer may be streamed (it builds its own response).
type StreamedReply = Pin<Box<dyn Future<Output = Result<Response>> + Send>>;
type StreamedEndpoint = fn(Tracker, Caller, Object) -> StreamedReply;

/// An error as MLflow's JSON.
pub fn error_response(err: &TrackingError) -> Response {
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

/// A JSON body: Content-Type must be application/json, size at most [`MAX_JSON_BODY`].
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

async fn read_request(
    method: &Method,
    headers: &HeaderMap,
    query: Option<String>,
    body: Body,
) -> Result<Object> {
    if method == Method::GET || method == Method::DELETE {
        return match query.as_deref() {
            Some(q) => json::parse_query(q),
            None => Ok(Object::default()),
        };
    }
    json::parse_body(&json_body(headers, body).await?)
}

/// An endpoint's result as MLflow's JSON (or error JSON).
fn respond(result: Result<Value>) -> Response {
    match result {
        Ok(value) => (
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Err(err) => error_response(&err),
    }
}

/// An endpoint answering MLflow's JSON (read from the body or the query string).
fn route(methods: MethodFilter, endpoint: Endpoint) -> axum::routing::MethodRouter<Tracker> {
    serve_endpoint(methods, move |t, c, r| {
        Box::pin(async move { endpoint(t, c, r).await.map(|v| respond(Ok(v))) })
    })
}

/// An endpoint that builds its own response (a streamed one).
fn route_streamed(
    methods: MethodFilter,
    endpoint: StreamedEndpoint,
) -> axum::routing::MethodRouter<Tracker> {
    serve_endpoint(methods, endpoint)
}

fn serve_endpoint(
    methods: MethodFilter,
    endpoint: impl Fn(Tracker, Caller, Object) -> StreamedReply + Clone + Send + Sync + 'static,
) -> axum::routing::MethodRouter<Tracker> {
    on(
        methods,
        move |State(t): State<Tracker>,
              Extension(c): Extension<Caller>,
              method: Method,
              headers: HeaderMap,
              RawQuery(q): RawQuery,
              request: Request| async move {
            let answer = match read_request(&method, &headers, q, request.into_body()).await {
                Ok(req) => endpoint(t, c, req).await,
                Err(e) => Err(e),
            };
            answer.unwrap_or_else(|e| error_response(&e))
        },
    )
}

/// The MLflow tracking routes (relative to `/api/2.0/mlflow`).
fn tracking_routes() -> Router<Tracker> {
    let g = MethodFilter::GET;
    let p = MethodFilter::POST;
    Router::new()
        .route(
            "/experiments/create",
            route(p, |t, c, r| Box::pin(create_experiment(t, c, r))),
        )
        .route(
            "/experiments/get",
            route(g, |t, c, r| Box::pin(get_experiment(t, c, r))),
        )
        .route(
            "/experiments/get-by-name",
            route(g, |t, c, r| Box::pin(get_experiment_by_name(t, c, r))),
        )
        .route(
            "/experiments/search",
            route(g.or(p), |t, c, r| Box::pin(search_experiments(t, c, r))),
        )
        .route(
            "/experiments/update",
            route(p, |t, c, r| Box::pin(update_experiment(t, c, r))),
        )
        .route(
            "/experiments/delete",
            route(p, |t, c, r| Box::pin(delete_experiment(t, c, r))),
        )
        .route(
            "/experiments/restore",
            route(p, |t, c, r| Box::pin(restore_experiment(t, c, r))),
        )
        .route(
            "/experiments/set-experiment-tag",
            route(p, |t, c, r| Box::pin(set_experiment_tag(t, c, r))),
        )
        .route(
            "/experiments/delete-experiment-tag",
            route(p, |t, c, r| Box::pin(delete_experiment_tag(t, c, r))),
        )
        .route(
            "/runs/create",
            route(p, |t, c, r| Box::pin(create_run(t, c, r))),
        )
        .route("/runs/get", route(g, |t, c, r| Box::pin(get_run(t, c, r))))
        .route(
            "/runs/update",
            route(p, |t, c, r| Box::pin(update_run(t, c, r))),
        )
        .route(
            "/runs/delete",
            route(p, |t, c, r| Box::pin(delete_run(t, c, r))),
        )
        .route(
            "/runs/restore",
            route(p, |t, c, r| Box::pin(restore_run(t, c, r))),
        )
        .route(
            "/runs/search",
            route_streamed(g.or(p), |t, c, r| Box::pin(search_runs(t, c, r))),
        )
        .route(
            "/runs/log-metric",
            route(p, |t, c, r| Box::pin(log_metric(t, c, r))),
        )
        .route(
            "/runs/log-parameter",
            route(p, |t, c, r| Box::pin(log_param(t, c, r))),
        )
        .route(
            "/runs/set-tag",
            route(p, |t, c, r| Box::pin(set_tag(t, c, r))),
        )
        .route(
            "/runs/delete-tag",
            route(p, |t, c, r| Box::pin(delete_tag(t, c, r))),
        )
        .route("/runs/log-batch", post(log_batch_fast))
        .route(
            "/metrics/get-history",
            route_streamed(g, |t, c, r| Box::pin(get_history(t, c, r))),
        )
        .route(
            "/metrics/get-history-bulk-interval",
            route(g, |t, c, r| Box::pin(get_history_bulk_interval(t, c, r))),
        )
        .route(
            "/artifacts/list",
            route_streamed(g, |t, c, r| Box::pin(list_artifacts(t, c, r))),
        )
        // MLflow 3 clients look for logged models (e.g. before downloading artifacts); trackd
        // tracks none, so the answer is an empty search.
        .route(
            "/runs/log-inputs",
            route(p, |t, c, r| Box::pin(log_inputs(t, c, r))),
        )
        .route(
            "/runs/outputs",
            route(p, |t, c, r| Box::pin(log_outputs(t, c, r))),
        )
        .route(
            "/runs/log-model",
            route(p, |t, c, r| Box::pin(log_model(t, c, r))),
        )
        .route(
            "/artifacts/presigned-upload-url",
            post(|s, c, h, r| presigned_url(s, c, h, r, true)),
        )
        .route(
            "/artifacts/presigned-download-url",
            post(|s, c, h, r| presigned_url(s, c, h, r, false)),
        )
        .route(
            "/logged-models/search",
            route(g.or(p), |_, _, _| Box::pin(async { Ok(json!({})) })),
        )
}

/// Every REST route: tracking under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`, the
/// artifact proxy, and `/version`.
pub fn router(tracker: Tracker) -> Router {
    Router::new()
        .nest("/api/2.0/mlflow", tracking_routes())
        .nest("/ajax-api/2.0/mlflow", tracking_routes())
        .nest("/api/2.0/mlflow-artifacts", artifact_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifact_routes())
        .route("/version", get(|| async { VERSION }))
        // Unknown paths under the API prefixes get MLflow's 404. These are routes, not a
        // fallback: the gRPC router this is merged into owns the fallback (gRPC UNIMPLEMENTED).
        .route("/api/{*unknown}", any(endpoint_not_found))
        .route("/ajax-api/{*unknown}", any(endpoint_not_found))
        .with_state(tracker)
}

// --- experiments ----------------------------------------------------------------------------

async fn create_experiment(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let name = json::required(&r, "name")?;
    let location = json::string(&r, "artifact_location")?.unwrap_or_default();
    let tags = json::key_values(&r, "tags")?;
    let id = t.create_experiment(&c, &name, &location, tags).await?;
    Ok(json!({"experiment_id": id.to_string()}))
}

async fn get_experiment(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let exp = t
        .get_experiment(&c, &json::required(&r, "experiment_id")?)
        .await?;
    Ok(json!({"experiment": json::experiment(&exp)}))
}

async fn get_experiment_by_name(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let exp = t
        .get_experiment_by_name(&c, &json::required(&r, "experiment_name")?)
        .await?;
    Ok(json!({"experiment": json::experiment(&exp)}))
}

fn page_token_out(mut body: Value, token: String) -> Value {
    if !token.is_empty() {
        body["next_page_token"] = json!(token);
    }
    body
}

async fn search_experiments(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let search = ExperimentSearch {
        filter: json::string(&r, "filter")?.unwrap_or_default(),
        view: json::view_type(&r, "view_type")?,
        max_results: json::int64(&r, "max_results")?.unwrap_or(0),
        order_by: json::strings(&r, "order_by")?,
        page_token: json::string(&r, "page_token")?.unwrap_or_default(),
    };
    let page = t.search_experiments(&c, search).await?;
    let items: Vec<Value> = page.items.iter().map(json::experiment).collect();
    let body = if items.is_empty() {
        json!({})
    } else {
        json!({"experiments": items})
    };
    Ok(page_token_out(body, page.next_page_token))
}

async fn update_experiment(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let id = json::required(&r, "experiment_id")?;
    t.update_experiment(&c, &id, &json::string(&r, "new_name")?.unwrap_or_default())
        .await?;
    Ok(json!({}))
}

async fn delete_experiment(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.delete_experiment(&c, &json::required(&r, "experiment_id")?)
        .await?;
    Ok(json!({}))
}

async fn restore_experiment(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.restore_experiment(&c, &json::required(&r, "experiment_id")?)
        .await?;
    Ok(json!({}))
}

async fn set_experiment_tag(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let id = json::required(&r, "experiment_id")?;
    let key = json::required(&r, "key")?;
    let value = json::string(&r, "value")?.unwrap_or_default();
    t.set_experiment_tag(&c, &id, &key, &value).await?;
    Ok(json!({}))
}

async fn delete_experiment_tag(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.delete_experiment_tag(
        &c,
        &json::required(&r, "experiment_id")?,
        &json::required(&r, "key")?,
    )
    .await?;
    Ok(json!({}))
}

// --- runs -----------------------------------------------------------------------------------

async fn create_run(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let new = NewRun {
        experiment_id: json::string(&r, "experiment_id")?.unwrap_or_default(),
        user_id: json::string(&r, "user_id")?.unwrap_or_default(),
        run_name: json::string(&r, "run_name")?.unwrap_or_default(),
        start_time: json::int64(&r, "start_time")?,
        tags: json::key_values(&r, "tags")?,
    };
    let run = t.create_run(&c, new).await?;
    Ok(json!({"run": json::run(&run)}))
}

async fn get_run(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let run = t.get_run(&c, &json::run_id(&r)?).await?;
    Ok(json!({"run": json::run(&run)}))
}

async fn update_run(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let update = RunUpdate {
        status: json::run_status(&r, "status")?,
        end_time: json::int64(&r, "end_time")?,
        run_name: json::string(&r, "run_name")?,
    };
    let info = t.update_run(&c, &json::run_id(&r)?, update).await?;
    Ok(json!({"run_info": json::run_info(&info)}))
}

async fn delete_run(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.delete_run(&c, &json::required(&r, "run_id")?).await?;
    Ok(json!({}))
}

async fn restore_run(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.restore_run(&c, &json::required(&r, "run_id")?).await?;
    Ok(json!({}))
}

async fn search_runs(t: Tracker, c: Caller, r: Object) -> Result<Response> {
    let search = RunSearch {
        experiment_ids: json::strings(&r, "experiment_ids")?,
        filter: json::string(&r, "filter")?.unwrap_or_default(),
        view: json::view_type(&r, "run_view_type")?,
        max_results: json::int64(&r, "max_results")?.unwrap_or(0),
        order_by: json::strings(&r, "order_by")?,
        page_token: json::string(&r, "page_token")?.unwrap_or_default(),
    };
    let page = t.search_runs(&c, search).await?;
    Ok(streamed::runs_page(page.items, page.next_page_token))
}

fn point(r: &Object) -> Result<(String, Point)> {
    let key = json::required(r, "key")?;
    let value = json::double(r, "value")?
        .ok_or_else(|| TrackingError::invalid("Missing value for required parameter 'value'."))?;
    let timestamp = json::int64(r, "timestamp")?.ok_or_else(|| {
        TrackingError::invalid("Missing value for required parameter 'timestamp'.")
    })?;
    let step = json::int64(r, "step")?.unwrap_or(0);
    Ok((
        key,
        Point {
            step,
            timestamp,
            value,
        },
    ))
}

async fn log_metric(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let (key, p) = point(&r)?;
    t.log_metric(&c, &json::run_id(&r)?, &key, p).await?;
    Ok(json!({}))
}

async fn log_param(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let key = json::required(&r, "key")?;
    let value = json::string(&r, "value")?
        .ok_or_else(|| TrackingError::invalid("Missing value for required parameter 'value'."))?;
    t.log_param(&c, &json::run_id(&r)?, &key, &value).await?;
    Ok(json!({}))
}

async fn set_tag(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let key = json::required(&r, "key")?;
    let value = json::string(&r, "value")?.unwrap_or_default();
    t.set_tag(&c, &json::run_id(&r)?, &key, &value).await?;
    Ok(json!({}))
}

async fn delete_tag(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    t.delete_tag(
        &c,
        &json::required(&r, "run_id")?,
        &json::required(&r, "key")?,
    )
    .await?;
    Ok(json!({}))
}

async fn log_batch(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let mut writes = RunWrites {
        metrics: Vec::new(),
        params: json::key_values(&r, "params")?,
        tags: json::key_values(&r, "tags")?,
    };
    for m in json::objects(&r, "metrics")? {
        let (key, p) = point(&m)?;
        writes.push_point(key, p);
    }
    t.log_batch(&c, &json::required(&r, "run_id")?, writes)
        .await?;
    Ok(json!({}))
}

async fn log_inputs(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let inputs = json::run_inputs_in(&r)?;
    t.log_inputs(&c, &json::required(&r, "run_id")?, inputs)
        .await?;
    Ok(json!({}))
}

async fn log_outputs(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let outputs = json::model_outputs_in(&r)?;
    t.log_outputs(&c, &json::required(&r, "run_id")?, outputs)
        .await?;
    Ok(json!({}))
}

async fn log_model(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let model_json = json::required(&r, "model_json")?;
    t.log_model(&c, &json::run_id(&r)?, &model_json).await?;
    Ok(json!({}))
}

/// Presigned upload and download URLs point at this server's artifact proxy, which needs no
/// credentials (trackd has no auth), so the URL works for its whole `expiration` and
/// beyond; `headers` is empty. The host is the one the client used to reach us.
async fn presigned_url(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
    for_upload: bool,
) -> Response {
    respond(
        async {
            let r = json::parse_body(&json_body(&headers, request.into_body()).await?)?;
            let path = json::required(&r, "path")?;
            let expiration = json::int64(&r, "expiration")?.unwrap_or(0);
            if expiration < 0 {
                return Err(TrackingError::invalid(format!(
                    "Invalid value {expiration} for parameter 'expiration': must be positive."
                )));
            }
            let (target, size) = t.artifact_target(&c, &json::run_id(&r)?, &path, for_upload)
                .await?;
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']))
                .ok_or_else(|| TrackingError::invalid("A Host header is required."))?;
            let encoded: Vec<String> = target
                .split('/')
                .map(|part| {
                    percent_encoding::utf8_percent_encode(part, PATH_SEGMENT).to_string()
                })
                .collect();
            let mut body = json!({
                "presigned_url": format!("http://{host}/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/")),
                "headers": {},
            });
            if let Some(size) = size {
                body["file_size"] = json!(size);
            }
            Ok(body)
        }
        .await,
    )
}

/// Characters escaped in one URL path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// log-batch, the hot route: typed parsing first, the generic path for any other shape.
async fn log_batch_fast(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let bytes = match json_body(&headers, request.into_body()).await {
        Ok(bytes) => bytes,
        Err(e) => return error_response(&e),
    };
    respond(match batch::LogBatchBody::parse(&bytes) {
        Some(body) => match body.into_writes() {
            Ok((run_id, writes)) => t.log_batch(&c, &run_id, writes).await.map(|()| json!({})),
            Err(e) => Err(e),
        },
        None => match json::parse_body(&bytes) {
            Ok(req) => log_batch(t, c, req).await,
            Err(e) => Err(e),
        },
    })
}

/// A whole history (no `max_results`) is streamed, so its size does not matter; pages are
/// answered at once.
async fn get_history(t: Tracker, c: Caller, r: Object) -> Result<Response> {
    let key = json::required(&r, "metric_key")?;
    let run_id = json::run_id(&r)?;
    let page_token = json::string(&r, "page_token")?.unwrap_or_default();
    let max_results = json::int64(&r, "max_results")?.unwrap_or(0);
    if max_results == 0 && page_token.is_empty() {
        let blocks = t
            .history_blocks(
                &c,
                HistoryRead {
                    run_id,
                    key: key.clone(),
                    start_step: None,
                    end_step: None,
                    block_points: REST_HISTORY_BLOCK_POINTS,
                },
            )
            .await?;
        return Ok(streamed::history(&key, blocks));
    }
    let page = t
        .metric_history(&c, &run_id, &key, &page_token, max_results)
        .await?;
    let metrics: Vec<Value> = page.items.iter().map(|p| json::metric(&key, p)).collect();
    let body = if metrics.is_empty() {
        json!({})
    } else {
        json!({"metrics": metrics})
    };
    Ok(respond(Ok(page_token_out(body, page.next_page_token))))
}

async fn get_history_bulk_interval(t: Tracker, c: Caller, r: Object) -> Result<Value> {
    let run_ids = json::strings(&r, "run_ids")?;
    if run_ids.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'run_ids'.",
        ));
    }
    if run_ids.len() > 100 {
        return Err(TrackingError::invalid(format!(
            "GetMetricHistoryBulkInterval takes at most 100 run_ids, got {}.",
            run_ids.len()
        )));
    }
    let key = json::required(&r, "metric_key")?;
    let (start, end) = (json::int64(&r, "start_step")?, json::int64(&r, "end_step")?);
    if start.is_some() != end.is_some() {
        return Err(TrackingError::invalid(
            "start_step and end_step must be given together.",
        ));
    }
    let max = json::int64(&r, "max_results")?.unwrap_or(2500);
    if !(1..=2500).contains(&max) {
        return Err(TrackingError::invalid(format!(
            "max_results must be between 1 and 2500, got {max}."
        )));
    }
    let series = t
        .sampled_history(
            &c,
            SampledHistory {
                run_ids,
                keys: vec![key.clone()],
                max_points: max as usize,
                start_step: start,
                end_step: end,
                method: Sampling::MinMax,
            },
        )
        .await?;
    let metrics: Vec<Value> = series
        .iter()
        .flat_map(|s| {
            s.points.iter().map(move |p| {
                let mut m = json::metric(&s.key, p);
                m["run_id"] = json!(s.run_id.to_string());
                m
            })
        })
        .collect();
    Ok(if metrics.is_empty() {
        json!({})
    } else {
        json!({"metrics": metrics})
    })
}

async fn list_artifacts(t: Tracker, c: Caller, r: Object) -> Result<Response> {
    let path = json::string(&r, "path")?.unwrap_or_default();
    let (root_uri, files) = t
        .list_artifacts(&c, &json::run_id(&r)?, &path, false)
        .await?;
    let head = format!("\"root_uri\":{}", Value::from(root_uri));
    Ok(streamed::files(head, files, |f| &f.path))
}

// --- artifact proxy -------------------------------------------------------------------------

fn artifact_routes() -> Router<Tracker> {
    Router::new()
        .route("/artifacts", get(proxy_list))
        .route(
            "/artifacts/{*path}",
            get(proxy_download).put(proxy_upload).delete(proxy_delete),
        )
        .route(
            "/mpu/{*rest}",
            post(|| async { error_response(&multipart_unsupported()) }),
        )
        .route(
            "/artifacts/",
            delete(|| async { error_response(&TrackingError::invalid("Invalid path ''.")) }),
        )
}

fn multipart_unsupported() -> TrackingError {
    TrackingError::Unsupported(
        "Multipart upload is not supported for the current artifact repository".into(),
    )
}

/// The proxy lists one level and names entries by their last component, as MLflow's does.
async fn proxy_list(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        let req = match q.as_deref() {
            Some(q) => json::parse_query(q)?,
            None => Object::default(),
        };
        let path = json::string(&req, "path")?.unwrap_or_default();
        let files = t.list_artifacts_at(&c, &path).await?;
        Ok::<_, TrackingError>(streamed::files(String::new(), files, |f| {
            f.path.rsplit('/').next().unwrap_or(&f.path)
        }))
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e))
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

async fn proxy_upload(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(path): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let result = async {
        check_content_length(&headers, t.max_artifact_bytes(), "artifact")?;
        let mut upload = t.begin_artifact_upload_at(&c, &path).await?;
        let mut body = request.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| TrackingError::invalid(format!("upload interrupted: {e}")))?;
            upload.write(&chunk).await?;
        }
        upload.finish().await
    }
    .await;
    respond(result.map(|_| json!({})))
}

async fn proxy_download(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(path): Path<String>,
) -> Response {
    match t.open_artifact_at(&c, &path).await {
        Ok(read) => {
            let name = path
                .rsplit('/')
                .next()
                .unwrap_or("artifact")
                .replace(['"', '\\'], "");
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_LENGTH, read.size.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                ],
                Body::from_stream(read.bytes),
            )
                .into_response()
        }
        Err(e) => error_response(&e),
    }
}

async fn proxy_delete(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(path): Path<String>,
) -> Response {
    respond(t.delete_artifact_at(&c, &path).await.map(|()| json!({})))
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

//! MLflow's direct-transfer endpoints of the artifact proxy (relative to
//! `/api/2.0/mlflow-artifacts`): multipart uploads (`mpu/create|complete|abort/<path>`),
//! whose parts the client PUTs straight to presigned URLs of the object store, and presigned
//! downloads (`presigned/<path>`); and `/api/3.0/mlflow/server-info`, where the stock client
//! learns whether to use them. With an artifact store that signs no URLs (the local
//! directory), they answer MLflow's "not supported" and the client falls back to the proxy.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, MethodFilter};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::fields::{Int, List, Text};
use super::{path_endpoint, respond};
use crate::artifacts::PresignedRequest;
use crate::domain::Caller;
use crate::error::{Result, TrackingError};
use crate::tracker::Tracker;

/// The direct-transfer routes (relative to `/api/2.0/mlflow-artifacts`).
pub fn routes() -> Router<Tracker> {
    const POST: MethodFilter = MethodFilter::POST;
    Router::new()
        .route("/mpu/create/{*path}", path_endpoint(POST, create))
        .route("/mpu/complete/{*path}", path_endpoint(POST, complete))
        .route("/mpu/abort/{*path}", path_endpoint(POST, abort))
        .route("/presigned/{*path}", get(presigned_download))
}

/// `/server-info` (relative to `/api/3.0/mlflow`).
pub fn server_info_routes() -> Router<Tracker> {
    Router::new().route("/server-info", get(server_info))
}

/// `mpu/create`: `path` is the client's local file; the object is its file name under the
/// URL's directory, as MLflow's artifact repositories name it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateMultipart {
    path: Text,
    num_parts: Int,
}

/// One uploaded part, as the client reports it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UploadedPart {
    part_number: Int,
    etag: Text,
}

/// `mpu/complete`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CompleteMultipart {
    path: Text,
    upload_id: Text,
    parts: List<UploadedPart>,
}

/// `mpu/abort`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AbortMultipart {
    path: Text,
    upload_id: Text,
}

/// The file an `mpu/*` call names: the URL's directory and the base name of `path`.
fn target(dir: &str, local_file: Text) -> Result<String> {
    let local_file = local_file.required("path")?;
    let name = local_file
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| TrackingError::invalid(format!("Invalid path '{local_file}'.")))?;
    Ok(format!("{}/{name}", dir.trim_end_matches('/')))
}

/// A presigned request as MLflow's JSON (`url`, `headers`).
fn request_json(request: &PresignedRequest) -> (String, Value) {
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    (request.url.clone(), Value::Object(headers))
}

async fn create(t: Tracker, c: Caller, dir: String, r: CreateMultipart) -> Result<Value> {
    let file = target(&dir, r.path)?;
    let parts = r.num_parts.0.unwrap_or(1);
    let parts = u32::try_from(parts).map_err(|_| {
        TrackingError::invalid(format!("Invalid value {parts} for parameter 'num_parts'."))
    })?;
    let started = t.create_multipart_upload_at(&c, &file, parts).await?;
    let credentials: Vec<Value> = started
        .parts
        .iter()
        .map(|part| {
            let (url, headers) = request_json(&part.request);
            json!({"url": url, "part_number": part.part_number, "headers": headers})
        })
        .collect();
    Ok(json!({"upload_id": started.upload_id, "credentials": credentials}))
}

async fn complete(t: Tracker, c: Caller, dir: String, r: CompleteMultipart) -> Result<Value> {
    let file = target(&dir, r.path)?;
    let upload_id = r.upload_id.required("upload_id")?;
    let parts = r
        .parts
        .0
        .into_iter()
        .map(|part| {
            let number = part.part_number.required("part_number")?;
            let number = u32::try_from(number)
                .map_err(|_| TrackingError::invalid(format!("Invalid part_number {number}.")))?;
            Ok((number, part.etag.required("etag")?))
        })
        .collect::<Result<Vec<_>>>()?;
    t.complete_multipart_upload_at(&c, &file, &upload_id, parts)
        .await?;
    Ok(json!({}))
}

async fn abort(t: Tracker, c: Caller, dir: String, r: AbortMultipart) -> Result<Value> {
    let file = target(&dir, r.path)?;
    let upload_id = r.upload_id.required("upload_id")?;
    t.abort_multipart_upload_at(&c, &file, &upload_id).await?;
    Ok(json!({}))
}

async fn presigned_download(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(path): Path<String>,
) -> Response {
    respond(
        t.presigned_download_at(&c, &path)
            .await
            .map(|(request, size)| {
                let (url, headers) = request_json(&request);
                json!({"url": url, "headers": headers, "file_size": size})
            }),
    )
}

/// What the stock client asks before choosing how to move artifacts.
async fn server_info(State(t): State<Tracker>, Extension(c): Extension<Caller>) -> Response {
    respond(t.direct_transfers(&c).map(|transfers| {
        json!({
            "store_type": Value::Null,
            "workspaces_enabled": false,
            "trace_archival_enabled": false,
            "multipart_uploads_enabled": transfers.multipart_uploads,
            "multipart_downloads_enabled": transfers.presigned_downloads,
            "presigned_upload_run_id_supported": true,
            "presigned_upload_model_id_supported": false,
            "features_enabled": {},
        })
    }))
}

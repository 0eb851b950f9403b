//! Artifact endpoints: MLflow's run-relative `artifacts/list` and presigned URLs, and the
//! artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/…`):
//! streamed upload (PUT), download (GET), list, delete. Which run and file a proxy path
//! names, and whether it is a safe path, the Tracker decides (through the one validator).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Router};
use futures::StreamExt;
use serde_json::{json, Value};

use super::requests::{self, ListArtifacts, PresignedUrl};
use super::{check_content_length, error_response, json_body, respond, streamed};
use crate::domain::Caller;
use crate::error::{Result, TrackingError};
use crate::tracker::Tracker;

/// `artifacts/list`: one level under `path` of a run's artifacts.
pub async fn list_artifacts(t: Tracker, c: Caller, r: ListArtifacts) -> Result<Response> {
    let run_id = requests::run_id(r.run_id, r.run_uuid)?;
    let (root_uri, files) = t
        .list_artifacts(&c, &run_id, &r.path.or_default(), false)
        .await?;
    let head = format!("\"root_uri\":{}", Value::from(root_uri));
    Ok(streamed::files(head, files, |f| &f.path))
}

/// Presigned upload and download URLs. With an object store that signs URLs (S3, GCS) they
/// are the store's own, valid for `expiration` seconds (at most an hour), and the bytes never
/// pass through trackd. Otherwise they point at this server's artifact proxy, on the host
/// the client used to reach us; with `--auth` the proxy still needs the caller's credentials.
pub async fn presigned_url(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    peer: Option<Extension<crate::identity::PeerAddr>>,
    headers: HeaderMap,
    request: Request,
    for_upload: bool,
) -> Response {
    let scheme = if peer.is_some_and(|p| p.tls) {
        "https"
    } else {
        "http"
    };
    respond(
        async {
            let r: PresignedUrl = requests::from_body(&json_body(&headers, request.into_body()).await?)?;
            let (run_id, path, expiration) = r.into_parts()?;
            let expiration = (expiration > 0).then(|| Duration::from_secs(expiration as u64));
            if let Some((signed, size)) = t
                .presigned_store_url(&c, &run_id, &path, for_upload, expiration)
                .await?
            {
                let headers: serde_json::Map<String, Value> = signed
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect();
                let mut body = json!({"presigned_url": signed.url, "headers": headers});
                if let Some(size) = size {
                    body["file_size"] = json!(size);
                }
                return Ok(body);
            }
            let (target, size) = t.artifact_target(&c, &run_id, &path, for_upload).await?;
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']))
                .ok_or_else(|| TrackingError::invalid("A Host header is required."))?;
            let encoded: Vec<String> = target
                .split('/')
                .map(|part| percent_encoding::utf8_percent_encode(part, PATH_SEGMENT).to_string())
                .collect();
            let mut body = json!({
                "presigned_url": format!("{scheme}://{host}/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/")),
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

// --- artifact proxy -------------------------------------------------------------------------

/// The proxy routes (relative to `/api/2.0/mlflow-artifacts`).
pub fn proxy_routes() -> Router<Tracker> {
    Router::new()
        .route("/artifacts", get(proxy_list))
        .route(
            "/artifacts/{*path}",
            get(proxy_download).put(proxy_upload).delete(proxy_delete),
        )
        .route(
            "/artifacts/",
            delete(|| async { error_response(&TrackingError::invalid("Invalid path ''.")) }),
        )
        .merge(super::transfers::routes())
}

/// The proxy lists one level and names entries by their last component, as MLflow's does.
async fn proxy_list(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        let req: ListArtifacts = super::query_request(q.as_deref())?;
        let files = t.list_artifacts_at(&c, &req.path.or_default()).await?;
        Ok::<_, TrackingError>(streamed::files(String::new(), files, |f| {
            f.path.rsplit('/').next().unwrap_or(&f.path)
        }))
    }
    .await;
    respond(result)
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
    download(&path, t.open_artifact_at(&c, &path).await)
}

/// A file as an attachment, streamed (or the error as MLflow's JSON).
pub(super) fn download(path: &str, read: Result<crate::artifacts::ArtifactRead>) -> Response {
    match read {
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

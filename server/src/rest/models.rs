//! MLflow 3's logged-model endpoints (`/api/2.0/mlflow/logged-models…`). Their files are
//! served by the artifact proxy under `<experiment location>/models/<id>/artifacts`.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Extension;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::json as out;
use super::requests::{
    CreateLoggedModel, Empty, FinalizeLoggedModel, GetLoggedModel, LoggedModelParams,
    LoggedModelTags, ModelFilesQuery, SearchLoggedModels,
};
use super::{read_request, respond, Answer};
use crate::domain::Caller;
use crate::error::Result;
use crate::tracker::Tracker;

/// An endpoint whose path names a logged model (and, for tags, a key): decodes the request
/// struct `T` and calls `handler` with the path parameters.
pub fn endpoint_at<P, T, A, F, Fut>(methods: MethodFilter, handler: F) -> MethodRouter<Tracker>
where
    P: DeserializeOwned + Send + 'static,
    T: DeserializeOwned + Send + 'static,
    A: Answer,
    F: Fn(Tracker, Caller, P, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<A>> + Send + 'static,
{
    on(
        methods,
        move |State(t): State<Tracker>,
              Extension(c): Extension<Caller>,
              Path(p): Path<P>,
              method: Method,
              headers: HeaderMap,
              RawQuery(q): RawQuery,
              request: Request| async move {
            let answer = match read_request::<T>(&method, &headers, q, request.into_body()).await {
                Ok(req) => handler(t, c, p, req).await,
                Err(e) => Err(e),
            };
            respond(answer)
        },
    )
}

pub async fn create(t: Tracker, c: Caller, r: CreateLoggedModel) -> Result<Value> {
    let model = t.create_logged_model(&c, r.into_new()?).await?;
    Ok(json!({"model": out::logged_model(&model)}))
}

pub async fn get(t: Tracker, c: Caller, id: String, r: GetLoggedModel) -> Result<Value> {
    let model = t.get_logged_model(&c, &id, r.allow_deleted.0).await?;
    Ok(json!({"model": out::logged_model(&model)}))
}

pub async fn finalize(t: Tracker, c: Caller, id: String, r: FinalizeLoggedModel) -> Result<Value> {
    let model = t.finalize_logged_model(&c, &id, r.status.0).await?;
    Ok(json!({"model": out::logged_model(&model)}))
}

pub async fn delete(t: Tracker, c: Caller, id: String, _: Empty) -> Result<Value> {
    t.delete_logged_model(&c, &id).await?;
    Ok(json!({}))
}

pub async fn set_tags(t: Tracker, c: Caller, id: String, r: LoggedModelTags) -> Result<Value> {
    let tags = super::fields::pairs(r.tags)?;
    t.set_logged_model_tags(&c, &id, tags).await?;
    Ok(json!({}))
}

pub async fn delete_tag(
    t: Tracker,
    c: Caller,
    (id, key): (String, String),
    _: Empty,
) -> Result<Value> {
    t.delete_logged_model_tag(&c, &id, &key).await?;
    Ok(json!({}))
}

pub async fn log_params(t: Tracker, c: Caller, id: String, r: LoggedModelParams) -> Result<Value> {
    let params = super::fields::pairs(r.params)?;
    t.log_logged_model_params(&c, &id, params).await?;
    Ok(json!({}))
}

/// `logged-models/{id}/artifacts/directories?artifact_directory_path=`: one level of a
/// logged model's files (MLflow's listing for models whose files it does not proxy).
pub async fn list_files(t: Tracker, c: Caller, id: String, r: ModelFilesQuery) -> Result<Response> {
    let path = r.artifact_directory_path.or_default();
    let (root_uri, files) = t.list_logged_model_files(&c, &id, &path, false).await?;
    let head = format!("\"root_uri\":{}", Value::from(root_uri));
    Ok(super::streamed::files(head, files, |f| &f.path))
}

/// `logged-models/{id}/artifacts/files?artifact_file_path=`: one file of a logged model.
pub async fn download_file(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        let r: ModelFilesQuery = super::query_request(q.as_deref())?;
        let path = r.artifact_file_path.required("artifact_file_path")?;
        Ok::<_, crate::error::TrackingError>((
            path.clone(),
            t.open_logged_model_file(&c, &id, &path).await,
        ))
    }
    .await;
    match result {
        Ok((path, read)) => super::artifacts::download(&path, read),
        Err(e) => super::error_response(&e),
    }
}

pub async fn search(t: Tracker, c: Caller, r: SearchLoggedModels) -> Result<Response> {
    let page = t.search_logged_models(&c, r.into_search()?).await?;
    let mut body = if page.items.is_empty() {
        json!({})
    } else {
        json!({"models": page.items.iter().map(out::logged_model).collect::<Vec<_>>()})
    };
    if !page.next_page_token.is_empty() {
        body["next_page_token"] = json!(page.next_page_token);
    }
    Ok(body.answer())
}

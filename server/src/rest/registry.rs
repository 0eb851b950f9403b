//! MLflow's model-registry endpoints (`/api/2.0/mlflow/registered-models/…` and
//! `/model-versions/…`).

use axum::routing::MethodFilter;
use axum::Router;
use serde_json::{json, Value};

use super::endpoint;
use super::json as out;
use super::requests::{RegistryRequest, SearchRegistry};
use crate::domain::{Caller, Stage};
use crate::error::{Result, TrackingError};
use crate::tracker::{NewModelVersion, Tracker};

/// The registry routes (relative to `/api/2.0/mlflow`).
pub fn routes() -> Router<Tracker> {
    let g = MethodFilter::GET;
    let p = MethodFilter::POST;
    let patch = MethodFilter::PATCH;
    let d = MethodFilter::DELETE;
    Router::new()
        .route("/registered-models/create", endpoint(p, create_registered))
        .route("/registered-models/get", endpoint(g, get_registered))
        .route("/registered-models/rename", endpoint(p, rename_registered))
        .route(
            "/registered-models/update",
            endpoint(patch, update_registered),
        )
        .route("/registered-models/delete", endpoint(d, delete_registered))
        .route("/registered-models/search", endpoint(g, search_registered))
        .route(
            "/registered-models/get-latest-versions",
            endpoint(g.or(p), latest_versions),
        )
        .route(
            "/registered-models/set-tag",
            endpoint(p, set_registered_tag),
        )
        .route(
            "/registered-models/delete-tag",
            endpoint(d, delete_registered_tag),
        )
        .route(
            "/registered-models/alias",
            endpoint(p, set_alias)
                .merge(endpoint(d, delete_alias))
                .merge(endpoint(g, get_by_alias)),
        )
        .route("/model-versions/create", endpoint(p, create_version))
        .route("/model-versions/get", endpoint(g, get_version))
        .route("/model-versions/update", endpoint(patch, update_version))
        .route("/model-versions/delete", endpoint(d, delete_version))
        .route("/model-versions/search", endpoint(g, search_versions))
        .route(
            "/model-versions/get-download-uri",
            endpoint(g, download_uri),
        )
        .route(
            "/model-versions/transition-stage",
            endpoint(p, transition_stage),
        )
        .route("/model-versions/set-tag", endpoint(p, set_version_tag))
        .route(
            "/model-versions/delete-tag",
            endpoint(d, delete_version_tag),
        )
}

async fn create_registered(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let tags = super::fields::pairs(r.tags.clone())?;
    let m = t
        .create_registered_model(&c, &r.name()?, &r.description.clone().or_default(), tags)
        .await?;
    Ok(json!({"registered_model": out::registered_model(&m)}))
}

async fn get_registered(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let m = t.get_registered_model(&c, &r.name()?).await?;
    Ok(json!({"registered_model": out::registered_model(&m)}))
}

async fn rename_registered(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let new_name = r.new_name.clone().required("new_name")?;
    let m = t.rename_registered_model(&c, &r.name()?, &new_name).await?;
    Ok(json!({"registered_model": out::registered_model(&m)}))
}

async fn update_registered(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let m = t
        .describe(&c, &r.name()?, None, &r.description.clone().or_default())
        .await?;
    Ok(json!({"registered_model": out::registered_model(&m)}))
}

async fn delete_registered(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    t.delete_registered_model(&c, &r.name()?).await?;
    Ok(json!({}))
}

async fn search_registered(t: Tracker, c: Caller, r: SearchRegistry) -> Result<Value> {
    let page = t.search_registered_models(&c, r.into_search()).await?;
    let mut body = if page.items.is_empty() {
        json!({})
    } else {
        json!({"registered_models": page.items.iter().map(out::registered_model).collect::<Vec<_>>()})
    };
    if !page.next_page_token.is_empty() {
        body["next_page_token"] = json!(page.next_page_token);
    }
    Ok(body)
}

async fn latest_versions(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let stages = r
        .stages
        .clone()
        .strings()
        .iter()
        .map(|s| Stage::from_name(s))
        .collect::<Result<Vec<_>>>()?;
    let m = t.get_registered_model(&c, &r.name()?).await?;
    let versions: Vec<Value> = m
        .latest_versions(&stages)
        .into_iter()
        .map(|v| out::model_version(&m, v))
        .collect();
    Ok(if versions.is_empty() {
        json!({})
    } else {
        json!({"model_versions": versions})
    })
}

async fn set_registered_tag(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let key = r.key.clone().required("key")?;
    let value = r.value.clone().or_default();
    t.registry_tag(&c, &r.name()?, None, &key, Some(&value))
        .await?;
    Ok(json!({}))
}

async fn delete_registered_tag(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let key = r.key.clone().required("key")?;
    t.registry_tag(&c, &r.name()?, None, &key, None).await?;
    Ok(json!({}))
}

async fn set_alias(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let alias = r.alias.clone().required("alias")?;
    t.set_alias(&c, &r.name()?, &alias, Some(r.version()?))
        .await?;
    Ok(json!({}))
}

async fn delete_alias(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let alias = r.alias.clone().required("alias")?;
    t.set_alias(&c, &r.name()?, &alias, None).await?;
    Ok(json!({}))
}

async fn get_by_alias(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let alias = r.alias.clone().required("alias")?;
    let (m, v) = t.version_by_alias(&c, &r.name()?, &alias).await?;
    let version = m
        .version(v)
        .ok_or_else(|| TrackingError::not_found("the alias points at a deleted version"))?;
    Ok(json!({"model_version": out::model_version(&m, version)}))
}

async fn create_version(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let new = NewModelVersion {
        name: r.name()?,
        source: r.source.clone().required("source")?,
        run_id: r.run_id.clone().or_default(),
        model_id: r.model_id.clone().or_default(),
        description: r.description.clone().or_default(),
        tags: super::fields::pairs(r.tags.clone())?,
    };
    let (m, v) = t.create_model_version(&c, new).await?;
    let version = m
        .version(v)
        .ok_or_else(|| TrackingError::storage_context("the new version is missing"))?;
    Ok(json!({"model_version": out::model_version(&m, version)}))
}

async fn get_version(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let v = r.version()?;
    let m = t.get_model_version(&c, &r.name()?, v).await?;
    let version = m.version(v).expect("checked by get_model_version");
    Ok(json!({"model_version": out::model_version(&m, version)}))
}

async fn update_version(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let v = r.version()?;
    let m = t
        .describe(&c, &r.name()?, Some(v), &r.description.clone().or_default())
        .await?;
    let version = m
        .version(v)
        .ok_or_else(|| TrackingError::storage_context("the version is missing"))?;
    Ok(json!({"model_version": out::model_version(&m, version)}))
}

async fn delete_version(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    t.delete_model_version(&c, &r.name()?, r.version()?).await?;
    Ok(json!({}))
}

async fn search_versions(t: Tracker, c: Caller, r: SearchRegistry) -> Result<Value> {
    let page = t.search_model_versions(&c, r.into_search()).await?;
    let versions: Vec<Value> = page
        .items
        .iter()
        .filter_map(|(m, v)| m.version(*v).map(|version| out::model_version(m, version)))
        .collect();
    let mut body = if versions.is_empty() {
        json!({})
    } else {
        json!({"model_versions": versions})
    };
    if !page.next_page_token.is_empty() {
        body["next_page_token"] = json!(page.next_page_token);
    }
    Ok(body)
}

async fn download_uri(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let v = r.version()?;
    let m = t.get_model_version(&c, &r.name()?, v).await?;
    let version = m.version(v).expect("checked by get_model_version");
    Ok(json!({"artifact_uri": version.storage_location}))
}

async fn transition_stage(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let v = r.version()?;
    let stage = r.stage.clone().required("stage")?;
    let m = t
        .transition_stage(
            &c,
            &r.name()?,
            v,
            &stage,
            r.archive_existing_versions.unwrap_or(false),
        )
        .await?;
    let version = m
        .version(v)
        .ok_or_else(|| TrackingError::storage_context("the version is missing"))?;
    Ok(json!({"model_version": out::model_version(&m, version)}))
}

async fn set_version_tag(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let key = r.key.clone().required("key")?;
    let value = r.value.clone().or_default();
    t.registry_tag(&c, &r.name()?, Some(r.version()?), &key, Some(&value))
        .await?;
    Ok(json!({}))
}

async fn delete_version_tag(t: Tracker, c: Caller, r: RegistryRequest) -> Result<Value> {
    let key = r.key.clone().required("key")?;
    t.registry_tag(&c, &r.name()?, Some(r.version()?), &key, None)
        .await?;
    Ok(json!({}))
}

//! MLflow's auth REST API, so its tooling works against trackd
//! (`mlflow.server.get_app_client("basic-auth", tracking_uri=…)`, MLflow's
//! `AuthServiceClient`), and trackd's token endpoints:
//!
//! | route | method | who |
//! |---|---|---|
//! | `/api/2.0/mlflow/users/create` | POST | administrators |
//! | `/api/2.0/mlflow/users/get` | GET | administrators, the user |
//! | `/api/2.0/mlflow/users/current` | GET | any user |
//! | `/api/2.0/mlflow/users/list` | GET | administrators |
//! | `/api/2.0/mlflow/users/update-password` | PATCH | administrators; the user with `current_password` |
//! | `/api/2.0/mlflow/users/update-admin` | PATCH | administrators |
//! | `/api/2.0/mlflow/users/delete` | DELETE | administrators |
//! | `/api/2.0/mlflow/experiments/permissions/create`, `update` | POST, PATCH | `MANAGE` on the experiment |
//! | `/api/2.0/mlflow/experiments/permissions/get` | GET | `READ` on the experiment |
//! | `/api/2.0/mlflow/experiments/permissions/delete` | DELETE | `MANAGE` on the experiment |
//! | `/api/2.0/mlflow/registered-models/permissions/create`, `update`, `delete`, `get` | as experiments' | `MANAGE` (`get`: `READ`) on the model |
//! | `/api/3.0/mlflow/users/permissions/grant`, `revoke` | POST | `MANAGE` (experiments) |
//! | `/api/3.0/mlflow/users/permissions/get` | GET | `READ` (experiments) |
//! | `/api/2.0/trackd/tokens/create` | POST | administrators, the user |
//! | `/api/2.0/trackd/tokens/list` | GET | administrators, the user |
//! | `/api/2.0/trackd/tokens/revoke` | POST | administrators, the token's owner |
//!
//! The checks are the Tracker's (`tracker/access.rs`). On a server without `--auth` these
//! routes answer 501 `NOT_IMPLEMENTED`. Grants are on `experiment`s and `registered_model`s.

use axum::routing::MethodFilter;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::access::{Level, Resource, User};
use crate::domain::Caller;
use crate::error::{Result, TrackingError};
use crate::tracker::Tracker;

use super::endpoint;
use super::fields::{Flag, Text};

/// User requests (`username`, `password`, `current_password`, `is_admin`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserRequest {
    username: Text,
    password: Text,
    current_password: Text,
    is_admin: Flag,
}

/// Grant requests, in both of MLflow's shapes (v2: `experiment_id`; v3: `resource_type` +
/// `resource_id`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GrantRequest {
    username: Text,
    experiment_id: Text,
    /// A registered model (`registered-models/permissions/…`).
    name: Text,
    resource_type: Text,
    resource_id: Text,
    permission: Text,
}

/// Token requests.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenRequest {
    username: Text,
    description: Text,
    id: Text,
}

fn auth_on(t: &Tracker) -> Result<()> {
    if t.auth_enabled() {
        Ok(())
    } else {
        Err(TrackingError::Unsupported(
            "Authentication is off on this server (start it with --auth).".into(),
        ))
    }
}

/// MLflow's user ids are numbers; trackd's users are keyed by name: a stable number from it.
fn user_id(name: &str) -> u32 {
    name.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    }) & 0x7fff_ffff
}

fn user_json(user: &User) -> Value {
    json!({"id": user_id(&user.name), "username": user.name, "is_admin": user.admin})
}

fn level(r: Text) -> Result<Level> {
    let name = r.required("permission")?;
    Level::parse(&name).ok_or_else(|| {
        TrackingError::invalid(format!(
            "Invalid permission '{name}': expected READ, EDIT, MANAGE or NO_PERMISSIONS."
        ))
    })
}

impl GrantRequest {
    fn experiment(&mut self) -> Result<Resource> {
        if let Some(id) = self.experiment_id.0.take() {
            return Ok(Resource::Experiment(id));
        }
        if let Some(name) = self.name.0.take() {
            return Ok(Resource::RegisteredModel(name));
        }
        let kind = std::mem::take(&mut self.resource_type).required("resource_type")?;
        let id = std::mem::take(&mut self.resource_id).required("resource_id")?;
        match kind.as_str() {
            "experiment" => Ok(Resource::Experiment(id)),
            "registered_model" => Ok(Resource::RegisteredModel(id)),
            other => Err(TrackingError::invalid(format!(
                "Unsupported resource_type '{other}': this server grants permissions on \
                 'experiment' and 'registered_model'."
            ))),
        }
    }
}

async fn create_user(t: Tracker, c: Caller, r: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    let name = r.username.required("username")?;
    let password = r.password.required("password")?;
    let user = t.create_user(&c, &name, &password, r.is_admin.0).await?;
    Ok(json!({"user": user_json(&user)}))
}

async fn get_user(t: Tracker, c: Caller, r: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    let user = t.get_user(&c, &r.username.required("username")?).await?;
    Ok(json!({"user": user_json(&user)}))
}

async fn current_user(t: Tracker, c: Caller, _: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    let name = c
        .user_name()
        .ok_or_else(|| TrackingError::Unauthenticated("No user is logged in.".into()))?
        .to_owned();
    let user = t.get_user(&c, &name).await?;
    Ok(json!({"user": user_json(&user)}))
}

async fn list_users(t: Tracker, c: Caller, _: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    let users = t.list_users(&c).await?;
    Ok(json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}))
}

async fn update_password(t: Tracker, c: Caller, r: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    let name = r.username.required("username")?;
    let password = r.password.required("password")?;
    let is_admin = matches!(c, Caller::User { admin: true, .. } | Caller::InProcess);
    if !is_admin {
        // Self-service needs the current password (a stolen session cannot take over).
        let current = r.current_password.required("current_password")?;
        let user = t.get_user(&c, &name).await?;
        let hash = user.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            crate::auth::secrets::verify_password(&current, &hash)
        })
        .await
        .map_err(|e| TrackingError::storage("verifying a password", e))?;
        if !ok {
            return Err(TrackingError::PermissionDenied(
                "current_password is not the user's password.".into(),
            ));
        }
    }
    t.update_password(&c, &name, &password).await?;
    Ok(json!({}))
}

async fn update_admin(t: Tracker, c: Caller, r: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    t.update_admin(&c, &r.username.required("username")?, r.is_admin.0)
        .await?;
    Ok(json!({}))
}

async fn delete_user(t: Tracker, c: Caller, r: UserRequest) -> Result<Value> {
    auth_on(&t)?;
    t.delete_user(&c, &r.username.required("username")?).await?;
    Ok(json!({}))
}

fn permission_json(resource: &Resource, user: &str, level: Level) -> Value {
    match resource {
        Resource::Experiment(id) => json!({"experiment_permission": {
            "experiment_id": id,
            "user_id": user_id(user),
            "permission": level.as_str(),
        }}),
        Resource::RegisteredModel(name) => json!({"registered_model_permission": {
            "name": name,
            "user_id": user_id(user),
            "permission": level.as_str(),
        }}),
    }
}

async fn set_grant(t: Tracker, c: Caller, mut r: GrantRequest) -> Result<Value> {
    auth_on(&t)?;
    let resource = r.experiment()?;
    let user = r.username.required("username")?;
    let level = level(r.permission)?;
    t.set_grant(&c, resource.clone(), &user, Some(level))
        .await?;
    Ok(permission_json(&resource, &user, level))
}

async fn get_grant(t: Tracker, c: Caller, mut r: GrantRequest) -> Result<Value> {
    auth_on(&t)?;
    let resource = r.experiment()?;
    let user = r.username.required("username")?;
    let level = t.effective_level(&c, resource.clone(), &user).await?;
    Ok(permission_json(&resource, &user, level))
}

/// v3 `users/permissions/get`: `{allowed, permission}`.
async fn check_grant(t: Tracker, c: Caller, mut r: GrantRequest) -> Result<Value> {
    auth_on(&t)?;
    let resource = r.experiment()?;
    let user = r.username.required("username")?;
    let level = t.effective_level(&c, resource, &user).await?;
    Ok(json!({"allowed": level != Level::NoPermissions, "permission": level.as_str()}))
}

async fn delete_grant(t: Tracker, c: Caller, mut r: GrantRequest) -> Result<Value> {
    auth_on(&t)?;
    let resource = r.experiment()?;
    t.set_grant(&c, resource, &r.username.required("username")?, None)
        .await?;
    Ok(json!({}))
}

async fn create_token(t: Tracker, c: Caller, r: TokenRequest) -> Result<Value> {
    auth_on(&t)?;
    let user = t.token_owner(&c, &r.username.or_default())?;
    let (record, token) = t
        .create_token(&c, &user, &r.description.or_default())
        .await?;
    Ok(
        json!({"id": record.id, "username": record.user, "token": token,
              "description": record.description, "created_ms": record.created_ms}),
    )
}

async fn list_tokens(t: Tracker, c: Caller, r: TokenRequest) -> Result<Value> {
    auth_on(&t)?;
    let user = t.token_owner(&c, &r.username.or_default())?;
    let tokens = t.list_tokens(&c, &user).await?;
    Ok(json!({"tokens": tokens.iter().map(|k| json!({
        "id": k.id, "username": k.user, "description": k.description, "created_ms": k.created_ms,
    })).collect::<Vec<_>>()}))
}

async fn revoke_token(t: Tracker, c: Caller, r: TokenRequest) -> Result<Value> {
    auth_on(&t)?;
    t.revoke_token(&c, &r.id.required("id")?).await?;
    Ok(json!({}))
}

/// Routes relative to `/api/2.0/mlflow` (and the ajax prefix).
pub fn v2_routes() -> Router<Tracker> {
    let g = MethodFilter::GET;
    let p = MethodFilter::POST;
    let patch = MethodFilter::PATCH;
    let delete = MethodFilter::DELETE;
    Router::new()
        .route("/users/create", endpoint(p, create_user))
        .route("/users/get", endpoint(g, get_user))
        .route("/users/current", endpoint(g, current_user))
        .route("/users/list", endpoint(g, list_users))
        .route("/users/update-password", endpoint(patch, update_password))
        .route("/users/update-admin", endpoint(patch, update_admin))
        .route("/users/delete", endpoint(delete, delete_user))
        .route("/experiments/permissions/create", endpoint(p, set_grant))
        .route("/experiments/permissions/get", endpoint(g, get_grant))
        .route(
            "/experiments/permissions/update",
            endpoint(patch, set_grant),
        )
        .route(
            "/experiments/permissions/delete",
            endpoint(delete, delete_grant),
        )
        .route(
            "/registered-models/permissions/create",
            endpoint(p, set_grant),
        )
        .route("/registered-models/permissions/get", endpoint(g, get_grant))
        .route(
            "/registered-models/permissions/update",
            endpoint(patch, set_grant),
        )
        .route(
            "/registered-models/permissions/delete",
            endpoint(delete, delete_grant),
        )
}

/// Routes relative to `/api/3.0/mlflow` (and the ajax prefix).
pub fn v3_routes() -> Router<Tracker> {
    let g = MethodFilter::GET;
    let p = MethodFilter::POST;
    Router::new()
        .route("/users/permissions/grant", endpoint(p, set_grant))
        .route("/users/permissions/revoke", endpoint(p, delete_grant))
        .route("/users/permissions/get", endpoint(g, check_grant))
}

/// trackd's token routes (relative to `/api/2.0/trackd`).
pub fn token_routes() -> Router<Tracker> {
    Router::new()
        .route("/tokens/create", endpoint(MethodFilter::POST, create_token))
        .route("/tokens/list", endpoint(MethodFilter::GET, list_tokens))
        .route("/tokens/revoke", endpoint(MethodFilter::POST, revoke_token))
}

//! Authorization (the one decision, `Tracker::authorize`) and the administration of users,
//! API tokens and grants.
//!
//! With authentication off (the default) every caller may do everything. With it on:
//! - [`Caller::InProcess`] (the embedded client, tools) may do everything;
//! - [`Caller::Anonymous`] is refused (`UNAUTHENTICATED`; the identity layer lets no such
//!   request through except to `/health` and the UI's login page);
//! - administrators may do everything;
//! - a user may do what their grant on the experiment (or registered model) allows, or the
//!   server's default level without a grant (MLflow's `--default-permission`, `READ` by
//!   default). Creating an experiment is open to every user and gives the creator `MANAGE`
//!   on it. Searches return only what the caller may read. Whole-store operations
//!   (backups, garbage collection, users) are administrators'.
//!
//! Every refusal and every change of users, tokens and grants is logged as a structured
//! `tracing` event (target `trackd::audit`).

use std::sync::Arc;

use crate::backend::AccessBackend;
use crate::domain::access::{ApiToken, Level, Resource, User};
use crate::domain::{Caller, ExperimentId, Need, Permission, RunId};
use crate::error::{Result, TrackingError};

use super::Tracker;

/// Authentication settings of a tracker.
#[derive(Clone)]
pub(crate) struct Auth {
    pub backend: Arc<dyn AccessBackend>,
    pub default_level: Level,
    /// Bumped by every change of users, tokens and grants, so caches of verified
    /// credentials (`crate::auth`) know to forget (a revoked token stops working at once).
    pub generation: Arc<std::sync::atomic::AtomicU64>,
}

fn denied(user: &str, what: &str) -> TrackingError {
    tracing::info!(target: "trackd::audit", user, what, "permission denied");
    TrackingError::PermissionDenied(format!("Permission denied: user '{user}' may not {what}."))
}

fn need_verb(p: Permission) -> &'static str {
    match p {
        Permission::Read => "read",
        Permission::Edit => "edit",
        Permission::Manage => "manage",
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Tracker {
    /// Turns authentication on: callers need credentials (checked by the identity layer
    /// against this tracker's users and tokens) and permissions. `default_level` applies
    /// where a user has no grant.
    pub fn with_auth(mut self, default_level: Level) -> Result<Self> {
        let backend = self.access.clone().ok_or_else(|| {
            TrackingError::Unsupported(
                "this backend keeps no users; authentication needs one".into(),
            )
        })?;
        self.auth = Some(Auth {
            backend,
            default_level,
            generation: Arc::default(),
        });
        Ok(self)
    }

    /// A number that changes whenever users, tokens or grants change.
    pub fn access_generation(&self) -> u64 {
        self.auth.as_ref().map_or(0, |a| {
            a.generation.load(std::sync::atomic::Ordering::Acquire)
        })
    }

    fn access_changed(&self) {
        if let Some(auth) = &self.auth {
            auth.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// Whether authentication is on.
    pub fn auth_enabled(&self) -> bool {
        self.auth.is_some()
    }

    /// The one authorization decision: whether `caller` may do what an operation `need`s.
    pub(crate) fn authorize(&self, caller: &Caller, need: Need<'_>) -> Result<()> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let name = match caller {
            Caller::InProcess | Caller::User { admin: true, .. } => return Ok(()),
            Caller::Anonymous => {
                return Err(TrackingError::Unauthenticated(
                    "Authentication required: send HTTP Basic credentials or a bearer token."
                        .into(),
                ));
            }
            Caller::User { name, .. } => name,
        };
        match need {
            // Searches filter their results; stream batches are checked run by run.
            Need::CreateExperiment
            | Need::CreateRegisteredModel
            | Need::Search
            | Need::StreamRuns(_) => Ok(()),
            Need::Experiment(p, id) => {
                if self.level_on_experiment(auth, name, id)?.allows(p) {
                    Ok(())
                } else {
                    Err(denied(name, &format!("{} experiment {id}", need_verb(p))))
                }
            }
            Need::Run(p, run_id) => {
                let info = self.backend.run_info(RunId::parse(run_id)?)?;
                let experiment = info.experiment_id.to_string();
                if self.level_on_experiment(auth, name, &experiment)?.allows(p) {
                    Ok(())
                } else {
                    Err(denied(name, &format!("{} run {run_id}", need_verb(p))))
                }
            }
            Need::Model(p, model) => {
                let resource = Resource::RegisteredModel(model.to_owned());
                let level = auth
                    .backend
                    .grant(&resource, name)?
                    .unwrap_or(auth.default_level);
                if level.allows(p) {
                    Ok(())
                } else {
                    Err(denied(
                        name,
                        &format!("{} registered model '{model}'", need_verb(p)),
                    ))
                }
            }
            Need::Admin => Err(denied(name, "administer the server")),
        }
    }

    fn level_on_experiment(&self, auth: &Auth, user: &str, experiment_id: &str) -> Result<Level> {
        let resource = Resource::Experiment(experiment_id.to_owned());
        Ok(auth
            .backend
            .grant(&resource, user)?
            .unwrap_or(auth.default_level))
    }

    /// Whether `caller` may read experiment `id` (search filtering).
    pub(crate) fn may_read_experiment(&self, caller: &Caller, id: ExperimentId) -> bool {
        self.authorize(caller, Need::Experiment(Permission::Read, &id.to_string()))
            .is_ok()
    }

    /// Whether `caller` may read registered model `name` (search filtering).
    pub(crate) fn may_read_model(&self, caller: &Caller, name: &str) -> bool {
        self.authorize(caller, Need::Model(Permission::Read, name))
            .is_ok()
    }

    /// Gives the creator of a registered model `MANAGE` on it (MLflow's rule).
    pub(crate) fn grant_model_creator(&self, caller: &Caller, name: &str) -> Result<()> {
        if let (Some(auth), Some(user)) = (&self.auth, caller.user_name()) {
            auth.backend.set_grant(
                &Resource::RegisteredModel(name.to_owned()),
                user,
                Some(Level::Manage),
            )?;
        }
        Ok(())
    }

    /// Moves every grant on registered model `from` to `to` (a rename), or removes them
    /// (`to` = `None`: a delete, so a later model of that name starts without them).
    pub(crate) fn move_model_grants(&self, from: &str, to: Option<&str>) -> Result<()> {
        let Some(access) = &self.access else {
            return Ok(());
        };
        let old = Resource::RegisteredModel(from.to_owned());
        for (user, level) in access.grants_on(&old)? {
            if let Some(to) = to {
                access.set_grant(
                    &Resource::RegisteredModel(to.to_owned()),
                    &user,
                    Some(level),
                )?;
            }
            access.set_grant(&old, &user, None)?;
        }
        self.access_changed();
        Ok(())
    }

    /// Whether searches must be filtered for `caller`.
    pub(crate) fn filters_for(&self, caller: &Caller) -> bool {
        self.auth.is_some() && matches!(caller, Caller::User { admin: false, .. })
    }

    /// Gives the creator of an experiment `MANAGE` on it (MLflow's rule).
    pub(crate) fn grant_creator(&self, caller: &Caller, experiment: ExperimentId) -> Result<()> {
        if let (Some(auth), Some(name)) = (&self.auth, caller.user_name()) {
            auth.backend.set_grant(
                &Resource::Experiment(experiment.to_string()),
                name,
                Some(Level::Manage),
            )?;
        }
        Ok(())
    }

    fn access(&self) -> Result<&Arc<dyn AccessBackend>> {
        self.access
            .as_ref()
            .ok_or_else(|| TrackingError::Unsupported("this backend keeps no users".into()))
    }

    // --- administration -------------------------------------------------------------------

    /// Creates the first administrator when the store has no user yet (the server's
    /// `TRACKD_ADMIN_USERNAME` / `TRACKD_ADMIN_PASSWORD`). Returns whether it did; an existing
    /// user base is left alone (the variables are then ignored).
    pub async fn ensure_first_admin(&self, name: &str, password: &str) -> Result<bool> {
        if !self.access()?.users()?.is_empty() {
            return Ok(false);
        }
        self.create_user(&Caller::InProcess, name, password, true)
            .await?;
        Ok(true)
    }

    /// How many users the store has.
    pub fn user_count(&self) -> Result<usize> {
        Ok(self.access()?.users()?.len())
    }

    /// Creates a user (administrators, or in-process tools). Refuses an existing name.
    pub async fn create_user(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        admin: bool,
    ) -> Result<User> {
        self.authorize(caller, Need::Admin)?;
        validate_user_name(name)?;
        validate_password(password)?;
        let access = self.access()?.clone();
        if access.user(name)?.is_some() {
            return Err(TrackingError::AlreadyExists(format!(
                "User '{name}' already exists."
            )));
        }
        let password = password.to_owned();
        let hash =
            tokio::task::spawn_blocking(move || crate::auth::secrets::hash_password(&password))
                .await
                .map_err(|e| TrackingError::storage("hashing a password", e))?;
        let user = User {
            name: name.to_owned(),
            password_hash: hash,
            admin,
            created_ms: now_ms(),
        };
        access.put_user(&user)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user = name, admin, "user created");
        Ok(user)
    }

    /// A user (administrators, or the user themself).
    pub async fn get_user(&self, caller: &Caller, name: &str) -> Result<User> {
        if caller.user_name() != Some(name) {
            self.authorize(caller, Need::Admin)?;
        }
        self.access()?
            .user(name)?
            .ok_or_else(|| TrackingError::not_found(format!("User '{name}' not found.")))
    }

    /// Every user (administrators).
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<User>> {
        self.authorize(caller, Need::Admin)?;
        self.access()?.users()
    }

    /// Changes a password (administrators, or the user themself).
    pub async fn update_password(&self, caller: &Caller, name: &str, password: &str) -> Result<()> {
        let mut user = self.get_user(caller, name).await?;
        validate_password(password)?;
        let password = password.to_owned();
        user.password_hash =
            tokio::task::spawn_blocking(move || crate::auth::secrets::hash_password(&password))
                .await
                .map_err(|e| TrackingError::storage("hashing a password", e))?;
        self.access()?.put_user(&user)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user = name, "password changed");
        Ok(())
    }

    /// Makes a user an administrator or not (administrators).
    pub async fn update_admin(&self, caller: &Caller, name: &str, admin: bool) -> Result<()> {
        self.authorize(caller, Need::Admin)?;
        let mut user = self.get_user(caller, name).await?;
        user.admin = admin;
        self.access()?.put_user(&user)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user = name, admin, "admin flag changed");
        Ok(())
    }

    /// Deletes a user with their tokens and grants (administrators).
    pub async fn delete_user(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Need::Admin)?;
        if !self.access()?.delete_user(name)? {
            return Err(TrackingError::not_found(format!(
                "User '{name}' not found."
            )));
        }
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user = name, "user deleted");
        Ok(())
    }

    /// Creates an API token for `user` (administrators, or the user themself); returns the
    /// stored record and the token string, which is shown only now.
    pub async fn create_token(
        &self,
        caller: &Caller,
        user: &str,
        description: &str,
    ) -> Result<(ApiToken, String)> {
        self.get_user(caller, user).await?;
        let (id, secret, token) = crate::auth::secrets::generate_token();
        let record = ApiToken {
            id,
            user: user.to_owned(),
            secret_sha256: crate::auth::secrets::secret_digest(&secret),
            description: description.to_owned(),
            created_ms: now_ms(),
        };
        self.access()?.put_token(&record)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user, token_id = %record.id, "token created");
        Ok((record, token))
    }

    /// Whose tokens a request means: `username` as sent, or (empty) the caller's own.
    pub fn token_owner(&self, caller: &Caller, username: &str) -> Result<String> {
        if !username.is_empty() {
            return Ok(username.to_owned());
        }
        caller.user_name().map(str::to_owned).ok_or_else(|| {
            TrackingError::invalid("Missing value for required parameter 'username'.")
        })
    }

    /// A user's tokens (administrators, or the user themself).
    pub async fn list_tokens(&self, caller: &Caller, user: &str) -> Result<Vec<ApiToken>> {
        self.get_user(caller, user).await?;
        self.access()?.tokens_of(user)
    }

    /// Revokes a token by id (administrators, or its owner). It stops working at once.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<()> {
        let access = self.access()?.clone();
        let token = access
            .token(id)?
            .ok_or_else(|| TrackingError::not_found(format!("Token '{id}' not found.")))?;
        if caller.user_name() != Some(token.user.as_str()) {
            self.authorize(caller, Need::Admin)?;
        }
        access.delete_token(id)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user = %token.user, token_id = id, "token revoked");
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) a user's grant on an experiment or registered
    /// model (administrators, or callers with `MANAGE` on it).
    pub async fn set_grant(
        &self,
        caller: &Caller,
        resource: Resource,
        user: &str,
        level: Option<Level>,
    ) -> Result<()> {
        match &resource {
            Resource::Experiment(id) => {
                ExperimentId::parse(id)?;
                self.authorize(caller, Need::Experiment(Permission::Manage, id))?;
            }
            Resource::RegisteredModel(model) => {
                self.authorize(caller, Need::Model(Permission::Manage, model))?
            }
        }
        let access = self.access()?;
        if access.user(user)?.is_none() {
            return Err(TrackingError::not_found(format!(
                "User '{user}' not found."
            )));
        }
        access.set_grant(&resource, user, level)?;
        self.access_changed();
        tracing::info!(target: "trackd::audit", by = ?caller.user_name(), user, ?resource, level = level.map(Level::as_str), "grant changed");
        Ok(())
    }

    /// A user's grant on a resource (administrators, or callers with `READ` on it).
    pub async fn get_grant(
        &self,
        caller: &Caller,
        resource: Resource,
        user: &str,
    ) -> Result<Option<Level>> {
        match &resource {
            Resource::Experiment(id) => {
                self.authorize(caller, Need::Experiment(Permission::Read, id))?
            }
            Resource::RegisteredModel(model) => {
                self.authorize(caller, Need::Model(Permission::Read, model))?
            }
        }
        self.access()?.grant(&resource, user)
    }

    /// A user's effective level on a resource: their grant, else the default (admins:
    /// `MANAGE`). Asked by administrators, or callers with `READ` on the resource.
    pub async fn effective_level(
        &self,
        caller: &Caller,
        resource: Resource,
        user: &str,
    ) -> Result<Level> {
        let user_record = self.get_user(&Caller::InProcess, user).await?;
        let granted = self.get_grant(caller, resource, user).await?;
        let default = self
            .auth
            .as_ref()
            .map_or(Level::Manage, |a| a.default_level);
        Ok(if user_record.admin {
            Level::Manage
        } else {
            granted.unwrap_or(default)
        })
    }

    /// The store's users and tokens, for the identity layer (no authorization: it is how
    /// callers are found).
    pub(crate) fn access_backend(&self) -> Option<&Arc<dyn AccessBackend>> {
        self.access.as_ref()
    }
}

/// User names: 1–256 bytes, no control characters or `:` (HTTP Basic's separator).
fn validate_user_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 256
        || name.contains(':')
        || name.chars().any(char::is_control)
    {
        return Err(TrackingError::invalid(
            "A user name must be 1 to 256 bytes, without ':' or control characters.",
        ));
    }
    Ok(())
}

/// Passwords: at least 8 characters, at most 1,024 bytes.
fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(TrackingError::invalid(
            "A password must be at least 8 characters (and at most 1,024 bytes).",
        ));
    }
    Ok(())
}

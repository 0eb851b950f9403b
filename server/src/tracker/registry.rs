//! The model registry: registered models, their versions, aliases, tags and (deprecated)
//! stages; and where a version's files are. MLflow's state rules live in
//! [`RegistryWrite::apply`]; what is checked here is the request and the source of a
//! version.

use tracing::instrument;

use super::reads::{CheckedSearch, Page, SearchRules};
use super::{unexpected, Tracker};
use crate::artifacts::{directory_of_uri, validate_relative_path};
use crate::domain::caller::{Caller, Need, Permission};
use crate::domain::registry::{MAX_ALIAS_LEN, MAX_DESCRIPTION_LEN, MAX_REGISTERED_NAME_LEN};
use crate::domain::{
    now_ms, validate, Lifecycle, ModelId, ModelVersion, Outcome, RegisteredModel, RegistryWrite,
    RunId, Stage, WriteOp,
};
use crate::error::{Result, TrackingError};
use crate::query::page::{REGISTERED_TOKEN, VERSION_TOKEN};
use crate::query::registry;

/// Arguments of CreateModelVersion.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    /// The registered model.
    pub name: String,
    /// `models:/<model id>`, `runs:/<run id>/<path>` or an `mlflow-artifacts:` URI.
    pub source: String,
    /// The run (optional; taken from the logged model or the `runs:/` URI when empty).
    pub run_id: String,
    /// The logged model (optional; taken from a `models:/<model id>` source when empty).
    pub model_id: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A registry search (both registered models and versions).
#[derive(Debug, Clone, Default)]
pub struct RegistrySearch {
    /// Filter.
    pub filter: String,
    /// Page size (0 → default).
    pub max_results: i64,
    /// `order_by` clauses.
    pub order_by: Vec<String>,
    /// From a previous page.
    pub page_token: String,
}

impl RegistrySearch {
    fn checked(&self, rules: &SearchRules<'_>) -> Result<CheckedSearch> {
        CheckedSearch::new(
            &self.filter,
            &self.order_by,
            self.max_results,
            &self.page_token,
            rules,
        )
    }
}

fn registered_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'name'.",
        ));
    }
    if name.len() > MAX_REGISTERED_NAME_LEN
        || name.contains(['/', ':', '@'])
        || name.chars().any(char::is_control)
    {
        return Err(TrackingError::invalid(format!(
            "Invalid registered model name '{}': at most {MAX_REGISTERED_NAME_LEN} bytes, \
             without '/', ':', '@' or control characters.",
            validate::abbreviate(name)
        )));
    }
    Ok(())
}

fn alias_name(alias: &str) -> Result<()> {
    let version_like = alias.len() > 1
        && alias.starts_with(['v', 'V'])
        && alias[1..].bytes().all(|b| b.is_ascii_digit());
    if alias.is_empty()
        || alias.len() > MAX_ALIAS_LEN
        || !alias
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        || alias.eq_ignore_ascii_case("latest")
        || version_like
    {
        return Err(TrackingError::invalid(format!(
            "Invalid alias name '{}': 1 to {MAX_ALIAS_LEN} letters, digits, '_' or '-', and \
             not 'latest' or a version ('v1').",
            validate::abbreviate(alias)
        )));
    }
    Ok(())
}

fn description(text: &str) -> Result<()> {
    if text.len() > MAX_DESCRIPTION_LEN {
        return Err(TrackingError::invalid(format!(
            "Description is {} bytes; at most {MAX_DESCRIPTION_LEN} are allowed.",
            text.len()
        )));
    }
    Ok(())
}

/// A version number as sent: a positive integer.
pub fn version_number(v: &str) -> Result<u64> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            TrackingError::invalid(format!(
                "Invalid model version '{}': a version is a positive integer.",
                validate::abbreviate(v)
            ))
        })
}

impl Tracker {
    /// Creates a registered model.
    #[instrument(skip(self, tags), err(level = "debug"))]
    pub async fn create_registered_model(
        &self,
        caller: &Caller,
        name: &str,
        desc: &str,
        tags: Vec<(String, String)>,
    ) -> Result<RegisteredModel> {
        self.authorize(caller, Need::CreateRegisteredModel)?;
        registered_name(name)?;
        description(desc)?;
        tags.iter().try_for_each(|(k, v)| validate::tag(k, v))?;
        let created = self
            .registry_write(RegistryWrite::Create {
                name: name.to_owned(),
                description: desc.to_owned(),
                tags,
                now: now_ms(),
            })
            .await?
            .ok_or_else(|| TrackingError::storage_context("a created model was not returned"))?;
        self.grant_model_creator(caller, name)?;
        Ok(created)
    }

    /// A registered model with its versions.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_registered_model(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<RegisteredModel> {
        self.authorize(caller, Need::Model(Permission::Read, name))?;
        registered_name(name)?;
        self.backend.registered_model(name)
    }

    /// Renames a registered model (versions and aliases follow).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn rename_registered_model(
        &self,
        caller: &Caller,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        self.authorize(caller, Need::Model(Permission::Edit, name))?;
        registered_name(name)?;
        registered_name(new_name)?;
        let renamed = self
            .registry_write(RegistryWrite::Rename {
                name: name.to_owned(),
                new_name: new_name.to_owned(),
                now: now_ms(),
            })
            .await?
            .ok_or_else(|| TrackingError::storage_context("a renamed model was not returned"))?;
        // Permissions follow the model to its new name.
        self.move_model_grants(name, Some(new_name))?;
        Ok(renamed)
    }

    /// Sets the description of a registered model or (with `version`) of one version.
    #[instrument(skip(self, desc), err(level = "debug"))]
    pub async fn describe(
        &self,
        caller: &Caller,
        name: &str,
        version: Option<u64>,
        desc: &str,
    ) -> Result<RegisteredModel> {
        self.authorize(caller, Need::Model(Permission::Edit, name))?;
        registered_name(name)?;
        description(desc)?;
        self.registry_write(RegistryWrite::Describe {
            name: name.to_owned(),
            version,
            description: desc.to_owned(),
            now: now_ms(),
        })
        .await?
        .ok_or_else(|| TrackingError::storage_context("an updated model was not returned"))
    }

    /// Deletes a registered model with all its versions (as MLflow does).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_registered_model(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Need::Model(Permission::Manage, name))?;
        registered_name(name)?;
        self.registry_write(RegistryWrite::Delete {
            name: name.to_owned(),
        })
        .await?;
        // A later model of the same name starts without this one's grants.
        self.move_model_grants(name, None)
    }

    /// Sets (`Some`) or deletes (`None`) a tag of a registered model or of one version.
    #[instrument(skip(self, value), err(level = "debug"))]
    pub async fn registry_tag(
        &self,
        caller: &Caller,
        name: &str,
        version: Option<u64>,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        self.authorize(caller, Need::Model(Permission::Edit, name))?;
        registered_name(name)?;
        validate::tag(key, value.unwrap_or(""))?;
        self.registry_write(RegistryWrite::Tag {
            name: name.to_owned(),
            version,
            key: key.to_owned(),
            value: value.map(str::to_owned),
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// Points an alias at a version (`Some`) or deletes it (`None`).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn set_alias(
        &self,
        caller: &Caller,
        name: &str,
        alias: &str,
        version: Option<u64>,
    ) -> Result<()> {
        self.authorize(caller, Need::Model(Permission::Edit, name))?;
        registered_name(name)?;
        alias_name(alias)?;
        self.registry_write(RegistryWrite::Alias {
            name: name.to_owned(),
            alias: alias.to_owned(),
            version,
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// The version an alias points at.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn version_by_alias(
        &self,
        caller: &Caller,
        name: &str,
        alias: &str,
    ) -> Result<(RegisteredModel, u64)> {
        let model = self.get_registered_model(caller, name).await?;
        let version = *model.aliases.get(alias).ok_or_else(|| {
            TrackingError::not_found(format!(
                "Registered model alias {} not found.",
                validate::abbreviate(alias)
            ))
        })?;
        Ok((model, version))
    }

    /// Registers a new version. Its source must name files this server serves: a logged
    /// model (`models:/<id>`), a run's artifacts (`runs:/<run id>/<path>`, or the logged
    /// model of that name the run produced) or an `mlflow-artifacts:` directory. The version
    /// references those files (see [`crate::domain::registry`]).
    #[instrument(skip(self, new), fields(name = %new.name), err(level = "debug"))]
    pub async fn create_model_version(
        &self,
        caller: &Caller,
        new: NewModelVersion,
    ) -> Result<(RegisteredModel, u64)> {
        self.authorize(caller, Need::Model(Permission::Edit, &new.name))?;
        registered_name(&new.name)?;
        description(&new.description)?;
        new.tags.iter().try_for_each(|(k, v)| validate::tag(k, v))?;
        let (storage_location, run_id, model_id) = self.resolve_source(&new)?;
        let now = now_ms();
        let version = ModelVersion {
            version: 0,
            creation_time: now,
            last_updated_time: now,
            description: new.description,
            source: new.source,
            storage_location,
            run_id,
            model_id,
            stage: Stage::None,
            tags: new.tags.into_iter().collect(),
            deleted: false,
        };
        let model = self
            .registry_write(RegistryWrite::CreateVersion {
                name: new.name,
                version: Box::new(version),
            })
            .await?
            .ok_or_else(|| TrackingError::storage_context("a model version was not returned"))?;
        let number = model.versions.last().map_or(0, |v| v.version);
        Ok((model, number))
    }

    /// A registered model and one of its live versions.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn get_model_version(
        &self,
        caller: &Caller,
        name: &str,
        version: u64,
    ) -> Result<RegisteredModel> {
        let model = self.get_registered_model(caller, name).await?;
        model.version(version).ok_or_else(|| {
            TrackingError::not_found(format!(
                "Model Version (name={}, version={version}) not found",
                validate::abbreviate(name)
            ))
        })?;
        Ok(model)
    }

    /// Deletes a version (its number is never reused; its aliases go).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn delete_model_version(
        &self,
        caller: &Caller,
        name: &str,
        version: u64,
    ) -> Result<()> {
        self.authorize(caller, Need::Model(Permission::Manage, name))?;
        registered_name(name)?;
        self.registry_write(RegistryWrite::DeleteVersion {
            name: name.to_owned(),
            version,
            now: now_ms(),
        })
        .await
        .map(|_| ())
    }

    /// Moves a version to a stage (deprecated by MLflow, still called by its clients).
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn transition_stage(
        &self,
        caller: &Caller,
        name: &str,
        version: u64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<RegisteredModel> {
        self.authorize(caller, Need::Model(Permission::Edit, name))?;
        registered_name(name)?;
        let stage = Stage::from_name(stage)?;
        self.registry_write(RegistryWrite::TransitionStage {
            name: name.to_owned(),
            version,
            stage,
            archive_existing,
            now: now_ms(),
        })
        .await?
        .ok_or_else(|| TrackingError::storage_context("a model was not returned"))
    }

    /// Searches registered models (filter on `name` and tags).
    #[instrument(skip(self, search), err(level = "debug"))]
    pub async fn search_registered_models(
        &self,
        caller: &Caller,
        search: RegistrySearch,
    ) -> Result<Page<RegisteredModel>> {
        self.authorize(caller, Need::Search)?;
        let checked = search.checked(&SearchRules {
            token: REGISTERED_TOKEN,
            check_filter: &registry::check_model_filter,
            check_order: &registry::check_model_clauses,
            tie: &|_| 1,
        })?;
        let backend = self.backend.clone();
        let page = tokio::task::spawn_blocking(move || -> Result<_> {
            let rows = backend
                .registered_models()?
                .into_iter()
                .filter(|m| {
                    checked
                        .expr
                        .as_ref()
                        .is_none_or(|x| registry::model_matches(x, m))
                })
                .map(|m| (registry::model_key(&m, &checked.clauses), m))
                .collect();
            Ok(checked.page(rows))
        })
        .await
        .map_err(|e| TrackingError::storage("search task failed", e))??;
        // Only models the caller may read (a page can come back shorter than asked).
        let filter = self.filters_for(caller);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .filter(|m| !filter || self.may_read_model(caller, &m.name))
                .map(|m| (*m).clone())
                .collect(),
            next_page_token: page.next_page_token,
        })
    }

    /// Searches model versions of every registered model (filter on `name`, `run_id`,
    /// `source_path`, `model_id`, `version_number`, tags, …).
    #[instrument(skip(self, search), err(level = "debug"))]
    pub async fn search_model_versions(
        &self,
        caller: &Caller,
        search: RegistrySearch,
    ) -> Result<Page<(RegisteredModel, u64)>> {
        self.authorize(caller, Need::Search)?;
        let checked = search.checked(&SearchRules {
            token: VERSION_TOKEN,
            check_filter: &registry::check_version_filter,
            check_order: &registry::check_version_clauses,
            tie: &|_| 2,
        })?;
        let backend = self.backend.clone();
        let page = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut rows = Vec::new();
            for m in backend.registered_models()? {
                for v in m.live_versions() {
                    if checked
                        .expr
                        .as_ref()
                        .is_none_or(|x| registry::version_matches(x, &m.name, v))
                    {
                        rows.push((
                            registry::version_key(&m.name, v, &checked.clauses),
                            (m.clone(), v.version),
                        ));
                    }
                }
            }
            Ok(checked.page(rows))
        })
        .await
        .map_err(|e| TrackingError::storage("search task failed", e))??;
        let filter = self.filters_for(caller);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .filter(|(m, _)| !filter || self.may_read_model(caller, &m.name))
                .map(|(m, v)| ((*m).clone(), v))
                .collect(),
            next_page_token: page.next_page_token,
        })
    }

    /// Where a version's source files are, the run and the logged model, checked: only
    /// files this server serves, never outside the run or model named.
    fn resolve_source(&self, new: &NewModelVersion) -> Result<(String, String, String)> {
        let source = new.source.as_str();
        if source.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'source'.",
            ));
        }
        if let Some(id) = source.strip_prefix("models:/") {
            let id = ModelId::parse(id.trim_end_matches('/'))?;
            let model = self.backend.logged_model(id)?;
            if model.lifecycle != Lifecycle::Active {
                return Err(crate::domain::logged_model_not_found(id));
            }
            let run = if new.run_id.is_empty() {
                model
                    .source_run_id
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            } else {
                new.run_id.clone()
            };
            return Ok((model.artifact_location.clone(), run, model.id.to_string()));
        }
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
            let info = self.backend.run_info(RunId::parse(run)?)?;
            let clean = validate_relative_path(path)?;
            // MLflow 3: a run's model is a logged model of that name it produced.
            if !clean.is_empty() && !clean.contains('/') {
                let produced = self
                    .backend
                    .logged_models(&[info.experiment_id])?
                    .into_iter()
                    .filter(|m| m.lifecycle == Lifecycle::Active)
                    .filter(|m| m.source_run_id == Some(info.run_id) && m.name == clean)
                    .max_by_key(|m| m.creation_time);
                if let Some(m) = produced {
                    return Ok((
                        m.artifact_location.clone(),
                        info.run_id.to_string(),
                        m.id.to_string(),
                    ));
                }
            }
            let location = if clean.is_empty() {
                info.artifact_uri.clone()
            } else {
                format!("{}/{clean}", info.artifact_uri.trim_end_matches('/'))
            };
            return Ok((location, info.run_id.to_string(), new.model_id.clone()));
        }
        if source.starts_with(crate::artifacts::SCHEME) {
            directory_of_uri(source)?;
            return Ok((source.to_owned(), new.run_id.clone(), new.model_id.clone()));
        }
        Err(TrackingError::invalid(format!(
            "Invalid model version source '{}': trackd registers models:/<model id>, \
             runs:/<run id>/<path> or mlflow-artifacts: sources it serves, not files of \
             another server.",
            validate::abbreviate(source)
        )))
    }

    async fn registry_write(&self, write: RegistryWrite) -> Result<Option<RegisteredModel>> {
        match self.write(WriteOp::Registry(write)).await? {
            Outcome::Registered(model) => Ok(model.map(|m| *m)),
            other => Err(unexpected(other)),
        }
    }
}

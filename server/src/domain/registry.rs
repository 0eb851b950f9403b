//! The model registry: registered models (a name, a description, tags, aliases) and their
//! numbered versions, each pointing at a model's files. One record per registered model
//! holds its versions, so a change is applied against the whole current state at once
//! ([`RegistryWrite::apply`]) by whichever backend stores it.
//!
//! A version *references* its files (`storage_location`: the logged model's or the run's
//! artifact directory) rather than copying them: trackd never removes the files of a deleted
//! run or logged model, so a registered version stays loadable after its run is deleted,
//! and registering a 100 MiB model costs no copy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validate::abbreviate;
use crate::error::{Result, TrackingError};

/// Longest registered-model name, alias, description (MLflow's limits).
pub const MAX_REGISTERED_NAME_LEN: usize = 256;
/// Longest alias.
pub const MAX_ALIAS_LEN: usize = 255;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 5000;

/// MLflow's (deprecated, still called) stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// No stage.
    None,
    /// Staging.
    Staging,
    /// Production.
    Production,
    /// Archived.
    Archived,
}

impl Stage {
    /// MLflow's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// By name, any case.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(Stage::None),
            "staging" => Ok(Stage::Staging),
            "production" => Ok(Stage::Production),
            "archived" => Ok(Stage::Archived),
            _ => Err(TrackingError::invalid(format!(
                "Invalid Model Version stage: {}. Value must be one of None, Staging, \
                 Production, Archived.",
                abbreviate(name)
            ))),
        }
    }
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// 1, 2, … within its registered model.
    pub version: u64,
    /// Creation time, ms.
    pub creation_time: i64,
    /// Last change, ms.
    pub last_updated_time: i64,
    /// Description.
    pub description: String,
    /// The source as given (`runs:/…`, `models:/<model id>`, an artifact URI).
    pub source: String,
    /// Where its files are (an `mlflow-artifacts:` directory this server serves).
    pub storage_location: String,
    /// The run that produced it, if known.
    pub run_id: String,
    /// The logged model it registers, if any.
    pub model_id: String,
    /// Stage.
    pub stage: Stage,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Deleted versions keep their number (numbers are never reused).
    pub deleted: bool,
}

/// A registered model with its versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Creation time, ms.
    pub creation_time: i64,
    /// Last change, ms.
    pub last_updated_time: i64,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Alias → version.
    pub aliases: BTreeMap<String, u64>,
    /// Every version ever created, in order (deleted ones flagged).
    pub versions: Vec<ModelVersion>,
}

impl RegisteredModel {
    /// A live version by number.
    pub fn version(&self, v: u64) -> Option<&ModelVersion> {
        self.versions.iter().find(|x| x.version == v && !x.deleted)
    }

    /// The live versions.
    pub fn live_versions(&self) -> impl Iterator<Item = &ModelVersion> {
        self.versions.iter().filter(|v| !v.deleted)
    }

    /// The newest live version of each stage (MLflow's `latest_versions`), optionally only
    /// of `stages`.
    pub fn latest_versions(&self, stages: &[Stage]) -> Vec<&ModelVersion> {
        let mut latest: BTreeMap<&'static str, &ModelVersion> = BTreeMap::new();
        for v in self.live_versions() {
            if !stages.is_empty() && !stages.contains(&v.stage) {
                continue;
            }
            latest.insert(v.stage.as_str(), v);
        }
        let mut out: Vec<&ModelVersion> = latest.into_values().collect();
        out.sort_by_key(|v| v.version);
        out
    }

    /// The aliases pointing at version `v`.
    pub fn aliases_of(&self, v: u64) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, n)| **n == v)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// A change to the registry, applied against the current state of one registered model.
#[derive(Debug, Clone)]
pub enum RegistryWrite {
    /// Creates a registered model (the name must be free).
    Create {
        /// Name.
        name: String,
        /// Description.
        description: String,
        /// Tags.
        tags: Vec<(String, String)>,
        /// When.
        now: i64,
    },
    /// Renames (the new name must be free; versions and aliases follow).
    Rename {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
        /// When.
        now: i64,
    },
    /// Sets the description.
    Describe {
        /// Name.
        name: String,
        /// The version, or the registered model itself.
        version: Option<u64>,
        /// Description.
        description: String,
        /// When.
        now: i64,
    },
    /// Deletes the registered model with all its versions (MLflow's behaviour).
    Delete {
        /// Name.
        name: String,
    },
    /// Sets or deletes a tag of the model or of one version.
    Tag {
        /// Name.
        name: String,
        /// The version, or the registered model itself.
        version: Option<u64>,
        /// Key.
        key: String,
        /// Value; `None` deletes.
        value: Option<String>,
        /// When.
        now: i64,
    },
    /// Points an alias at a version (moving it if it exists), or deletes it.
    Alias {
        /// Name.
        name: String,
        /// Alias.
        alias: String,
        /// The version; `None` deletes the alias.
        version: Option<u64>,
        /// When.
        now: i64,
    },
    /// Adds the next version.
    CreateVersion {
        /// Name.
        name: String,
        /// The version's fields (its number is assigned here).
        version: Box<ModelVersion>,
    },
    /// Deletes a version (its number is not reused; its aliases go).
    DeleteVersion {
        /// Name.
        name: String,
        /// Number.
        version: u64,
        /// When.
        now: i64,
    },
    /// Moves a version to a stage, optionally archiving the others in that stage.
    TransitionStage {
        /// Name.
        name: String,
        /// Number.
        version: u64,
        /// Target stage.
        stage: Stage,
        /// Archive other versions in Staging/Production.
        archive_existing: bool,
        /// When.
        now: i64,
    },
    /// Stores the registered model, with its versions and aliases, as another store holds
    /// it (`trackd copy`), replacing what is stored under its name.
    Restore(Box<RegisteredModel>),
}

/// MLflow's answer for a registered model that does not exist.
pub fn registered_model_not_found(name: &str) -> TrackingError {
    TrackingError::not_found(format!(
        "Registered Model with name={} not found",
        abbreviate(name)
    ))
}

fn version_not_found(name: &str, v: u64) -> TrackingError {
    TrackingError::not_found(format!(
        "Model Version (name={}, version={v}) not found",
        abbreviate(name)
    ))
}

impl RegistryWrite {
    /// The registered model the write is about (before a rename).
    pub fn name(&self) -> &str {
        match self {
            RegistryWrite::Create { name, .. }
            | RegistryWrite::Rename { name, .. }
            | RegistryWrite::Describe { name, .. }
            | RegistryWrite::Delete { name }
            | RegistryWrite::Tag { name, .. }
            | RegistryWrite::Alias { name, .. }
            | RegistryWrite::CreateVersion { name, .. }
            | RegistryWrite::DeleteVersion { name, .. }
            | RegistryWrite::TransitionStage { name, .. } => name,
            RegistryWrite::Restore(model) => &model.name,
        }
    }

    /// Applies the write to `current` (`None`: no such registered model). Returns the new
    /// state (`None`: deleted). A rename's target name must be checked free by the caller.
    pub fn apply(&self, current: Option<RegisteredModel>) -> Result<Option<RegisteredModel>> {
        if let RegistryWrite::Create {
            name,
            description,
            tags,
            now,
        } = self
        {
            if current.is_some() {
                return Err(TrackingError::AlreadyExists(format!(
                    "Registered Model (name={}) already exists.",
                    abbreviate(name)
                )));
            }
            return Ok(Some(RegisteredModel {
                name: name.clone(),
                creation_time: *now,
                last_updated_time: *now,
                description: description.clone(),
                tags: tags.iter().cloned().collect(),
                aliases: BTreeMap::new(),
                versions: Vec::new(),
            }));
        }
        if let RegistryWrite::Restore(copy) = self {
            return Ok(Some((**copy).clone()));
        }
        let name = self.name();
        let mut m = current.ok_or_else(|| registered_model_not_found(name))?;
        match self {
            RegistryWrite::Create { .. } | RegistryWrite::Restore(_) => {
                unreachable!("handled above")
            }
            RegistryWrite::Rename { new_name, now, .. } => {
                m.name = new_name.clone();
                m.last_updated_time = *now;
            }
            RegistryWrite::Describe {
                version,
                description,
                now,
                ..
            } => match version {
                None => {
                    m.description = description.clone();
                    m.last_updated_time = *now;
                }
                Some(v) => {
                    let mv = live_version(&mut m, *v)?;
                    mv.description = description.clone();
                    mv.last_updated_time = *now;
                }
            },
            RegistryWrite::Delete { .. } => return Ok(None),
            RegistryWrite::Tag {
                version,
                key,
                value,
                now,
                ..
            } => {
                let tags = match version {
                    None => {
                        m.last_updated_time = *now;
                        &mut m.tags
                    }
                    Some(v) => {
                        let mv = live_version(&mut m, *v)?;
                        mv.last_updated_time = *now;
                        &mut mv.tags
                    }
                };
                match value {
                    Some(value) => {
                        tags.insert(key.clone(), value.clone());
                    }
                    None => {
                        tags.remove(key);
                    }
                }
            }
            RegistryWrite::Alias {
                alias,
                version,
                now,
                ..
            } => {
                match version {
                    Some(v) => {
                        live_version(&mut m, *v)?;
                        m.aliases.insert(alias.clone(), *v);
                    }
                    None => {
                        m.aliases.remove(alias);
                    }
                }
                m.last_updated_time = *now;
            }
            RegistryWrite::CreateVersion { version, .. } => {
                let number = m.versions.last().map_or(1, |v| v.version + 1);
                let mut v = (**version).clone();
                v.version = number;
                m.last_updated_time = v.creation_time;
                m.versions.push(v);
            }
            RegistryWrite::DeleteVersion { version, now, .. } => {
                let mv = live_version(&mut m, *version)?;
                mv.deleted = true;
                mv.last_updated_time = *now;
                m.aliases.retain(|_, v| v != version);
                m.last_updated_time = *now;
            }
            RegistryWrite::TransitionStage {
                version,
                stage,
                archive_existing,
                now,
                ..
            } => {
                live_version(&mut m, *version)?;
                if *archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
                    for other in m.versions.iter_mut() {
                        if other.version != *version && !other.deleted && other.stage == *stage {
                            other.stage = Stage::Archived;
                            other.last_updated_time = *now;
                        }
                    }
                }
                let mv = live_version(&mut m, *version)?;
                mv.stage = *stage;
                mv.last_updated_time = *now;
                m.last_updated_time = *now;
            }
        }
        Ok(Some(m))
    }
}

fn live_version(m: &mut RegisteredModel, v: u64) -> Result<&mut ModelVersion> {
    let name = m.name.clone();
    m.versions
        .iter_mut()
        .find(|x| x.version == v && !x.deleted)
        .ok_or_else(|| version_not_found(&name, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(source: &str) -> Box<ModelVersion> {
        Box::new(ModelVersion {
            version: 0,
            creation_time: 1,
            last_updated_time: 1,
            description: String::new(),
            source: source.into(),
            storage_location: source.into(),
            run_id: String::new(),
            model_id: String::new(),
            stage: Stage::None,
            tags: BTreeMap::new(),
            deleted: false,
        })
    }

    fn create(name: &str) -> RegisteredModel {
        RegistryWrite::Create {
            name: name.into(),
            description: String::new(),
            tags: Vec::new(),
            now: 1,
        }
        .apply(None)
        .unwrap()
        .unwrap()
    }

    #[test]
    fn versions_number_up_and_deleted_numbers_are_not_reused() {
        let mut m = create("iris");
        for _ in 0..2 {
            m = RegistryWrite::CreateVersion {
                name: "iris".into(),
                version: version("s"),
            }
            .apply(Some(m))
            .unwrap()
            .unwrap();
        }
        m = RegistryWrite::Alias {
            name: "iris".into(),
            alias: "champion".into(),
            version: Some(2),
            now: 2,
        }
        .apply(Some(m))
        .unwrap()
        .unwrap();
        m = RegistryWrite::DeleteVersion {
            name: "iris".into(),
            version: 2,
            now: 3,
        }
        .apply(Some(m))
        .unwrap()
        .unwrap();
        assert!(m.aliases.is_empty(), "a deleted version's aliases go");
        m = RegistryWrite::CreateVersion {
            name: "iris".into(),
            version: version("s"),
        }
        .apply(Some(m))
        .unwrap()
        .unwrap();
        assert_eq!(
            m.live_versions().map(|v| v.version).collect::<Vec<_>>(),
            [1, 3]
        );
        let alias_to_deleted = RegistryWrite::Alias {
            name: "iris".into(),
            alias: "x".into(),
            version: Some(2),
            now: 4,
        };
        assert!(matches!(
            alias_to_deleted.apply(Some(m)),
            Err(TrackingError::NotFound(_))
        ));
    }

    #[test]
    fn names_are_unique_and_stages_archive_others() {
        let m = create("iris");
        let again = RegistryWrite::Create {
            name: "iris".into(),
            description: String::new(),
            tags: Vec::new(),
            now: 1,
        };
        assert!(matches!(
            again.apply(Some(m.clone())),
            Err(TrackingError::AlreadyExists(_))
        ));
        let mut m = m;
        for _ in 0..2 {
            m = RegistryWrite::CreateVersion {
                name: "iris".into(),
                version: version("s"),
            }
            .apply(Some(m))
            .unwrap()
            .unwrap();
        }
        for v in [1, 2] {
            m = RegistryWrite::TransitionStage {
                name: "iris".into(),
                version: v,
                stage: Stage::Production,
                archive_existing: true,
                now: 5,
            }
            .apply(Some(m))
            .unwrap()
            .unwrap();
        }
        assert_eq!(m.version(1).unwrap().stage, Stage::Archived);
        assert_eq!(m.version(2).unwrap().stage, Stage::Production);
        assert_eq!(
            m.latest_versions(&[])
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(Stage::from_name("prod").is_err());
    }
}

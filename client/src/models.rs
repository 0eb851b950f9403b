//! Models: log a model from a run as MLflow 3 does (a logged model with an `MLmodel` file and
//! its files), load one back by any MLflow model URI, and use the model registry.
//!
//! A model logged here is an MLflow model: its `MLmodel` file has MLflow's fields
//! (`artifact_path`, `flavors`, `model_uuid`, `model_id`, `run_id`, `utc_time_created`, …),
//! so `mlflow.models.Model.load` reads it, and models logged by Python load here as files
//! plus their parsed `MLmodel`. Rust models that serialize with serde get a flavor of their
//! own, [`SERDE_FLAVOR`], and load back typed with [`LoadedModel::load_serde`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use trackd_proto::v1 as pb;

use crate::Client;
use crate::artifacts::{self, Owner};
use crate::error::{ClientError, Result};
use crate::run::RunHandle;

/// The flavor of models serialized with serde (JSON): `data` names the file, `type` the
/// Rust type it was written from.
pub const SERDE_FLAVOR: &str = "trackd_serde";
/// The name of MLflow's model description file.
pub const MLMODEL_FILE: &str = "MLmodel";

/// An MLflow `MLmodel` file. Fields MLflow writes that trackd does not interpret are kept in
/// `extra`, so a file read and written back loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MlModel {
    /// Where the model's files are (MLflow 3: the logged model's artifact location).
    #[serde(default)]
    pub artifact_path: String,
    /// Flavor name → its configuration (`python_function`, `sklearn`, [`SERDE_FLAVOR`], …).
    #[serde(default)]
    pub flavors: BTreeMap<String, serde_json::Value>,
    /// The model's id (MLflow 3 writes the logged model's id here too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_uuid: Option<String>,
    /// The logged model's id (`m-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The run that logged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// When it was saved, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (MLflow's format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_time_created: Option<String>,
    /// Everything else in the file.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl MlModel {
    /// Parses an `MLmodel` file's YAML.
    pub fn from_yaml(text: &str) -> Result<MlModel> {
        yaml_serde::from_str(text)
            .map_err(|e| ClientError::Usage(format!("not an MLmodel file: {e}")))
    }

    /// The file's YAML.
    pub fn to_yaml(&self) -> Result<String> {
        yaml_serde::to_string(self)
            .map_err(|e| ClientError::Usage(format!("the MLmodel cannot be written: {e}")))
    }
}

/// A logged model, as the server records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    /// `m-` and 32 hex digits.
    pub model_id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Its name.
    pub name: String,
    /// Where its files are.
    pub artifact_uri: String,
    /// The run that produced it (empty: none).
    pub source_run_id: String,
    /// `true` once finalized as ready.
    pub ready: bool,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl LoggedModel {
    /// Its URI, `models:/<model_id>`.
    pub fn model_uri(&self) -> String {
        format!("models:/{}", self.model_id)
    }

    fn from_wire(m: pb::LoggedModel) -> Self {
        LoggedModel {
            model_id: m.model_id,
            experiment_id: m.experiment_id,
            name: m.name,
            artifact_uri: m.artifact_uri,
            source_run_id: m.source_run_id,
            ready: m.status == pb::LoggedModelStatus::LoggedModelReady as i32,
            params: m.params.into_iter().map(|p| (p.key, p.value)).collect(),
            tags: m.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        }
    }
}

/// A version of a registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// The registered model.
    pub name: String,
    /// 1, 2, …
    pub version: u64,
    /// The source it was registered from.
    pub source: String,
    /// The logged model it registers, if any.
    pub model_id: String,
    /// The run that produced it, if known.
    pub run_id: String,
    /// Where its files are.
    pub storage_location: String,
    /// Aliases pointing at it.
    pub aliases: Vec<String>,
}

impl ModelVersion {
    fn from_wire(v: pb::ModelVersion) -> Self {
        ModelVersion {
            name: v.name,
            version: u64::try_from(v.version).unwrap_or(0),
            source: v.source,
            model_id: v.model_id,
            run_id: v.run_id,
            storage_location: v.storage_location,
            aliases: v.aliases,
        }
    }
}

/// A model downloaded into a directory, with its parsed `MLmodel`.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The directory holding the model's files (and `MLmodel`).
    pub path: PathBuf,
    /// The parsed `MLmodel`.
    pub mlmodel: MlModel,
}

impl LoadedModel {
    /// The model itself, for models logged with [`LogModel::serde`].
    pub fn load_serde<T: DeserializeOwned>(&self) -> Result<T> {
        let flavor = self.mlmodel.flavors.get(SERDE_FLAVOR).ok_or_else(|| {
            ClientError::Usage(format!(
                "the model has no {SERDE_FLAVOR} flavor (flavors: {:?})",
                self.mlmodel.flavors.keys().collect::<Vec<_>>()
            ))
        })?;
        let data = flavor["data"].as_str().unwrap_or("model.json");
        let clean = artifacts::join(&[data]);
        if clean.split('/').any(|s| s == "..") {
            return Err(ClientError::Usage(format!("bad data path '{data}'")));
        }
        let bytes = std::fs::read(self.path.join(&clean))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Usage(format!("the model does not decode: {e}")))
    }
}

/// Logs a model from a run: built by [`RunHandle::log_model`], sent by [`LogModel::log`].
#[must_use = "a model is logged only by .log().await"]
pub struct LogModel<'a> {
    run: &'a RunHandle,
    name: String,
    files: Vec<(PathBuf, String)>,
    dirs: Vec<(PathBuf, String)>,
    serde: Option<(Vec<u8>, String)>,
    flavors: BTreeMap<String, serde_json::Value>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    model_type: String,
    signature: Option<serde_json::Value>,
    input_example: Option<serde_json::Value>,
}

impl RunHandle {
    /// Starts logging a model named `name` from this run (MLflow 3's `log_model`): a
    /// logged model linked to the run as an output, with an `MLmodel` file and the files you
    /// add.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// let weights = vec![0.5_f64, -1.25, 2.0];
    /// # let notes = store.path().join("README.txt");
    /// # std::fs::write(&notes, "a linear model")?;
    /// let logged = run
    ///     .log_model("linear")
    ///     .serde(&weights)?
    ///     .file(&notes, "README.txt")
    ///     .input_example(serde_json::json!([[1.0, 2.0, 3.0]]))
    ///     .tag("owner", "me")
    ///     .log()
    ///     .await?;
    /// assert!(logged.ready);
    /// let loaded = client.load_model(&logged.model_uri(), store.path().join("dl")).await?;
    /// assert_eq!(loaded.load_serde::<Vec<f64>>()?, weights);
    /// assert_eq!(loaded.mlmodel.run_id.as_deref(), Some(run.id()));
    /// assert!(loaded.path.join("README.txt").is_file());
    /// assert!(loaded.path.join("input_example.json").is_file());
    /// # Ok(()) }
    /// ```
    pub fn log_model(&self, name: impl Into<String>) -> LogModel<'_> {
        LogModel {
            run: self,
            name: name.into(),
            files: Vec::new(),
            dirs: Vec::new(),
            serde: None,
            flavors: BTreeMap::new(),
            params: Vec::new(),
            tags: Vec::new(),
            model_type: String::new(),
            signature: None,
            input_example: None,
        }
    }
}

impl LogModel<'_> {
    /// The model as JSON through serde, in `model.json`, with the [`SERDE_FLAVOR`] flavor.
    pub fn serde<T: Serialize>(mut self, model: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(model)
            .map_err(|e| ClientError::Usage(format!("the model does not serialize: {e}")))?;
        self.serde = Some((bytes, std::any::type_name::<T>().to_owned()));
        Ok(self)
    }

    /// Adds a local file at `dest` (relative to the model's root).
    pub fn file(mut self, local: impl AsRef<Path>, dest: impl Into<String>) -> Self {
        self.files.push((local.as_ref().to_path_buf(), dest.into()));
        self
    }

    /// Adds a local directory's files under `dest` ("" for the root).
    pub fn dir(mut self, local: impl AsRef<Path>, dest: impl Into<String>) -> Self {
        self.dirs.push((local.as_ref().to_path_buf(), dest.into()));
        self
    }

    /// Adds a flavor (its configuration as MLflow would write it).
    pub fn flavor(mut self, name: impl Into<String>, config: serde_json::Value) -> Self {
        self.flavors.insert(name.into(), config);
        self
    }

    /// A param of the model (the run's params are added too, as MLflow does).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// A tag of the model.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The model's free-form type.
    pub fn model_type(mut self, model_type: impl Into<String>) -> Self {
        self.model_type = model_type.into();
        self
    }

    /// MLflow's `signature` entry (`{"inputs": "…", "outputs": "…"}`), optional.
    pub fn signature(mut self, signature: serde_json::Value) -> Self {
        self.signature = Some(signature);
        self
    }

    /// An input example, saved as `input_example.json` and named in the `MLmodel` as MLflow
    /// does (`saved_input_example_info`), optional.
    pub fn input_example(mut self, example: serde_json::Value) -> Self {
        self.input_example = Some(example);
        self
    }

    /// Creates the logged model, uploads `MLmodel` and the files, links it to the run as an
    /// output, and finalizes it (READY; FAILED if an upload fails, and the error returned).
    pub async fn log(self) -> Result<LoggedModel> {
        let client = self.run.client().clone();
        let run_id = self.run.id().to_owned();
        let run = client.get_run(&run_id).await?;
        let mut params: BTreeMap<String, String> = run.data.params.clone();
        params.extend(self.params.iter().cloned());
        let mut models = client.inner_models();
        let created = models
            .create_logged_model(pb::CreateLoggedModelRequest {
                experiment_id: run.info.experiment_id.clone(),
                name: self.name.clone(),
                model_type: self.model_type.clone(),
                source_run_id: run_id.clone(),
                params: kv(params),
                tags: kv(self.tags.iter().cloned()),
            })
            .await?
            .into_inner()
            .model
            .ok_or_else(|| ClientError::Delivery("the server returned no model".into()))?;
        let model = LoggedModel::from_wire(created);
        let status = match self.upload(&client, &model, &run_id).await {
            Ok(()) => pb::LoggedModelStatus::LoggedModelReady,
            Err(e) => {
                let _ = models
                    .finalize_logged_model(pb::FinalizeLoggedModelRequest {
                        model_id: model.model_id.clone(),
                        status: pb::LoggedModelStatus::LoggedModelUploadFailed as i32,
                    })
                    .await;
                return Err(e);
            }
        };
        let done = models
            .finalize_logged_model(pb::FinalizeLoggedModelRequest {
                model_id: model.model_id.clone(),
                status: status as i32,
            })
            .await?
            .into_inner()
            .model
            .ok_or_else(|| ClientError::Delivery("the server returned no model".into()))?;
        client.link_model_output(&run_id, &model.model_id).await?;
        Ok(LoggedModel::from_wire(done))
    }

    async fn upload(&self, client: &Client, model: &LoggedModel, run_id: &str) -> Result<()> {
        let owner = Owner::Model(&model.model_id);
        let backend = client.backend();
        let staging = artifacts::Staging::new()?;
        let staging = staging.path();
        let mut flavors = self.flavors.clone();
        if let Some((bytes, type_name)) = &self.serde {
            let path = staging.join("model.json");
            std::fs::write(&path, bytes)?;
            backend.upload_file(owner, &path, "model.json").await?;
            flavors.insert(
                SERDE_FLAVOR.into(),
                serde_json::json!({"data": "model.json", "format": "json", "type": type_name,
                                   "trackd_version": env!("CARGO_PKG_VERSION")}),
            );
        }
        for (local, dest) in &self.files {
            backend
                .upload_file(owner, local, &artifacts::join(&[dest]))
                .await?;
        }
        for (dir, dest) in &self.dirs {
            let dir = dir.clone();
            let files = tokio::task::spawn_blocking(move || artifacts::local_tree(&dir))
                .await
                .map_err(|e| ClientError::Io(e.to_string()))??;
            for (local, rel) in files {
                backend
                    .upload_file(owner, &local, &artifacts::join(&[dest, &rel]))
                    .await?;
            }
        }
        let mut extra = BTreeMap::new();
        if let Some(signature) = &self.signature {
            extra.insert("signature".to_owned(), signature.clone());
        }
        if let Some(example) = &self.input_example {
            let path = staging.join("input_example.json");
            std::fs::write(&path, example.to_string())?;
            backend
                .upload_file(owner, &path, "input_example.json")
                .await?;
            extra.insert(
                "saved_input_example_info".to_owned(),
                serde_json::json!({"artifact_path": "input_example.json", "type": "json_object"}),
            );
        }
        let mlmodel = MlModel {
            artifact_path: model.artifact_uri.clone(),
            flavors,
            model_uuid: Some(model.model_id.clone()),
            model_id: Some(model.model_id.clone()),
            run_id: Some(run_id.to_owned()),
            utc_time_created: Some(utc_now()),
            extra,
        };
        let path = staging.join(MLMODEL_FILE);
        std::fs::write(&path, mlmodel.to_yaml()?)?;
        backend.upload_file(owner, &path, MLMODEL_FILE).await?;
        Ok(())
    }
}

fn kv(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<pb::ModelKeyValue> {
    pairs
        .into_iter()
        .map(|(key, value)| pb::ModelKeyValue { key, value })
        .collect()
}

/// Now in MLflow's `utc_time_created` format.
fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// What a model URI resolves to: whose files, and the directory among them.
enum Resolved {
    Model(String),
    Run(String, String),
}

impl Client {
    fn inner_models(
        &self,
    ) -> pb::model_service_client::ModelServiceClient<crate::credentials::Transport> {
        self.backend().models.clone()
    }

    async fn link_model_output(&self, run_id: &str, model_id: &str) -> Result<()> {
        self.backend()
            .tracking
            .clone()
            .log_outputs(pb::LogOutputsRequest {
                run_id: run_id.into(),
                models: vec![pb::ModelOutput {
                    model_id: model_id.into(),
                    step: 0,
                }],
            })
            .await?;
        Ok(())
    }

    /// A logged model by id.
    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let m = self
            .inner_models()
            .get_logged_model(pb::GetLoggedModelRequest {
                model_id: model_id.into(),
                allow_deleted: false,
            })
            .await?
            .into_inner()
            .model
            .ok_or_else(|| ClientError::Delivery("the server returned no model".into()))?;
        Ok(LoggedModel::from_wire(m))
    }

    /// The logged models of experiments matching `filter` (MLflow's language over name,
    /// status, metrics.*, params.*, tags.*), newest first, up to `max_results` (0: 100).
    pub async fn search_logged_models(
        &self,
        experiment_ids: &[&str],
        filter: &str,
        max_results: i32,
    ) -> Result<Vec<LoggedModel>> {
        let r = self
            .inner_models()
            .search_logged_models(pb::SearchLoggedModelsRequest {
                experiment_ids: experiment_ids.iter().map(|s| s.to_string()).collect(),
                filter: filter.into(),
                max_results,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(r.models.into_iter().map(LoggedModel::from_wire).collect())
    }

    /// Registers a model under `name` (created if needed) as a new version, from a
    /// `runs:/<run_id>/<name>`, `models:/<model_id>` or `mlflow-artifacts:` URI (MLflow's
    /// `register_model`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// run.log_model("clf").serde(&[1, 2, 3])?.log().await?;
    /// let v = client.register_model(&format!("runs:/{}/clf", run.id()), "clf").await?;
    /// assert_eq!(v.version, 1);
    /// client.set_model_alias("clf", "champion", v.version).await?;
    /// let loaded = client.load_model("models:/clf@champion", store.path().join("dl")).await?;
    /// assert_eq!(loaded.load_serde::<Vec<i32>>()?, [1, 2, 3]);
    /// # Ok(()) }
    /// ```
    pub async fn register_model(&self, model_uri: &str, name: &str) -> Result<ModelVersion> {
        let mut models = self.inner_models();
        match models
            .create_registered_model(pb::CreateRegisteredModelRequest {
                name: name.into(),
                ..Default::default()
            })
            .await
        {
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::AlreadyExists => {}
            Err(s) => return Err(s.into()),
        }
        let v = models
            .create_model_version(pb::CreateModelVersionRequest {
                name: name.into(),
                source: model_uri.into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .model_version
            .ok_or_else(|| ClientError::Delivery("the server returned no version".into()))?;
        Ok(ModelVersion::from_wire(v))
    }

    /// Points `alias` of registered model `name` at `version`.
    pub async fn set_model_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.inner_models()
            .set_alias(pb::SetAliasRequest {
                name: name.into(),
                alias: alias.into(),
                version: version as i64,
            })
            .await?;
        Ok(())
    }

    /// A version of a registered model.
    pub async fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        Ok(ModelVersion::from_wire(
            self.get_model_version_wire(name, version).await?,
        ))
    }

    /// Registered models matching `filter` (`name LIKE 'x%'`, `tags.k = 'v'`), by name.
    pub async fn search_registered_models(&self, filter: &str) -> Result<Vec<String>> {
        let r = self
            .inner_models()
            .search_registered_models(pb::SearchRegistryRequest {
                filter: filter.into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(r.registered_models.into_iter().map(|m| m.name).collect())
    }

    /// Downloads a model into `dest` and parses its `MLmodel`. `model_uri` is any of
    /// MLflow's: `models:/<model_id>`, `models:/<name>/<version>`, `models:/<name>@<alias>`,
    /// `runs:/<run_id>/<path>` (the logged model of that name the run produced, else the
    /// run's files there) or `mlflow-artifacts:/…` (a model's or a run's files).
    pub async fn load_model(&self, model_uri: &str, dest: impl AsRef<Path>) -> Result<LoadedModel> {
        let dest = dest.as_ref().to_path_buf();
        let (owner_id, dir, is_model) = match self.resolve_model_uri(model_uri).await? {
            Resolved::Model(id) => (id, String::new(), true),
            Resolved::Run(run, dir) => (run, dir, false),
        };
        let owner = if is_model {
            Owner::Model(&owner_id)
        } else {
            Owner::Run(&owner_id)
        };
        let backend = self.backend();
        let (_, files) = backend.list_artifacts(owner, &dir, true).await?;
        if files.is_empty() {
            return Err(ClientError::Usage(format!("no files at {model_uri}")));
        }
        for f in files.iter().filter(|f| !f.is_dir) {
            let within = f
                .path
                .strip_prefix(&dir)
                .unwrap_or(&f.path)
                .trim_start_matches('/');
            backend
                .download_file(owner, &f.path, &dest.join(within))
                .await?;
        }
        let text = std::fs::read_to_string(dest.join(MLMODEL_FILE)).map_err(|e| {
            ClientError::Usage(format!("{model_uri} has no {MLMODEL_FILE} file: {e}"))
        })?;
        Ok(LoadedModel {
            path: dest,
            mlmodel: MlModel::from_yaml(&text)?,
        })
    }

    async fn resolve_model_uri(&self, uri: &str) -> Result<Resolved> {
        let bad = |why: &str| ClientError::Uri {
            uri: uri.to_owned(),
            reason: why.to_owned(),
        };
        if let Some(rest) = uri.strip_prefix("models:/") {
            let rest = rest.trim_end_matches('/');
            if rest.starts_with("m-") && !rest.contains('/') && !rest.contains('@') {
                return Ok(Resolved::Model(rest.to_owned()));
            }
            let version = if let Some((name, alias)) = rest.split_once('@') {
                self.inner_models()
                    .get_model_version_by_alias(pb::AliasRequest {
                        name: name.into(),
                        alias: alias.into(),
                    })
                    .await?
                    .into_inner()
                    .model_version
            } else if let Some((name, version)) = rest.split_once('/') {
                let version: u64 = version
                    .parse()
                    .map_err(|_| bad("the version is not a number"))?;
                Some(self.get_model_version_wire(name, version).await?)
            } else {
                return Err(bad(
                    "expected models:/<model id>, <name>/<version> or <name>@<alias>",
                ));
            };
            let v = version.ok_or_else(|| bad("no such version"))?;
            if !v.model_id.is_empty() {
                return Ok(Resolved::Model(v.model_id));
            }
            return self
                .resolve_location(&v.storage_location)
                .ok_or_else(|| bad("the version's files are not served by this server"));
        }
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = path.trim_matches('/');
            if !path.is_empty() && !path.contains('/') {
                let run = self.get_run(run_id).await?;
                let filter = format!("name = '{}'", path.replace('\'', "\\'"));
                let produced = self
                    .search_logged_models(&[&run.info.experiment_id], &filter, 100)
                    .await?
                    .into_iter()
                    .find(|m| m.source_run_id == run_id);
                if let Some(m) = produced {
                    return Ok(Resolved::Model(m.model_id));
                }
            }
            return Ok(Resolved::Run(run_id.to_owned(), path.to_owned()));
        }
        if uri.starts_with("mlflow-artifacts:/") {
            return self
                .resolve_location(uri)
                .ok_or_else(|| bad("not a model's or a run's files"));
        }
        Err(bad("expected a models:/, runs:/ or mlflow-artifacts:/ URI"))
    }

    async fn get_model_version_wire(&self, name: &str, version: u64) -> Result<pb::ModelVersion> {
        self.inner_models()
            .get_model_version(pb::ModelVersionRequest {
                name: name.into(),
                version: version as i64,
            })
            .await?
            .into_inner()
            .model_version
            .ok_or_else(|| ClientError::Delivery("the server returned no version".into()))
    }

    /// `mlflow-artifacts:/<exp>/models/<id>/artifacts[/…]` or
    /// `mlflow-artifacts:/<exp>/<run>/artifacts[/<path>]`.
    fn resolve_location(&self, location: &str) -> Option<Resolved> {
        let rest = location.strip_prefix("mlflow-artifacts:/")?;
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() >= 4 && parts[1] == "models" && parts[3] == "artifacts" {
            return Some(Resolved::Model(parts[2].to_owned()));
        }
        if parts.len() >= 3 && parts[2] == "artifacts" {
            return Some(Resolved::Run(parts[1].to_owned(), parts[3..].join("/")));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlmodel_files_round_trip_and_keep_unknown_fields() {
        let text = "artifact_path: mlflow-artifacts:/1/models/m-1/artifacts\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.2\n  sklearn:\n    pickled_model: model.pkl\nmlflow_version: 3.17.2\nmodel_id: m-1\nmodel_size_bytes: 1234\nmodel_uuid: m-1\nrun_id: abc\nutc_time_created: '2026-12-01 04:13:05.123456'\n";
        let m = MlModel::from_yaml(text).unwrap();
        assert_eq!(m.flavors["sklearn"]["pickled_model"], "model.pkl");
        assert_eq!(m.extra["mlflow_version"], "3.17.2");
        assert_eq!(m.run_id.as_deref(), Some("abc"));
        let again = MlModel::from_yaml(&m.to_yaml().unwrap()).unwrap();
        assert_eq!(again, m);
        assert!(MlModel::from_yaml("- not\n- a map\n").is_err());
    }

    #[test]
    fn times_are_in_mlflows_format() {
        let t = utc_now();
        assert_eq!(t.len(), "2026-12-01 04:13:05.123456".len(), "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}

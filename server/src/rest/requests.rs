//! One request struct per REST endpoint, decoded with MLflow's rules in one place: field
//! types from [`super::fields`] (lenient numbers, enums by name or number, `""` = missing,
//! a single value as a one-element list), lowerCamelCase aliases, unknown fields ignored. A
//! body (POST) or a query string (GET/DELETE, repeated keys as lists) decodes into the same
//! struct; `runs/log-batch`, the hot route, is decoded straight from the body bytes with no
//! intermediate tree.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::fields::{
    missing, Flag, Float, Int, KeyValue, List, ModelStatusField, Status, Text, View,
};
use crate::domain::{Dataset, DatasetInput, ModelMetric, ModelOutput, Point, RunInputs, RunWrites};
use crate::error::{Result, TrackingError};
use crate::tracker::{ModelMetricIn, ModelOrder, ModelSearch, NewLoggedModel};

/// Decodes a request from a JSON body: an object (or, for legacy clients, a JSON string
/// holding one); an empty body is `{}`.
pub fn from_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => decode_slice(b"{}"),
        Some(b'{') => decode_slice(body),
        Some(b'"') => {
            let inner: String = serde_json::from_slice(body).map_err(malformed)?;
            if inner.trim_start().starts_with('{') {
                decode_slice(inner.as_bytes())
            } else {
                Err(not_an_object())
            }
        }
        Some(_) => {
            // Report malformed JSON as such, anything else as "not an object".
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(malformed)?;
            Err(not_an_object())
        }
    }
}

/// Decodes a request from a query string's fields (see [`super::json::parse_query`]).
pub fn from_query<T: DeserializeOwned>(fields: serde_json::Map<String, Value>) -> Result<T> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(describe)
}

/// The fast attempt first; on failure the same input again with the failing field's path
/// tracked, for the message (errors are rare; paths cost on every field).
fn decode_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
    de.end().map_err(malformed)?;
    Ok(value)
}

fn not_an_object() -> TrackingError {
    TrackingError::invalid("The request body must be a JSON object.")
}

fn malformed(e: serde_json::Error) -> TrackingError {
    TrackingError::invalid(format!("Malformed JSON request body: {e}"))
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>) -> TrackingError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        malformed(inner)
    } else {
        TrackingError::invalid(format!("Invalid value for parameter '{path}': {inner}"))
    }
}

/// `run_id`, falling back to the deprecated `run_uuid`; required.
pub fn run_id(run_id: Text, run_uuid: Text) -> Result<String> {
    run_id.0.or(run_uuid.0).ok_or_else(|| missing("run_id"))
}

// --- experiments ----------------------------------------------------------------------------

/// `experiments/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateExperiment {
    pub name: Text,
    #[serde(alias = "artifactLocation")]
    pub artifact_location: Text,
    pub tags: List<KeyValue>,
}

/// `experiments/get`, `experiments/delete`, `experiments/restore`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExperimentRef {
    #[serde(alias = "experimentId")]
    pub experiment_id: Text,
}

impl ExperimentRef {
    /// The required id.
    pub fn id(self) -> Result<String> {
        self.experiment_id.required("experiment_id")
    }
}

/// `experiments/get-by-name`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExperimentByName {
    #[serde(alias = "experimentName")]
    pub experiment_name: Text,
}

/// `experiments/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchExperiments {
    pub filter: Text,
    #[serde(alias = "viewType")]
    pub view_type: View,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
    #[serde(alias = "orderBy")]
    pub order_by: List<Text>,
    #[serde(alias = "pageToken")]
    pub page_token: Text,
}

/// `experiments/update`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateExperiment {
    #[serde(alias = "experimentId")]
    pub experiment_id: Text,
    #[serde(alias = "newName")]
    pub new_name: Text,
}

/// `experiments/set-experiment-tag`, `experiments/delete-experiment-tag`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExperimentTag {
    #[serde(alias = "experimentId")]
    pub experiment_id: Text,
    pub key: Text,
    pub value: Text,
}

/// trackd's `backups/create` (`POST /api/2.0/trackd/backups/create`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateBackup {
    pub name: Text,
}

// --- runs -----------------------------------------------------------------------------------

/// `runs/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateRun {
    #[serde(alias = "experimentId")]
    pub experiment_id: Text,
    #[serde(alias = "userId")]
    pub user_id: Text,
    #[serde(alias = "runName")]
    pub run_name: Text,
    #[serde(alias = "startTime")]
    pub start_time: Int,
    pub tags: List<KeyValue>,
}

/// Endpoints that name a run and nothing else: `runs/get`, `runs/delete`, `runs/restore`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunRef {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
}

impl RunRef {
    /// The run (`run_id`, else `run_uuid`).
    pub fn id(self) -> Result<String> {
        run_id(self.run_id, self.run_uuid)
    }
}

/// `runs/update`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateRun {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    pub status: Status,
    #[serde(alias = "endTime")]
    pub end_time: Int,
    #[serde(alias = "runName")]
    pub run_name: Text,
}

/// `runs/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchRuns {
    #[serde(alias = "experimentIds")]
    pub experiment_ids: List<Text>,
    pub filter: Text,
    #[serde(alias = "runViewType")]
    pub run_view_type: View,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
    #[serde(alias = "orderBy")]
    pub order_by: List<Text>,
    #[serde(alias = "pageToken")]
    pub page_token: Text,
}

/// One metric point as MLflow sends it (`runs/log-metric`, and each of log-batch's).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetricIn {
    pub key: Text,
    pub value: Float,
    pub timestamp: Int,
    pub step: Int,
    /// MLflow 3: the logged model the value is also recorded against.
    #[serde(alias = "modelId")]
    pub model_id: Text,
    #[serde(alias = "datasetName")]
    pub dataset_name: Text,
    #[serde(alias = "datasetDigest")]
    pub dataset_digest: Text,
}

impl MetricIn {
    /// The value as recorded against its logged model, if it names one.
    fn model_metric(&self, point: &Point, run_id: Option<&str>) -> Option<ModelMetricIn> {
        let model_id = self.model_id.0.clone()?;
        Some(ModelMetricIn {
            model_id,
            metric: ModelMetric {
                key: self.key.0.clone().unwrap_or_default(),
                value: point.value,
                timestamp: point.timestamp,
                step: point.step,
                dataset_name: self.dataset_name.0.clone().unwrap_or_default(),
                dataset_digest: self.dataset_digest.0.clone().unwrap_or_default(),
                run_id: run_id.and_then(|r| crate::domain::RunId::parse(r).ok()),
            },
        })
    }

    /// `(key, point)`: key, value and timestamp required; step defaults to 0.
    pub fn point(&self) -> Result<(String, Point)> {
        let key = self.key.clone().required("key")?;
        let value = self.value.required("value")?;
        let timestamp = self.timestamp.required("timestamp")?;
        Ok((
            key,
            Point {
                step: self.step.0.unwrap_or(0),
                timestamp,
                value,
            },
        ))
    }
}

/// `runs/log-metric`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogMetric {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    pub key: Text,
    pub value: Float,
    pub timestamp: Int,
    pub step: Int,
    #[serde(alias = "modelId")]
    pub model_id: Text,
    #[serde(alias = "datasetName")]
    pub dataset_name: Text,
    #[serde(alias = "datasetDigest")]
    pub dataset_digest: Text,
}

impl LogMetric {
    /// `(run, key, point, the value as recorded against a logged model)`.
    pub fn into_parts(self) -> Result<(String, String, Point, Option<ModelMetricIn>)> {
        let run = run_id(self.run_id, self.run_uuid)?;
        let metric = MetricIn {
            key: self.key,
            value: self.value,
            timestamp: self.timestamp,
            step: self.step,
            model_id: self.model_id,
            dataset_name: self.dataset_name,
            dataset_digest: self.dataset_digest,
        };
        let (key, point) = metric.point()?;
        let model = metric.model_metric(&point, Some(&run));
        Ok((run, key, point, model))
    }
}

/// `runs/log-parameter`, `runs/set-tag`, `runs/delete-tag`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunKeyValue {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    pub key: Text,
    pub value: Text,
}

/// `runs/log-batch` (also the hot path: decoded straight from the body).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogBatch {
    #[serde(alias = "runId")]
    pub run_id: Text,
    pub metrics: List<MetricIn>,
    pub params: List<KeyValue>,
    pub tags: List<KeyValue>,
}

/// A log-batch request, decoded: the run, its writes, and the values also recorded
/// against logged models (MLflow 3's `model_id` on a metric).
pub struct BatchParts {
    /// The run.
    pub run_id: String,
    /// Its writes.
    pub writes: RunWrites,
    /// Values that name a logged model.
    pub model_metrics: Vec<ModelMetricIn>,
}

impl LogBatch {
    /// The run id and the writes, with MLflow's required-field rules.
    pub fn into_parts(self) -> Result<BatchParts> {
        let run_id = self.run_id.required("run_id")?;
        let mut writes = RunWrites {
            metrics: Vec::new(),
            params: super::fields::pairs(self.params)?,
            tags: super::fields::pairs(self.tags)?,
        };
        let mut model_metrics = Vec::new();
        for metric in self.metrics.0 {
            let (key, point) = metric.point()?;
            model_metrics.extend(metric.model_metric(&point, Some(&run_id)));
            writes.push_point(key, point);
        }
        Ok(BatchParts {
            run_id,
            writes,
            model_metrics,
        })
    }
}

/// A dataset as LogInputs sends it (field contents are checked by the Tracker).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DatasetIn {
    pub name: Text,
    pub digest: Text,
    #[serde(alias = "sourceType")]
    pub source_type: Text,
    pub source: Text,
    pub schema: Text,
    pub profile: Text,
}

/// One of LogInputs' `datasets[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DatasetInputIn {
    pub dataset: Option<DatasetIn>,
    pub tags: List<KeyValue>,
}

/// A `{model_id}` (LogInputs' `models[]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ModelIn {
    #[serde(alias = "modelId")]
    pub model_id: Text,
    pub step: Int,
}

/// `runs/log-inputs`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogInputs {
    #[serde(alias = "runId")]
    pub run_id: Text,
    pub datasets: List<DatasetInputIn>,
    pub models: List<ModelIn>,
}

impl LogInputs {
    /// The run and its inputs.
    pub fn into_parts(self) -> Result<(String, RunInputs)> {
        let datasets = self
            .datasets
            .0
            .into_iter()
            .map(|input| {
                let d = input.dataset.ok_or_else(|| missing("datasets.dataset"))?;
                Ok(DatasetInput {
                    dataset: Dataset {
                        name: d.name.or_default(),
                        digest: d.digest.or_default(),
                        source_type: d.source_type.or_default(),
                        source: d.source.or_default(),
                        schema: d.schema.or_default(),
                        profile: d.profile.or_default(),
                    },
                    tags: super::fields::pairs(input.tags)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let models = self
            .models
            .0
            .into_iter()
            .map(|m| m.model_id.required("model_id"))
            .collect::<Result<Vec<_>>>()?;
        Ok((
            self.run_id.required("run_id")?,
            RunInputs { datasets, models },
        ))
    }
}

/// `runs/outputs`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogOutputs {
    #[serde(alias = "runId")]
    pub run_id: Text,
    pub models: List<ModelIn>,
}

impl LogOutputs {
    /// The run and its model outputs.
    pub fn into_parts(self) -> Result<(String, Vec<ModelOutput>)> {
        let outputs = self
            .models
            .0
            .into_iter()
            .map(|m| {
                Ok(ModelOutput {
                    model_id: m.model_id.required("model_id")?,
                    step: m.step.0.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((self.run_id.required("run_id")?, outputs))
    }
}

/// `runs/log-model` (MLflow 2's model record).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogModel {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    #[serde(alias = "modelJson")]
    pub model_json: Text,
}

impl LogModel {
    /// `(run, model JSON)`.
    pub fn into_parts(self) -> Result<(String, String)> {
        let model_json = self.model_json.required("model_json")?;
        Ok((run_id(self.run_id, self.run_uuid)?, model_json))
    }
}

// --- metrics and artifacts ------------------------------------------------------------------

/// `metrics/get-history`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetHistory {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    #[serde(alias = "metricKey")]
    pub metric_key: Text,
    #[serde(alias = "pageToken")]
    pub page_token: Text,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
}

/// `metrics/get-history-bulk-interval`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetHistoryBulkInterval {
    #[serde(alias = "runIds")]
    pub run_ids: List<Text>,
    #[serde(alias = "metricKey")]
    pub metric_key: Text,
    #[serde(alias = "startStep")]
    pub start_step: Int,
    #[serde(alias = "endStep")]
    pub end_step: Int,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
}

/// `artifacts/list` (by run) and the proxy's list (by path).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListArtifacts {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    pub path: Text,
}

/// `artifacts/presigned-upload-url` and `artifacts/presigned-download-url`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PresignedUrl {
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "runUuid")]
    pub run_uuid: Text,
    pub path: Text,
    pub expiration: Int,
}

impl PresignedUrl {
    /// `(run, path, expiration seconds)`; the expiration must not be negative.
    pub fn into_parts(self) -> Result<(String, String, i64)> {
        let path = self.path.required("path")?;
        let expiration = self.expiration.0.unwrap_or(0);
        if expiration < 0 {
            return Err(TrackingError::invalid(format!(
                "Invalid value {expiration} for parameter 'expiration': must be positive."
            )));
        }
        Ok((run_id(self.run_id, self.run_uuid)?, path, expiration))
    }
}

// --- logged models --------------------------------------------------------------------------

/// `logged-models` (create).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateLoggedModel {
    #[serde(alias = "experimentId")]
    pub experiment_id: Text,
    pub name: Text,
    #[serde(alias = "modelType")]
    pub model_type: Text,
    #[serde(alias = "sourceRunId")]
    pub source_run_id: Text,
    pub params: List<KeyValue>,
    pub tags: List<KeyValue>,
}

impl CreateLoggedModel {
    /// The Tracker's arguments.
    pub fn into_new(self) -> Result<NewLoggedModel> {
        Ok(NewLoggedModel {
            experiment_id: self.experiment_id.required("experiment_id")?,
            name: self.name.or_default(),
            model_type: self.model_type.or_default(),
            source_run_id: self.source_run_id.or_default(),
            params: super::fields::pairs(self.params)?,
            tags: super::fields::pairs(self.tags)?,
        })
    }
}

/// `logged-models/{id}` (get).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetLoggedModel {
    #[serde(alias = "allowDeleted")]
    pub allow_deleted: Flag,
}

/// `logged-models/{id}` (finalize).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FinalizeLoggedModel {
    pub status: ModelStatusField,
}

/// `logged-models/{id}/artifacts/directories` and `…/files`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ModelFilesQuery {
    pub artifact_directory_path: Text,
    pub artifact_file_path: Text,
}

/// `logged-models/{id}/tags` (set).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoggedModelTags {
    pub tags: List<KeyValue>,
}

/// `logged-models/{id}/params` (log).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoggedModelParams {
    pub params: List<KeyValue>,
}

/// One of SearchLoggedModels' `datasets`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DatasetRef {
    #[serde(alias = "datasetName")]
    pub dataset_name: Text,
    #[serde(alias = "datasetDigest")]
    pub dataset_digest: Text,
}

/// One of SearchLoggedModels' `order_by`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderByIn {
    #[serde(alias = "fieldName")]
    pub field_name: Text,
    pub ascending: Option<bool>,
    #[serde(alias = "datasetName")]
    pub dataset_name: Text,
    #[serde(alias = "datasetDigest")]
    pub dataset_digest: Text,
}

/// `logged-models/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchLoggedModels {
    #[serde(alias = "experimentIds")]
    pub experiment_ids: List<Text>,
    pub filter: Text,
    pub datasets: List<DatasetRef>,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
    #[serde(alias = "orderBy")]
    pub order_by: List<OrderByIn>,
    #[serde(alias = "pageToken")]
    pub page_token: Text,
}

impl SearchLoggedModels {
    /// The Tracker's arguments.
    pub fn into_search(self) -> Result<ModelSearch> {
        Ok(ModelSearch {
            experiment_ids: self.experiment_ids.strings(),
            filter: self.filter.or_default(),
            datasets: self
                .datasets
                .0
                .into_iter()
                .map(|d| {
                    Ok((
                        d.dataset_name.required("datasets.dataset_name")?,
                        d.dataset_digest.or_default(),
                    ))
                })
                .collect::<Result<_>>()?,
            max_results: self.max_results.0.unwrap_or(0),
            order_by: self
                .order_by
                .0
                .into_iter()
                .map(|o| {
                    Ok(ModelOrder {
                        field_name: o.field_name.required("order_by.field_name")?,
                        ascending: o.ascending.unwrap_or(true),
                    })
                })
                .collect::<Result<_>>()?,
            page_token: self.page_token.or_default(),
        })
    }
}

// --- model registry -------------------------------------------------------------------------

/// Registry requests: each endpoint reads the fields it needs (name, version, alias, …).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegistryRequest {
    pub name: Text,
    #[serde(alias = "newName")]
    pub new_name: Text,
    pub version: Text,
    pub alias: Text,
    pub description: Text,
    pub key: Text,
    pub value: Text,
    pub tags: List<KeyValue>,
    pub stages: List<Text>,
    pub stage: Text,
    #[serde(alias = "archiveExistingVersions")]
    pub archive_existing_versions: Option<bool>,
    pub source: Text,
    #[serde(alias = "runId")]
    pub run_id: Text,
    #[serde(alias = "modelId")]
    pub model_id: Text,
}

impl RegistryRequest {
    /// The required name.
    pub fn name(&self) -> Result<String> {
        self.name.clone().required("name")
    }

    /// The required version number.
    pub fn version(&self) -> Result<u64> {
        crate::tracker::version_number(&self.version.clone().required("version")?)
    }
}

/// `registered-models/search` and `model-versions/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchRegistry {
    pub filter: Text,
    #[serde(alias = "maxResults")]
    pub max_results: Int,
    #[serde(alias = "orderBy")]
    pub order_by: List<Text>,
    #[serde(alias = "pageToken")]
    pub page_token: Text,
}

impl SearchRegistry {
    /// The Tracker's arguments.
    pub fn into_search(self) -> crate::tracker::RegistrySearch {
        crate::tracker::RegistrySearch {
            filter: self.filter.or_default(),
            max_results: self.max_results.0.unwrap_or(0),
            order_by: self.order_by.strings(),
            page_token: self.page_token.or_default(),
        }
    }
}

/// A request with no fields (or none that trackd reads).
#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RunStatus, ViewType};

    fn body<T: DeserializeOwned>(json: &str) -> Result<T> {
        from_body(json.as_bytes())
    }

    fn query<T: DeserializeOwned>(q: &str) -> Result<T> {
        from_query(super::super::json::parse_query(q).unwrap())
    }

    #[test]
    fn lenient_scalars() {
        let m: LogMetric = body(
            r#"{"run_id": 5, "key": "k", "value": "NaN", "timestamp": "6", "step": "", "x": true}"#,
        )
        .unwrap();
        assert_eq!(
            m.run_id.0.as_deref(),
            Some("5"),
            "numeric ids become strings"
        );
        assert!(m.value.0.unwrap().is_nan());
        assert_eq!(m.timestamp.0, Some(6));
        assert_eq!(m.step.0, None, "an empty string counts as missing");
        let m: LogMetric = body(r#"{"value": "-Infinity", "timestamp": " 7 "}"#).unwrap();
        assert_eq!(m.value.0, Some(f64::NEG_INFINITY));
        assert_eq!(m.timestamp.0, Some(7));
        for bad in [
            r#"{"timestamp": 1.5}"#,
            r#"{"timestamp": true}"#,
            r#"{"timestamp": "x"}"#,
            r#"{"value": true}"#,
            r#"{"value": "nan"}"#,
            r#"{"key": ["a"]}"#,
        ] {
            let err = body::<LogMetric>(bad).unwrap_err().to_string();
            assert!(err.contains("Invalid value for parameter"), "{bad}: {err}");
        }
        assert!(body::<LogMetric>(r#"{"value": "nan"}"#)
            .unwrap_err()
            .to_string()
            .contains("use \"NaN\""));
        let missing = Text(None).required("e").unwrap_err().to_string();
        assert!(missing.contains("Missing value for required parameter 'e'"));
    }

    #[test]
    fn errors_name_the_field_path() {
        let err = body::<LogBatch>(
            r#"{"run_id": "r", "metrics": [{"key": "m", "value": 1, "timestamp": 1}, {"key": "m", "value": {}, "timestamp": 1}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("'metrics[1].value'"), "{err}");
    }

    #[test]
    fn queries_and_bodies() {
        let q: GetHistoryBulkInterval =
            query("run_ids=a&run_ids=b&metric_key=m&max_results=10").unwrap();
        assert_eq!(q.run_ids.strings(), vec!["a", "b"]);
        assert_eq!(q.max_results.0, Some(10));
        let q: GetHistoryBulkInterval = query("run_ids[]=z&start_step=3").unwrap();
        assert_eq!(q.run_ids.strings(), vec!["z"]);
        let q: SearchRuns = query("experiment_ids=1").unwrap();
        assert_eq!(
            q.experiment_ids.strings(),
            vec!["1"],
            "one occurrence is a list"
        );
        let q: SearchRuns = body(r#"{"experiment_ids": 7}"#).unwrap();
        assert_eq!(q.experiment_ids.strings(), vec!["7"]);
        assert!(
            query::<RunRef>("run_id=a&run_id=b").is_err(),
            "a repeated key is a list, refused for a scalar field"
        );
        let empty: RunRef = body(" ").unwrap();
        assert_eq!(empty.run_id, Text(None));
        let twice = serde_json::to_string(&serde_json::json!("{\"name\": \"n\"}")).unwrap();
        assert_eq!(
            body::<CreateExperiment>(&twice)
                .unwrap()
                .name
                .required("name")
                .unwrap(),
            "n"
        );
        for bad in ["{bad", "[1]", "\"[1]\"", "1", "{\"name\": \"n\"} x"] {
            assert!(body::<CreateExperiment>(bad).is_err(), "{bad}");
        }
        assert!(body::<CreateExperiment>("{bad")
            .unwrap_err()
            .to_string()
            .contains("Malformed JSON"));
    }

    #[test]
    fn camel_case_names_are_accepted() {
        let r: CreateRun =
            body(r#"{"experimentId": "3", "startTime": 5, "runName": "n"}"#).unwrap();
        assert_eq!(r.experiment_id.0.as_deref(), Some("3"));
        assert_eq!(r.start_time.0, Some(5));
        assert_eq!(r.run_name.0.as_deref(), Some("n"));
        let r: RunRef = body(r#"{"runUuid": "r"}"#).unwrap();
        assert_eq!(r.id().unwrap(), "r");
    }

    #[test]
    fn enums_by_name_or_number() {
        let u: UpdateRun = body(r#"{"status": "FINISHED"}"#).unwrap();
        assert_eq!(u.status.0, Some(RunStatus::Finished));
        let u: UpdateRun = body(r#"{"status": 4}"#).unwrap();
        assert_eq!(u.status.0, Some(RunStatus::Failed));
        let u: UpdateRun = query("status=3").unwrap();
        assert_eq!(u.status.0, Some(RunStatus::Finished));
        assert!(body::<UpdateRun>(r#"{"status": "NOPE"}"#).is_err());
        let s: SearchRuns = body(r#"{"run_view_type": "all"}"#).unwrap();
        assert_eq!(s.run_view_type.0, ViewType::All);
        let s: SearchRuns = body(r#"{"run_view_type": 2}"#).unwrap();
        assert_eq!(s.run_view_type.0, ViewType::DeletedOnly);
        let s: SearchRuns = body("{}").unwrap();
        assert_eq!(s.run_view_type.0, ViewType::ActiveOnly);
        assert!(body::<SearchRuns>(r#"{"run_view_type": 9}"#).is_err());
    }

    #[test]
    fn log_batch_required_fields() {
        let b: LogBatch = body(
            r#"{"run_id": "r", "metrics": [{"key": "m", "value": "NaN", "timestamp": "5", "step": 2}, {"key": "m", "value": 1, "timestamp": 6}], "params": [{"key": "p", "value": "v"}], "unknown": 1}"#,
        )
        .unwrap();
        let parts = b.into_parts().unwrap();
        let (run, writes) = (parts.run_id, parts.writes);
        assert_eq!(run, "r");
        assert_eq!(writes.metrics[0].1.len(), 2);
        assert!(writes.metrics[0].1[0].value.is_nan());
        assert_eq!(writes.metrics[0].1[1].step, 0);
        assert_eq!(writes.params, vec![("p".into(), "v".into())]);
        let no_value: LogBatch =
            body(r#"{"run_id": "r", "metrics": [{"key": "m", "timestamp": 1}]}"#).unwrap();
        let err = no_value.into_parts().err().expect("refused");
        assert!(err.to_string().contains("'value'"));
        let no_key: LogBatch = body(r#"{"run_id": "r", "tags": [{"value": "v"}]}"#).unwrap();
        let err = no_key.into_parts().err().expect("refused");
        assert!(err.to_string().contains("'key'"));
    }
}

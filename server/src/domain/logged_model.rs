//! MLflow 3's logged models: a model produced by a run (or on its own), with its own
//! artifacts, params, tags and the metrics logged against it. Ids are `m-<32 hex>`, as
//! MLflow's.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ExperimentId, Lifecycle, RunId};
use crate::error::{Result, TrackingError};

/// A logged model's id: `m-` and 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModelId(pub [u8; 16]);

impl ModelId {
    /// A new random id.
    pub fn generate() -> Self {
        ModelId(*uuid::Uuid::new_v4().as_bytes())
    }

    /// Parses `m-<32 hex>`. Anything else is refused (so it never names a model).
    pub fn parse(s: &str) -> Result<Self> {
        let hex = s.strip_prefix("m-").unwrap_or("");
        if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 16];
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
            }
            return Ok(ModelId(out));
        }
        if s.is_empty() {
            return Err(TrackingError::invalid(
                "Missing value for required parameter 'model_id'.",
            ));
        }
        Err(TrackingError::not_found(format!(
            "Logged model with ID '{}' not found.",
            super::validate::abbreviate(s)
        )))
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m-")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where a logged model is in its life: created (files being uploaded), then finalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelStatus {
    /// Created; its files may still be uploading.
    Pending,
    /// Finalized successfully: its files are complete.
    Ready,
    /// Finalized as failed (logging the model raised).
    Failed,
}

impl ModelStatus {
    /// MLflow's name (`LOGGED_MODEL_PENDING`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Pending => "LOGGED_MODEL_PENDING",
            ModelStatus::Ready => "LOGGED_MODEL_READY",
            ModelStatus::Failed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// MLflow's number (proto `LoggedModelStatus`).
    pub fn number(self) -> i32 {
        match self {
            ModelStatus::Pending => 1,
            ModelStatus::Ready => 2,
            ModelStatus::Failed => 3,
        }
    }

    /// By MLflow's name (either spelling: `LOGGED_MODEL_READY` or `READY`) or number;
    /// `None` for anything else, including UNSPECIFIED.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "LOGGED_MODEL_PENDING" | "PENDING" | "1" => Some(ModelStatus::Pending),
            "LOGGED_MODEL_READY" | "READY" | "2" => Some(ModelStatus::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" | "FAILED" | "UPLOAD_FAILED" | "3" => {
                Some(ModelStatus::Failed)
            }
            _ => None,
        }
    }

    /// By MLflow's number.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(ModelStatus::Pending),
            2 => Some(ModelStatus::Ready),
            3 => Some(ModelStatus::Failed),
            _ => None,
        }
    }

    /// The short name used in search filters (`status = 'READY'`).
    pub fn short_name(self) -> &'static str {
        match self {
            ModelStatus::Pending => "PENDING",
            ModelStatus::Ready => "READY",
            ModelStatus::Failed => "FAILED",
        }
    }
}

/// A metric value recorded against a logged model (MLflow attaches the source run's metrics
/// at the step the model was logged, and any metric logged with a `model_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetric {
    /// Metric key.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Step.
    pub step: i64,
    /// Dataset the value was computed on (may be empty).
    pub dataset_name: String,
    /// That dataset's digest (may be empty).
    pub dataset_digest: String,
    /// The run that logged it, if any.
    pub run_id: Option<RunId>,
}

/// A logged model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// Its id.
    pub id: ModelId,
    /// The experiment it belongs to.
    pub experiment_id: ExperimentId,
    /// Its name (e.g. the `name` given to `log_model`).
    pub name: String,
    /// Where its files are: `<experiment location>/models/<id>/artifacts`.
    pub artifact_location: String,
    /// Creation time, ms since the epoch.
    pub creation_time: i64,
    /// Last change, ms since the epoch.
    pub last_updated_time: i64,
    /// Free-form model type (may be empty).
    pub model_type: String,
    /// The run that produced it, if any.
    pub source_run_id: Option<RunId>,
    /// Pending, ready or failed.
    pub status: ModelStatus,
    /// Why it failed, if it did.
    pub status_message: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Params (write-once, as a run's).
    pub params: BTreeMap<String, String>,
    /// Metrics recorded against it: the latest value per (key, dataset name, digest).
    pub metrics: Vec<ModelMetric>,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
}

impl LoggedModel {
    /// The latest value of `key` (any dataset), if any.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics
            .iter()
            .filter(|m| m.key == key)
            .max_by_key(|m| (m.step, m.timestamp))
            .map(|m| m.value)
    }
}

/// A change to a logged model, applied by the backend against its current state.
#[derive(Debug, Clone)]
pub enum ModelWrite {
    /// Stores a new model (its id is fresh).
    Create(Box<LoggedModel>),
    /// Sets the final status. Finalizing again with the same status is a no-op; changing a
    /// final status is refused.
    Finalize {
        /// The model.
        id: ModelId,
        /// Ready or failed.
        status: ModelStatus,
        /// When.
        now: i64,
    },
    /// Sets tags (overwriting values).
    SetTags {
        /// The model.
        id: ModelId,
        /// `(key, value)` pairs.
        tags: Vec<(String, String)>,
        /// When.
        now: i64,
    },
    /// Deletes a tag (which must exist).
    DeleteTag {
        /// The model.
        id: ModelId,
        /// Its key.
        key: String,
        /// When.
        now: i64,
    },
    /// Logs params (write-once: the same value again is fine, another value is refused).
    LogParams {
        /// The model.
        id: ModelId,
        /// `(key, value)` pairs.
        params: Vec<(String, String)>,
        /// When.
        now: i64,
    },
    /// Records metric values against the model.
    LogMetrics {
        /// The model.
        id: ModelId,
        /// The values.
        metrics: Vec<ModelMetric>,
    },
    /// Marks the model deleted.
    Delete {
        /// The model.
        id: ModelId,
        /// When.
        now: i64,
    },
    /// Stores the model as another store holds it (`trackd copy`), replacing what is
    /// stored under its id.
    Restore(Box<LoggedModel>),
}

impl ModelWrite {
    /// The model the write is about.
    pub fn model_id(&self) -> ModelId {
        match self {
            ModelWrite::Create(m) | ModelWrite::Restore(m) => m.id,
            ModelWrite::Finalize { id, .. }
            | ModelWrite::SetTags { id, .. }
            | ModelWrite::DeleteTag { id, .. }
            | ModelWrite::LogParams { id, .. }
            | ModelWrite::LogMetrics { id, .. }
            | ModelWrite::Delete { id, .. } => *id,
        }
    }

    /// Applies the write to `model` (the current state; `None` when it does not exist), with
    /// the rules every backend must share. Returns the new state.
    pub fn apply(&self, model: Option<LoggedModel>) -> Result<LoggedModel> {
        if let ModelWrite::Create(new) = self {
            if model.is_some() {
                return Err(TrackingError::AlreadyExists(format!(
                    "Logged model with ID '{}' already exists.",
                    new.id
                )));
            }
            return Ok((**new).clone());
        }
        if let ModelWrite::Restore(copy) = self {
            return Ok((**copy).clone());
        }
        let id = self.model_id();
        let mut model = model
            .filter(|m| m.lifecycle == Lifecycle::Active)
            .ok_or_else(|| not_found(id))?;
        match self {
            ModelWrite::Create(_) | ModelWrite::Restore(_) => unreachable!("handled above"),
            ModelWrite::Finalize { status, now, .. } => {
                if model.status == *status {
                    return Ok(model);
                }
                if model.status != ModelStatus::Pending {
                    // INVALID_PARAMETER_VALUE (400), not INVALID_STATE: MLflow maps that to a
                    // 500, which its client retries as if the server had failed.
                    return Err(TrackingError::invalid(format!(
                        "Logged model '{id}' is already finalized as {}; it cannot become {}.",
                        model.status.short_name(),
                        status.short_name()
                    )));
                }
                model.status = *status;
                model.last_updated_time = *now;
            }
            ModelWrite::SetTags { tags, now, .. } => {
                for (k, v) in tags {
                    model.tags.insert(k.clone(), v.clone());
                }
                model.last_updated_time = *now;
            }
            ModelWrite::DeleteTag { key, now, .. } => {
                if model.tags.remove(key).is_none() {
                    return Err(TrackingError::not_found(format!(
                        "No tag with key '{}' found for logged model '{id}'.",
                        super::validate::abbreviate(key)
                    )));
                }
                model.last_updated_time = *now;
            }
            ModelWrite::LogParams { params, now, .. } => {
                for (k, v) in params {
                    if let Some(old) = model.params.get(k) {
                        if old != v {
                            return Err(TrackingError::invalid(format!(
                                "Changing param values is not allowed. Param with key='{k}' was already logged with value='{old}' for logged model ID='{id}'. Attempted logging new value '{v}'."
                            )));
                        }
                    }
                }
                for (k, v) in params {
                    model.params.insert(k.clone(), v.clone());
                }
                model.last_updated_time = *now;
            }
            ModelWrite::LogMetrics { metrics, .. } => {
                for m in metrics {
                    match model.metrics.iter_mut().find(|old| {
                        old.key == m.key
                            && old.dataset_name == m.dataset_name
                            && old.dataset_digest == m.dataset_digest
                    }) {
                        Some(old) if (old.step, old.timestamp) > (m.step, m.timestamp) => {}
                        Some(old) => *old = m.clone(),
                        None => model.metrics.push(m.clone()),
                    }
                }
            }
            ModelWrite::Delete { now, .. } => {
                model.lifecycle = Lifecycle::Deleted;
                model.last_updated_time = *now;
            }
        }
        Ok(model)
    }
}

/// MLflow's answer for a model that does not exist (or is deleted).
pub fn not_found(id: ModelId) -> TrackingError {
    TrackingError::not_found(format!("Logged model with ID '{id}' not found."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LoggedModel {
        LoggedModel {
            id: ModelId::generate(),
            experiment_id: ExperimentId(0),
            name: "m".into(),
            artifact_location: String::new(),
            creation_time: 1,
            last_updated_time: 1,
            model_type: String::new(),
            source_run_id: None,
            status: ModelStatus::Pending,
            status_message: String::new(),
            tags: BTreeMap::new(),
            params: BTreeMap::new(),
            metrics: Vec::new(),
            lifecycle: Lifecycle::Active,
        }
    }

    #[test]
    fn ids_round_trip_and_refuse_other_shapes() {
        let id = ModelId::generate();
        assert_eq!(ModelId::parse(&id.to_string()).unwrap(), id);
        assert!(id.to_string().starts_with("m-") && id.to_string().len() == 34);
        for bad in [
            "",
            "m-",
            "m-xyz",
            "x-0123456789abcdef0123456789abcdef",
            "../m",
        ] {
            assert!(ModelId::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            ModelId::parse("m-nothex"),
            Err(TrackingError::NotFound(_))
        ));
    }

    #[test]
    fn finalize_once_then_only_the_same_status() {
        let m = model();
        let id = m.id;
        let ready = ModelWrite::Finalize {
            id,
            status: ModelStatus::Ready,
            now: 2,
        }
        .apply(Some(m))
        .unwrap();
        assert_eq!(ready.status, ModelStatus::Ready);
        let again = ModelWrite::Finalize {
            id,
            status: ModelStatus::Ready,
            now: 3,
        };
        assert_eq!(
            again.apply(Some(ready.clone())).unwrap().status,
            ModelStatus::Ready
        );
        let flip = ModelWrite::Finalize {
            id,
            status: ModelStatus::Failed,
            now: 3,
        };
        assert!(matches!(
            flip.apply(Some(ready)),
            Err(TrackingError::InvalidArgument(_))
        ));
    }

    #[test]
    fn params_are_write_once_and_deleted_models_refuse_writes() {
        let m = model();
        let id = m.id;
        let log = |k: &str, v: &str| ModelWrite::LogParams {
            id,
            params: vec![(k.into(), v.into())],
            now: 2,
        };
        let m = log("a", "1").apply(Some(m)).unwrap();
        let m = log("a", "1").apply(Some(m)).unwrap();
        assert!(log("a", "2").apply(Some(m.clone())).is_err());
        let deleted = ModelWrite::Delete { id, now: 3 }.apply(Some(m)).unwrap();
        assert!(matches!(
            log("b", "1").apply(Some(deleted)),
            Err(TrackingError::NotFound(_))
        ));
        assert!(matches!(
            log("b", "1").apply(None),
            Err(TrackingError::NotFound(_))
        ));
    }

    #[test]
    fn metrics_keep_the_latest_per_key_and_dataset() {
        let m = model();
        let id = m.id;
        let point = |key: &str, step: i64, value: f64, ds: &str| ModelMetric {
            key: key.into(),
            value,
            timestamp: step,
            step,
            dataset_name: ds.into(),
            dataset_digest: String::new(),
            run_id: None,
        };
        let m = ModelWrite::LogMetrics {
            id,
            metrics: vec![
                point("acc", 2, 0.9, ""),
                point("acc", 1, 0.5, ""),
                point("acc", 1, 0.7, "eval"),
            ],
        }
        .apply(Some(m))
        .unwrap();
        assert_eq!(m.metrics.len(), 2);
        assert_eq!(m.metric("acc"), Some(0.9));
    }
}

//! Input validation: MLflow's limits and name rules (`mlflow/utils/validation.py`).
//!
//! Every edge calls these through the [`Tracker`](crate::Tracker), so gRPC and REST refuse
//! exactly the same inputs with exactly the same messages.

use crate::domain::{DatasetInput, ModelOutput, Point, RunInputs, RunWrites};
use crate::error::{Result, TrackingError};

/// Longest metric, param or tag key, in characters.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value, in characters.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Longest run tag value, in characters.
pub const MAX_TAG_VALUE_LEN: usize = 8000;
/// Longest experiment name, in characters.
pub const MAX_EXPERIMENT_NAME_LEN: usize = 500;
/// Longest experiment tag key, in characters.
pub const MAX_EXPERIMENT_TAG_KEY_LEN: usize = 250;
/// Longest experiment tag value, in characters.
pub const MAX_EXPERIMENT_TAG_VALUE_LEN: usize = 5000;
/// Most metrics in one LogBatch.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params (and, separately, most tags) in one LogBatch.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// Most entities (metrics + params + tags) in one LogBatch.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// Longest artifact location, in characters.
pub const MAX_ARTIFACT_LOCATION_LEN: usize = 2048;
/// Most dataset inputs in one LogInputs.
pub const MAX_DATASETS_PER_BATCH: usize = 1000;
/// Longest dataset name, in characters.
pub const MAX_DATASET_NAME_LEN: usize = 500;
/// Longest dataset digest, in characters.
pub const MAX_DATASET_DIGEST_LEN: usize = 36;
/// Longest dataset source, in characters.
pub const MAX_DATASET_SOURCE_LEN: usize = 65535;
/// Longest dataset schema, in characters.
pub const MAX_DATASET_SCHEMA_LEN: usize = 1_048_575;
/// Longest dataset profile, in characters.
pub const MAX_DATASET_PROFILE_LEN: usize = 16_777_215;
/// Longest dataset source type, in characters.
pub const MAX_DATASET_SOURCE_TYPE_LEN: usize = 64;
/// Longest input tag key, in characters.
pub const MAX_INPUT_TAG_KEY_LEN: usize = 255;
/// Longest input tag value, in characters.
pub const MAX_INPUT_TAG_VALUE_LEN: usize = 500;
/// Longest model id, in characters.
pub const MAX_MODEL_ID_LEN: usize = 256;
/// Most model inputs or outputs in one request.
pub const MAX_MODELS_PER_BATCH: usize = 1000;

/// Shortens a hostile input for an error message (never echo a megabyte back).
pub fn abbreviate(s: &str) -> String {
    const SHOW: usize = 64;
    if s.chars().count() <= SHOW {
        s.escape_debug().to_string()
    } else {
        let head: String = s.chars().take(SHOW).collect();
        format!(
            "{}... ({} characters)",
            head.escape_debug(),
            s.chars().count()
        )
    }
}

/// MLflow's id pattern `^[a-zA-Z0-9][\w\-]{0,max_tail}$`.
pub fn looks_like_mlflow_id(s: &str, max_tail: usize) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    let mut n = 0;
    for c in chars {
        n += 1;
        if n > max_tail || !(c.is_alphanumeric() || c == '_' || c == '-') {
            return false;
        }
    }
    true
}

/// Validates a metric, param or tag key: non-empty, at most 250 characters, only
/// alphanumerics, `_ - . space : /`, and a normalised path (no empty, `.` or `..` segments).
pub fn key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(TrackingError::invalid(format!(
            "Missing value for required parameter 'key' ({kind} key must be a non-empty string)."
        )));
    }
    let len = key.chars().count();
    if len > MAX_KEY_LEN {
        return Err(TrackingError::invalid(format!(
            "{kind} key '{}' had length {len}, which exceeded length limit of {MAX_KEY_LEN}",
            abbreviate(key)
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/');
    if !key.chars().all(allowed) {
        return Err(TrackingError::invalid(format!(
            "Invalid {kind} name: '{}'. Names may only contain alphanumerics, underscores (_), \
             dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).",
            abbreviate(key)
        )));
    }
    if key
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(TrackingError::invalid(format!(
            "Invalid {kind} name: '{}'. Names cannot contain empty, '.' or '..' path segments \
             and cannot start or end with '/'.",
            abbreviate(key)
        )));
    }
    Ok(())
}

fn value_len(kind: &str, key: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(TrackingError::invalid(format!(
            "{kind} value '{}' for key '{}' had length {len}, which exceeded length limit of {max}",
            abbreviate(value),
            abbreviate(key)
        )));
    }
    Ok(())
}

/// Validates a param: key rules and value ≤ 6000 characters.
pub fn param(k: &str, v: &str) -> Result<()> {
    key("Param", k)?;
    value_len("Param", k, v, MAX_PARAM_VALUE_LEN)
}

/// Validates the tags a run is created with: each as [`tag`], and at most MLflow's
/// per-batch count of tags ([`MAX_PARAMS_TAGS_PER_BATCH`]), so one request cannot grow a
/// run without bound.
pub fn create_run_tags(tags: &[(String, String)]) -> Result<()> {
    if tags.len() > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(TrackingError::invalid(format!(
            "A run can be created with at most {MAX_PARAMS_TAGS_PER_BATCH} tags, got {}; set \
             more with LogBatch.",
            tags.len()
        )));
    }
    tags.iter().try_for_each(|(k, v)| tag(k, v))
}

/// Validates a run tag: key rules and value ≤ 8000 characters.
pub fn tag(k: &str, v: &str) -> Result<()> {
    key("Tag", k)?;
    value_len("Tag", k, v, MAX_TAG_VALUE_LEN)
}

/// Validates an experiment tag: non-empty key ≤ 250 characters, value ≤ 5000 characters.
pub fn experiment_tag(k: &str, v: &str) -> Result<()> {
    if k.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'key'.",
        ));
    }
    if k.chars().count() > MAX_EXPERIMENT_TAG_KEY_LEN {
        return Err(TrackingError::invalid(format!(
            "Experiment tag key '{}' exceeded length limit of {MAX_EXPERIMENT_TAG_KEY_LEN}",
            abbreviate(k)
        )));
    }
    value_len("Experiment tag", k, v, MAX_EXPERIMENT_TAG_VALUE_LEN)
}

/// Validates a metric point: key rules and timestamp ≥ 0 (any value, any step).
pub fn metric(k: &str, p: &Point) -> Result<()> {
    metric_series(k, std::slice::from_ref(p))
}

/// Validates the points of one metric key: the key once, every timestamp ≥ 0.
pub fn metric_series(k: &str, points: &[Point]) -> Result<()> {
    key("Metric", k)?;
    if let Some(p) = points.iter().find(|p| p.timestamp < 0) {
        return Err(TrackingError::invalid(format!(
            "Metric '{}' has a negative timestamp ({}); timestamps are milliseconds since the epoch.",
            abbreviate(k),
            p.timestamp
        )));
    }
    Ok(())
}

/// Validates an experiment name: non-empty, at most 500 characters.
pub fn experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'name'. Invalid experiment name: ''.",
        ));
    }
    let len = name.chars().count();
    if len > MAX_EXPERIMENT_NAME_LEN {
        return Err(TrackingError::invalid(format!(
            "Experiment name '{}' had length {len}, which exceeded length limit of {MAX_EXPERIMENT_NAME_LEN}",
            abbreviate(name)
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(TrackingError::invalid(format!(
            "Invalid experiment name '{}': control characters are not allowed.",
            abbreviate(name)
        )));
    }
    Ok(())
}

/// Validates the shape of a LogBatch: MLflow's count limits, unique param keys, and every
/// entity's own rules.
pub fn log_batch(writes: &RunWrites) -> Result<()> {
    let metrics = writes.point_count();
    let (params, tags) = (writes.params.len(), writes.tags.len());
    if metrics > MAX_METRICS_PER_BATCH {
        return Err(TrackingError::invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. Got {metrics} metrics."
        )));
    }
    if params > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(TrackingError::invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params. Got {params} params."
        )));
    }
    if tags > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(TrackingError::invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags. Got {tags} tags."
        )));
    }
    if metrics + params + tags > MAX_ENTITIES_PER_BATCH {
        return Err(TrackingError::invalid(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} entities in total. \
             Got {} entities.",
            metrics + params + tags
        )));
    }
    run_writes(writes)?;
    unique_param_keys(&writes.params)
}

/// Validates every entity of a write set (no count limits: streams have their own).
pub fn run_writes(writes: &RunWrites) -> Result<()> {
    for (k, points) in &writes.metrics {
        metric_series(k, points)?;
    }
    for (k, v) in &writes.params {
        param(k, v)?;
    }
    for (k, v) in &writes.tags {
        tag(k, v)?;
    }
    Ok(())
}

/// Refuses a batch that names one param key twice (MLflow's rule).
pub fn unique_param_keys(params: &[(String, String)]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    let mut dups: Vec<&str> = Vec::new();
    for (k, _) in params {
        if !seen.insert(k.as_str()) && !dups.contains(&k.as_str()) {
            dups.push(k);
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(TrackingError::invalid(format!(
            "Duplicate parameter keys have been submitted: {dups:?}. Please ensure the request \
             contains only one param value per param key."
        )))
    }
}

fn field_len(what: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(TrackingError::invalid(format!(
            "{what} exceeds the maximum length of {max}"
        )));
    }
    Ok(())
}

fn no_nul(what: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(TrackingError::invalid(format!(
            "{what} '{}' contains a NUL character",
            abbreviate(value)
        )));
    }
    Ok(())
}

/// Validates one dataset input: name, digest, source type and source present, MLflow's
/// length limits for every field and input tag.
pub fn dataset_input(input: &DatasetInput) -> Result<()> {
    let d = &input.dataset;
    if d.name.is_empty() || d.digest.is_empty() || d.source_type.is_empty() || d.source.is_empty() {
        return Err(TrackingError::invalid(
            "Dataset must have name, digest, source_type and source",
        ));
    }
    field_len("Dataset name", &d.name, MAX_DATASET_NAME_LEN)?;
    no_nul("Dataset name", &d.name)?;
    field_len("Dataset digest", &d.digest, MAX_DATASET_DIGEST_LEN)?;
    no_nul("Dataset digest", &d.digest)?;
    field_len(
        "Dataset source_type",
        &d.source_type,
        MAX_DATASET_SOURCE_TYPE_LEN,
    )?;
    field_len("Dataset source", &d.source, MAX_DATASET_SOURCE_LEN)?;
    field_len("Dataset schema", &d.schema, MAX_DATASET_SCHEMA_LEN)?;
    field_len("Dataset profile", &d.profile, MAX_DATASET_PROFILE_LEN)?;
    for (k, v) in &input.tags {
        if k.is_empty() {
            return Err(TrackingError::invalid("Input tag key cannot be empty"));
        }
        field_len("Input tag key", k, MAX_INPUT_TAG_KEY_LEN)?;
        field_len("Input tag value", v, MAX_INPUT_TAG_VALUE_LEN)?;
    }
    Ok(())
}

fn model_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(TrackingError::invalid(
            "Missing value for required parameter 'model_id'.",
        ));
    }
    field_len("Model id", id, MAX_MODEL_ID_LEN)?;
    no_nul("Model id", id)
}

fn count(what: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(TrackingError::invalid(format!(
            "A request may carry at most {max} {what}; got {n}."
        )));
    }
    Ok(())
}

/// Validates LogInputs: at most 1000 datasets and 1000 models, each valid.
pub fn run_inputs(inputs: &RunInputs) -> Result<()> {
    count(
        "dataset inputs",
        inputs.datasets.len(),
        MAX_DATASETS_PER_BATCH,
    )?;
    count("model inputs", inputs.models.len(), MAX_MODELS_PER_BATCH)?;
    inputs.datasets.iter().try_for_each(dataset_input)?;
    inputs.models.iter().try_for_each(|m| model_id(m))
}

/// Validates LogOutputs: at most 1000 models, each with a valid id.
pub fn run_outputs(outputs: &[ModelOutput]) -> Result<()> {
    count("model outputs", outputs.len(), MAX_MODELS_PER_BATCH)?;
    outputs.iter().try_for_each(|m| model_id(&m.model_id))
}

/// Validates a LogModel description: a JSON object with MLflow's mandatory fields.
pub fn logged_model(model_json: &str) -> Result<()> {
    let parsed: serde_json::Value = serde_json::from_str(model_json).map_err(|_| {
        TrackingError::invalid(format!(
            "Malformed model info. '{}' is not a valid JSON.",
            abbreviate(model_json)
        ))
    })?;
    let object = parsed.as_object().ok_or_else(|| {
        TrackingError::invalid("Malformed model info: model_json must be a JSON object.")
    })?;
    let missing: Vec<&str> = ["artifact_path", "flavors", "run_id", "utc_time_created"]
        .into_iter()
        .filter(|f| !object.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        return Err(TrackingError::invalid(format!(
            "Model json is missing mandatory fields: {missing:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["loss", "a/b", "val loss", "x:y", "a.b-c_d", "ünïcode", "1"] {
            key("Metric", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "../x",
            "/x",
            "a//b",
            ".",
            "a/",
            "a/./b",
            "a\\b",
            "emoji😀",
            "semi;colon",
        ] {
            assert!(key("Metric", bad).is_err(), "{bad:?} should be refused");
        }
        assert!(key("Metric", &"k".repeat(250)).is_ok());
        assert!(key("Metric", &"k".repeat(251)).is_err());
    }

    #[test]
    fn ids_are_recognised() {
        assert!(looks_like_mlflow_id("abc-1_2", 255));
        assert!(!looks_like_mlflow_id(";drop", 255));
        assert!(!looks_like_mlflow_id(&"a".repeat(300), 255));
        assert!(!looks_like_mlflow_id("", 255));
    }

    #[test]
    fn abbreviate_bounds_messages() {
        let long = "x".repeat(1_000_000);
        assert!(abbreviate(&long).len() < 200);
    }

    #[test]
    fn duplicate_params_are_named() {
        let params = vec![("a".into(), "1".into()), ("a".into(), "1".into())];
        let err = unique_param_keys(&params).unwrap_err();
        assert!(err.to_string().contains("Duplicate parameter keys"));
    }
}

//! MLflow's state rules, applied by the single writer against the current stored state.

use crate::domain::{validate, Experiment, Lifecycle, RunId, RunInfo, LOGGED_MODELS_TAG};
use crate::error::{Result, TrackingError};

/// Writes (metrics, params, tags, renames) need an active run; finished runs accept writes.
pub fn ensure_run_active(run: &RunInfo) -> Result<()> {
    if run.lifecycle == Lifecycle::Active {
        Ok(())
    } else {
        Err(TrackingError::invalid(format!(
            "The run {} must be in the 'active' state. Current state is {}.",
            run.run_id,
            run.lifecycle.as_str()
        )))
    }
}

/// Runs are created only in active experiments.
pub fn ensure_experiment_active(exp: &Experiment) -> Result<()> {
    if exp.lifecycle == Lifecycle::Active {
        Ok(())
    } else {
        Err(TrackingError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.id,
            exp.lifecycle.as_str()
        )))
    }
}

/// Params are write-once: the same value again is accepted, another value is refused with
/// MLflow's wording.
pub fn param_unchanged(run: RunId, key: &str, old: &str, new: &str) -> Result<()> {
    if old == new {
        Ok(())
    } else {
        Err(TrackingError::invalid(format!(
            "Changing param values is not allowed. Param with key='{key}' was already logged with \
             value='{old}' for run ID='{run}'. Attempted logging new value '{new}'."
        )))
    }
}

/// The artifact URI of a run of an experiment whose artifact location is `location`.
pub fn run_artifact_uri(location: &str, run: RunId) -> String {
    format!("{}/{run}/artifacts", location.trim_end_matches('/'))
}

/// The `mlflow.log-model.history` tag after appending one model (a JSON object, already
/// validated) to its JSON list, refused if the list would outgrow a tag value.
pub fn append_logged_model(previous: Option<&str>, model_json: &str) -> Result<String> {
    let mut history: Vec<serde_json::Value> = match previous {
        Some(text) => serde_json::from_str(text).map_err(|_| {
            TrackingError::invalid(format!(
                "The run's '{LOGGED_MODELS_TAG}' tag is not a JSON list; delete or fix it first."
            ))
        })?,
        None => Vec::new(),
    };
    let model: serde_json::Value = serde_json::from_str(model_json)
        .map_err(|_| TrackingError::invalid("Malformed model info: not valid JSON."))?;
    history.push(model);
    let text = serde_json::Value::Array(history).to_string();
    validate::tag(LOGGED_MODELS_TAG, &text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::append_logged_model;

    #[test]
    fn logged_model_history_appends_and_is_bounded() {
        let model = r#"{"artifact_path":"m","flavors":{},"run_id":"r","utc_time_created":"t"}"#;
        let one = append_logged_model(None, model).unwrap();
        let two = append_logged_model(Some(&one), model).unwrap();
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&two).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(append_logged_model(Some("not a list"), model).is_err());
        let big = format!(
            r#"{{"artifact_path":"{}","flavors":{{}}}}"#,
            "x".repeat(8000)
        );
        assert!(
            append_logged_model(None, &big).is_err(),
            "the tag value limit holds"
        );
    }
}

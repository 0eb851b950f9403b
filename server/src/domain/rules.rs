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

/// Params are write-once: `conflicts` lists each `(key, stored value, new value)` whose
/// values differ; none is fine, one gets MLflow's single-param wording, several its list.
pub fn params_unchanged(run: RunId, conflicts: &[(String, String, String)]) -> Result<()> {
    match conflicts {
        [] => Ok(()),
        [(k, old, new)] => param_unchanged(run, k, old, new),
        many => {
            let listed: Vec<String> = many
                .iter()
                .map(|(k, o, n)| format!("{{key: '{k}', old_value: '{o}', new_value: '{n}'}}"))
                .collect();
            Err(TrackingError::invalid(format!(
                "Changing param values is not allowed. Params were already logged='[{}]' for run ID='{run}'.",
                listed.join(", ")
            )))
        }
    }
}

/// A new experiment's artifact location may not be, contain, or lie inside another
/// experiment's (deleted ones too: they can be restored), so no experiment's runs can land
/// in another's tree, or be listed or deleted through it.
pub fn ensure_locations_apart(location: &str, existing: &Experiment) -> Result<()> {
    let inside =
        |a: &str, b: &str| a == b || (a.starts_with(b) && a.as_bytes().get(b.len()) == Some(&b'/'));
    let new = location.trim_end_matches('/');
    let old = existing.artifact_location.trim_end_matches('/');
    if inside(new, old) || inside(old, new) {
        return Err(TrackingError::invalid(format!(
            "Invalid artifact_location '{}': it overlaps the artifact location of experiment {} \
             ('{}'); each experiment needs a tree of its own.",
            validate::abbreviate(location),
            existing.id,
            validate::abbreviate(&existing.artifact_location)
        )));
    }
    Ok(())
}

/// Where a LogStream batch stands in its stream's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// The next batch: store it.
    Next,
    /// A batch stored before (a re-send after a lost acknowledgement): store nothing.
    Resent,
}

/// Sequence numbers of a stream are contiguous: a stream the server has no record of
/// starts at 1, each batch is the one after the last stored, and a number at or below the
/// last stored is a re-send. A gap (batches lost on the way) is an error: acknowledging it
/// would let a later re-send of the missing batch pass as stored.
pub fn stream_sequence(stream_id: &str, last: Option<u64>, seq: u64) -> Result<SequenceCheck> {
    match last {
        None if seq == 1 => Ok(SequenceCheck::Next),
        None => Err(TrackingError::invalid(format!(
            "LogStream '{}': the server has no record of this stream, so its first batch must \
             have seq 1, got {seq} (a stream idle longer than the server's retention starts \
             over with a new stream id).",
            validate::abbreviate(stream_id)
        ))),
        Some(last) if seq <= last => Ok(SequenceCheck::Resent),
        Some(last) if seq == last + 1 => Ok(SequenceCheck::Next),
        Some(last) => Err(TrackingError::invalid(format!(
            "LogStream '{}': seq {seq} does not follow the last stored batch, seq {last}; \
             batches {} to {} never arrived. Nothing of this batch was stored.",
            validate::abbreviate(stream_id),
            last + 1,
            seq - 1
        ))),
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
    use super::{append_logged_model, stream_sequence, SequenceCheck};

    #[test]
    fn stream_sequences_are_contiguous() {
        assert_eq!(stream_sequence("s", None, 1).unwrap(), SequenceCheck::Next);
        assert!(stream_sequence("s", None, 2).is_err());
        assert!(stream_sequence("s", None, u64::MAX).is_err());
        assert_eq!(
            stream_sequence("s", Some(1), 2).unwrap(),
            SequenceCheck::Next
        );
        assert_eq!(
            stream_sequence("s", Some(5), 5).unwrap(),
            SequenceCheck::Resent
        );
        assert_eq!(
            stream_sequence("s", Some(5), 1).unwrap(),
            SequenceCheck::Resent
        );
        let gap = stream_sequence("s", Some(1), 3).unwrap_err().to_string();
        assert!(gap.contains("batches 2 to 2 never arrived"), "{gap}");
        assert!(stream_sequence("s", Some(u64::MAX), u64::MAX).is_ok());
    }

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

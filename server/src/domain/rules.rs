//! MLflow's state rules, applied by the single writer against the current stored state.

use crate::domain::{Experiment, Lifecycle, RunId, RunInfo};
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

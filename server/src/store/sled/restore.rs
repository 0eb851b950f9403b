//! Restores ([`Restore`]): records written as another store holds them (`trackd copy`).
//! Applied by the single writer like every op; none of the rules for new writes apply, and a
//! restored record replaces what is stored under its id.

use super::writer::{
    append_points, load_experiment, load_run, next_experiment_id, save_experiment, save_run,
    store_err, NEXT_EXPERIMENT_ID,
};
use super::{keys, purge, Trees};
use crate::domain::{Experiment, Outcome, Restore, Run};
use crate::error::{Result, TrackingError};

/// Applies one restore.
pub(crate) fn apply(t: &Trees, restore: &Restore) -> Result<Outcome> {
    match restore {
        Restore::Experiment(exp) => experiment(t, exp),
        Restore::Run(run) => self::run(t, run),
        Restore::Points {
            run_id,
            key,
            points,
        } => {
            load_run(t, *run_id)?;
            let points_stored = append_points(t, *run_id, key, points, false)? as u64;
            Ok(Outcome::Logged { points_stored })
        }
    }
}

fn experiment(t: &Trees, exp: &Experiment) -> Result<Outcome> {
    let id_bytes = exp.id.0.to_be_bytes();
    if let Some(owner) = t
        .experiment_names
        .get(exp.name.as_bytes())
        .map_err(store_err)?
    {
        if owner.as_ref() != id_bytes {
            return Err(TrackingError::AlreadyExists(format!(
                "Experiment '{}' already exists with another id.",
                exp.name
            )));
        }
    }
    if let Ok(old) = load_experiment(t, exp.id) {
        if old.name != exp.name {
            t.experiment_names
                .remove(old.name.as_bytes())
                .map_err(store_err)?;
        }
    }
    t.experiment_names
        .insert(exp.name.as_bytes(), &id_bytes)
        .map_err(store_err)?;
    save_experiment(t, exp)?;
    if exp.id.0 >= next_experiment_id(t)? {
        t.meta
            .insert(NEXT_EXPERIMENT_ID, &(exp.id.0 + 1).to_be_bytes())
            .map_err(store_err)?;
    }
    Ok(Outcome::Done)
}

fn run(t: &Trees, run: &Run) -> Result<Outcome> {
    let id = run.info.run_id;
    load_experiment(t, run.info.experiment_id)?;
    if let Ok(old) = load_run(t, id) {
        purge::remove_run(t, &old)?;
    }
    // Index first, record last, as a new run is written.
    t.experiment_runs
        .insert(keys::experiment_run(run.info.experiment_id, id), &[])
        .map_err(store_err)?;
    for (k, v) in &run.params {
        t.params
            .insert(keys::run_child(id, k), v.as_bytes())
            .map_err(store_err)?;
    }
    for (k, v) in &run.tags {
        t.tags
            .insert(keys::run_child(id, k), v.as_bytes())
            .map_err(store_err)?;
    }
    super::run_io::write(t, id, &run.inputs, &run.outputs)?;
    save_run(t, &run.info)?;
    Ok(Outcome::Done)
}

//! Restores ([`Restore`]): records written as another store holds them (`trackd copy`),
//! each in the writer's transaction like every op. None of the rules for new writes apply,
//! and a restored record replaces what is stored under its id.

use super::reads::{encode, RunData};
use super::writer::{lock_run, write_run, Applied, EXPERIMENT_NAMES_LOCK};
use crate::domain::{Experiment, Lifecycle, Outcome, Restore, Run, RunWrites};
use crate::error::TrackingError;
use tokio_postgres::Transaction;

/// Applies one restore.
pub(super) async fn apply(t: &Transaction<'_>, restore: &Restore) -> Applied {
    match restore {
        Restore::Experiment(exp) => experiment(t, exp).await,
        Restore::Run(run) => self::run(t, run).await,
        Restore::Points {
            run_id,
            key,
            points,
        } => {
            let mut run = match lock_run(t, *run_id).await? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let writes = RunWrites {
                metrics: vec![(key.clone(), points.clone())],
                ..RunWrites::default()
            };
            Ok(write_run(t, &mut run, &writes, false)
                .await?
                .map(|points_stored| Outcome::Logged { points_stored }))
        }
    }
}

async fn experiment(t: &Transaction<'_>, exp: &Experiment) -> Applied {
    t.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&EXPERIMENT_NAMES_LOCK],
    )
    .await?;
    let id = exp.id.0 as i64;
    let owner = t
        .query_opt(
            "SELECT id FROM trackd_experiments WHERE name = $1",
            &[&exp.name],
        )
        .await?;
    if owner.is_some_and(|row| row.get::<_, i64>(0) != id) {
        return Ok(Err(TrackingError::AlreadyExists(format!(
            "Experiment '{}' already exists with another id.",
            exp.name
        ))));
    }
    t.execute(
        "INSERT INTO trackd_experiments (id, name, record) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, record = EXCLUDED.record",
        &[&id, &exp.name, &encode(exp)],
    )
    .await?;
    // The sequence moves past the id when the id is at or beyond what it would hand out.
    t.execute(
        "SELECT setval('trackd_experiment_ids', $1) FROM trackd_experiment_ids \
         WHERE $1 >= CASE WHEN is_called THEN last_value + 1 ELSE last_value END",
        &[&id],
    )
    .await?;
    Ok(Ok(Outcome::Done))
}

async fn run(t: &Transaction<'_>, run: &Run) -> Applied {
    let info = &run.info;
    let run_id = &info.run_id.0[..];
    let exists = t
        .query_opt(
            "SELECT 1 FROM trackd_experiments WHERE id = $1",
            &[&(info.experiment_id.0 as i64)],
        )
        .await?
        .is_some();
    if !exists {
        return Ok(Err(TrackingError::not_found(format!(
            "No Experiment with id={} exists",
            info.experiment_id
        ))));
    }
    let mut data = RunData {
        params: run.params.clone(),
        tags: run.tags.clone(),
        ..RunData::default()
    };
    data.link(&run.inputs, &run.outputs);
    t.execute(
        "DELETE FROM trackd_metric_chunks WHERE run_id = $1",
        &[&run_id],
    )
    .await?;
    // An upsert, not a delete and insert: the version keeps growing, so no replica's search
    // cache can take the new record for the one it decoded before.
    t.execute(
        "INSERT INTO trackd_runs (run_id, experiment_id, deleted, info, data) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run_id) DO UPDATE SET experiment_id = EXCLUDED.experiment_id, \
           deleted = EXCLUDED.deleted, info = EXCLUDED.info, data = EXCLUDED.data, \
           version = trackd_runs.version + 1",
        &[
            &run_id,
            &(info.experiment_id.0 as i64),
            &(info.lifecycle == Lifecycle::Deleted),
            &encode(info),
            &encode(&data),
        ],
    )
    .await?;
    Ok(Ok(Outcome::Done))
}

//! The writer task: applies queued [`WriteOp`]s in queue order, a group per transaction,
//! each op in a savepoint, checking MLflow's rules against rows it has locked.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Weak;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Transaction};

use super::reads::{decode, encode, RunData};
use super::{Inner, PgError, Queued};
use crate::domain::{
    rules, Experiment, ExperimentId, Lifecycle, ModelWrite, Outcome, Point, RegistryWrite, RunId,
    RunInfo, RunStatus, RunWrites, WriteOp, LOGGED_MODELS_TAG, RUN_NAME_TAG,
};
use crate::error::{Result, TrackingError};
use crate::store::series::{chunk, Span, MAX_CHUNK_POINTS, MERGE_BELOW};
use crate::store::{default_experiment, new_experiment};

/// Advisory lock serialising experiment creations and renames across replicas (names are
/// unique by index too; the lock makes the artifact-location overlap check race-free).
pub(super) const EXPERIMENT_NAMES_LOCK: i64 = 0x7472_6163_6b65;
/// Times a group is replayed after a deadlock or serialization failure.
const MAX_ATTEMPTS: usize = 8;

/// An op's result inside a group: the outer error aborts the transaction (a database
/// failure), the inner one refuses only this op.
pub(super) type Applied = std::result::Result<Result<Outcome>, tokio_postgres::Error>;

/// Creates the default experiment `0` if the database has none.
pub(super) async fn ensure_default_experiment(
    client: &impl GenericClient,
) -> std::result::Result<(), PgError> {
    let exp = default_experiment(crate::domain::now_ms());
    client
        .execute(
            "INSERT INTO trackd_experiments (id, name, record) VALUES (0, $1, $2) \
             ON CONFLICT DO NOTHING",
            &[&exp.name, &encode(&exp)],
        )
        .await?;
    Ok(())
}

/// How often stream records past their retention are removed.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The writer's settings.
pub(super) struct Settings {
    /// Most ops in one transaction.
    pub max_group: usize,
    /// How long a stream's sequence record outlives its last batch.
    pub stream_retention: std::time::Duration,
}

/// Removes stream records idle longer than `retention`; how many.
async fn prune_streams(
    pool: &Pool,
    retention: std::time::Duration,
) -> std::result::Result<u64, PgError> {
    let cutoff = crate::domain::now_ms().saturating_sub(retention.as_millis() as i64);
    let client = pool.get().await?;
    Ok(client
        .execute(
            "DELETE FROM trackd_streams WHERE updated_ms < $1",
            &[&cutoff],
        )
        .await?)
}

/// The writer loop; ends when every sender is gone and the queue is drained.
pub(super) async fn run(
    pool: Pool,
    mut queue: mpsc::Receiver<Queued>,
    settings: Settings,
    inner: Weak<Inner>,
) {
    let max_group = settings.max_group;
    let mut group: Vec<Queued> = Vec::new();
    let mut pruned_at: Option<std::time::Instant> = None;
    while let Some(first) = queue.recv().await {
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(std::time::Instant::now());
            match prune_streams(&pool, settings.stream_retention).await {
                Ok(n) => {
                    if let Some(inner) = inner.upgrade() {
                        inner
                            .stats
                            .stream_records_pruned
                            .fetch_add(n, Ordering::Relaxed);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "pruning LogStream records failed"),
            }
        }
        group.push(first);
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(q) => group.push(q),
                Err(_) => break,
            }
        }
        let ops: Vec<&WriteOp> = group.iter().map(|q| &q.op).collect();
        let result = commit_group(&pool, &ops, &inner).await;
        if let Some(inner) = inner.upgrade() {
            let s = &inner.stats;
            s.queue_depth
                .fetch_sub(group.len() as u64, Ordering::Relaxed);
            if let Ok((outcomes, commit_micros)) = &result {
                s.groups.fetch_add(1, Ordering::Relaxed);
                s.commit_micros.fetch_add(*commit_micros, Ordering::Relaxed);
                s.ops.fetch_add(group.len() as u64, Ordering::Relaxed);
                let points: u64 = outcomes
                    .iter()
                    .map(|o| match o {
                        Ok(Outcome::Logged { points_stored })
                        | Ok(Outcome::Stream { points_stored, .. }) => *points_stored,
                        _ => 0,
                    })
                    .sum();
                s.points.fetch_add(points, Ordering::Relaxed);
            }
        }
        match result {
            Ok((outcomes, _)) => {
                for (q, outcome) in group.drain(..).zip(outcomes) {
                    let _ = q.answer.send(outcome);
                }
            }
            Err(e) => {
                let e = TrackingError::from(e);
                tracing::warn!(error = %e, ops = group.len(), "a write group failed");
                for q in group.drain(..) {
                    let _ = q.answer.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Applies a group in one transaction, replaying it after a deadlock or serialization
/// failure with another replica. Returns the outcomes and the time COMMIT took (µs).
async fn commit_group(
    pool: &Pool,
    ops: &[&WriteOp],
    inner: &Weak<Inner>,
) -> std::result::Result<(Vec<Result<Outcome>>, u64), PgError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut client = pool.get().await?;
        match try_group(&mut client, ops).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => {
                if let Some(inner) = inner.upgrade() {
                    inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(error = %e, attempt, "replaying a write group");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
    )
}

async fn try_group(
    client: &mut deadpool_postgres::Client,
    ops: &[&WriteOp],
) -> std::result::Result<(Vec<Result<Outcome>>, u64), tokio_postgres::Error> {
    let mut tx = client.transaction().await?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        let sp = tx.savepoint("op").await?;
        let outcome = apply(&sp, op).await?;
        if outcome.is_ok() {
            sp.commit().await?;
        } else {
            sp.rollback().await?;
        }
        outcomes.push(outcome);
    }
    let started = std::time::Instant::now();
    tx.commit().await?;
    Ok((outcomes, started.elapsed().as_micros() as u64))
}

/// Applies one op. Domain errors (the inner `Err`) are refusals: the savepoint is rolled
/// back.
async fn apply(t: &Transaction<'_>, op: &WriteOp) -> Applied {
    match op {
        WriteOp::CreateExperiment {
            name,
            artifact_location,
            tags,
            now,
        } => create_experiment(t, name, artifact_location.as_deref(), tags, *now).await,
        WriteOp::RenameExperiment { id, new_name, now } => {
            rename_experiment(t, *id, new_name, *now).await
        }
        WriteOp::SetExperimentLifecycle { id, lifecycle, now } => {
            set_experiment_lifecycle(t, *id, *lifecycle, *now).await
        }
        WriteOp::ExperimentTag { id, key, value } => {
            experiment_tag(t, *id, key, value.as_deref()).await
        }
        WriteOp::CreateRun { info, tags } => create_run(t, info, tags).await,
        WriteOp::UpdateRun {
            run_id,
            status,
            end_time,
            run_name,
        } => update_run(t, *run_id, *status, *end_time, run_name.as_deref()).await,
        WriteOp::SetRunLifecycle { run_id, lifecycle } => {
            set_run_lifecycle(t, *run_id, *lifecycle).await
        }
        WriteOp::Log { run_id, writes } => log(t, *run_id, writes).await,
        WriteOp::DeleteTag { run_id, key } => {
            with_active_run(t, *run_id, |_, data| {
                if data.tags.remove(key).is_none() {
                    return Err(TrackingError::not_found(format!(
                        "No tag with name: {key} in run with id {run_id}"
                    )));
                }
                Ok(Outcome::Done)
            })
            .await
        }
        WriteOp::LogIo {
            run_id,
            inputs,
            outputs,
        } => {
            with_active_run(t, *run_id, |_, data| {
                data.link(inputs, outputs);
                Ok(Outcome::Done)
            })
            .await
        }
        WriteOp::AppendLoggedModel { run_id, model_json } => {
            with_active_run(t, *run_id, |_, data| {
                let previous = data.tags.get(LOGGED_MODELS_TAG).map(String::as_str);
                let history = rules::append_logged_model(previous, model_json)?;
                data.tags.insert(LOGGED_MODELS_TAG.to_owned(), history);
                Ok(Outcome::Done)
            })
            .await
        }
        WriteOp::Model(write) => model_write(t, write).await,
        WriteOp::Registry(write) => registry_write(t, write).await,
        WriteOp::StreamBatch {
            stream_id,
            seq,
            runs,
            now,
        } => stream_batch(t, stream_id, *seq, runs, *now).await,
        WriteOp::Restore(restore) => super::restore::apply(t, restore).await,
    }
}

// --- experiments ------------------------------------------------------------------------

async fn load_experiment(
    t: &Transaction<'_>,
    id: ExperimentId,
    lock: &str,
) -> std::result::Result<Result<Experiment>, tokio_postgres::Error> {
    let row = t
        .query_opt(
            &format!("SELECT record FROM trackd_experiments WHERE id = $1 {lock}"),
            &[&(id.0 as i64)],
        )
        .await?;
    Ok(match row {
        Some(row) => decode(row.get(0)),
        None => Err(TrackingError::not_found(format!(
            "No Experiment with id={id} exists"
        ))),
    })
}

async fn save_experiment(
    t: &Transaction<'_>,
    exp: &Experiment,
) -> std::result::Result<(), tokio_postgres::Error> {
    t.execute(
        "UPDATE trackd_experiments SET name = $2, record = $3 WHERE id = $1",
        &[&(exp.id.0 as i64), &exp.name, &encode(exp)],
    )
    .await?;
    Ok(())
}

async fn name_free(
    t: &Transaction<'_>,
    name: &str,
) -> std::result::Result<Result<()>, tokio_postgres::Error> {
    let taken = t
        .query_opt("SELECT 1 FROM trackd_experiments WHERE name = $1", &[&name])
        .await?
        .is_some();
    Ok(if taken {
        Err(TrackingError::AlreadyExists(format!(
            "Experiment '{name}' already exists."
        )))
    } else {
        Ok(())
    })
}

async fn create_experiment(
    t: &Transaction<'_>,
    name: &str,
    location: Option<&str>,
    tags: &[(String, String)],
    now: i64,
) -> Applied {
    t.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&EXPERIMENT_NAMES_LOCK],
    )
    .await?;
    if let Err(e) = name_free(t, name).await? {
        return Ok(Err(e));
    }
    if let Some(location) = location {
        for row in t
            .query("SELECT record FROM trackd_experiments", &[])
            .await?
        {
            let existing: Experiment = match decode(row.get(0)) {
                Ok(e) => e,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = rules::ensure_locations_apart(location, &existing) {
                return Ok(Err(e));
            }
        }
    }
    let next: i64 = t
        .query_one("SELECT nextval('trackd_experiment_ids')", &[])
        .await?
        .get(0);
    let id = ExperimentId(next as u64);
    let exp = new_experiment(id, name, location, tags, now);
    t.execute(
        "INSERT INTO trackd_experiments (id, name, record) VALUES ($1, $2, $3)",
        &[&next, &exp.name, &encode(&exp)],
    )
    .await?;
    Ok(Ok(Outcome::ExperimentCreated(id)))
}

async fn rename_experiment(
    t: &Transaction<'_>,
    id: ExperimentId,
    new_name: &str,
    now: i64,
) -> Applied {
    t.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&EXPERIMENT_NAMES_LOCK],
    )
    .await?;
    let mut exp = match load_experiment(t, id, "FOR UPDATE").await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    if exp.lifecycle != Lifecycle::Active {
        return Ok(Err(TrackingError::InvalidState(format!(
            "Cannot rename a non-active experiment (experiment {id} is deleted)."
        ))));
    }
    if exp.name == new_name {
        return Ok(Ok(Outcome::Done));
    }
    if let Err(e) = name_free(t, new_name).await? {
        return Ok(Err(e));
    }
    exp.name = new_name.to_owned();
    exp.last_update_time = now;
    save_experiment(t, &exp).await?;
    Ok(Ok(Outcome::Done))
}

async fn set_experiment_lifecycle(
    t: &Transaction<'_>,
    id: ExperimentId,
    target: Lifecycle,
    now: i64,
) -> Applied {
    let mut exp = match load_experiment(t, id, "FOR UPDATE").await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    match target {
        Lifecycle::Deleted if id == ExperimentId::DEFAULT => {
            return Ok(Err(TrackingError::invalid(
                "Cannot delete the default experiment '0'.",
            )));
        }
        Lifecycle::Active if exp.lifecycle == Lifecycle::Active => {
            return Ok(Err(TrackingError::invalid(format!(
                "Cannot restore an active experiment (experiment {id} is not deleted)."
            ))));
        }
        _ => {}
    }
    exp.lifecycle = target;
    exp.last_update_time = now;
    // Cascade to the runs (MLflow's SQL store does the same in both directions).
    let deleted = target == Lifecycle::Deleted;
    let rows = t
        .query(
            "SELECT info FROM trackd_runs WHERE experiment_id = $1 AND deleted <> $2 \
             ORDER BY run_id FOR UPDATE",
            &[&(id.0 as i64), &deleted],
        )
        .await?;
    for row in rows {
        let mut info: RunInfo = match decode(row.get(0)) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        info.lifecycle = target;
        save_info(t, &info).await?;
    }
    save_experiment(t, &exp).await?;
    Ok(Ok(Outcome::Done))
}

async fn experiment_tag(
    t: &Transaction<'_>,
    id: ExperimentId,
    key: &str,
    value: Option<&str>,
) -> Applied {
    let mut exp = match load_experiment(t, id, "FOR UPDATE").await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = rules::ensure_experiment_active(&exp) {
        return Ok(Err(e));
    }
    match value {
        Some(v) => {
            exp.tags.insert(key.to_owned(), v.to_owned());
        }
        None => {
            if exp.tags.remove(key).is_none() {
                return Ok(Err(TrackingError::not_found(format!(
                    "No tag with name: {key} in experiment with id: {id}"
                ))));
            }
        }
    }
    save_experiment(t, &exp).await?;
    Ok(Ok(Outcome::Done))
}

// --- runs -------------------------------------------------------------------------------

/// A locked run row.
pub(super) struct LockedRun {
    info: RunInfo,
    data: RunData,
}

pub(super) async fn lock_run(
    t: &Transaction<'_>,
    id: RunId,
) -> std::result::Result<Result<LockedRun>, tokio_postgres::Error> {
    let row = t
        .query_opt(
            "SELECT info, data FROM trackd_runs WHERE run_id = $1 FOR UPDATE",
            &[&&id.0[..]],
        )
        .await?;
    Ok(match row {
        None => Err(TrackingError::not_found(format!(
            "Run with id={id} not found"
        ))),
        Some(row) => decode(row.get(0)).and_then(|info| {
            Ok(LockedRun {
                info,
                data: decode(row.get(1))?,
            })
        }),
    })
}

async fn save_info(
    t: &Transaction<'_>,
    info: &RunInfo,
) -> std::result::Result<(), tokio_postgres::Error> {
    t.execute(
        "UPDATE trackd_runs SET deleted = $2, info = $3, version = version + 1 \
         WHERE run_id = $1",
        &[
            &&info.run_id.0[..],
            &(info.lifecycle == Lifecycle::Deleted),
            &encode(info),
        ],
    )
    .await?;
    Ok(())
}

async fn save_run(
    t: &Transaction<'_>,
    run: &LockedRun,
) -> std::result::Result<(), tokio_postgres::Error> {
    t.execute(
        "UPDATE trackd_runs SET deleted = $2, info = $3, data = $4, version = version + 1 \
         WHERE run_id = $1",
        &[
            &&run.info.run_id.0[..],
            &(run.info.lifecycle == Lifecycle::Deleted),
            &encode(&run.info),
            &encode(&run.data),
        ],
    )
    .await?;
    Ok(())
}

/// Locks an active run, lets `change` modify it, and saves it.
async fn with_active_run(
    t: &Transaction<'_>,
    id: RunId,
    change: impl FnOnce(&mut RunInfo, &mut RunData) -> Result<Outcome>,
) -> Applied {
    let mut run = match lock_run(t, id).await? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = rules::ensure_run_active(&run.info) {
        return Ok(Err(e));
    }
    let outcome = match change(&mut run.info, &mut run.data) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    save_run(t, &run).await?;
    Ok(Ok(outcome))
}

async fn create_run(t: &Transaction<'_>, info: &RunInfo, tags: &[(String, String)]) -> Applied {
    let exp = match load_experiment(t, info.experiment_id, "FOR SHARE").await? {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = rules::ensure_experiment_active(&exp) {
        return Ok(Err(e));
    }
    let mut info = info.clone();
    info.artifact_uri = rules::run_artifact_uri(&exp.artifact_location, info.run_id);
    let data = RunData {
        tags: tags.iter().cloned().collect(),
        ..RunData::default()
    };
    let inserted = t
        .execute(
            "INSERT INTO trackd_runs (run_id, experiment_id, deleted, info, data) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &&info.run_id.0[..],
                &(info.experiment_id.0 as i64),
                &(info.lifecycle == Lifecycle::Deleted),
                &encode(&info),
                &encode(&data),
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(Err(TrackingError::AlreadyExists(format!(
            "Run with id={} already exists.",
            info.run_id
        ))));
    }
    Ok(Ok(Outcome::Run(Box::new(info))))
}

async fn update_run(
    t: &Transaction<'_>,
    id: RunId,
    status: Option<RunStatus>,
    end_time: Option<i64>,
    run_name: Option<&str>,
) -> Applied {
    with_active_run(t, id, |info, data| {
        info.apply_update(status, end_time, run_name);
        if let Some(name) = run_name {
            data.tags.insert(RUN_NAME_TAG.to_owned(), name.to_owned());
        }
        Ok(Outcome::Run(Box::new(info.clone())))
    })
    .await
}

async fn set_run_lifecycle(t: &Transaction<'_>, id: RunId, target: Lifecycle) -> Applied {
    let mut run = match lock_run(t, id).await? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if target == Lifecycle::Active {
        let exp = match load_experiment(t, run.info.experiment_id, "FOR SHARE").await? {
            Ok(e) => e,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = rules::ensure_experiment_active(&exp) {
            return Ok(Err(e));
        }
    }
    run.info.lifecycle = target;
    save_info(t, &run.info).await?;
    Ok(Ok(Outcome::Done))
}

async fn log(t: &Transaction<'_>, id: RunId, writes: &RunWrites) -> Applied {
    let mut run = match lock_run(t, id).await? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = rules::ensure_run_active(&run.info).and_then(|_| check_params(&run, writes)) {
        return Ok(Err(e));
    }
    match write_run(t, &mut run, writes, true).await? {
        Ok(points_stored) => Ok(Ok(Outcome::Logged { points_stored })),
        Err(e) => Ok(Err(e)),
    }
}

/// Refuses params whose stored value differs (write-once), naming every conflict.
fn check_params(run: &LockedRun, writes: &RunWrites) -> Result<()> {
    let conflicts: Vec<(String, String, String)> = writes
        .params
        .iter()
        .filter_map(|(k, v)| {
            let old = run.data.params.get(k)?;
            (old != v).then(|| (k.clone(), old.clone(), v.clone()))
        })
        .collect();
    rules::params_unchanged(run.info.run_id, &conflicts)
}

/// Writes params, tags and metrics of one locked run (rules already checked) and saves
/// it. Returns the number of points stored.
pub(super) async fn write_run(
    t: &Transaction<'_>,
    run: &mut LockedRun,
    writes: &RunWrites,
    dedup: bool,
) -> std::result::Result<Result<u64>, tokio_postgres::Error> {
    for (k, v) in &writes.params {
        run.data.params.insert(k.clone(), v.clone());
    }
    for (k, v) in &writes.tags {
        run.data.tags.insert(k.clone(), v.clone());
        if k == RUN_NAME_TAG {
            run.info.run_name = v.clone();
        }
    }
    let stored = match append_points(t, run, &writes.metrics, dedup).await? {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    save_run(t, run).await?;
    Ok(Ok(stored))
}

/// The newest chunk of a series, as the writer needs it.
struct Newest {
    no: i32,
    /// Decoded points, when the chunk is small enough to rewrite or `dedup` needs them.
    points: Option<Vec<Point>>,
    count: usize,
}

/// Appends points to the run's series (several entries of one key in order): a small
/// newest chunk is rewritten with the new points, chunks never exceed
/// [`MAX_CHUNK_POINTS`], and the run's latest values are updated. With `dedup`, exact
/// duplicates (within the batch or in the newest chunk) are skipped.
async fn append_points(
    t: &Transaction<'_>,
    run: &mut LockedRun,
    metrics: &[(String, Vec<Point>)],
    dedup: bool,
) -> std::result::Result<Result<u64>, tokio_postgres::Error> {
    // Points per key, in the order given.
    let mut series: BTreeMap<&str, Vec<Point>> = BTreeMap::new();
    for (key, points) in metrics {
        if !points.is_empty() {
            series
                .entry(key.as_str())
                .or_default()
                .extend_from_slice(points);
        }
    }
    if series.is_empty() {
        return Ok(Ok(0));
    }
    let run_id = &run.info.run_id.0[..];
    let keys: Vec<&str> = series.keys().copied().collect();
    let newest_rows = t
        .query(
            "SELECT k.key, c.no, c.count, c.points FROM unnest($2::text[]) AS k(key) \
             CROSS JOIN LATERAL ( \
               SELECT no, count, CASE WHEN count < $3 OR $4 THEN points END AS points \
               FROM trackd_metric_chunks WHERE run_id = $1 AND key = k.key \
               ORDER BY no DESC LIMIT 1) c",
            &[&run_id, &keys, &(MERGE_BELOW as i32), &dedup],
        )
        .await?;
    let mut newest: BTreeMap<String, Newest> = BTreeMap::new();
    for row in newest_rows {
        let key: String = row.get(0);
        let count: i32 = row.get(2);
        let bytes: Option<&[u8]> = row.get(3);
        let points = match bytes {
            Some(b) => match chunk::decode(b) {
                Ok(p) => Some(p),
                Err(e) => {
                    return Ok(Err(TrackingError::Corrupted(format!(
                        "run {} metric '{key}': {e}",
                        run.info.run_id
                    ))))
                }
            },
            None => None,
        };
        newest.insert(
            key,
            Newest {
                no: row.get(1),
                points,
                count: count as usize,
            },
        );
    }
    let mut rows = ChunkRows::default();
    let mut stored = 0u64;
    for (key, points) in series {
        let (mut carry, next_no, known): (Vec<Point>, i32, Vec<Point>) = match newest.remove(key) {
            None => (Vec::new(), 0, Vec::new()),
            Some(n) if n.count < MERGE_BELOW => {
                let p = n.points.unwrap_or_default();
                (p.clone(), n.no, if dedup { p } else { Vec::new() })
            }
            Some(n) => (
                Vec::new(),
                n.no.saturating_add(1),
                if dedup {
                    n.points.unwrap_or_default()
                } else {
                    Vec::new()
                },
            ),
        };
        let fresh: Vec<Point> = if dedup {
            let mut seen: HashSet<(i64, i64, u64)> = known
                .iter()
                .map(|p| (p.step, p.timestamp, p.value.to_bits()))
                .collect();
            points
                .into_iter()
                .filter(|p| seen.insert((p.step, p.timestamp, p.value.to_bits())))
                .collect()
        } else {
            points
        };
        if fresh.is_empty() {
            continue;
        }
        stored += fresh.len() as u64;
        let best = fresh
            .iter()
            .copied()
            .max_by(|a, b| a.latest_cmp(b))
            .expect("non-empty");
        let latest = run.data.metrics.entry(key.to_owned()).or_insert(best);
        if best.latest_cmp(latest).is_gt() {
            *latest = best;
        }
        carry.extend_from_slice(&fresh);
        for (i, piece) in carry.chunks(MAX_CHUNK_POINTS).enumerate() {
            rows.push(key, next_no.saturating_add(i as i32), piece);
        }
    }
    if !rows.keys.is_empty() {
        t.execute(
            "INSERT INTO trackd_metric_chunks \
               (run_id, key, no, min_step, max_step, count, span, points) \
             SELECT $1, * FROM unnest($2::text[], $3::int4[], $4::int8[], $5::int8[], \
               $6::int4[], $7::bytea[], $8::bytea[]) \
             ON CONFLICT (run_id, key, no) DO UPDATE SET min_step = excluded.min_step, \
               max_step = excluded.max_step, count = excluded.count, span = excluded.span, \
               points = excluded.points",
            &[
                &run_id,
                &rows.keys,
                &rows.nos,
                &rows.min_steps,
                &rows.max_steps,
                &rows.counts,
                &rows.spans,
                &rows.points,
            ],
        )
        .await?;
    }
    Ok(Ok(stored))
}

/// Chunk rows to upsert, as columns (one statement whatever the number).
#[derive(Default)]
struct ChunkRows {
    keys: Vec<String>,
    nos: Vec<i32>,
    min_steps: Vec<i64>,
    max_steps: Vec<i64>,
    counts: Vec<i32>,
    spans: Vec<Vec<u8>>,
    points: Vec<Vec<u8>>,
}

impl ChunkRows {
    fn push(&mut self, key: &str, no: i32, piece: &[Point]) {
        let span = Span::of(piece);
        let mut bytes = Vec::new();
        chunk::encode(piece, &mut bytes);
        self.keys.push(key.to_owned());
        self.nos.push(no);
        self.min_steps.push(span.min_step);
        self.max_steps.push(span.max_step);
        self.counts.push(piece.len() as i32);
        self.spans.push(span.encode().to_vec());
        self.points.push(bytes);
    }
}

async fn stream_batch(
    t: &Transaction<'_>,
    stream_id: &str,
    seq: u64,
    runs: &[(RunId, RunWrites)],
    now: i64,
) -> Applied {
    t.execute(
        "INSERT INTO trackd_streams (stream_id, last_seq, updated_ms) VALUES ($1, 0, $2) \
         ON CONFLICT DO NOTHING",
        &[&stream_id, &now],
    )
    .await?;
    let last: i64 = t
        .query_one(
            "SELECT last_seq FROM trackd_streams WHERE stream_id = $1 FOR UPDATE",
            &[&stream_id],
        )
        .await?
        .get(0);
    let last = (last > 0).then_some(last as u64);
    match rules::stream_sequence(stream_id, last, seq) {
        Ok(rules::SequenceCheck::Next) => {}
        Ok(rules::SequenceCheck::Resent) => {
            return Ok(Ok(Outcome::Stream {
                points_stored: 0,
                duplicate: true,
                refused: Vec::new(),
            }))
        }
        Err(e) => return Ok(Err(e)),
    }
    // Lock the runs in id order (replicas lock in the same order, so they do not deadlock).
    let mut ids: Vec<RunId> = runs.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    let mut locked: BTreeMap<RunId, Result<LockedRun>> = BTreeMap::new();
    for id in ids {
        locked.insert(id, lock_run(t, id).await?);
    }
    // Check every run before writing anything: a refused run writes nothing.
    let mut refused: Vec<(RunId, TrackingError)> = Vec::new();
    for (id, writes) in runs {
        if refused.iter().any(|(r, _)| r == id) {
            continue;
        }
        let checked = match locked.get(id).expect("locked above") {
            Ok(run) => rules::ensure_run_active(&run.info).and_then(|_| check_params(run, writes)),
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = checked {
            refused.push((*id, e));
        }
    }
    let mut stored = 0;
    for (id, writes) in runs {
        if refused.iter().any(|(r, _)| r == id) {
            continue;
        }
        let Some(Ok(run)) = locked.get_mut(id) else {
            continue;
        };
        match write_run(t, run, writes, false).await? {
            Ok(n) => stored += n,
            Err(e) => return Ok(Err(e)),
        }
    }
    // Even a batch whose every run was refused takes its sequence number.
    t.execute(
        "UPDATE trackd_streams SET last_seq = $2, updated_ms = $3 WHERE stream_id = $1",
        &[&stream_id, &(seq as i64), &now],
    )
    .await?;
    Ok(Ok(Outcome::Stream {
        points_stored: stored,
        duplicate: false,
        refused,
    }))
}

// --- models -----------------------------------------------------------------------------

async fn model_write(t: &Transaction<'_>, write: &ModelWrite) -> Applied {
    let id = write.model_id();
    let current = t
        .query_opt(
            "SELECT record FROM trackd_logged_models WHERE id = $1 FOR UPDATE",
            &[&&id.0[..]],
        )
        .await?;
    let current = match current.map(|row| decode(row.get(0))).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let model = match write.apply(current) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    t.execute(
        "INSERT INTO trackd_logged_models (id, experiment_id, record) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET experiment_id = excluded.experiment_id, \
         record = excluded.record",
        &[&&id.0[..], &(model.experiment_id.0 as i64), &encode(&model)],
    )
    .await?;
    Ok(Ok(Outcome::Model(Box::new(model))))
}

async fn registry_write(t: &Transaction<'_>, write: &RegistryWrite) -> Applied {
    let name = write.name();
    let current = t
        .query_opt(
            "SELECT record FROM trackd_registered_models WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?;
    let current = match current.map(|row| decode(row.get(0))).transpose() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let creating = current.is_none();
    if let RegistryWrite::Rename { new_name, .. } = write {
        if new_name != name {
            let taken = t
                .query_opt(
                    "SELECT 1 FROM trackd_registered_models WHERE name = $1 FOR UPDATE",
                    &[&new_name],
                )
                .await?
                .is_some();
            if taken {
                return Ok(Err(TrackingError::AlreadyExists(format!(
                    "Registered Model (name={new_name}) already exists."
                ))));
            }
        }
    }
    let next = match write.apply(current) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    match &next {
        Some(m) => {
            if m.name != name {
                t.execute(
                    "DELETE FROM trackd_registered_models WHERE name = $1",
                    &[&name],
                )
                .await?;
            }
            let verb = if creating {
                // Two replicas creating one name: the second insert finds the first.
                "ON CONFLICT DO NOTHING"
            } else {
                "ON CONFLICT (name) DO UPDATE SET record = excluded.record"
            };
            let written = t
                .execute(
                    &format!(
                        "INSERT INTO trackd_registered_models (name, record) VALUES ($1, $2) {verb}"
                    ),
                    &[&m.name, &encode(m)],
                )
                .await?;
            if written == 0 {
                return Ok(Err(TrackingError::AlreadyExists(format!(
                    "Registered Model (name={}) already exists.",
                    m.name
                ))));
            }
        }
        None => {
            t.execute(
                "DELETE FROM trackd_registered_models WHERE name = $1",
                &[&name],
            )
            .await?;
        }
    }
    Ok(Ok(Outcome::Registered(next.map(Box::new))))
}

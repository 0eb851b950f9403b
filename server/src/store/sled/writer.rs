//! The single writer: applies one [`WriteOp`] to the trees, checking MLflow's rules against
//! the current state. Only the committer thread calls [`apply`], so a check and the write it
//! guards cannot interleave with another write.
//!
//! Every op validates everything it needs before its first insert, so a refused op writes
//! nothing. An op's inserts are not atomic against a crash, but an op is acknowledged only
//! after the group's flush, so a crash can only lose (parts of) unacknowledged ops.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;

use super::streams::StreamRecord;
use super::{chunk, decode_record, encode_record, keys, StoreError, Trees};
use crate::domain::{
    rules, Experiment, ExperimentId, Lifecycle, LoggedModel, ModelId, ModelWrite, Outcome, Point,
    RegisteredModel, RegistryWrite, RunId, RunInfo, RunStatus, RunWrites, WriteOp,
    LOGGED_MODELS_TAG, RUN_NAME_TAG,
};
use crate::error::{Result, TrackingError};

pub use crate::store::series::{MAX_CHUNK_POINTS, MERGE_BELOW};

pub(super) const NEXT_EXPERIMENT_ID: &[u8] = b"next_experiment_id";

/// Applies one op. Domain errors leave the store unchanged.
pub(crate) fn apply(t: &Trees, op: &WriteOp) -> Result<Outcome> {
    match op {
        WriteOp::CreateExperiment {
            name,
            artifact_location,
            tags,
            now,
        } => create_experiment(t, name, artifact_location.as_deref(), tags, *now),
        WriteOp::RenameExperiment { id, new_name, now } => {
            rename_experiment(t, *id, new_name, *now)
        }
        WriteOp::SetExperimentLifecycle { id, lifecycle, now } => {
            set_experiment_lifecycle(t, *id, *lifecycle, *now)
        }
        WriteOp::ExperimentTag { id, key, value } => experiment_tag(t, *id, key, value.as_deref()),
        WriteOp::CreateRun { info, tags } => create_run(t, info, tags),
        WriteOp::UpdateRun {
            run_id,
            status,
            end_time,
            run_name,
        } => update_run(t, *run_id, *status, *end_time, run_name.as_deref()),
        WriteOp::SetRunLifecycle { run_id, lifecycle } => set_run_lifecycle(t, *run_id, *lifecycle),
        WriteOp::Log { run_id, writes } => {
            let run = active_run(t, *run_id)?;
            check_params(t, *run_id, &writes.params)?;
            let points_stored = write_run(t, &run, writes, true)?;
            Ok(Outcome::Logged { points_stored })
        }
        WriteOp::DeleteTag { run_id, key } => delete_tag(t, *run_id, key),
        WriteOp::LogIo {
            run_id,
            inputs,
            outputs,
        } => {
            active_run(t, *run_id)?;
            super::run_io::write(t, *run_id, inputs, outputs)?;
            Ok(Outcome::Done)
        }
        WriteOp::AppendLoggedModel { run_id, model_json } => {
            append_logged_model(t, *run_id, model_json)
        }
        WriteOp::StreamBatch {
            stream_id,
            seq,
            runs,
            now,
        } => stream_batch(t, stream_id, *seq, runs, *now),
        WriteOp::Model(write) => model_write(t, write),
        WriteOp::Registry(write) => registry_write(t, write),
        WriteOp::Restore(restore) => super::restore::apply(t, restore),
    }
}

/// A logged-model change: load, apply the shared rules, save.
fn model_write(t: &Trees, write: &ModelWrite) -> Result<Outcome> {
    let id = write.model_id();
    let current = load_logged_model(t, id).ok();
    let model = write.apply(current)?;
    t.logged_models
        .insert(id.0, encode_record(&model))
        .map_err(store_err)?;
    Ok(Outcome::Model(Box::new(model)))
}

/// A registry change: load the registered model, apply the shared rules, save (under its
/// new name after a rename, whose target must be free), or remove it.
fn registry_write(t: &Trees, write: &RegistryWrite) -> Result<Outcome> {
    let name = write.name();
    let current = match load_registered_model(t, name) {
        Ok(m) => Some(m),
        Err(TrackingError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    if let RegistryWrite::Rename { new_name, .. } = write {
        if new_name != name
            && t.registered_models
                .contains_key(new_name.as_bytes())
                .map_err(store_err)?
        {
            return Err(TrackingError::AlreadyExists(format!(
                "Registered Model (name={new_name}) already exists."
            )));
        }
    }
    let next = write.apply(current)?;
    match &next {
        Some(m) => {
            t.registered_models
                .insert(m.name.as_bytes(), encode_record(m))
                .map_err(store_err)?;
            if m.name != name {
                t.registered_models
                    .remove(name.as_bytes())
                    .map_err(store_err)?;
            }
        }
        None => {
            t.registered_models
                .remove(name.as_bytes())
                .map_err(store_err)?;
        }
    }
    Ok(Outcome::Registered(next.map(Box::new)))
}

/// A registered model by name.
pub(crate) fn load_registered_model(t: &Trees, name: &str) -> Result<RegisteredModel> {
    let bytes = t
        .registered_models
        .get(name.as_bytes())
        .map_err(store_err)?
        .ok_or_else(|| crate::domain::registry::registered_model_not_found(name))?;
    Ok(decode_record(&bytes)?)
}

/// A logged model by id, deleted ones included.
pub(crate) fn load_logged_model(t: &Trees, id: ModelId) -> Result<LoggedModel> {
    let bytes = t
        .logged_models
        .get(id.0)
        .map_err(store_err)?
        .ok_or_else(|| crate::domain::logged_model_not_found(id))?;
    Ok(decode_record(&bytes)?)
}

pub(super) fn store_err(e: sled::Error) -> TrackingError {
    StoreError::from(e).into()
}

pub(crate) fn load_experiment(t: &Trees, id: ExperimentId) -> Result<Experiment> {
    let bytes = t
        .experiments
        .get(keys::experiment(id))
        .map_err(store_err)?
        .ok_or_else(|| TrackingError::not_found(format!("No Experiment with id={id} exists")))?;
    Ok(decode_record(&bytes)?)
}

pub(crate) fn load_run(t: &Trees, id: RunId) -> Result<RunInfo> {
    let bytes = t
        .runs
        .get(keys::run(id))
        .map_err(store_err)?
        .ok_or_else(|| TrackingError::not_found(format!("Run with id={id} not found")))?;
    Ok(decode_record(&bytes)?)
}

fn active_run(t: &Trees, id: RunId) -> Result<RunInfo> {
    let run = load_run(t, id)?;
    rules::ensure_run_active(&run)?;
    Ok(run)
}

pub(super) fn save_experiment(t: &Trees, exp: &Experiment) -> Result<()> {
    t.experiments
        .insert(keys::experiment(exp.id), encode_record(exp))
        .map_err(store_err)?;
    Ok(())
}

pub(super) fn save_run(t: &Trees, run: &RunInfo) -> Result<()> {
    t.runs
        .insert(keys::run(run.run_id), encode_record(run))
        .map_err(store_err)?;
    Ok(())
}

fn name_taken(t: &Trees, name: &str) -> Result<()> {
    if t.experiment_names
        .contains_key(name.as_bytes())
        .map_err(store_err)?
    {
        return Err(TrackingError::AlreadyExists(format!(
            "Experiment '{name}' already exists."
        )));
    }
    Ok(())
}

/// The id the next new experiment gets.
pub(super) fn next_experiment_id(t: &Trees) -> Result<u64> {
    Ok(t.meta
        .get(NEXT_EXPERIMENT_ID)
        .map_err(store_err)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(1))
}

fn create_experiment(
    t: &Trees,
    name: &str,
    location: Option<&str>,
    tags: &[(String, String)],
    now: i64,
) -> Result<Outcome> {
    name_taken(t, name)?;
    if let Some(location) = location {
        for existing in t.experiments.iter().values() {
            let existing: Experiment = decode_record(&existing.map_err(store_err)?)?;
            rules::ensure_locations_apart(location, &existing)?;
        }
    }
    let next = next_experiment_id(t)?;
    let id = ExperimentId(next);
    let exp = super::new_experiment(id, name, location, tags, now);
    t.meta
        .insert(NEXT_EXPERIMENT_ID, &(next + 1).to_be_bytes())
        .map_err(store_err)?;
    save_experiment(t, &exp)?;
    t.experiment_names
        .insert(name.as_bytes(), &id.0.to_be_bytes())
        .map_err(store_err)?;
    Ok(Outcome::ExperimentCreated(id))
}

fn rename_experiment(t: &Trees, id: ExperimentId, new_name: &str, now: i64) -> Result<Outcome> {
    let mut exp = load_experiment(t, id)?;
    if exp.lifecycle != Lifecycle::Active {
        return Err(TrackingError::InvalidState(format!(
            "Cannot rename a non-active experiment (experiment {id} is deleted)."
        )));
    }
    if exp.name == new_name {
        return Ok(Outcome::Done);
    }
    name_taken(t, new_name)?;
    t.experiment_names
        .remove(exp.name.as_bytes())
        .map_err(store_err)?;
    t.experiment_names
        .insert(new_name.as_bytes(), &id.0.to_be_bytes())
        .map_err(store_err)?;
    exp.name = new_name.to_owned();
    exp.last_update_time = now;
    save_experiment(t, &exp)?;
    Ok(Outcome::Done)
}

fn set_experiment_lifecycle(
    t: &Trees,
    id: ExperimentId,
    target: Lifecycle,
    now: i64,
) -> Result<Outcome> {
    let mut exp = load_experiment(t, id)?;
    match target {
        Lifecycle::Deleted if id == ExperimentId::DEFAULT => {
            return Err(TrackingError::invalid(
                "Cannot delete the default experiment '0'.",
            ));
        }
        Lifecycle::Active if exp.lifecycle == Lifecycle::Active => {
            return Err(TrackingError::invalid(format!(
                "Cannot restore an active experiment (experiment {id} is not deleted)."
            )));
        }
        _ => {}
    }
    exp.lifecycle = target;
    exp.last_update_time = now;
    // Cascade to the runs (MLflow's SQL store does the same in both directions).
    for entry in t.experiment_runs.scan_prefix(keys::experiment(id)) {
        let (k, _) = entry.map_err(store_err)?;
        let Some(run_id) = keys::experiment_run_id(&k) else {
            continue;
        };
        if let Ok(mut run) = load_run(t, run_id) {
            if run.lifecycle != target {
                run.lifecycle = target;
                save_run(t, &run)?;
            }
        }
    }
    save_experiment(t, &exp)?;
    Ok(Outcome::Done)
}

fn experiment_tag(t: &Trees, id: ExperimentId, key: &str, value: Option<&str>) -> Result<Outcome> {
    let mut exp = load_experiment(t, id)?;
    rules::ensure_experiment_active(&exp)?;
    match value {
        Some(v) => {
            exp.tags.insert(key.to_owned(), v.to_owned());
        }
        None => {
            if exp.tags.remove(key).is_none() {
                return Err(TrackingError::not_found(format!(
                    "No tag with name: {key} in experiment with id: {id}"
                )));
            }
        }
    }
    save_experiment(t, &exp)?;
    Ok(Outcome::Done)
}

fn create_run(t: &Trees, info: &RunInfo, tags: &[(String, String)]) -> Result<Outcome> {
    let exp = load_experiment(t, info.experiment_id)?;
    rules::ensure_experiment_active(&exp)?;
    let mut run = info.clone();
    run.artifact_uri = rules::run_artifact_uri(&exp.artifact_location, run.run_id);
    // Index first: a run record that survives a crash always has its index entry.
    t.experiment_runs
        .insert(keys::experiment_run(run.experiment_id, run.run_id), &[])
        .map_err(store_err)?;
    for (k, v) in tags {
        t.tags
            .insert(keys::run_child(run.run_id, k), v.as_bytes())
            .map_err(store_err)?;
    }
    save_run(t, &run)?;
    Ok(Outcome::Run(Box::new(run)))
}

fn update_run(
    t: &Trees,
    id: RunId,
    status: Option<RunStatus>,
    end_time: Option<i64>,
    run_name: Option<&str>,
) -> Result<Outcome> {
    let mut run = active_run(t, id)?;
    run.apply_update(status, end_time, run_name);
    if let Some(name) = run_name {
        t.tags
            .insert(keys::run_child(id, RUN_NAME_TAG), name.as_bytes())
            .map_err(store_err)?;
    }
    save_run(t, &run)?;
    Ok(Outcome::Run(Box::new(run)))
}

fn set_run_lifecycle(t: &Trees, id: RunId, target: Lifecycle) -> Result<Outcome> {
    let mut run = load_run(t, id)?;
    if target == Lifecycle::Active {
        let exp = load_experiment(t, run.experiment_id)?;
        rules::ensure_experiment_active(&exp)?;
    }
    run.lifecycle = target;
    save_run(t, &run)?;
    Ok(Outcome::Done)
}

fn append_logged_model(t: &Trees, id: RunId, model_json: &str) -> Result<Outcome> {
    active_run(t, id)?;
    let tag = keys::run_child(id, LOGGED_MODELS_TAG);
    let previous = t.tags.get(&tag).map_err(store_err)?;
    let previous = previous.as_deref().map(String::from_utf8_lossy);
    let history = rules::append_logged_model(previous.as_deref(), model_json)?;
    t.tags.insert(tag, history.as_bytes()).map_err(store_err)?;
    Ok(Outcome::Done)
}

fn delete_tag(t: &Trees, id: RunId, key: &str) -> Result<Outcome> {
    active_run(t, id)?;
    let removed = t.tags.remove(keys::run_child(id, key)).map_err(store_err)?;
    if removed.is_none() {
        return Err(TrackingError::not_found(format!(
            "No tag with name: {key} in run with id {id}"
        )));
    }
    Ok(Outcome::Done)
}

/// Refuses params whose stored value differs (write-once), naming every conflict.
fn check_params(t: &Trees, id: RunId, params: &[(String, String)]) -> Result<()> {
    let mut conflicts = Vec::new();
    for (k, v) in params {
        if let Some(old) = t.params.get(keys::run_child(id, k)).map_err(store_err)? {
            let old = String::from_utf8_lossy(&old);
            if old != v.as_str() {
                conflicts.push((k.clone(), old.into_owned(), v.clone()));
            }
        }
    }
    rules::params_unchanged(id, &conflicts)
}

/// Writes params, tags and metrics of one run (rules already checked). Returns the number of
/// points stored.
fn write_run(t: &Trees, run: &RunInfo, writes: &RunWrites, dedup: bool) -> Result<u64> {
    let id = run.run_id;
    for (k, v) in &writes.params {
        t.params
            .insert(keys::run_child(id, k), v.as_bytes())
            .map_err(store_err)?;
    }
    let mut new_name = None;
    for (k, v) in &writes.tags {
        t.tags
            .insert(keys::run_child(id, k), v.as_bytes())
            .map_err(store_err)?;
        if k == RUN_NAME_TAG {
            new_name = Some(v.clone());
        }
    }
    if let Some(name) = new_name {
        if name != run.run_name {
            let mut updated = run.clone();
            updated.run_name = name;
            save_run(t, &updated)?;
        }
    }
    let mut stored = 0u64;
    // Several entries of one key in a batch are appended in order.
    for (key, points) in &writes.metrics {
        stored += append_points(t, id, key, points, dedup)? as u64;
    }
    Ok(stored)
}

/// Appends points to a series. A small newest chunk (under [`MERGE_BELOW`] points) takes
/// in a small write (it is rewritten inline with the new points); a write of
/// [`MERGE_BELOW`] points or more starts new chunks and leaves it be. Chunks never exceed
/// [`MAX_CHUNK_POINTS`]. A new chunk of [`MERGE_BELOW`] points or more is sealed (no later
/// write rewrites it): its payload goes to the chunk log and sled keeps a reference. A
/// rewritten chunk always stays inline, so a crash can never leave a reference that
/// replaced acknowledged points in place of a record the log lost. Updates the latest
/// value. With `dedup`, exact duplicates (within `points` or in the newest chunk) are
/// skipped.
pub(super) fn append_points(
    t: &Trees,
    run: RunId,
    key: &str,
    points: &[Point],
    dedup: bool,
) -> Result<usize> {
    if points.is_empty() {
        return Ok(0);
    }
    let prefix = keys::series_prefix(run, key);
    let newest = t
        .metric_chunks
        .scan_prefix(&prefix)
        .next_back()
        .transpose()
        .map_err(store_err)?;
    let mut next_no = 0u32;
    let mut newest_points: Vec<Point> = Vec::new();
    // The newest chunk's number, if it is small enough to take in a small write.
    let mut small_newest = None;
    if let Some((k, v)) = &newest {
        let no = keys::chunk_no(k).ok_or_else(|| corrupt("chunk key"))?;
        let n = t.chunk_count(v)?;
        if n < MERGE_BELOW || dedup {
            t.chunk_points_into(v, &mut newest_points)?;
        }
        if n < MERGE_BELOW {
            small_newest = Some(no);
        }
        next_no = no
            .checked_add(1)
            .ok_or_else(|| corrupt("chunk counter overflow"))?;
    }
    // Only dedup and a small newest chunk need a copy; the common path (a stream appending
    // past full chunks) encodes straight from the batch.
    let deduped: Vec<Point>;
    let fresh: &[Point] = if dedup {
        let mut seen: FxHashSet<(i64, i64, u64)> = newest_points
            .iter()
            .map(|p| (p.step, p.timestamp, p.value.to_bits()))
            .collect();
        deduped = points
            .iter()
            .copied()
            .filter(|p| seen.insert((p.step, p.timestamp, p.value.to_bits())))
            .collect();
        &deduped
    } else {
        points
    };
    if fresh.is_empty() {
        return Ok(0);
    }
    let best = fresh
        .iter()
        .copied()
        .max_by(|a, b| a.latest_cmp(b))
        .expect("non-empty");
    let mut carry: Vec<Point>;
    let (merged, rewrites): (&[Point], bool) = match small_newest {
        Some(no) if fresh.len() < MERGE_BELOW => {
            next_no = no;
            carry = newest_points;
            carry.extend_from_slice(fresh);
            (&carry, true)
        }
        _ => (fresh, false),
    };
    let mut buf = Vec::new();
    for (i, piece) in merged.chunks(MAX_CHUNK_POINTS).enumerate() {
        buf.clear();
        chunk::encode(piece, &mut buf);
        let no = next_no
            .checked_add(i as u32)
            .ok_or_else(|| corrupt("chunk counter overflow"))?;
        let chunk_key = keys::chunk(&prefix, no);
        // The chunk, then its span. (Not one sled::Batch: the first batch switches sled into
        // a global reader-writer lock for every later operation, which cost 40 % of ingest.
        // A crash between the two can leave only the newest chunk of a series without its
        // current span, which readers check and make good; see `history`.)
        let sealed = piece.len() >= MERGE_BELOW && !(rewrites && i == 0);
        if sealed {
            let logged = t.chunk_log.append(&buf, piece.len() as u32)?;
            t.metric_chunks
                .insert(&chunk_key, &logged.encode()[..])
                .map_err(store_err)?;
        } else {
            t.metric_chunks
                .insert(&chunk_key, buf.as_slice())
                .map_err(store_err)?;
        }
        t.chunk_spans
            .insert(
                chunk_key,
                &crate::store::series::Span::of(piece).encode()[..],
            )
            .map_err(store_err)?;
    }
    let latest_key = keys::run_child(run, key);
    let current = t
        .latest_metrics
        .get(&latest_key)
        .map_err(store_err)?
        .and_then(|v| keys::decode_point(&v));
    if current.is_none_or(|c| best.latest_cmp(&c).is_gt()) {
        t.latest_metrics
            .insert(latest_key, &keys::encode_point(&best))
            .map_err(store_err)?;
    }
    Ok(fresh.len())
}

fn corrupt(what: &str) -> TrackingError {
    TrackingError::Corrupted(format!("metric store: {what}"))
}

fn stream_batch(
    t: &Trees,
    stream_id: &str,
    seq: u64,
    runs: &[(RunId, RunWrites)],
    now: i64,
) -> Result<Outcome> {
    let last = t
        .streams
        .get(stream_id.as_bytes())
        .map_err(store_err)?
        .and_then(|v| StreamRecord::decode(&v))
        .map(|r| r.last_seq);
    match rules::stream_sequence(stream_id, last, seq)? {
        rules::SequenceCheck::Next => {}
        rules::SequenceCheck::Resent => {
            return Ok(Outcome::Stream {
                points_stored: 0,
                duplicate: true,
                refused: Vec::new(),
            })
        }
    }
    // Check every run before writing anything: a refused run writes nothing. Storage
    // failures refuse the whole batch.
    let mut infos: BTreeMap<RunId, RunInfo> = BTreeMap::new();
    let mut refused: Vec<(RunId, TrackingError)> = Vec::new();
    for (id, writes) in runs {
        if refused.iter().any(|(r, _)| r == id) {
            continue;
        }
        let checked = match infos.get(id) {
            Some(_) => check_params(t, *id, &writes.params),
            None => active_run(t, *id).and_then(|info| {
                check_params(t, *id, &writes.params)?;
                infos.insert(*id, info);
                Ok(())
            }),
        };
        match checked {
            Ok(()) => {}
            Err(e @ (TrackingError::Storage { .. } | TrackingError::Corrupted(_))) => {
                return Err(e)
            }
            Err(e) => {
                infos.remove(id);
                refused.push((*id, e));
            }
        }
    }
    // Even a batch whose every run was refused takes its sequence number (the next batch
    // must follow it); a re-send of it is a duplicate, like any stored batch.
    let mut stored = 0;
    for (id, writes) in runs {
        if let Some(info) = infos.get(id) {
            stored += write_run(t, info, writes, false)?;
        }
    }
    t.streams
        .insert(stream_id.as_bytes(), &StreamRecord::encode(seq, now))
        .map_err(store_err)?;
    Ok(Outcome::Stream {
        points_stored: stored,
        duplicate: false,
        refused,
    })
}

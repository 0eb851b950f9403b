//! Permanent removal of deleted runs and experiments (`trackd gc`).
//!
//! sled transactions cannot scan, so a purge is not one transaction: it removes a run's data
//! (params, tags, latest values, metric chunks and their spans, inputs and outputs) first and
//! its record last, then flushes. A crash half-way leaves the run's record (still deleted)
//! with part of its data, and the next purge finishes the job. Purges are meant for a store
//! no server is writing to (`trackd gc` opens the directory itself, which the store's lock
//! allows only when no server holds it).

use super::{keys, Store, StoreError, Trees};
use crate::domain::{ExperimentId, Lifecycle, RunId, RunInfo};

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// sled entries removed.
    pub entries: u64,
}

/// Removes every entry under `prefix`, one by one (a `sled::Batch` would switch the store
/// into a global reader-writer lock for every later operation; see the writer).
fn remove_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<u64, StoreError> {
    let mut removed = 0;
    for key in tree.scan_prefix(prefix).keys() {
        tree.remove(key?)?;
        removed += 1;
    }
    Ok(removed)
}

/// Removes a run with all its data: params, tags, latest values, metric chunks and their
/// spans, inputs and outputs first, its index entry and record last. Returns the entries
/// removed. Used by purges and by a restore that replaces a run.
pub(super) fn remove_run(t: &Trees, info: &RunInfo) -> Result<u64, StoreError> {
    let prefix = keys::run(info.run_id);
    let mut entries = 0;
    for tree in [
        &t.params,
        &t.tags,
        &t.latest_metrics,
        &t.metric_chunks,
        &t.chunk_spans,
        &t.run_io,
    ] {
        entries += remove_prefix(tree, &prefix)?;
    }
    t.experiment_runs
        .remove(keys::experiment_run(info.experiment_id, info.run_id))?;
    t.runs.remove(prefix)?;
    Ok(entries + 2)
}

impl Store {
    /// Permanently removes a run that is in the deleted state, with all its data. Refused
    /// (`Ok(None)`) for a run that is not deleted or does not exist.
    pub fn purge_run(&self, id: RunId) -> Result<Option<Purged>, StoreError> {
        let t: &Trees = &self.inner.trees;
        let Ok(info) = super::writer::load_run(t, id) else {
            return Ok(None);
        };
        if info.lifecycle != Lifecycle::Deleted {
            return Ok(None);
        }
        let entries = remove_run(t, &info)?;
        self.inner.db.flush()?;
        self.inner.catalog.refresh_run(t, id);
        Ok(Some(Purged { entries }))
    }

    /// Deletes the chunk log segments no chunk refers to any more (after purges); returns
    /// the bytes freed. Segments partly referred to stay whole.
    pub fn reclaim_chunk_log(&self) -> Result<u64, StoreError> {
        let log = &self.inner.trees.chunk_log;
        let below = log.active_segment();
        let referenced = super::chunk_refs::referenced_segments(&self.inner.trees)?;
        let (files, bytes) = log.remove_unreferenced(&referenced, below)?;
        if files > 0 {
            tracing::info!(
                files,
                bytes,
                "chunk log segments no chunk refers to were removed"
            );
        }
        Ok(bytes)
    }

    /// Permanently removes a deleted experiment that has no runs left (purge its runs
    /// first). Refused (`Ok(false)`) for an active experiment or one with runs.
    pub fn purge_experiment(&self, id: ExperimentId) -> Result<bool, StoreError> {
        let t: &Trees = &self.inner.trees;
        let Ok(experiment) = super::writer::load_experiment(t, id) else {
            return Ok(false);
        };
        if experiment.lifecycle != Lifecycle::Deleted
            || t.experiment_runs
                .scan_prefix(keys::experiment(id))
                .next()
                .is_some()
        {
            return Ok(false);
        }
        t.experiment_names.remove(experiment.name.as_bytes())?;
        t.experiments.remove(keys::experiment(id))?;
        self.inner.db.flush()?;
        Ok(true)
    }
}

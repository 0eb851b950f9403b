//! What a `metric_chunks` value holds: a chunk's payload inline (chunks a later write may
//! still rewrite, and every chunk of a store written before format 4), or a [`ChunkRef`] to
//! its record in the [`ChunkLog`](super::chunk_log::ChunkLog). Readers resolve both here;
//! the store's open and `trackd gc` reconcile references with the log.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::chunk_log::{ChunkRef, Mark};
use super::{StoreError, Trees};
use crate::domain::Point;
use crate::store::series::chunk;

fn malformed(e: chunk::ChunkError) -> StoreError {
    StoreError::Corrupted(e.to_string())
}

impl Trees {
    /// The payload of a stored chunk value (read from the log for a reference).
    pub(crate) fn chunk_payload<'a>(&self, value: &'a [u8]) -> Result<Cow<'a, [u8]>, StoreError> {
        match ChunkRef::decode(value) {
            Some(r) => self.chunk_log.read(&r).map(Cow::Owned),
            None => Ok(Cow::Borrowed(value)),
        }
    }

    /// Points in a stored chunk value (a reference says so without a read).
    pub(crate) fn chunk_count(&self, value: &[u8]) -> Result<usize, StoreError> {
        match ChunkRef::decode(value) {
            Some(r) => Ok(r.count as usize),
            None => chunk::count(value).map_err(malformed),
        }
    }

    /// Appends the points of a stored chunk value to `out`.
    pub(crate) fn chunk_points_into(
        &self,
        value: &[u8],
        out: &mut Vec<Point>,
    ) -> Result<(), StoreError> {
        chunk::decode_into(&self.chunk_payload(value)?, out).map_err(malformed)
    }
}

/// The chunk log's synced mark in `meta`.
pub(crate) const MARK_KEY: &[u8] = b"chunk_log_mark";
/// Present in `meta` while the store is closed cleanly (every reference then lies inside
/// the mark, and the open skips [`reconcile`]).
pub(crate) const CLOSED_KEY: &[u8] = b"chunk_log_closed";

/// The synced mark a store's `meta` tree holds.
pub(crate) fn stored_mark(meta: &sled::Tree) -> Result<Option<Mark>, StoreError> {
    match meta.get(MARK_KEY)? {
        None => Ok(None),
        Some(bytes) => Mark::decode(&bytes)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupted("unreadable chunk log mark".into())),
    }
}

/// Syncs the chunk log and, if anything was appended, records the new mark in `meta` (made
/// durable by the next flush of sled, never before the records it covers).
pub(crate) fn sync_and_mark(trees: &Trees) -> Result<(), StoreError> {
    if let Some(mark) = trees.chunk_log.sync()? {
        trees.meta.insert(MARK_KEY, &mark.encode())?;
    }
    Ok(())
}

/// What [`reconcile`] found after an unclean stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// References read.
    pub references: u64,
    /// References to records the crash cut (writes never acknowledged), removed with their
    /// spans.
    pub dropped: u64,
}

/// After an unclean stop: every reference must point at a record the log holds. One that
/// points past the synced mark is a write the stop cut before it was acknowledged (the log is
/// synced and marked before every acknowledgement), and is removed with its span. One into a closed segment that is missing or short means the log was damaged after
/// the fact: the store refuses to open rather than serve a history with a hole.
pub(crate) fn reconcile(trees: &Trees) -> Result<Reconciled, StoreError> {
    let active = trees.chunk_log.active_segment();
    let mut found = Reconciled::default();
    // Segment lengths, looked up once each (a store holds many references per segment).
    let mut lengths: std::collections::HashMap<u32, Option<u64>> = Default::default();
    for entry in trees.metric_chunks.iter() {
        let (key, value) = entry?;
        let Some(r) = ChunkRef::decode(&value) else {
            continue;
        };
        found.references += 1;
        let len = match lengths.entry(r.segment) {
            std::collections::hash_map::Entry::Occupied(known) => *known.get(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                *slot.insert(trees.chunk_log.segment_len(r.segment)?)
            }
        };
        if len.is_some_and(|len| r.end() <= len) {
            continue;
        }
        if r.segment < active {
            return Err(StoreError::Corrupted(format!(
                "the chunk log in {} is corrupted: segment {:08}.chunks is missing or shorter \
                 than the database says (a record at offset {} is gone)",
                trees.chunk_log.dir().display(),
                r.segment,
                r.offset
            )));
        }
        trees.metric_chunks.remove(&key)?;
        trees.chunk_spans.remove(&key)?;
        found.dropped += 1;
    }
    Ok(found)
}

/// The segments some reference names.
pub(crate) fn referenced_segments(trees: &Trees) -> Result<BTreeSet<u32>, StoreError> {
    let mut segments = BTreeSet::new();
    for value in trees.metric_chunks.iter().values() {
        if let Some(r) = ChunkRef::decode(&value?) {
            segments.insert(r.segment);
        }
    }
    Ok(segments)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{ExperimentId, Lifecycle, RunId, RunInfo, RunStatus, RunWrites};
    use crate::store::{Store, StoreConfig, WriteOp};

    fn config(dir: &std::path::Path) -> StoreConfig {
        StoreConfig {
            // Small segments, so a few thousand points fill several.
            chunk_segment_bytes: 8 << 10,
            ..StoreConfig::new(dir)
        }
    }

    /// Creates a running run in the default experiment.
    pub(in crate::store::sled) async fn new_run(store: &Store) -> RunId {
        let run = RunId::generate();
        let info = RunInfo {
            run_id: run,
            experiment_id: ExperimentId::DEFAULT,
            run_name: "r".into(),
            user_id: String::new(),
            status: RunStatus::Running,
            start_time: 0,
            end_time: None,
            artifact_uri: String::new(),
            lifecycle: Lifecycle::Active,
        };
        store
            .write(WriteOp::CreateRun {
                info,
                tags: Vec::new(),
            })
            .await
            .unwrap();
        run
    }

    /// Logs `batches` batches of 1,000 points (each a sealed chunk) from `first` on.
    async fn log(store: &Store, run: RunId, first: i64, batches: i64) {
        for b in 0..batches {
            let mut writes = RunWrites::default();
            for step in first + b * 1000..first + (b + 1) * 1000 {
                writes.push_point(
                    "loss".into(),
                    Point {
                        step,
                        timestamp: step * 10,
                        value: (step as f64).sin(),
                    },
                );
            }
            store
                .write(WriteOp::Log {
                    run_id: run,
                    writes,
                })
                .await
                .unwrap();
        }
    }

    fn steps(store: &Store, run: RunId) -> Vec<i64> {
        let mut reader = store.history_reader(run, "loss", None, None).unwrap();
        let mut out = Vec::new();
        while let Some(block) = reader.next_block_max(4096).unwrap() {
            out.extend(block.iter().map(|p| p.step));
        }
        out
    }

    #[tokio::test]
    async fn sealed_chunks_live_in_the_log_and_read_back_after_a_clean_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(config(dir.path())).unwrap();
        let run = new_run(&store).await;
        log(&store, run, 0, 12).await;
        let refs = store.trees().metric_chunks.iter().values().count();
        assert!(referenced_segments(store.trees()).unwrap().len() > 1);
        assert_eq!(refs, 12);
        assert_eq!(steps(&store, run), (0..12_000).collect::<Vec<_>>());
        store.close().await.unwrap();
        drop(store);
        let copy = reopenable_copy(dir.path());
        let store = Store::open(config(copy.path())).unwrap();
        assert_eq!(steps(&store, run), (0..12_000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_write_a_crash_cut_from_the_log_is_dropped_and_the_series_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let run = new_run(&store).await;
        log(&store, run, 0, 3).await;
        // As if the process died after writing the last record and its reference, before the
        // group's sync: the mark says where the second record ends, and the store was not
        // closed cleanly.
        let second_end = {
            let t = store.trees();
            let values: Vec<_> = t
                .metric_chunks
                .iter()
                .values()
                .map(|v| v.unwrap())
                .collect();
            ChunkRef::decode(&values[1]).unwrap().end()
        };
        store.close().await.unwrap();
        drop(store);
        // A copy of the closed store, changed as the crash would have left it.
        let dir = reopenable_copy(dir.path());
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            let meta = db.open_tree("meta").unwrap();
            let mark = Mark {
                segment: 1,
                len: second_end,
            };
            meta.insert(MARK_KEY, &mark.encode()).unwrap();
            meta.remove(CLOSED_KEY).unwrap();
            db.flush().unwrap();
        }
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(steps(&store, run), (0..2000).collect::<Vec<_>>());
        assert_eq!(
            store.trees().chunk_spans.iter().count(),
            2,
            "its span went too"
        );
        log(&store, run, 2000, 1).await;
        assert_eq!(steps(&store, run), (0..3000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn purges_give_back_the_segments_nothing_refers_to() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(config(dir.path())).unwrap();
        let (gone, kept) = (new_run(&store).await, new_run(&store).await);
        log(&store, gone, 0, 20).await;
        log(&store, kept, 0, 2).await;
        let (files_before, bytes_before) = chunk_log_usage(dir.path());
        store
            .write(WriteOp::SetRunLifecycle {
                run_id: gone,
                lifecycle: Lifecycle::Deleted,
            })
            .await
            .unwrap();
        assert!(store.purge_run(gone).unwrap().is_some());
        let freed = store.reclaim_chunk_log().unwrap();
        let (files_after, bytes_after) = chunk_log_usage(dir.path());
        assert!(files_after < files_before, "{files_before} → {files_after}");
        assert_eq!(bytes_before - bytes_after, freed);
        assert!(
            freed > 15 * 1000 * 2,
            "most of 20,000 points' bytes: {freed}"
        );
        assert_eq!(steps(&store, kept), (0..2000).collect::<Vec<_>>());
        store.close().await.unwrap();
        drop(store);
        let copy = reopenable_copy(dir.path());
        let store = Store::open(config(copy.path())).unwrap();
        assert_eq!(steps(&store, kept), (0..2000).collect::<Vec<_>>());
    }

    /// A copy of a closed store to open again (sled's lock on the original may outlive its
    /// handle for a moment).
    pub(in crate::store::sled) fn reopenable_copy(dir: &std::path::Path) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        super::super::backup::copy_tree(dir, copy.path()).unwrap();
        copy
    }

    fn chunk_log_usage(dir: &std::path::Path) -> (u64, u64) {
        super::super::chunk_log::disk_usage(&dir.join("chunks"))
    }
}

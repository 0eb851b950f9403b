//! Reading one metric series in history order (step, then timestamp, then value), a block
//! of points at a time, in memory that does not grow with the series.
//!
//! The chunk spans (`spans`) say which chunks can hold steps of the requested range and
//! whether the series is already in order:
//!
//! - **In order** (the common case: steps logged increasing): the chunks that overlap the
//!   range are decoded one after another and handed out as they are; the others are never
//!   read. Memory: one chunk and one block.
//! - **Out of order** (steps logged backwards, resets, interleaved writers): the points of
//!   the range are sorted in runs of [`SORT_RUN_POINTS`], each spilled to an unnamed
//!   temporary file in the store directory, then merged. Memory: one sort run plus a small
//!   buffer per spilled run. A range that fits in one sort run is sorted in memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::spans::Span;
use super::{chunk, keys, Store, StoreError};
use crate::domain::{Point, RunId};
use crate::error::{Result, TrackingError};

/// Most points handed out per block.
pub const HISTORY_BLOCK_POINTS: usize = 65_536;
/// Points sorted in memory at once for an out-of-order series (6 MiB).
pub const SORT_RUN_POINTS: usize = 262_144;
/// Points read back at once from each spilled run while merging.
const MERGE_READ_POINTS: usize = 1024;
/// Bytes of one point in a spill file.
const POINT_BYTES: usize = 24;

/// One chunk chosen for a read.
#[derive(Debug, Clone)]
struct Chosen {
    key: Vec<u8>,
    span: Span,
}

/// Reads one series in history order within a step range; see the module docs.
pub struct HistoryReader {
    store: Store,
    run: RunId,
    key: String,
    start: i64,
    end: i64,
    chunks: Vec<Chosen>,
    state: State,
}

enum State {
    /// Chunks in order: the next chunk to decode, and points decoded but not handed out.
    Ordered { next: usize, pending: Vec<Point> },
    /// Out of order, not sorted yet.
    Unsorted,
    /// Sorted in memory: the points, and how many were handed out.
    Sorted { points: Vec<Point>, at: usize },
    /// Spilled runs being merged.
    Merging(Box<Merge>),
    /// Everything was handed out.
    Done,
}

impl Store {
    /// A reader of one series in history order, limited to steps in `start..=end` (each
    /// bound optional). The run must exist; a metric never logged reads as empty.
    pub fn history_reader(
        &self,
        run: RunId,
        key: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<HistoryReader> {
        let (start, end) = (start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));
        let chunk_prefix = keys::series_prefix(run, key);
        let mut chunks = Vec::new();
        let mut spans_seen: Option<(u32, u32)> = None; // the last span: (chunk no, count)
        for entry in self.trees().chunk_spans.scan_prefix(&chunk_prefix) {
            let (span_key, value) = entry.map_err(StoreError::from)?;
            let span = Span::decode(&value).ok_or_else(|| {
                TrackingError::Corrupted(format!("run {run} metric '{key}': span"))
            })?;
            let no = keys::chunk_no(&span_key)
                .ok_or_else(|| TrackingError::Corrupted("chunk span key".into()))?;
            spans_seen = Some((no, span.count));
            if !span.overlaps(start, end) {
                continue;
            }
            chunks.push(Chosen {
                key: keys::chunk(&chunk_prefix, no),
                span,
            });
        }
        if let Some(newest) = self.newest_chunk_if_span_is_stale(run, key, &spans_seen)? {
            chunks.retain(|c| c.key != newest.key);
            if newest.span.overlaps(start, end) {
                chunks.push(newest);
            }
        }
        let ordered = chunks.iter().all(|c| c.span.sorted)
            && chunks
                .windows(2)
                .all(|w| w[0].span.last.latest_cmp(&w[1].span.first).is_le());
        let state = if chunks.is_empty() {
            State::Done
        } else if ordered {
            State::Ordered {
                next: 0,
                pending: Vec::new(),
            }
        } else {
            State::Unsorted
        };
        Ok(HistoryReader {
            store: self.clone(),
            run,
            key: key.to_owned(),
            start,
            end,
            chunks,
            state,
        })
    }
}

impl Store {
    /// The newest chunk of a series with its span recomputed, if the stored span is missing
    /// or does not match it (a crash between the writer's two inserts; see `spans`). Only
    /// the newest chunk can be in that state.
    fn newest_chunk_if_span_is_stale(
        &self,
        run: RunId,
        key: &str,
        last_span: &Option<(u32, u32)>,
    ) -> Result<Option<Chosen>> {
        let corrupt =
            |what: &str| TrackingError::Corrupted(format!("run {run} metric '{key}': {what}"));
        let Some((chunk_key, bytes)) = self
            .trees()
            .metric_chunks
            .scan_prefix(keys::series_prefix(run, key))
            .next_back()
            .transpose()
            .map_err(StoreError::from)?
        else {
            return Ok(None);
        };
        let no = keys::chunk_no(&chunk_key).ok_or_else(|| corrupt("chunk key"))?;
        let count = chunk::count(&bytes).map_err(|e| corrupt(&e.to_string()))? as u32;
        if *last_span == Some((no, count)) {
            return Ok(None);
        }
        let mut points = Vec::with_capacity(count as usize);
        chunk::decode_into(&bytes, &mut points).map_err(|e| corrupt(&e.to_string()))?;
        if points.is_empty() {
            return Ok(None);
        }
        Ok(Some(Chosen {
            key: chunk_key.to_vec(),
            span: Span::of(&points),
        }))
    }
}

impl HistoryReader {
    /// Points in the chunks the range touches: exact for a whole series, an upper bound for
    /// a step range (the chunks at its edges may hold steps outside it).
    pub fn points_hint(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.span.count)).sum()
    }

    /// Skips up to `n` points; returns how many were skipped. Whole chunks of a series in
    /// order are skipped without being read.
    pub fn skip(&mut self, mut n: usize) -> Result<usize> {
        let wanted = n;
        if let State::Ordered { next, pending } = &mut self.state {
            if pending.is_empty() && self.start == i64::MIN && self.end == i64::MAX {
                while *next < self.chunks.len() && self.chunks[*next].span.count as usize <= n {
                    n -= self.chunks[*next].span.count as usize;
                    *next += 1;
                }
            }
        }
        while n > 0 {
            let Some(block) = self.next_block_max(n)? else {
                break;
            };
            n -= block.len();
        }
        Ok(wanted - n)
    }

    /// The next block of at most [`HISTORY_BLOCK_POINTS`] points; `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Vec<Point>>> {
        self.next_block_max(HISTORY_BLOCK_POINTS)
    }

    /// The next block of at most `max` points; `None` at the end.
    pub fn next_block_max(&mut self, max: usize) -> Result<Option<Vec<Point>>> {
        let max = max.max(1);
        loop {
            match &mut self.state {
                State::Done => return Ok(None),
                State::Ordered { next, pending } => {
                    while pending.len() < max && *next < self.chunks.len() {
                        let i = *next;
                        *next += 1;
                        let (start, end) = (self.start, self.end);
                        let mut decoded = Vec::with_capacity(self.chunks[i].span.count as usize);
                        read_chunk(
                            &self.store,
                            &self.chunks[i],
                            self.run,
                            &self.key,
                            &mut decoded,
                        )?;
                        // In order: the range is a contiguous slice.
                        let lo = decoded.partition_point(|p| p.step < start);
                        let hi = decoded.partition_point(|p| p.step <= end);
                        pending.extend_from_slice(&decoded[lo..hi.max(lo)]);
                    }
                    if pending.is_empty() {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    let rest = if pending.len() > max {
                        pending.split_off(max)
                    } else {
                        Vec::new()
                    };
                    return Ok(Some(std::mem::replace(pending, rest)));
                }
                State::Unsorted => self.state = self.sort()?,
                State::Sorted { points, at } => {
                    if *at >= points.len() {
                        self.state = State::Done;
                        continue;
                    }
                    let end = (*at + max).min(points.len());
                    let block = points[*at..end].to_vec();
                    *at = end;
                    return Ok(Some(block));
                }
                State::Merging(merge) => {
                    let block = merge.next_block(max)?;
                    if block.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    return Ok(Some(block));
                }
            }
        }
    }

    /// Sorts the range of an out-of-order series: in memory when it fits one sort run,
    /// otherwise in spilled runs to merge.
    fn sort(&mut self) -> Result<State> {
        let mut run_points: Vec<Point> = Vec::new();
        let mut decoded = Vec::new();
        let mut spill: Option<Spill> = None;
        for chosen in &self.chunks {
            decoded.clear();
            read_chunk(&self.store, chosen, self.run, &self.key, &mut decoded)?;
            for p in &decoded {
                if p.step < self.start || p.step > self.end {
                    continue;
                }
                run_points.push(*p);
                if run_points.len() == SORT_RUN_POINTS {
                    let spill = match &mut spill {
                        Some(s) => s,
                        None => spill.insert(Spill::create(self.store.dir().join("tmp"))?),
                    };
                    spill.add_run(&mut run_points)?;
                }
            }
        }
        match spill {
            None => {
                run_points.sort_by(Point::latest_cmp);
                Ok(State::Sorted {
                    points: run_points,
                    at: 0,
                })
            }
            Some(mut spill) => {
                if !run_points.is_empty() {
                    spill.add_run(&mut run_points)?;
                }
                Ok(State::Merging(Box::new(Merge::new(spill)?)))
            }
        }
    }
}

fn read_chunk(
    store: &Store,
    chosen: &Chosen,
    run: RunId,
    key: &str,
    out: &mut Vec<Point>,
) -> Result<()> {
    let corrupt =
        |what: String| TrackingError::Corrupted(format!("run {run} metric '{key}': {what}"));
    let bytes = store
        .trees()
        .metric_chunks
        .get(&chosen.key)
        .map_err(StoreError::from)?
        .ok_or_else(|| corrupt("a chunk named by its span is missing".into()))?;
    chunk::decode_into(&bytes, out).map_err(|e| corrupt(e.to_string()))?;
    if out.len() != chosen.span.count as usize {
        return Err(corrupt("a chunk does not match its span".into()));
    }
    Ok(())
}

/// Sorted runs of points written to an unnamed temporary file (removed when dropped).
struct Spill {
    file: File,
    /// (first point index, number of points) of each run.
    runs: Vec<(u64, u64)>,
    written: u64,
}

fn spill_err(e: std::io::Error) -> TrackingError {
    TrackingError::storage("sorting a metric history on disk", e)
}

impl Spill {
    fn create(dir: PathBuf) -> Result<Spill> {
        std::fs::create_dir_all(&dir).map_err(spill_err)?;
        Ok(Spill {
            file: tempfile::tempfile_in(dir).map_err(spill_err)?,
            runs: Vec::new(),
            written: 0,
        })
    }

    /// Sorts `points`, appends them as one run, and empties `points`.
    fn add_run(&mut self, points: &mut Vec<Point>) -> Result<()> {
        points.sort_by(Point::latest_cmp);
        let mut bytes = Vec::with_capacity(points.len() * POINT_BYTES);
        for p in points.iter() {
            bytes.extend_from_slice(&keys::encode_point(p));
        }
        let mut writer = std::io::BufWriter::new(&self.file);
        writer.write_all(&bytes).map_err(spill_err)?;
        writer.flush().map_err(spill_err)?;
        self.runs.push((self.written, points.len() as u64));
        self.written += points.len() as u64;
        points.clear();
        Ok(())
    }
}

/// A k-way merge of spilled runs.
struct Merge {
    file: File,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Head>,
}

/// Where a run is read from, and its points read but not merged yet.
struct Cursor {
    next: u64,
    end: u64,
    buffer: Vec<Point>,
    at: usize,
}

/// The smallest unmerged point of a run (a min-heap through reversed order).
struct Head {
    point: Point,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .point
            .latest_cmp(&self.point)
            .then(other.run.cmp(&self.run))
    }
}

impl Merge {
    fn new(spill: Spill) -> Result<Merge> {
        let mut merge = Merge {
            file: spill.file,
            cursors: spill
                .runs
                .iter()
                .map(|&(first, len)| Cursor {
                    next: first,
                    end: first + len,
                    buffer: Vec::new(),
                    at: 0,
                })
                .collect(),
            heap: BinaryHeap::new(),
        };
        for run in 0..merge.cursors.len() {
            if let Some(point) = merge.pop(run)? {
                merge.heap.push(Head { point, run });
            }
        }
        Ok(merge)
    }

    /// The next point of run `run`, reading more of it from the file when its buffer is
    /// used up.
    fn pop(&mut self, run: usize) -> Result<Option<Point>> {
        let cursor = &mut self.cursors[run];
        if cursor.at == cursor.buffer.len() {
            let n = (cursor.end - cursor.next).min(MERGE_READ_POINTS as u64) as usize;
            if n == 0 {
                return Ok(None);
            }
            let mut bytes = vec![0u8; n * POINT_BYTES];
            self.file
                .read_exact_at(&mut bytes, cursor.next * POINT_BYTES as u64)
                .map_err(spill_err)?;
            cursor.buffer.clear();
            for raw in bytes.chunks_exact(POINT_BYTES) {
                cursor.buffer.push(
                    keys::decode_point(raw)
                        .ok_or_else(|| TrackingError::storage_context("spill file"))?,
                );
            }
            cursor.next += n as u64;
            cursor.at = 0;
        }
        let point = cursor.buffer[cursor.at];
        cursor.at += 1;
        Ok(Some(point))
    }

    fn next_block(&mut self, max: usize) -> Result<Vec<Point>> {
        let mut block = Vec::with_capacity(max.min(HISTORY_BLOCK_POINTS));
        while block.len() < max {
            let Some(Head { point, run }) = self.heap.pop() else {
                break;
            };
            block.push(point);
            if let Some(next) = self.pop(run)? {
                self.heap.push(Head { point: next, run });
            }
        }
        Ok(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreConfig, WriteOp};

    fn drain(mut reader: HistoryReader, block: usize) -> Vec<Point> {
        let mut out = Vec::new();
        while let Some(b) = reader.next_block_max(block).unwrap() {
            assert!(!b.is_empty() && b.len() <= block);
            out.extend(b);
        }
        out
    }

    async fn store_with(points: &[Vec<Point>]) -> (tempfile::TempDir, Store, RunId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let run = RunId::generate();
        let info = crate::domain::RunInfo {
            run_id: run,
            experiment_id: crate::domain::ExperimentId::DEFAULT,
            run_name: "r".into(),
            user_id: String::new(),
            status: crate::domain::RunStatus::Running,
            start_time: 0,
            end_time: None,
            artifact_uri: String::new(),
            lifecycle: crate::domain::Lifecycle::Active,
        };
        store
            .write(WriteOp::CreateRun {
                info,
                tags: Vec::new(),
            })
            .await
            .unwrap();
        for batch in points {
            let writes = crate::domain::RunWrites {
                metrics: vec![("m".into(), batch.clone())],
                ..Default::default()
            };
            store
                .write(WriteOp::Log {
                    run_id: run,
                    writes,
                })
                .await
                .unwrap();
        }
        (dir, store, run)
    }

    fn p(step: i64) -> Point {
        Point {
            step,
            timestamp: step.rem_euclid(7),
            value: step as f64 * 0.5,
        }
    }

    #[tokio::test]
    async fn in_order_series_stream_chunk_by_chunk_and_ranges_pick_chunks() {
        let points: Vec<Point> = (0..20_000).map(p).collect();
        let (_dir, store, run) = store_with(std::slice::from_ref(&points)).await;
        let reader = store.history_reader(run, "m", None, None).unwrap();
        assert!(matches!(reader.state, State::Ordered { .. }));
        assert_eq!(reader.points_hint(), 20_000);
        assert_eq!(drain(reader, 3000), points);
        let reader = store
            .history_reader(run, "m", Some(9000), Some(9100))
            .unwrap();
        assert_eq!(reader.chunks.len(), 1, "only the chunk holding the range");
        assert_eq!(drain(reader, 50), points[9000..=9100].to_vec());
        let mut reader = store.history_reader(run, "m", None, None).unwrap();
        assert_eq!(reader.skip(12_345).unwrap(), 12_345);
        assert_eq!(drain(reader, 65_536), points[12_345..].to_vec());
        let none = store.history_reader(run, "nothing", None, None).unwrap();
        assert!(drain(none, 10).is_empty());
    }

    /// A crash between a chunk and its span leaves the newest chunk with a missing or
    /// stale span; reads make it good from the chunk itself.
    #[tokio::test]
    async fn a_stale_span_of_the_newest_chunk_is_recomputed() {
        let points: Vec<Point> = (0..5000).map(p).collect();
        let (_dir, store, run) = store_with(std::slice::from_ref(&points)).await;
        let spans = keys::series_prefix(run, "m");
        let tree = &store.trees().chunk_spans;
        // Chunk 1 (steps 4096..5000) loses its span; then chunk 0's span is made stale too
        // (as if the crash came after a rewrite of a small newest chunk).
        tree.remove(keys::chunk(&spans, 1)).unwrap();
        let reader = store.history_reader(run, "m", None, None).unwrap();
        assert_eq!(reader.points_hint(), 5000);
        assert_eq!(drain(reader, 1000), points);
        let reader = store.history_reader(run, "m", Some(4500), None).unwrap();
        assert_eq!(drain(reader, 1000), points[4500..].to_vec());
        let stale = Span::of(&points[..10]).encode();
        tree.insert(keys::chunk(&spans, 1), &stale[..]).unwrap();
        let reader = store.history_reader(run, "m", None, None).unwrap();
        assert_eq!(drain(reader, 1000), points);
    }

    /// Stores written before spans existed (format 2) get them when opened.
    #[tokio::test]
    async fn format_2_stores_get_spans_on_open() {
        let points: Vec<Point> = (0..10_000).map(p).collect();
        let (dir, store, run) = store_with(std::slice::from_ref(&points)).await;
        store.trees().chunk_spans.clear().unwrap();
        store
            .trees()
            .meta
            .insert(super::super::FORMAT_KEY, &2u64.to_be_bytes())
            .unwrap();
        store.close().await.unwrap();
        drop(store);
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(store.trees().chunk_spans.len(), 3);
        let reader = store.history_reader(run, "m", Some(5000), None).unwrap();
        assert_eq!(reader.chunks.len(), 2, "chosen by their spans");
        assert_eq!(drain(reader, 4096), points[5000..].to_vec());
    }

    #[tokio::test]
    async fn out_of_order_series_are_sorted_in_memory_or_through_spills() {
        // Three passes over the same steps (a step counter reset per epoch), then a few
        // late points: far more than one sort run, so it spills and merges.
        // (Each epoch at its own time: exact duplicates would be stored once.)
        let epoch = |e: i64| -> Vec<Point> {
            (0..200_000)
                .map(|s| Point {
                    timestamp: 1000 + e,
                    ..p(s)
                })
                .collect()
        };
        let mut batches = vec![epoch(0), epoch(1), epoch(2)];
        batches.push(vec![p(5), p(-1), p(150_000)]);
        let (_dir, store, run) = store_with(&batches).await;
        let mut expected: Vec<Point> = batches.concat();
        expected.sort_by(Point::latest_cmp);
        let reader = store.history_reader(run, "m", None, None).unwrap();
        assert!(matches!(reader.state, State::Unsorted));
        let got = drain(reader, 65_536);
        assert_eq!(got.len(), expected.len());
        assert!(got.iter().zip(&expected).all(|(a, b)| a.same_as(b)));
        // A small range of the same series sorts in memory.
        let reader = store.history_reader(run, "m", Some(-1), Some(10)).unwrap();
        let got = drain(reader, 7);
        let want: Vec<Point> = expected
            .iter()
            .copied()
            .filter(|q| (-1..=10).contains(&q.step))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            std::fs::read_dir(_dir.path().join("tmp")).unwrap().count(),
            0,
            "spill files are unnamed and leave nothing behind"
        );
    }
}

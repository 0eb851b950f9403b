//! Reading one metric series in history order (step, then timestamp, then value), a block
//! of points at a time, in memory that does not grow with the series, whichever backend
//! holds the chunks ([`ChunkFetch`]).
//!
//! The chunk spans ([`Span`]) say which chunks can hold steps of the requested range and
//! whether the series is already in order:
//!
//! - **In order** (the common case: steps logged increasing): the chunks that overlap the
//!   range are decoded one after another and handed out as they are; the others are never
//!   read. Memory: one chunk and one block.
//! - **Out of order** (steps logged backwards, resets, interleaved writers): the points of
//!   the range are sorted in runs of [`SORT_RUN_POINTS`], each spilled to an unnamed
//!   temporary file in the backend's spill directory, then merged. Memory: one sort run plus a small
//!   buffer per spilled run. A range that fits in one sort run is sorted in memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::spans::Span;
use super::{chunk, decode_point, encode_point};
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

/// Where a reader gets the bytes of the chunks it chose.
pub trait ChunkFetch: Send {
    /// The encoded chunk stored under `key` (a key the backend gave in [`Chosen`]), `None`
    /// if it is missing.
    fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Where an out-of-order series too large to sort in memory spills its sorted runs.
    fn spill_dir(&self) -> PathBuf;
}

/// One chunk chosen for a read: the backend's key for it and its span.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The backend's key of the chunk (passed back to [`ChunkFetch::fetch`]).
    pub key: Vec<u8>,
    /// What the chunk holds.
    pub span: Span,
}

/// Reads one series in history order within a step range; see the module docs.
pub struct HistoryReader {
    source: Box<dyn ChunkFetch>,
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

impl HistoryReader {
    /// A reader of the points of `chunks` (in storage order, each overlapping the range)
    /// with steps in `start..=end`.
    pub fn new(
        source: Box<dyn ChunkFetch>,
        run: RunId,
        key: &str,
        (start, end): (i64, i64),
        chunks: Vec<Chosen>,
    ) -> HistoryReader {
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
        HistoryReader {
            source,
            run,
            key: key.to_owned(),
            start,
            end,
            chunks,
            state,
        }
    }
}

impl HistoryReader {
    /// Points in the chunks the range touches: exact for a whole series, an upper bound for
    /// a step range (the chunks at its edges may hold steps outside it).
    pub fn points_hint(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.span.count)).sum()
    }

    /// Chunks the read touches.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Whether the chosen chunks were found in history order (read as stored, no sorting).
    pub fn in_order(&self) -> bool {
        matches!(self.state, State::Ordered { .. })
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
                            self.source.as_ref(),
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
            read_chunk(
                self.source.as_ref(),
                chosen,
                self.run,
                &self.key,
                &mut decoded,
            )?;
            for p in &decoded {
                if p.step < self.start || p.step > self.end {
                    continue;
                }
                run_points.push(*p);
                if run_points.len() == SORT_RUN_POINTS {
                    let spill = match &mut spill {
                        Some(s) => s,
                        None => spill.insert(Spill::create(self.source.spill_dir())?),
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
    source: &dyn ChunkFetch,
    chosen: &Chosen,
    run: RunId,
    key: &str,
    out: &mut Vec<Point>,
) -> Result<()> {
    let corrupt =
        |what: String| TrackingError::Corrupted(format!("run {run} metric '{key}': {what}"));
    let bytes = source
        .fetch(&chosen.key)?
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
            bytes.extend_from_slice(&encode_point(p));
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
                    decode_point(raw)
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

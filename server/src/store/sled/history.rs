//! The sled store's side of history reads: choosing a series' chunks from their spans
//! (repairing a stale newest span, see `spans`) and fetching chunk bytes for the shared
//! [`HistoryReader`].

use std::path::PathBuf;

use super::{keys, Store, StoreError};
use crate::domain::RunId;
use crate::error::{Result, TrackingError};
use crate::store::series::{Chosen, ChunkFetch, HistoryReader, Span};

/// Fetches chunks from the store's `metric_chunks` tree (and the chunk log it refers to).
struct SledChunks(Store);

impl ChunkFetch for SledChunks {
    fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let trees = self.0.trees();
        let Some(value) = trees.metric_chunks.get(key).map_err(StoreError::from)? else {
            return Ok(None);
        };
        Ok(Some(trees.chunk_payload(&value)?.into_owned()))
    }

    fn spill_dir(&self) -> PathBuf {
        self.0.dir().join("tmp")
    }
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
        Ok(HistoryReader::new(
            Box::new(SledChunks(self.clone())),
            run,
            key,
            (start, end),
            chunks,
        ))
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
        let trees = self.trees();
        let count = trees
            .chunk_count(&bytes)
            .map_err(|e| corrupt(&e.to_string()))? as u32;
        if *last_span == Some((no, count)) {
            return Ok(None);
        }
        let mut points = Vec::with_capacity(count as usize);
        trees
            .chunk_points_into(&bytes, &mut points)
            .map_err(|e| corrupt(&e.to_string()))?;
        if points.is_empty() {
            return Ok(None);
        }
        Ok(Some(Chosen {
            key: chunk_key.to_vec(),
            span: Span::of(&points),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Point;
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
        let run = super::super::chunk_refs::tests::new_run(&store).await;
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
        assert!(reader.in_order());
        assert_eq!(reader.points_hint(), 20_000);
        assert_eq!(drain(reader, 3000), points);
        let reader = store
            .history_reader(run, "m", Some(9000), Some(9100))
            .unwrap();
        assert_eq!(reader.chunk_count(), 1, "only the chunk holding the range");
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
        let copy = super::super::chunk_refs::tests::reopenable_copy(dir.path());
        let store = Store::open(StoreConfig::new(copy.path())).unwrap();
        assert_eq!(store.trees().chunk_spans.len(), 3);
        let reader = store.history_reader(run, "m", Some(5000), None).unwrap();
        assert_eq!(reader.chunk_count(), 2, "chosen by their spans");
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
        assert!(!reader.in_order());
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

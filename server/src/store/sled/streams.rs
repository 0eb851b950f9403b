//! LogStream sequence records: for each client stream, the last stored sequence number and
//! when it was written. A batch whose sequence number is not above the record was stored
//! before (a re-send after a lost acknowledgement) and is skipped.
//!
//! A record is needed only while its client may still re-send, i.e. within the client's
//! reconnect window (60 s by default). So that the tree does not grow with every client that
//! ever connected, the committer removes records of streams that wrote nothing for
//! [`StoreConfig::stream_retention`](super::StoreConfig::stream_retention) (7 days by
//! default), a slice at a time between write groups, so a pass never stalls ingest. A stream
//! that resumes after its record was removed just starts a new record: sequence numbers only
//! grow, so nothing new is mistaken for a re-send.

use std::ops::Bound;
use std::time::{Duration, Instant};

use super::StoreError;

/// Records examined per pruning step (one step per write group while a pass runs).
const SLICE: usize = 1024;
/// Pause between the end of one pruning pass and the start of the next.
const PASS_INTERVAL: Duration = Duration::from_secs(3600);

/// One stream's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamRecord {
    /// The highest sequence number stored.
    pub last_seq: u64,
    /// When it was stored (ms since the epoch); `None` in records written before trackd
    /// kept the time (8-byte values).
    pub written_ms: Option<i64>,
}

impl StreamRecord {
    /// Reads a record value: 16 bytes (seq, time) or the older 8 bytes (seq).
    pub fn decode(bytes: &[u8]) -> Option<StreamRecord> {
        let seq = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        match bytes.len() {
            8 => Some(StreamRecord {
                last_seq: seq(bytes),
                written_ms: None,
            }),
            16 => Some(StreamRecord {
                last_seq: seq(&bytes[..8]),
                written_ms: Some(i64::from_be_bytes(bytes[8..].try_into().expect("8 bytes"))),
            }),
            _ => None,
        }
    }

    /// The value stored for `last_seq` written at `now_ms`.
    pub fn encode(last_seq: u64, now_ms: i64) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&last_seq.to_be_bytes());
        out[8..].copy_from_slice(&now_ms.to_be_bytes());
        out
    }
}

/// Removes expired stream records, one slice per call, in passes over the whole tree.
/// Lives in the committer thread: its writes cannot race a stream batch.
pub(crate) struct Pruner {
    retention: Duration,
    /// Where the running pass continues (after this key); `None` between passes.
    cursor: Option<sled::IVec>,
    /// When the next pass may start.
    next_pass: Instant,
}

/// What one pruning step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PruneStep {
    /// Expired records removed.
    pub removed: u64,
    /// Records without a time given one (so they expire a retention period from now).
    pub stamped: u64,
    /// Whether the step finished a pass.
    pub pass_done: bool,
}

impl Pruner {
    /// A pruner whose first pass is due at once.
    pub fn new(retention: Duration) -> Self {
        Pruner {
            retention,
            cursor: None,
            next_pass: Instant::now(),
        }
    }

    /// Whether a step should run now.
    pub fn due(&self, now: Instant) -> bool {
        self.cursor.is_some() || now >= self.next_pass
    }

    /// Examines the next [`SLICE`] records of `streams` at wall time `now_ms`.
    pub fn step(
        &mut self,
        streams: &sled::Tree,
        now_ms: i64,
        now: Instant,
    ) -> Result<PruneStep, StoreError> {
        let retention_ms = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        let expired_before = now_ms.saturating_sub(retention_ms);
        let start = match self.cursor.take() {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        let mut step = PruneStep::default();
        let mut seen = 0;
        for entry in streams.range::<sled::IVec, _>((start, Bound::Unbounded)) {
            let (key, value) = entry?;
            seen += 1;
            match StreamRecord::decode(&value) {
                Some(StreamRecord {
                    written_ms: Some(written),
                    ..
                }) if written < expired_before => {
                    streams.remove(&key)?;
                    step.removed += 1;
                }
                Some(StreamRecord {
                    last_seq,
                    written_ms: None,
                }) => {
                    streams.insert(&key, &StreamRecord::encode(last_seq, now_ms))?;
                    step.stamped += 1;
                }
                // Unreadable values are left for the stream code to report.
                _ => {}
            }
            if seen == SLICE {
                self.cursor = Some(key);
                return Ok(step);
            }
        }
        step.pass_done = true;
        self.next_pass = now + PASS_INTERVAL;
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::now_ms;
    use crate::domain::{Outcome, WriteOp};
    use crate::store::{Store, StoreConfig};

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn records_round_trip_in_both_forms() {
        let new = StreamRecord::encode(42, 1_700_000_000_000);
        assert_eq!(
            StreamRecord::decode(&new),
            Some(StreamRecord {
                last_seq: 42,
                written_ms: Some(1_700_000_000_000)
            })
        );
        assert_eq!(
            StreamRecord::decode(&7u64.to_be_bytes()),
            Some(StreamRecord {
                last_seq: 7,
                written_ms: None
            })
        );
        assert_eq!(StreamRecord::decode(b"bad"), None);
    }

    #[test]
    fn passes_remove_expired_records_keep_fresh_ones_and_stamp_old_format() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let streams = db.open_tree("streams").unwrap();
        let now_ms = 100 * DAY_MS;
        // More records than one slice, so a pass takes several steps.
        for i in 0..3000u64 {
            let written = if i % 3 == 0 {
                now_ms - 8 * DAY_MS // expired
            } else {
                now_ms - 6 * DAY_MS // within the 7-day retention
            };
            streams
                .insert(format!("s{i:05}"), &StreamRecord::encode(i, written))
                .unwrap();
        }
        streams.insert("legacy", &9u64.to_be_bytes()).unwrap();
        let mut pruner = Pruner::new(Duration::from_secs(7 * 86_400));
        let start = Instant::now();
        assert!(pruner.due(start));
        let mut total = PruneStep::default();
        let mut steps = 0;
        loop {
            let step = pruner.step(&streams, now_ms, start).unwrap();
            steps += 1;
            total.removed += step.removed;
            total.stamped += step.stamped;
            if step.pass_done {
                break;
            }
            assert!(pruner.due(start), "a pass in progress continues");
        }
        assert_eq!(steps, 3, "3001 records in slices of {SLICE}");
        assert_eq!(total.removed, 1000);
        assert_eq!(total.stamped, 1);
        assert_eq!(streams.len(), 2001);
        assert!(streams.get("s00000").unwrap().is_none());
        assert_eq!(
            StreamRecord::decode(&streams.get("s00001").unwrap().unwrap())
                .unwrap()
                .last_seq,
            1
        );
        assert_eq!(
            StreamRecord::decode(&streams.get("legacy").unwrap().unwrap()),
            Some(StreamRecord {
                last_seq: 9,
                written_ms: Some(now_ms)
            })
        );
        assert!(!pruner.due(start), "the next pass waits");
        assert!(pruner.due(start + PASS_INTERVAL));
        // A day later the records written 6 days before expire too; the stamped one stays.
        let mut removed = 0;
        loop {
            let step = pruner
                .step(&streams, now_ms + 2 * DAY_MS, start + PASS_INTERVAL)
                .unwrap();
            removed += step.removed;
            if step.pass_done {
                break;
            }
        }
        assert_eq!(removed, 2000);
        assert_eq!(streams.len(), 1);
        assert!(streams.get("legacy").unwrap().is_some());
    }

    fn batch(stream_id: &str, seq: u64, now: i64) -> WriteOp {
        WriteOp::StreamBatch {
            stream_id: stream_id.into(),
            seq,
            runs: Vec::new(),
            now,
        }
    }

    fn duplicate(outcome: Outcome) -> bool {
        match outcome {
            Outcome::Stream { duplicate, .. } => duplicate,
            other => panic!("not a stream outcome: {other:?}"),
        }
    }

    /// The committer prunes: the first write group after opening runs a pass, removes a
    /// record older than the retention (so its seq is new again) and keeps fresh ones.
    #[tokio::test]
    async fn the_committer_prunes_expired_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let eight_days_ago = now_ms() - 8 * DAY_MS;
        assert!(!duplicate(
            store.write(batch("old", 1, eight_days_ago)).await.unwrap()
        ));
        assert_eq!(
            store
                .commit_stats()
                .stream_records_pruned
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert!(
            !duplicate(store.write(batch("old", 1, now_ms())).await.unwrap()),
            "the expired record is gone: seq 1 is new again"
        );
        assert!(!duplicate(
            store.write(batch("fresh", 1, now_ms())).await.unwrap()
        ));
        assert!(duplicate(
            store.write(batch("fresh", 1, now_ms())).await.unwrap()
        ));
        assert!(!duplicate(
            store.write(batch("old", 2, now_ms())).await.unwrap()
        ));
        assert!(duplicate(
            store.write(batch("old", 1, now_ms())).await.unwrap()
        ));
        store.close().await.unwrap();
    }
}

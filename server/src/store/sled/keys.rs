//! Key encoding of every sled tree. Integers are big-endian so byte order is numeric order.
//!
//! | tree               | key                                  | value                          |
//! |--------------------|--------------------------------------|--------------------------------|
//! | `meta`             | name                                 | format version, id counter     |
//! | `experiments`      | experiment id (u64)                  | `Experiment` (postcard)        |
//! | `experiment_names` | name (UTF-8)                         | experiment id (u64)            |
//! | `runs`             | run id (16 bytes)                    | `RunInfo` (postcard)           |
//! | `experiment_runs`  | experiment id (u64) · run id         | empty                          |
//! | `params`, `tags`   | run id · key (UTF-8)                 | value (UTF-8)                  |
//! | `latest_metrics`   | run id · key                         | latest point (24 bytes)        |
//! | `metric_chunks`    | run id · key · 0x00 · chunk no (u32) | encoded points (see `chunk`)   |
//! | `chunk_spans`      | the chunk's key                      | the chunk's span (see `spans`) |
//! | `streams`          | stream id (UTF-8)                    | last stored seq (u64)          |
//! | `run_io`           | run id · kind · identity             | see `run_io`                   |
//!
//! Metric keys never contain NUL (validation refuses it), so `run · key · 0x00` is a prefix
//! that selects exactly one series.

use crate::domain::{ExperimentId, RunId};

/// Key of an experiment record.
pub fn experiment(id: ExperimentId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// Key of a run record.
pub fn run(id: RunId) -> [u8; 16] {
    id.0
}

/// Key of a run's param, tag or latest metric.
pub fn run_child(run: RunId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + key.len());
    k.extend_from_slice(&run.0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Splits a `run_child` key into its name part.
pub fn child_name(full: &[u8]) -> String {
    String::from_utf8_lossy(&full[16.min(full.len())..]).into_owned()
}

/// Index entry linking an experiment to one of its runs.
pub fn experiment_run(exp: ExperimentId, run: RunId) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&exp.0.to_be_bytes());
    k[8..].copy_from_slice(&run.0);
    k
}

/// The run id in an `experiment_runs` key (`None` if the key is malformed).
pub fn experiment_run_id(key: &[u8]) -> Option<RunId> {
    let raw: [u8; 16] = key.get(8..24)?.try_into().ok()?;
    Some(RunId(raw))
}

/// Prefix of every chunk of one metric series.
pub fn series_prefix(run: RunId, key: &str) -> Vec<u8> {
    let mut k = run_child(run, key);
    k.push(0);
    k
}

/// Key of chunk `no` of a series, given the series prefix (its span has the same key in
/// `chunk_spans`).
pub fn chunk(prefix: &[u8], no: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 4);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&no.to_be_bytes());
    k
}

/// The chunk number at the end of a chunk key.
pub fn chunk_no(key: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = key.get(key.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

/// Latest-metric values are points in the shared 24-byte form.
pub use crate::store::series::{decode_point, encode_point};

//! Metric series as every backend stores them: points in compact chunks ([`chunk`]), a
//! [`Span`] per chunk so readers choose chunks without decoding them, and the
//! [`HistoryReader`] that hands a series out in history order in bounded memory.

pub mod chunk;
mod reader;
mod rice;
pub mod spans;

pub use reader::{Chosen, ChunkFetch, HistoryReader, HISTORY_BLOCK_POINTS, SORT_RUN_POINTS};
pub use spans::Span;

use crate::domain::Point;

/// Chunks with fewer points than this are rewritten with the next points of their series.
pub const MERGE_BELOW: usize = 512;
/// Most points in one chunk.
pub const MAX_CHUNK_POINTS: usize = 4096;

/// A point as 24 bytes (step, timestamp, value bits; big-endian).
pub fn encode_point(p: &Point) -> [u8; 24] {
    let mut v = [0u8; 24];
    v[..8].copy_from_slice(&p.step.to_be_bytes());
    v[8..16].copy_from_slice(&p.timestamp.to_be_bytes());
    v[16..].copy_from_slice(&p.value.to_bits().to_be_bytes());
    v
}

/// Decodes [`encode_point`]; `None` unless 24 bytes.
pub fn decode_point(v: &[u8]) -> Option<Point> {
    if v.len() != 24 {
        return None;
    }
    let word = |i: usize| -> [u8; 8] { v[i..i + 8].try_into().expect("length checked") };
    Some(Point {
        step: i64::from_be_bytes(word(0)),
        timestamp: i64::from_be_bytes(word(8)),
        value: f64::from_bits(u64::from_be_bytes(word(16))),
    })
}

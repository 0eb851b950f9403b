//! Chunk spans: for each metric chunk, what a reader needs to choose chunks without decoding
//! them — the number of points, the first and last point, the smallest and largest step, and
//! whether the chunk's points are in history order.
//!
//! A span lives in the `metric_chunks` tree next to its chunk, under `run · key · 0x01 ·
//! chunk no` (the chunk itself is under `· 0x00 ·`; metric keys never contain bytes below
//! 0x20, so neither prefix can be mistaken for another series). The writer stores a chunk and
//! its span in one `sled::Batch` on that one tree, which sled applies atomically, so after a
//! crash a chunk never has a stale span.

use crate::domain::Point;

/// Marker byte after `run · key` for spans (chunks use 0x00).
pub const SPAN_MARKER: u8 = 1;
/// Encoded size of a span.
const ENCODED_LEN: usize = 4 + 24 + 24 + 8 + 8 + 1;

/// What a reader knows about one chunk without decoding it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Points in the chunk.
    pub count: u32,
    /// The chunk's first point (in storage order).
    pub first: Point,
    /// The chunk's last point (in storage order).
    pub last: Point,
    /// Smallest step in the chunk.
    pub min_step: i64,
    /// Largest step in the chunk.
    pub max_step: i64,
    /// Whether the chunk's points are in history order (step, timestamp, value).
    pub sorted: bool,
}

impl Span {
    /// The span of a chunk holding `points` (not empty).
    pub fn of(points: &[Point]) -> Span {
        let first = points[0];
        let last = points[points.len() - 1];
        let mut min_step = first.step;
        let mut max_step = first.step;
        let mut sorted = true;
        for pair in points.windows(2) {
            sorted &= pair[0].latest_cmp(&pair[1]).is_le();
            min_step = min_step.min(pair[1].step);
            max_step = max_step.max(pair[1].step);
        }
        Span {
            count: points.len() as u32,
            first,
            last,
            min_step,
            max_step,
            sorted,
        }
    }

    /// Whether the chunk may hold points with steps in `start..=end`.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.min_step <= end && self.max_step >= start
    }

    /// Fixed-size encoding (big-endian).
    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        out[..4].copy_from_slice(&self.count.to_be_bytes());
        out[4..28].copy_from_slice(&super::keys::encode_point(&self.first));
        out[28..52].copy_from_slice(&super::keys::encode_point(&self.last));
        out[52..60].copy_from_slice(&self.min_step.to_be_bytes());
        out[60..68].copy_from_slice(&self.max_step.to_be_bytes());
        out[68] = u8::from(self.sorted);
        out
    }

    /// Decodes [`Span::encode`]; `None` if malformed.
    pub fn decode(bytes: &[u8]) -> Option<Span> {
        if bytes.len() != ENCODED_LEN {
            return None;
        }
        let word = |i: usize| i64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Some(Span {
            count: u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")),
            first: super::keys::decode_point(&bytes[4..28])?,
            last: super::keys::decode_point(&bytes[28..52])?,
            min_step: word(52),
            max_step: word(60),
            sorted: match bytes[68] {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(step: i64, timestamp: i64, value: f64) -> Point {
        Point {
            step,
            timestamp,
            value,
        }
    }

    #[test]
    fn spans_describe_their_chunk_and_round_trip() {
        let sorted = Span::of(&[p(1, 5, 0.5), p(1, 6, f64::NAN), p(4, 1, -1.0)]);
        assert_eq!((sorted.count, sorted.min_step, sorted.max_step), (3, 1, 4));
        assert!(sorted.sorted);
        let unsorted = Span::of(&[p(9, 0, 0.0), p(-3, 0, 0.0), p(5, 0, 0.0)]);
        assert_eq!((unsorted.min_step, unsorted.max_step), (-3, 9));
        assert!(!unsorted.sorted);
        assert_eq!(unsorted.first.step, 9);
        assert_eq!(unsorted.last.step, 5);
        for span in [sorted, unsorted] {
            let back = Span::decode(&span.encode()).unwrap();
            assert_eq!(back.encode(), span.encode());
        }
        assert!(Span::decode(&[0; 3]).is_none());
        assert!(unsorted.overlaps(9, 100) && unsorted.overlaps(-10, -3));
        assert!(!unsorted.overlaps(10, 20));
    }
}

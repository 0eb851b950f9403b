//! Chunk spans: for each metric chunk, what a reader needs to choose chunks without decoding
//! them — the number of points, the first and last point, the smallest and largest step, and
//! whether the chunk's points are in history order.
//!
//! In the sled store a span lives in the `chunk_spans` tree under its chunk's key. (A tree of its own: next
//! to the chunks, span updates landed in the leaves that hold the chunk values and made sled
//! rewrite those large leaves more often, +1.1 bytes per point on disk.) The writer inserts a chunk
//! and then its span, one series chunk after another, so a crash (sled recovers a prefix of
//! the writes) can leave only the newest chunk of a series with a missing or stale span;
//! readers compare it with the chunk's header and recompute it when they differ.

use crate::domain::Point;

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
        // Steps strictly increasing (the usual case) settles order without looking further.
        let mut steps_rise = true;
        let mut sorted = true;
        for pair in points.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            min_step = min_step.min(b.step);
            max_step = max_step.max(b.step);
            if a.step >= b.step {
                steps_rise = false;
                sorted &= a.latest_cmp(b).is_le();
            }
        }
        let sorted = steps_rise || sorted;
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
        out[4..28].copy_from_slice(&super::encode_point(&self.first));
        out[28..52].copy_from_slice(&super::encode_point(&self.last));
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
            first: super::decode_point(&bytes[4..28])?,
            last: super::decode_point(&bytes[28..52])?,
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

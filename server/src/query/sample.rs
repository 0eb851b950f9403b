//! Downsampling metric series for charts.
//!
//! - [`min_max`]: split the series into buckets by position and keep each bucket's minimum and
//!   maximum (in their original order), plus the first and last points. Every extreme of the
//!   series survives, so spikes never disappear from a chart.
//! - [`lttb`]: Largest-Triangle-Three-Buckets, which keeps the visual shape; the global minimum
//!   and maximum are added back if LTTB dropped them.
//!
//! Both return at most `max_points` points in step order (for `max_points >= 4`).

use crate::domain::Point;

/// `f64::total_cmp` order as an integer key (the same transformation `total_cmp` uses).
fn total_order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// Positions of the first minimum and the first maximum (in `total_cmp` order).
fn extremes(points: &[Point]) -> (usize, usize) {
    let Some(first) = points.first() else {
        return (0, 0);
    };
    let (mut lo, mut hi) = (0, 0);
    let mut lo_key = total_order_key(first.value);
    let mut hi_key = lo_key;
    for (i, p) in points.iter().enumerate().skip(1) {
        let key = total_order_key(p.value);
        if key < lo_key {
            lo = i;
            lo_key = key;
        }
        if key > hi_key {
            hi = i;
            hi_key = key;
        }
    }
    (lo, hi)
}

/// Min/max-per-bucket sampling to at most `max_points` points (at least 4 are kept when
/// the series has them).
pub fn min_max(points: &[Point], max_points: usize) -> Vec<Point> {
    let mut sampler = MinMaxSampler::new(points.len(), max_points);
    sampler.extend(points);
    sampler.finish()
}

/// [`min_max`] over a series whose length is known up front, fed one point at a time, so a
/// long series is sampled straight from its stored chunks without being materialised.
///
/// The interior points (all but the first and last) are split by position into
/// `(max_points - 2) / 2` buckets; each bucket keeps its first minimum and first maximum,
/// in their original order.
#[derive(Debug)]
pub struct MinMaxSampler {
    len: usize,
    keep_all: bool,
    buckets: usize,
    interior: usize,
    seen: usize,
    bucket: usize,
    bucket_end: usize,
    lo: Option<(usize, Point)>,
    hi: Option<(usize, Point)>,
    out: Vec<Point>,
}

impl MinMaxSampler {
    /// A sampler for a series of exactly `len` points.
    pub fn new(len: usize, max_points: usize) -> Self {
        let max_points = max_points.max(4);
        let keep_all = len <= max_points;
        let buckets = (max_points - 2) / 2;
        let interior = len.saturating_sub(2);
        let mut sampler = MinMaxSampler {
            len,
            keep_all,
            buckets,
            interior,
            seen: 0,
            bucket: 0,
            bucket_end: 0,
            lo: None,
            hi: None,
            out: Vec::with_capacity(len.min(max_points)),
        };
        sampler.bucket_end = sampler.end_of(0);
        sampler
    }

    fn end_of(&self, bucket: usize) -> usize {
        ((bucket + 1) * self.interior / self.buckets).min(self.interior)
    }

    /// Feeds the next points (at most `len` in all; any beyond are ignored).
    pub fn extend(&mut self, mut points: &[Point]) {
        if self.keep_all {
            let room = self.len - self.seen.min(self.len);
            let take = points.len().min(room);
            self.out.extend_from_slice(&points[..take]);
            self.seen += take;
            return;
        }
        while let Some(&first) = points.first() {
            let i = self.seen;
            if i >= self.len {
                return;
            }
            if i == 0 || i + 1 == self.len {
                if i > 0 {
                    self.close_bucket();
                }
                self.out.push(first);
                self.seen += 1;
                points = &points[1..];
                continue;
            }
            let j = i - 1; // interior index
            while j >= self.bucket_end && self.bucket < self.buckets {
                self.close_bucket();
                self.bucket += 1;
                self.bucket_end = self.end_of(self.bucket);
            }
            // The rest of this bucket that is in hand, never the series' last point.
            let take = points
                .len()
                .min(self.bucket_end.saturating_sub(j).max(1))
                .min(self.len - 1 - i);
            let segment = &points[..take];
            let (lo, hi) = extremes(segment);
            if self
                .lo
                .is_none_or(|(_, best)| segment[lo].value.total_cmp(&best.value).is_lt())
            {
                self.lo = Some((j + lo, segment[lo]));
            }
            if self
                .hi
                .is_none_or(|(_, best)| segment[hi].value.total_cmp(&best.value).is_gt())
            {
                self.hi = Some((j + hi, segment[hi]));
            }
            self.seen += take;
            points = &points[take..];
        }
    }

    fn close_bucket(&mut self) {
        if let (Some(lo), Some(hi)) = (self.lo.take(), self.hi.take()) {
            let (first, second) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
            self.out.push(first.1);
            if second.0 != first.0 {
                self.out.push(second.1);
            }
        }
    }

    /// The kept points, in their original order.
    pub fn finish(self) -> Vec<Point> {
        self.out
    }
}

/// LTTB to at most `max_points` points, keeping first, last, global minimum and maximum.
pub fn lttb(points: &[Point], max_points: usize) -> Vec<Point> {
    let max_points = max_points.max(4);
    if points.len() <= max_points {
        return points.to_vec();
    }
    // Two slots are reserved for the global extremes.
    let threshold = max_points - 2;
    let x = |p: &Point| p.step as f64;
    let mut keep = vec![0usize];
    let every = (points.len() - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let avg_start = ((i + 1) as f64 * every) as usize + 1;
        let avg_end = (((i + 2) as f64 * every) as usize + 1).min(points.len());
        let span = &points[avg_start.min(avg_end.saturating_sub(1))..avg_end];
        let n = span.len().max(1) as f64;
        let avg_x = span.iter().map(x).sum::<f64>() / n;
        let avg_y = span.iter().map(|p| p.value).sum::<f64>() / n;
        let start = (i as f64 * every) as usize + 1;
        let end = ((i + 1) as f64 * every) as usize + 1;
        let (ax, ay) = (x(&points[a]), points[a].value);
        let mut best = start;
        let mut best_area = f64::NEG_INFINITY;
        for (j, p) in points
            .iter()
            .enumerate()
            .take(end.min(points.len() - 1))
            .skip(start)
        {
            let area = ((ax - avg_x) * (p.value - ay) - (ax - x(p)) * (avg_y - ay)).abs();
            if area > best_area || (best_area.is_nan() && !area.is_nan()) {
                best_area = area;
                best = j;
            }
        }
        keep.push(best);
        a = best;
    }
    keep.push(points.len() - 1);
    let (lo, hi) = extremes(points);
    keep.push(lo);
    keep.push(hi);
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(|i| points[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                step: i as i64,
                timestamp: 0,
                value: ((i * 7919) % 1013) as f64,
            })
            .collect()
    }

    #[test]
    fn keeps_first_last_and_extremes() {
        let pts = series(10_000);
        for sampled in [min_max(&pts, 1000), lttb(&pts, 1000)] {
            assert!(sampled.len() <= 1000);
            assert_eq!(sampled.first(), pts.first());
            assert_eq!(sampled.last(), pts.last());
            let max = pts.iter().map(|p| p.value).fold(f64::MIN, f64::max);
            let min = pts.iter().map(|p| p.value).fold(f64::MAX, f64::min);
            assert!(
                sampled.iter().any(|p| p.value == max) && sampled.iter().any(|p| p.value == min)
            );
            assert!(sampled.windows(2).all(|w| w[0].step < w[1].step));
        }
        assert_eq!(min_max(&pts[..10], 1000).len(), 10);
    }
}

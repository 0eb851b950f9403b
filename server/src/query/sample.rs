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

fn extremes(points: &[Point]) -> (usize, usize) {
    let mut lo = 0;
    let mut hi = 0;
    for (i, p) in points.iter().enumerate() {
        if p.value.total_cmp(&points[lo].value).is_lt() {
            lo = i;
        }
        if p.value.total_cmp(&points[hi].value).is_gt() {
            hi = i;
        }
    }
    (lo, hi)
}

/// Min/max-per-bucket sampling to at most `max_points` points (at least 4 are kept when
/// the series has them).
pub fn min_max(points: &[Point], max_points: usize) -> Vec<Point> {
    let max_points = max_points.max(4);
    if points.len() <= max_points {
        return points.to_vec();
    }
    let interior = &points[1..points.len() - 1];
    let buckets = (max_points - 2) / 2;
    let mut keep: Vec<usize> = Vec::with_capacity(max_points);
    keep.push(0);
    for b in 0..buckets {
        let start = b * interior.len() / buckets;
        let end = ((b + 1) * interior.len() / buckets)
            .max(start + 1)
            .min(interior.len());
        if start >= end {
            continue;
        }
        let (lo, hi) = extremes(&interior[start..end]);
        let (a, z) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        keep.push(start + a + 1);
        if z != a {
            keep.push(start + z + 1);
        }
    }
    keep.push(points.len() - 1);
    keep.dedup();
    keep.into_iter().map(|i| points[i]).collect()
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

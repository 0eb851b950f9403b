//! Compact encoding of a run of metric points (one sled value holds many points).
//!
//! Layout: `version (1) · count (varint) · point*`. Each point is
//! - the step as a zig-zag varint delta from the previous step (usually one byte),
//! - the timestamp as a zig-zag varint delta from the previous timestamp (usually one byte),
//! - the value as the XOR of its bits with the previous value's bits (Gorilla-style): one
//!   header byte `trailing_zero_bytes << 4 | significant_bytes`, then the significant bytes;
//!   an unchanged value is the single byte `0x00`.
//!
//! Real training curves (f32 values widened to f64, steps +1, timestamps close together)
//! encode in about 6–7 bytes per point. Decoding is a tight loop with no allocation per point.

use crate::domain::Point;

const VERSION: u8 = 1;

/// Why a chunk could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("metric chunk is malformed: {0}")]
pub struct ChunkError(&'static str);

/// Appends the encoding of `points` to `out`.
pub fn encode(points: &[Point], out: &mut Vec<u8>) {
    out.reserve(2 + points.len() * 8);
    out.push(VERSION);
    put_varint(out, points.len() as u64);
    let (mut step, mut ts, mut bits) = (0i64, 0i64, 0u64);
    for p in points {
        put_varint(out, zigzag(p.step.wrapping_sub(step)));
        put_varint(out, zigzag(p.timestamp.wrapping_sub(ts)));
        let x = p.value.to_bits() ^ bits;
        if x == 0 {
            out.push(0);
        } else {
            let trailing = (x.trailing_zeros() / 8) as usize;
            let leading = (x.leading_zeros() / 8) as usize;
            let significant = 8 - trailing - leading;
            out.push(((trailing as u8) << 4) | significant as u8);
            let le = (x >> (trailing * 8)).to_le_bytes();
            out.extend_from_slice(&le[..significant]);
        }
        step = p.step;
        ts = p.timestamp;
        bits = p.value.to_bits();
    }
}

/// Number of points in a chunk, read from its header.
pub fn count(bytes: &[u8]) -> Result<usize, ChunkError> {
    let mut pos = 0;
    header(bytes, &mut pos)
}

fn header(bytes: &[u8], pos: &mut usize) -> Result<usize, ChunkError> {
    if bytes.first() != Some(&VERSION) {
        return Err(ChunkError("unknown version"));
    }
    *pos = 1;
    let n = get_varint(bytes, pos)? as usize;
    // Every point takes at least three bytes: refuse counts the buffer cannot hold.
    if n > bytes.len() {
        return Err(ChunkError("count larger than the chunk"));
    }
    Ok(n)
}

/// Decodes a chunk, appending its points to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<Point>) -> Result<(), ChunkError> {
    let mut pos = 0;
    let n = header(bytes, &mut pos)?;
    out.reserve(n);
    let (mut step, mut ts, mut bits) = (0i64, 0i64, 0u64);
    for _ in 0..n {
        step = step.wrapping_add(unzigzag(get_varint(bytes, &mut pos)?));
        ts = ts.wrapping_add(unzigzag(get_varint(bytes, &mut pos)?));
        let head = *bytes.get(pos).ok_or(ChunkError("truncated value"))?;
        pos += 1;
        if head != 0 {
            let trailing = (head >> 4) as usize;
            let significant = (head & 0x0f) as usize;
            if significant == 0 || trailing + significant > 8 {
                return Err(ChunkError("bad value header"));
            }
            let raw = bytes
                .get(pos..pos + significant)
                .ok_or(ChunkError("truncated value"))?;
            let mut le = [0u8; 8];
            le[..significant].copy_from_slice(raw);
            pos += significant;
            bits ^= u64::from_le_bytes(le) << (trailing * 8);
        }
        out.push(Point {
            step,
            timestamp: ts,
            value: f64::from_bits(bits),
        });
    }
    if pos != bytes.len() {
        return Err(ChunkError("trailing bytes"));
    }
    Ok(())
}

/// Decodes a chunk into a new vector.
pub fn decode(bytes: &[u8]) -> Result<Vec<Point>, ChunkError> {
    let mut out = Vec::new();
    decode_into(bytes, &mut out)?;
    Ok(out)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, ChunkError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or(ChunkError("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(ChunkError("varint too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(points: &[Point]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(points, &mut buf);
        let back = decode(&buf).unwrap();
        assert_eq!(back.len(), points.len());
        for (a, b) in points.iter().zip(&back) {
            assert!(a.same_as(b), "{a:?} != {b:?}");
        }
        assert_eq!(count(&buf).unwrap(), points.len());
        buf
    }

    #[test]
    fn extremes_roundtrip() {
        let vals = [
            0.0,
            -0.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        let pts: Vec<Point> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| Point {
                step: [i64::MIN, i64::MAX, -5, 0][i % 4],
                timestamp: [0, i64::MAX][i % 2],
                value: v,
            })
            .collect();
        roundtrip(&pts);
        roundtrip(&[]);
    }

    #[test]
    fn training_curve_is_compact() {
        let pts: Vec<Point> = (0..10_000)
            .map(|i| Point {
                step: i,
                timestamp: 1_700_000_000_000 + i / 10,
                value: f64::from((1.0f32 / (1.0 + i as f32)) + 0.01 * ((i % 7) as f32)),
            })
            .collect();
        let buf = roundtrip(&pts);
        let per_point = buf.len() as f64 / pts.len() as f64;
        assert!(per_point < 7.5, "{per_point} bytes per point");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &[][..],
            &[9, 1],
            &[1, 200],
            &[1, 1, 0],
            &[1, 1, 0, 0, 0x9f, 1],
            &[1, 0, 7],
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}

//! Compact encoding of a run of metric points (one sled value holds many points).
//!
//! Layout: `version (1) · count (varint) · steps · timestamps · values`, in columns:
//! - `steps` and `timestamps` are each a sequence of tokens over the delta-of-delta of the
//!   column (the first value's delta is from 0). A token is a varint `zigzag(dd) << 1` for one
//!   value, or `run << 1 | 1` for `run` values whose delta-of-delta is 0. Regular columns
//!   (step += 1, a fixed logging interval) cost a few bytes per chunk in all; irregular wall
//!   clock timestamps about one byte per point.
//! - `values` are XORed with the previous value's bits (Gorilla-style). A zero XOR is the
//!   byte `0x00`; otherwise one header byte `significant_bytes << 4 | trailing_zero_nibbles`
//!   and then the significant bytes (little-endian) of `xor >> (4 · trailing_zero_nibbles)`.
//!   f32 values widened to f64 (most training metrics) take 3–4 bytes.
//!
//! Decoding is a tight loop with no allocation per point; malformed input is an error,
//! never a panic.

use crate::domain::Point;

const VERSION: u8 = 2;

/// Why a chunk could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("metric chunk is malformed: {0}")]
pub struct ChunkError(&'static str);

/// Appends the encoding of `points` to `out`.
pub fn encode(points: &[Point], out: &mut Vec<u8>) {
    out.reserve(8 + points.len() * 5);
    out.push(VERSION);
    put_varint(out, points.len() as u64);
    encode_column(points.iter().map(|p| p.step), out);
    encode_column(points.iter().map(|p| p.timestamp), out);
    let mut bits = 0u64;
    for p in points {
        let x = p.value.to_bits() ^ bits;
        bits = p.value.to_bits();
        if x == 0 {
            out.push(0);
            continue;
        }
        let nibbles = (x.trailing_zeros() / 4).min(15);
        let shifted = x >> (nibbles * 4);
        let significant = (64 - shifted.leading_zeros()).div_ceil(8) as usize;
        out.push(((significant as u8) << 4) | nibbles as u8);
        out.extend_from_slice(&shifted.to_le_bytes()[..significant]);
    }
}

fn encode_column(values: impl Iterator<Item = i64>, out: &mut Vec<u8>) {
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    let mut zero_run = 0u64;
    for v in values {
        let delta = v.wrapping_sub(prev);
        let dd = delta.wrapping_sub(prev_delta);
        prev = v;
        prev_delta = delta;
        if dd == 0 {
            zero_run += 1;
            continue;
        }
        if zero_run > 0 {
            put_varint(out, (zero_run << 1) | 1);
            zero_run = 0;
        }
        put_token(out, zigzag(dd));
    }
    if zero_run > 0 {
        put_varint(out, (zero_run << 1) | 1);
    }
}

/// A one-value token: `zigzag(dd) << 1`, as a varint of up to 65 bits (10 bytes).
fn put_token(out: &mut Vec<u8>, z: u64) {
    let low = z << 1;
    let high = (z >> 63) as u8; // the bit shifted out
    let mut v = low;
    let mut top = high;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if top != 0 {
            v |= u64::from(top) << 57;
            top = 0;
        }
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
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
    // Every value takes at least one byte: refuse counts the buffer cannot hold.
    if n > bytes.len() {
        return Err(ChunkError("count larger than the chunk"));
    }
    Ok(n)
}

fn decode_column(
    bytes: &[u8],
    pos: &mut usize,
    n: usize,
    mut set: impl FnMut(usize, i64),
) -> Result<(), ChunkError> {
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    let mut i = 0;
    while i < n {
        let (token, extra) = get_token(bytes, pos)?;
        if token & 1 == 1 && extra == 0 {
            let run = (token >> 1) as usize;
            if run == 0 || run > n - i {
                return Err(ChunkError("bad run length"));
            }
            for _ in 0..run {
                prev = prev.wrapping_add(prev_delta);
                set(i, prev);
                i += 1;
            }
        } else {
            let z = (token >> 1) | (extra << 63);
            let dd = unzigzag(z);
            prev_delta = prev_delta.wrapping_add(dd);
            prev = prev.wrapping_add(prev_delta);
            set(i, prev);
            i += 1;
        }
    }
    Ok(())
}

/// Reads a varint of up to 65 bits: the low 64 bits, and the 65th.
#[inline(always)]
fn get_token(bytes: &[u8], pos: &mut usize) -> Result<(u64, u64), ChunkError> {
    // Fast paths: almost every token of a metric column is one or two bytes.
    if let Some(&[b0, b1]) = bytes.get(*pos..*pos + 2) {
        if b0 < 0x80 {
            *pos += 1;
            return Ok((u64::from(b0), 0));
        }
        if b1 < 0x80 {
            *pos += 2;
            return Ok((u64::from(b0 & 0x7f) | u64::from(b1) << 7, 0));
        }
    }
    get_token_slow(bytes, pos)
}

#[cold]
fn get_token_slow(bytes: &[u8], pos: &mut usize) -> Result<(u64, u64), ChunkError> {
    let mut v = 0u64;
    let mut extra = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *bytes.get(*pos).ok_or(ChunkError("truncated varint"))?;
        *pos += 1;
        let payload = u64::from(b & 0x7f);
        if shift < 64 {
            v |= payload << shift;
            if shift > 57 {
                extra |= payload >> (64 - shift);
            }
        } else {
            extra |= payload << (shift - 64);
        }
        if b < 0x80 {
            if extra > 1 {
                return Err(ChunkError("varint too long"));
            }
            return Ok((v, extra));
        }
    }
    Err(ChunkError("varint too long"))
}

/// Decodes a chunk, appending its points to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<Point>) -> Result<(), ChunkError> {
    let mut pos = 0;
    let n = header(bytes, &mut pos)?;
    let base = out.len();
    out.resize(
        base + n,
        Point {
            step: 0,
            timestamp: 0,
            value: 0.0,
        },
    );
    let points = &mut out[base..];
    let result = (|| {
        decode_column(bytes, &mut pos, n, |i, v| points[i].step = v)?;
        decode_column(bytes, &mut pos, n, |i, v| points[i].timestamp = v)?;
        let mut bits = 0u64;
        for p in points.iter_mut() {
            let head = *bytes.get(pos).ok_or(ChunkError("truncated value"))?;
            pos += 1;
            if head != 0 {
                let significant = (head >> 4) as usize;
                let nibbles = u32::from(head & 0x0f);
                if significant == 0 || significant > 8 {
                    return Err(ChunkError("bad value header"));
                }
                let shifted = if let Some(word) = bytes.get(pos..pos + 8) {
                    // Fast path: one unaligned 8-byte load, masked to the significant bytes.
                    let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                    let bits = significant as u32 * 8;
                    word & (u64::MAX >> (64 - bits))
                } else {
                    let raw = bytes
                        .get(pos..pos + significant)
                        .ok_or(ChunkError("truncated value"))?;
                    let mut le = [0u8; 8];
                    le[..significant].copy_from_slice(raw);
                    u64::from_le_bytes(le)
                };
                pos += significant;
                if pos > bytes.len() {
                    return Err(ChunkError("truncated value"));
                }
                if nibbles > 0 && shifted.leading_zeros() < nibbles * 4 {
                    return Err(ChunkError("value overflows"));
                }
                bits ^= shifted << (nibbles * 4);
            }
            p.value = f64::from_bits(bits);
        }
        if pos != bytes.len() {
            return Err(ChunkError("trailing bytes"));
        }
        Ok(())
    })();
    if result.is_err() {
        out.truncate(base);
    }
    result
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
        assert!(per_point < 5.0, "{per_point} bytes per point");
    }

    #[test]
    fn irregular_and_extreme_columns_roundtrip() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pts: Vec<Point> = (0..5000)
            .map(|i| Point {
                step: if i % 100 == 0 { next() as i64 } else { i },
                timestamp: (next() % 1_000_000) as i64,
                value: f64::from_bits(next()),
            })
            .collect();
        roundtrip(&pts);
        let edges: Vec<Point> = [i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MAX, 1]
            .iter()
            .map(|&v| Point {
                step: v,
                timestamp: v.wrapping_neg(),
                value: 1.0,
            })
            .collect();
        roundtrip(&edges);
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

//! Compact encoding of a run of metric points (one stored value holds many points).
//!
//! Layout (version 3): `version (1) · count (varint) · steps · timestamps · values`, each
//! column opening with a mode byte that says how it is coded; the encoder writes each column
//! in whichever mode is smaller.
//! - `steps` and `timestamps` go over the delta-of-delta of the column (the first value's
//!   delta is from 0).
//!   - Mode 0, *tokens*: a token is a varint `zigzag(dd) << 1` for one value, or
//!     `run << 1 | 1` for `run` values whose delta-of-delta is 0. Regular columns (step += 1,
//!     a fixed logging interval) cost a few bytes per chunk in all.
//!   - Mode 1, *Rice*: `k (1) · length (varint) · bits`, each `zigzag(dd)` Rice coded with
//!     parameter `k` (`rice`): jittered wall-clock timestamps take 4–5 bits instead of a byte.
//! - `values`:
//!   - Mode 0, *XOR bytes*: each value XORed with the previous value's bits (Gorilla-style). A
//!     zero XOR is the byte `0x00`; otherwise one header byte `significant_bytes << 4 |
//!     trailing_zero_nibbles` and then the significant bytes (little-endian) of
//!     `xor >> (4 · trailing_zero_nibbles)`. Smooth curves take 3–4 bytes.
//!   - Mode 1, *f32 Rice* (every value exactly an f32): the f32 bits mapped to integers in
//!     value order, and the zigzag of each difference Rice coded (`k · length · bits`):
//!     noisy values take what their noise needs, ~3 bytes at 2 % noise.
//!   - Mode 2, *f64 Rice*: the same over the f64 bits.
//!
//! Version 2 chunks (no mode bytes: tokens and XOR bytes) are still read. Decoding is a tight
//! loop with no allocation per point; malformed input is an error, never a panic.

use super::rice;
use crate::domain::Point;

/// What [`encode`] writes.
const VERSION: u8 = 3;
/// Chunks written before column modes (every column in mode 0, no mode bytes).
const VERSION_2: u8 = 2;

/// Column modes.
const MODE_TOKENS: u8 = 0;
const MODE_RICE: u8 = 1;
const MODE_XOR_BYTES: u8 = 0;
const MODE_F32_RICE: u8 = 1;
const MODE_F64_RICE: u8 = 2;

/// Why a chunk could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("metric chunk is malformed: {0}")]
pub struct ChunkError(&'static str);

/// Appends the encoding of `points` to `out`.
pub fn encode(points: &[Point], out: &mut Vec<u8>) {
    out.reserve(16 + points.len() * 4);
    out.push(VERSION);
    put_varint(out, points.len() as u64);
    encode_int_column(points.iter().map(|p| p.step), points.len(), out);
    encode_int_column(points.iter().map(|p| p.timestamp), points.len(), out);
    encode_values(points, out);
}

/// One integer column in the smaller of its two modes.
fn encode_int_column(values: impl Iterator<Item = i64> + Clone, n: usize, out: &mut Vec<u8>) {
    let mut tokens = Vec::new();
    encode_column(values.clone(), &mut tokens);
    // Rice takes at least a bit a value: it cannot beat tokens that take less.
    if tokens.len() > n / 8 + 4 {
        let (mut prev, mut prev_delta) = (0i64, 0i64);
        let zs: Vec<u64> = values
            .map(|v| {
                let delta = v.wrapping_sub(prev);
                let dd = delta.wrapping_sub(prev_delta);
                (prev, prev_delta) = (v, delta);
                zigzag(dd)
            })
            .collect();
        if put_rice_if_smaller(&zs, MODE_RICE, tokens.len() + 1, out) {
            return;
        }
    }
    out.push(MODE_TOKENS);
    out.extend_from_slice(&tokens);
}

/// Writes `zs` as a Rice section in `mode` if that takes fewer than `other` bytes.
fn put_rice_if_smaller(zs: &[u64], mode: u8, other: usize, out: &mut Vec<u8>) -> bool {
    let (k, bits) = rice::best_parameter(zs);
    let len = bits.div_ceil(8) as usize;
    if 2 + varint_len(len as u64) + len >= other {
        return false;
    }
    out.push(mode);
    out.push(k as u8);
    put_varint(out, len as u64);
    let start = out.len();
    out.resize(start + len, 0);
    let mut writer = rice::BitWriter::new(&mut out[start..]);
    for &z in zs {
        writer.rice(z, k);
    }
    writer.finish();
    true
}

/// The values in the smallest of their modes.
fn encode_values(points: &[Point], out: &mut Vec<u8>) {
    let mut xor_bytes = Vec::with_capacity(points.len() * 4);
    encode_xor_bytes(points, &mut xor_bytes);
    let exact_f32 = points
        .iter()
        .all(|p| f64::from(p.value as f32).to_bits() == p.value.to_bits());
    let rice_values: Vec<u64> = if exact_f32 {
        let mut prev = 0u32;
        points
            .iter()
            .map(|p| {
                let o = ordered_f32(p.value as f32);
                let d = o.wrapping_sub(prev) as i32;
                prev = o;
                u64::from(zigzag32(d))
            })
            .collect()
    } else {
        let mut prev = 0u64;
        points
            .iter()
            .map(|p| {
                let o = ordered_f64(p.value);
                let d = o.wrapping_sub(prev) as i64;
                prev = o;
                zigzag(d)
            })
            .collect()
    };
    let mode = if exact_f32 {
        MODE_F32_RICE
    } else {
        MODE_F64_RICE
    };
    if !put_rice_if_smaller(&rice_values, mode, xor_bytes.len() + 1, out) {
        out.push(MODE_XOR_BYTES);
        out.extend_from_slice(&xor_bytes);
    }
}

fn encode_xor_bytes(points: &[Point], out: &mut Vec<u8>) {
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
        // A fixed 8-byte copy and a cut is one store; a copy of `significant` bytes a call.
        out.extend_from_slice(&shifted.to_le_bytes());
        out.truncate(out.len() - (8 - significant));
    }
}

/// f32 bits as an unsigned integer in value order (so close values are close integers).
fn ordered_f32(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

fn from_ordered_f32(o: u32) -> f32 {
    f32::from_bits(if o >> 31 == 1 { o & 0x7fff_ffff } else { !o })
}

fn ordered_f64(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn from_ordered_f64(o: u64) -> f64 {
    f64::from_bits(if o >> 63 == 1 { o & !(1 << 63) } else { !o })
}

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros()).div_ceil(7) as usize
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
    let per_byte = match bytes.first() {
        Some(&VERSION_2) => 1,
        Some(&VERSION) => 8,
        _ => return Err(ChunkError("unknown version")),
    };
    *pos = 1;
    let n = get_varint(bytes, pos)? as usize;
    // Every value takes at least a byte (version 2) or a bit: refuse counts the buffer
    // cannot hold.
    if n > bytes.len().saturating_mul(per_byte) {
        return Err(ChunkError("count larger than the chunk"));
    }
    Ok(n)
}

/// The mode byte of a version 3 column (version 2 columns are all mode 0).
fn column_mode(bytes: &[u8], pos: &mut usize) -> Result<u8, ChunkError> {
    if bytes[0] == VERSION_2 {
        return Ok(0);
    }
    let mode = *bytes.get(*pos).ok_or(ChunkError("truncated column"))?;
    *pos += 1;
    Ok(mode)
}

/// A Rice section: its parameter and a reader of its bits.
fn rice_section<'a>(
    bytes: &'a [u8],
    pos: &mut usize,
) -> Result<(u32, rice::BitReader<'a>), ChunkError> {
    let k = u32::from(*bytes.get(*pos).ok_or(ChunkError("truncated column"))?);
    *pos += 1;
    if k > 63 {
        return Err(ChunkError("bad Rice parameter"));
    }
    let len = get_varint(bytes, pos)? as usize;
    let section = pos
        .checked_add(len)
        .and_then(|end| bytes.get(*pos..end))
        .ok_or(ChunkError("truncated column"))?;
    *pos += len;
    Ok((k, rice::BitReader::new(section)))
}

const TRUNCATED_BITS: ChunkError = ChunkError("truncated bits");

/// Decodes an integer column in either mode.
fn decode_int_column(
    bytes: &[u8],
    pos: &mut usize,
    n: usize,
    mut set: impl FnMut(usize, i64),
) -> Result<(), ChunkError> {
    match column_mode(bytes, pos)? {
        MODE_TOKENS => decode_column(bytes, pos, n, set),
        MODE_RICE => {
            let (k, mut bits) = rice_section(bytes, pos)?;
            let (mut prev, mut prev_delta) = (0i64, 0i64);
            for i in 0..n {
                let dd = unzigzag(bits.rice(k).map_err(|_| TRUNCATED_BITS)?);
                prev_delta = prev_delta.wrapping_add(dd);
                prev = prev.wrapping_add(prev_delta);
                set(i, prev);
            }
            bits.at_end()
                .then_some(())
                .ok_or(ChunkError("trailing bits"))
        }
        _ => Err(ChunkError("unknown column mode")),
    }
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
        decode_int_column(bytes, &mut pos, n, |i, v| points[i].step = v)?;
        decode_int_column(bytes, &mut pos, n, |i, v| points[i].timestamp = v)?;
        match column_mode(bytes, &mut pos)? {
            MODE_XOR_BYTES => decode_xor_bytes(bytes, &mut pos, points)?,
            MODE_F32_RICE => {
                let (k, mut bits) = rice_section(bytes, &mut pos)?;
                let mut o = 0u32;
                for p in points.iter_mut() {
                    let z = u32::try_from(bits.rice(k).map_err(|_| TRUNCATED_BITS)?)
                        .map_err(|_| ChunkError("value overflows"))?;
                    o = o.wrapping_add(unzigzag32(z) as u32);
                    p.value = f64::from(from_ordered_f32(o));
                }
                if !bits.at_end() {
                    return Err(ChunkError("trailing bits"));
                }
            }
            MODE_F64_RICE => {
                let (k, mut bits) = rice_section(bytes, &mut pos)?;
                let mut o = 0u64;
                for p in points.iter_mut() {
                    let z = bits.rice(k).map_err(|_| TRUNCATED_BITS)?;
                    o = o.wrapping_add(unzigzag(z) as u64);
                    p.value = from_ordered_f64(o);
                }
                if !bits.at_end() {
                    return Err(ChunkError("trailing bits"));
                }
            }
            _ => return Err(ChunkError("unknown column mode")),
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

/// Decodes values in XOR-bytes mode into `points`.
fn decode_xor_bytes(bytes: &[u8], pos: &mut usize, points: &mut [Point]) -> Result<(), ChunkError> {
    let mut bits = 0u64;
    for p in points.iter_mut() {
        let head = *bytes.get(*pos).ok_or(ChunkError("truncated value"))?;
        *pos += 1;
        if head != 0 {
            let significant = (head >> 4) as usize;
            let nibbles = u32::from(head & 0x0f);
            if significant == 0 || significant > 8 {
                return Err(ChunkError("bad value header"));
            }
            let shifted = if let Some(word) = bytes.get(*pos..*pos + 8) {
                // Fast path: one unaligned 8-byte load, masked to the significant bytes.
                let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                let bits = significant as u32 * 8;
                word & (u64::MAX >> (64 - bits))
            } else {
                let raw = bytes
                    .get(*pos..*pos + significant)
                    .ok_or(ChunkError("truncated value"))?;
                let mut le = [0u8; 8];
                le[..significant].copy_from_slice(raw);
                u64::from_le_bytes(le)
            };
            *pos += significant;
            if *pos > bytes.len() {
                return Err(ChunkError("truncated value"));
            }
            if nibbles > 0 && shifted.leading_zeros() < nibbles * 4 {
                return Err(ChunkError("value overflows"));
            }
            bits ^= shifted << (nibbles * 4);
        }
        p.value = f64::from_bits(bits);
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

    /// A deterministic stand-in for gaussian noise (sum of uniforms), in [-1, 1).
    fn noise(state: &mut u64) -> f64 {
        let mut sum = 0.0;
        for _ in 0..4 {
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            sum += (*state >> 11) as f64 / (1u64 << 53) as f64;
        }
        sum / 2.0 - 1.0
    }

    /// Loss-like values with 2 % noise and timestamps every 10 ms ± 3 ms, as trainers send.
    fn noisy(n: i64, as_f32: bool) -> Vec<Point> {
        let mut state = 7;
        (0..n)
            .map(|i| {
                let clean = 2.0 / (1.0 + i as f64 * 1e-3);
                let v = clean * (1.0 + 0.02 * noise(&mut state));
                let jitter = (noise(&mut state) * 3.5) as i64;
                Point {
                    step: i,
                    timestamp: 1_700_000_000_000 + i * 10 + jitter,
                    value: if as_f32 { f64::from(v as f32) } else { v },
                }
            })
            .collect()
    }

    #[test]
    fn noisy_columns_take_the_rice_modes_and_round_trip() {
        let f32s = noisy(4096, true);
        let buf = roundtrip(&f32s);
        let per_point = buf.len() as f64 / 4096.0;
        assert!(per_point < 4.0, "noisy f32: {per_point} bytes per point");
        let f64s = noisy(4096, false);
        let buf = roundtrip(&f64s);
        let per_point = buf.len() as f64 / 4096.0;
        assert!(per_point < 8.0, "noisy f64: {per_point} bytes per point");
        // Values that are not all exact f32s, extremes among them, take the f64 modes.
        let mut mixed = noisy(600, true);
        for (i, v) in [f64::NAN, -0.0, f64::INFINITY, f64::MIN_POSITIVE, 1e300, 0.1]
            .into_iter()
            .enumerate()
        {
            mixed[i * 97].value = v;
        }
        roundtrip(&mixed);
        let f32_extremes: Vec<Point> = [f32::NAN, -0.0, f32::INFINITY, f32::MIN, 1e-40]
            .into_iter()
            .cycle()
            .take(700)
            .enumerate()
            .map(|(i, v)| Point {
                step: i as i64,
                timestamp: i as i64 * 7 + (i as i64 % 3),
                value: f64::from(v),
            })
            .collect();
        roundtrip(&f32_extremes);
    }

    /// Chunks written before column modes (version 2) still decode.
    #[test]
    fn version_2_chunks_still_decode() {
        let points = noisy(1000, false);
        let mut v2 = vec![VERSION_2];
        put_varint(&mut v2, points.len() as u64);
        encode_column(points.iter().map(|p| p.step), &mut v2);
        encode_column(points.iter().map(|p| p.timestamp), &mut v2);
        encode_xor_bytes(&points, &mut v2);
        assert_eq!(count(&v2).unwrap(), 1000);
        let back = decode(&v2).unwrap();
        assert!(points.iter().zip(&back).all(|(a, b)| a.same_as(b)));
        let mut v3 = Vec::new();
        encode(&points, &mut v3);
        assert_eq!(v3[0], VERSION);
        assert!(v3.len() < v2.len(), "{} against {}", v3.len(), v2.len());
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

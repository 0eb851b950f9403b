//! Rice codes over a bit stream: the chunk format's compact form for columns whose
//! differences are noise (jittered timestamps, noisy values), where the byte-aligned tokens
//! waste most of a byte per value.
//!
//! A value `z` with parameter `k` is `z >> k` in unary (that many 1 bits, then a 0) followed
//! by the low `k` bits of `z`. A quotient of [`ESCAPE_ONES`] or more is written as
//! [`ESCAPE_ONES`] 1 bits and the 64 bits of `z` (the first values of a column, outliers).
//! Bits are written most significant first; the last byte is padded with zeros.

/// Unary 1 bits that announce an escaped (raw 64-bit) value.
pub const ESCAPE_ONES: u32 = 32;

/// Bits Rice coding `values` with parameter `k` takes.
pub fn cost(values: &[u64], k: u32) -> u64 {
    values
        .iter()
        .map(|&z| {
            let q = z >> k;
            if q >= u64::from(ESCAPE_ONES) {
                u64::from(ESCAPE_ONES) + 64
            } else {
                q + 1 + u64::from(k)
            }
        })
        .sum()
}

/// The parameter that codes `values` in the fewest bits (tried around the one their mean
/// suggests), with that cost in bits.
pub fn best_parameter(values: &[u64]) -> (u32, u64) {
    if values.is_empty() {
        return (0, 0);
    }
    // The median of the values is robust to the escaped first few.
    let mut sample: Vec<u64> = values
        .iter()
        .step_by(values.len().div_ceil(256))
        .copied()
        .collect();
    sample.sort_unstable();
    let median = sample[sample.len() / 2];
    let guess = 64 - median.leading_zeros();
    (guess.saturating_sub(2)..=(guess + 1).min(63))
        .map(|k| (k, cost(values, k)))
        .min_by_key(|&(_, bits)| bits)
        .expect("a non-empty range")
}

/// Writes bits most significant first into a buffer sized beforehand (from [`cost`]).
pub struct BitWriter<'a> {
    out: &'a mut [u8],
    /// Bytes of `out` written.
    at: usize,
    acc: u64,
    used: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer filling `out`, which must hold every bit written (rounded up to bytes).
    pub fn new(out: &'a mut [u8]) -> Self {
        BitWriter {
            out,
            at: 0,
            acc: 0,
            used: 0,
        }
    }

    /// Appends the low `width` bits of `bits` (`width` ≤ 64).
    #[inline(always)]
    fn put(&mut self, bits: u64, width: u32) {
        if width == 0 {
            return;
        }
        let bits = if width == 64 {
            bits
        } else {
            bits & ((1u64 << width) - 1)
        };
        let free = 64 - self.used;
        if width < free {
            self.acc |= bits << (free - width);
            self.used += width;
            return;
        }
        // Fill the accumulator, write it out, keep the rest.
        let rest = width - free;
        self.acc |= bits >> rest;
        self.drain();
        if rest > 0 {
            self.acc = bits << (64 - rest);
            self.used = rest;
        }
    }

    #[inline(always)]
    fn drain(&mut self) {
        self.out[self.at..self.at + 8].copy_from_slice(&self.acc.to_be_bytes());
        self.at += 8;
        self.acc = 0;
        self.used = 0;
    }

    /// Appends `z` Rice coded with parameter `k`.
    #[inline(always)]
    pub fn rice(&mut self, z: u64, k: u32) {
        let q = z >> k;
        if q >= u64::from(ESCAPE_ONES) {
            self.put(u64::MAX, ESCAPE_ONES);
            self.put(z, 64);
            return;
        }
        // q ones, a zero, and the low k bits: one put when it fits in 64 bits.
        let q = q as u32;
        let unary = ((1u64 << q) - 1) << 1;
        if q + 1 + k <= 64 {
            let low = if k == 0 {
                0
            } else {
                z & (u64::MAX >> (64 - k))
            };
            self.put((unary << k) | low, q + 1 + k);
        } else {
            self.put(unary, q + 1);
            self.put(z, k);
        }
    }

    /// Writes out the last, partly filled bytes.
    pub fn finish(self) {
        let bytes = self.used.div_ceil(8) as usize;
        self.out[self.at..self.at + bytes].copy_from_slice(&self.acc.to_be_bytes()[..bytes]);
    }
}

/// Reads what a [`BitWriter`] wrote; reading past the end is an error.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// The bit stream ended early or holds an impossible code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

impl<'a> BitReader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// The next 64 bits from the current position (zeros past the end), unconsumed.
    #[inline(always)]
    fn peek(&self) -> u64 {
        let byte = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        let word = match self.bytes.get(byte..byte + 8) {
            Some(w) => u64::from_be_bytes(w.try_into().expect("8 bytes")),
            None => {
                let mut w = [0u8; 8];
                let tail = self.bytes.get(byte..).unwrap_or(&[]);
                w[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(w)
            }
        };
        let next = if shift == 0 {
            0
        } else {
            u64::from(self.bytes.get(byte + 8).copied().unwrap_or(0)) >> (8 - shift)
        };
        (word << shift) | next
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) -> Result<(), Truncated> {
        self.pos += bits as usize;
        if self.pos > self.bytes.len() * 8 {
            return Err(Truncated);
        }
        Ok(())
    }

    /// Reads `width` bits (≤ 64).
    #[inline(always)]
    fn get(&mut self, width: u32) -> Result<u64, Truncated> {
        if width == 0 {
            return Ok(0);
        }
        if width <= 56 {
            let v = self.peek() >> (64 - width);
            self.consume(width)?;
            return Ok(v);
        }
        let high = self.get(width - 32)?;
        let low = self.get(32)?;
        Ok((high << 32) | low)
    }

    /// Reads one value Rice coded with parameter `k`.
    #[inline(always)]
    pub fn rice(&mut self, k: u32) -> Result<u64, Truncated> {
        let word = self.peek();
        let ones = (!word).leading_zeros();
        let used = ones + 1;
        // Fast path: the whole code is in the 64 bits at hand.
        if ones < ESCAPE_ONES && used + k <= 64 {
            let low = if k == 0 {
                0
            } else {
                (word << used) >> (64 - k)
            };
            self.consume(used + k)?;
            return Ok((u64::from(ones) << k) | low);
        }
        if ones >= ESCAPE_ONES {
            self.consume(ESCAPE_ONES)?;
            return self.get(64);
        }
        self.consume(ones + 1)?;
        let low = self.get(k)?;
        let z = (u64::from(ones) << k) | low;
        if k > 0 && u64::from(ones) > (u64::MAX >> k) {
            return Err(Truncated);
        }
        Ok(z)
    }

    /// Whether every bit was read but the last byte's padding.
    pub fn at_end(&self) -> bool {
        self.bytes.len() * 8 - self.pos < 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_for_every_parameter() {
        let values: Vec<u64> = [0u64, 1, 2, 3, 7, 100, 1 << 20, u64::MAX, 12345, 0, 31, 32]
            .into_iter()
            .chain((0..200).map(|i| i * 37 % 91))
            .collect();
        for k in [0, 1, 3, 7, 20, 40, 63] {
            let mut out = vec![0u8; cost(&values, k).div_ceil(8) as usize];
            let mut w = BitWriter::new(&mut out);
            for &z in &values {
                w.rice(z, k);
            }
            w.finish();
            let mut r = BitReader::new(&out);
            for &z in &values {
                assert_eq!(r.rice(k), Ok(z), "k {k}");
            }
            assert!(r.at_end());
            assert_eq!(r.rice(k).err().or(Some(Truncated)), Some(Truncated));
        }
    }

    #[test]
    fn the_best_parameter_fits_the_spread() {
        let small: Vec<u64> = (0..1000).map(|i| i % 8).collect();
        assert!(best_parameter(&small).0 <= 3);
        let wide: Vec<u64> = (0..1000).map(|i| (i * 7919) % (1 << 20)).collect();
        assert!(best_parameter(&wide).0 >= 16);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[][..], &[0xff; 3], &[0xff; 9], &[0x80, 0x00]] {
            let mut r = BitReader::new(bytes);
            for _ in 0..10 {
                let _ = r.rice(5);
            }
        }
    }
}

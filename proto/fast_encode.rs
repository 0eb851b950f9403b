//! One-pass encoding of LogStream batches.
//!
//! prost computes the length of a nested message once per level of nesting before writing
//! it, and a packed field's length once more: a batch (request → runs → metric columns →
//! packed values) had every varint sized four times and written once, and that was the
//! biggest cost of the client's background task. Here each packed field is written once into
//! one buffer, the lengths are summed, and the payloads are copied once behind their keys
//! and lengths. The bytes are exactly prost's (a property
//! test in this crate compares them), so the server decodes them with the generated types.

use bytes::Bytes;
use prost::Message;

use crate::v1::{LogStreamRequest, MetricColumns};

const LEN: u8 = 2;
const VARINT: u8 = 0;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// A length-delimited field: key, length, bytes.
fn put_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A proto3 string: left out when empty.
fn put_string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        put_delimited(out, field, s.as_bytes());
    }
}

fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits (and 1 for zero).
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes of a length-delimited field whose content is `len` bytes long (small field number).
fn delimited_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn string_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        delimited_len(s.len())
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The packed fields of every column, written once into one buffer; each field is a
/// (field number, byte range) the final pass copies behind its key and length.
#[derive(Default)]
struct Payloads {
    bytes: Vec<u8>,
    fields: Vec<(u32, std::ops::Range<usize>)>,
}

impl Payloads {
    fn packed<T: Copy>(&mut self, field: u32, values: &[T], put: impl Fn(&mut Vec<u8>, T)) {
        if values.is_empty() {
            return;
        }
        let start = self.bytes.len();
        for &v in values {
            put(&mut self.bytes, v);
        }
        self.fields.push((field, start..self.bytes.len()));
    }

    /// Writes one column's packed fields; returns how many `fields` entries it added.
    fn column(&mut self, m: &MetricColumns) -> usize {
        let before = self.fields.len();
        self.packed(2, &m.steps, |o, v| put_varint(o, zigzag(v)));
        self.packed(3, &m.timestamps, |o, v| put_varint(o, v as u64));
        self.packed(4, &m.values, |o, v: f64| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        self.packed(5, &m.step_deltas, |o, v| put_varint(o, zigzag(v)));
        self.packed(6, &m.timestamp_deltas, |o, v| put_varint(o, zigzag(v)));
        self.packed(7, &m.values_f32, |o, v: f32| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        self.fields.len() - before
    }
}

impl LogStreamRequest {
    /// This message encoded, byte for byte what `prost::Message::encode_to_vec` gives: every
    /// packed value is written once and copied once.
    ///
    /// # Examples
    ///
    /// ```
    /// use trackd_proto::prost::Message;
    /// use trackd_proto::v1::{LogStreamRequest, MetricColumns, RunWrites};
    ///
    /// let mut loss = MetricColumns {
    ///     key: "loss".into(),
    ///     steps: vec![0, 1, 2],
    ///     timestamps: vec![1_700_000_000_000; 3],
    ///     values: vec![0.5, 0.25, 0.125],
    ///     ..Default::default()
    /// };
    /// loss.compact();
    /// let request = LogStreamRequest {
    ///     stream_id: "trainer-0".into(),
    ///     seq: 1,
    ///     runs: vec![RunWrites { run_id: "0123abcd".into(), metrics: vec![loss], ..Default::default() }],
    /// };
    /// let bytes = request.encode_fast();
    /// assert_eq!(bytes.as_ref(), request.encode_to_vec().as_slice());
    /// assert_eq!(LogStreamRequest::decode(bytes).unwrap(), request);
    /// ```
    pub fn encode_fast(&self) -> Bytes {
        let values: usize = self
            .runs
            .iter()
            .flat_map(|r| &r.metrics)
            .map(|m| m.values.len() * 8 + m.values_f32.len() * 4)
            .sum();
        let mut payloads = Payloads {
            bytes: Vec::with_capacity(values * 2),
            fields: Vec::new(),
        };
        // Pass 1: payloads, then the length of every column and run.
        let mut column_fields = Vec::new(); // per column: (entries in payloads.fields, length)
        let mut run_lens = Vec::with_capacity(self.runs.len());
        for writes in &self.runs {
            let mut run_len = string_len(&writes.run_id);
            for m in &writes.metrics {
                let first = payloads.fields.len();
                let count = payloads.column(m);
                let len = string_len(&m.key)
                    + payloads.fields[first..first + count]
                        .iter()
                        .map(|(_, r)| delimited_len(r.len()))
                        .sum::<usize>();
                column_fields.push((count, len));
                run_len += delimited_len(len);
            }
            run_len += writes
                .params
                .iter()
                .map(|p| delimited_len(p.encoded_len()))
                .sum::<usize>();
            run_len += writes
                .tags
                .iter()
                .map(|t| delimited_len(t.encoded_len()))
                .sum::<usize>();
            run_lens.push(run_len);
        }
        let total = string_len(&self.stream_id)
            + if self.seq != 0 {
                1 + varint_len(self.seq)
            } else {
                0
            }
            + run_lens.iter().map(|&l| delimited_len(l)).sum::<usize>();
        // Pass 2: write, in field order, as prost does.
        let mut out = Vec::with_capacity(total);
        put_string(&mut out, 1, &self.stream_id);
        if self.seq != 0 {
            put_key(&mut out, 2, VARINT);
            put_varint(&mut out, self.seq);
        }
        let mut fields = payloads.fields.iter();
        let mut columns = column_fields.iter();
        for (writes, &run_len) in self.runs.iter().zip(&run_lens) {
            put_key(&mut out, 3, LEN);
            put_varint(&mut out, run_len as u64);
            put_string(&mut out, 1, &writes.run_id);
            for m in &writes.metrics {
                let &(count, len) = columns.next().expect("one entry per column");
                put_key(&mut out, 2, LEN);
                put_varint(&mut out, len as u64);
                put_string(&mut out, 1, &m.key);
                for (field, range) in fields.by_ref().take(count) {
                    put_delimited(&mut out, *field, &payloads.bytes[range.clone()]);
                }
            }
            for param in &writes.params {
                put_delimited(&mut out, 3, &param.encode_to_vec());
            }
            for tag in &writes.tags {
                put_delimited(&mut out, 4, &tag.encode_to_vec());
            }
        }
        debug_assert_eq!(out.len(), total);
        debug_assert_eq!(out.len(), self.encoded_len());
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Param, RunTag, RunWrites};

    /// A small deterministic generator, so the test needs no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }

        fn int(&mut self) -> i64 {
            // Small, large, negative and extreme values alike.
            match self.next() % 6 {
                0 => 0,
                1 => (self.next() % 300) as i64 - 150,
                2 => i64::MIN,
                3 => i64::MAX,
                _ => self.next() as i64 * if self.next().is_multiple_of(2) { 1 } else { -1 },
            }
        }

        fn column(&mut self, n: usize) -> Vec<i64> {
            (0..n).map(|_| self.int()).collect()
        }
    }

    #[test]
    fn encode_fast_matches_prost_byte_for_byte() {
        let mut rng = Lcg(7);
        for case in 0..300 {
            let mut runs = Vec::new();
            for r in 0..(rng.next() % 4) {
                let metrics = (0..(rng.next() % 4))
                    .map(|k| {
                        let n = (rng.next() % 40) as usize;
                        let mut m = MetricColumns {
                            key: if k == 0 {
                                String::new()
                            } else {
                                format!("m{k}")
                            },
                            ..Default::default()
                        };
                        match rng.next() % 3 {
                            0 => {
                                m.steps = rng.column(n);
                                m.timestamps = rng.column(n);
                                m.values = (0..n).map(|_| f64::from_bits(rng.next())).collect();
                            }
                            1 => {
                                m.step_deltas = rng.column(n);
                                m.timestamp_deltas = rng.column(n);
                                m.values_f32 =
                                    (0..n).map(|_| f32::from_bits(rng.next() as u32)).collect();
                            }
                            _ => {
                                m.steps = rng.column(n);
                                m.timestamp_deltas = rng.column(n);
                                m.values = vec![f64::NAN, -0.0, f64::INFINITY][..n.min(3)].to_vec();
                            }
                        }
                        m
                    })
                    .collect();
                runs.push(RunWrites {
                    run_id: if r == 1 {
                        String::new()
                    } else {
                        format!("run-{r}")
                    },
                    metrics,
                    params: (0..(rng.next() % 2))
                        .map(|i| Param {
                            key: format!("p{i}"),
                            value: "v".repeat(i as usize * 200),
                        })
                        .collect(),
                    tags: (0..(rng.next() % 2))
                        .map(|i| RunTag {
                            key: format!("t{i}"),
                            value: String::new(),
                        })
                        .collect(),
                });
            }
            let request = LogStreamRequest {
                stream_id: if case % 5 == 0 {
                    String::new()
                } else {
                    "s-1".into()
                },
                seq: [0, 1, 127, 128, u64::MAX][case % 5],
                runs,
            };
            assert_eq!(
                request.encode_fast().as_ref(),
                request.encode_to_vec().as_slice(),
                "case {case}"
            );
        }
    }
}

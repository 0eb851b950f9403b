//! Search results straight from the catalog to protobuf bytes.
//!
//! [`convert::run`] builds a `pb::Run` by copying every key and value of a run into new
//! strings, which prost then encodes and which are freed right after: for a page of 500
//! runs with 25 entries each, ~25,000 allocations whose only purpose is to be encoded. This
//! module writes the same bytes from the domain run by reference: metrics, params and tags
//! (the bulk) are encoded here; the run's info and inputs/outputs (a few fields) go through
//! [`convert`] and prost. The result is exactly what prost would produce for
//! `convert::run(run)` (a test compares them over generated runs).

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::encoding::{self, encode_key, encode_varint, encoded_len_varint, WireType};

use super::convert;
use crate::domain::{Point, Run};

/// Runs encoded as the `runs` entries (field 1) of a `SearchRunsResponse`, in order.
pub fn encode_runs<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Bytes {
    let mut out = Vec::new();
    for run in runs {
        let info = convert::run_info(run.info.clone());
        let inputs = convert::run_inputs(&run.inputs);
        let outputs = convert::run_outputs(&run.outputs);
        let data_len = run_data_len(run);
        let body_len = encoding::message::encoded_len(1, &info)
            + entry_len(data_len)
            + inputs
                .as_ref()
                .map_or(0, |m| encoding::message::encoded_len(3, m))
            + outputs
                .as_ref()
                .map_or(0, |m| encoding::message::encoded_len(4, m));
        out.reserve(entry_len(body_len));
        encode_entry(1, body_len, &mut out);
        encoding::message::encode(1, &info, &mut out);
        encode_entry(2, data_len, &mut out);
        for (key, point) in &run.metrics {
            encode_entry(1, metric_len(key, point), &mut out);
            encode_metric(key, point, &mut out);
        }
        encode_pairs(2, &run.params, &mut out);
        encode_pairs(3, &run.tags, &mut out);
        if let Some(m) = &inputs {
            encoding::message::encode(3, m, &mut out);
        }
        if let Some(m) = &outputs {
            encoding::message::encode(4, m, &mut out);
        }
    }
    Bytes::from(out)
}

/// Length of `RunData { metrics: 1, params: 2, tags: 3 }`.
fn run_data_len(run: &Run) -> usize {
    let pairs = |map: &BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| entry_len(pair_len(k, v)))
            .sum::<usize>()
    };
    run.metrics
        .iter()
        .map(|(k, p)| entry_len(metric_len(k, p)))
        .sum::<usize>()
        + pairs(&run.params)
        + pairs(&run.tags)
}

/// Length of a length-delimited field (numbers below 16) whose body is `len` bytes.
fn entry_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn encode_entry(field: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A string field (numbers below 16: a one-byte key), omitted when empty.
fn string_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        1 + encoded_len_varint(s.len() as u64) + s.len()
    }
}

/// `Metric { key: 1, value: 2, timestamp: 3, step: 4 }`, proto3 defaults omitted.
fn metric_len(key: &str, p: &Point) -> usize {
    string_len(key)
        + if p.value != 0.0 { 9 } else { 0 }
        + if p.timestamp != 0 {
            1 + encoded_len_varint(p.timestamp as u64)
        } else {
            0
        }
        + if p.step != 0 {
            1 + encoded_len_varint(p.step as u64)
        } else {
            0
        }
}

fn encode_metric(key: &str, p: &Point, out: &mut Vec<u8>) {
    encode_str(1, key, out);
    if p.value != 0.0 {
        encode_key(2, WireType::SixtyFourBit, out);
        out.extend_from_slice(&p.value.to_le_bytes());
    }
    if p.timestamp != 0 {
        encode_key(3, WireType::Varint, out);
        encode_varint(p.timestamp as u64, out);
    }
    if p.step != 0 {
        encode_key(4, WireType::Varint, out);
        encode_varint(p.step as u64, out);
    }
}

/// `Param` / `RunTag`: `{ key: 1, value: 2 }`.
fn pair_len(key: &str, value: &str) -> usize {
    string_len(key) + string_len(value)
}

fn encode_pairs(field: u32, pairs: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    for (k, v) in pairs {
        encode_entry(field, pair_len(k, v), out);
        encode_str(1, k, out);
        encode_str(2, v, out);
    }
}

fn encode_str(field: u32, s: &str, out: &mut Vec<u8>) {
    if !s.is_empty() {
        encode_key(field, WireType::LengthDelimited, out);
        encode_varint(s.len() as u64, out);
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use trackd_proto::prost::Message;
    use trackd_proto::v1 as pb;

    use super::*;
    use crate::domain::{
        Dataset, DatasetInput, ExperimentId, Lifecycle, ModelOutput, RunId, RunInfo, RunInputs,
        RunStatus,
    };

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            any::<f64>(),
        ]
    }

    fn int() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(i64::MIN),
            Just(i64::MAX),
            any::<i64>()
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z.]{1,8}",
            any::<String>(),
            "x{200}"
        ]
    }

    fn run() -> impl Strategy<Value = Run> {
        (
            any::<[u8; 16]>(),
            (
                text(),
                text(),
                int(),
                proptest::option::of(int()),
                any::<bool>(),
            ),
            proptest::collection::btree_map(text(), (int(), int(), value()), 0..6),
            proptest::collection::btree_map(text(), text(), 0..6),
            proptest::collection::btree_map(text(), text(), 0..6),
            proptest::collection::vec((text(), text(), text()), 0..2),
            proptest::collection::vec((text(), int()), 0..2),
        )
            .prop_map(
                |(
                    id,
                    (name, user, start, end, deleted),
                    metrics,
                    params,
                    tags,
                    inputs,
                    outputs,
                )| {
                    Run {
                        info: RunInfo {
                            run_id: RunId(id),
                            experiment_id: ExperimentId(7),
                            run_name: name,
                            user_id: user,
                            status: RunStatus::Finished,
                            start_time: start,
                            end_time: end,
                            artifact_uri: "mlflow-artifacts:/7/x/artifacts".into(),
                            lifecycle: if deleted {
                                Lifecycle::Deleted
                            } else {
                                Lifecycle::Active
                            },
                        },
                        metrics: metrics
                            .into_iter()
                            .map(|(k, (step, timestamp, value))| {
                                (
                                    k,
                                    Point {
                                        step,
                                        timestamp,
                                        value,
                                    },
                                )
                            })
                            .collect(),
                        params,
                        tags,
                        inputs: RunInputs {
                            datasets: inputs
                                .into_iter()
                                .map(|(name, digest, context)| DatasetInput {
                                    dataset: Dataset {
                                        name,
                                        digest,
                                        ..Default::default()
                                    },
                                    tags: vec![("mlflow.data.context".into(), context)],
                                })
                                .collect(),
                            models: Vec::new(),
                        },
                        outputs: outputs
                            .into_iter()
                            .map(|(model_id, step)| ModelOutput { model_id, step })
                            .collect(),
                    }
                },
            )
    }

    proptest! {
        /// The bytes are exactly prost's for the converted runs, and decode back to them.
        #[test]
        fn same_bytes_as_prost(runs in proptest::collection::vec(run(), 0..4)) {
            let typed = pb::SearchRunsResponse {
                runs: runs.iter().map(convert::run).collect(),
                ..Default::default()
            };
            let encoded = encode_runs(&runs);
            prop_assert_eq!(&encoded[..], &typed.encode_to_vec()[..]);
            let back = pb::SearchRunsResponse::decode(&encoded[..]).unwrap();
            // NaN != NaN: compare the re-encoded bytes.
            prop_assert_eq!(back.encode_to_vec(), typed.encode_to_vec());
        }
    }
}

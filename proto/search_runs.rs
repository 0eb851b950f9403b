//! `SearchRunsResponse`, written by hand instead of generated, so a server can send runs it
//! has already encoded.
//!
//! A search returns hundreds of runs, each with dozens of keys and values. Building a
//! `Run` message per result means copying every string into a new allocation only to
//! encode it and free it again; the server instead encodes its own runs straight into
//! [`SearchRunsResponse::encoded_runs`]. On the wire the two forms are the same field 1
//! entries, so decoding (any client, any language) always yields `runs`.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

use crate::v1::Run;

/// The answer to SearchRuns: a page of runs and the token of the next page.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct SearchRunsResponse {
    /// Runs of this page (after `encoded_runs` on the wire).
    pub runs: Vec<Run>,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
    /// Runs already encoded as complete field-1 entries (tag, length, `Run` body), written
    /// before `runs`. Empty after decoding: decoded runs land in `runs`.
    pub encoded_runs: Bytes,
}

impl prost::Message for SearchRunsResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.encoded_runs);
        for run in &self.runs {
            encoding::message::encode(1, run, buf);
        }
        if !self.next_page_token.is_empty() {
            encoding::string::encode(2, &self.next_page_token, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::message::merge_repeated(wire_type, &mut self.runs, buf, ctx).map_err(
                |mut e| {
                    e.push("SearchRunsResponse", "runs");
                    e
                },
            ),
            2 => encoding::string::merge(wire_type, &mut self.next_page_token, buf, ctx).map_err(
                |mut e| {
                    e.push("SearchRunsResponse", "next_page_token");
                    e
                },
            ),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        self.encoded_runs.len()
            + encoding::message::encoded_len_repeated(1, &self.runs)
            + if self.next_page_token.is_empty() {
                0
            } else {
                encoding::string::encoded_len(2, &self.next_page_token)
            }
    }

    fn clear(&mut self) {
        self.runs.clear();
        self.next_page_token.clear();
        self.encoded_runs = Bytes::new();
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::v1::{Metric, RunData, RunInfo};

    fn run(id: &str) -> Run {
        Run {
            info: Some(RunInfo {
                run_id: id.into(),
                run_uuid: id.into(),
                start_time: 7,
                end_time: Some(9),
                ..Default::default()
            }),
            data: Some(RunData {
                metrics: vec![Metric {
                    key: "loss".into(),
                    value: -0.5,
                    timestamp: 1,
                    step: -3,
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Pre-encoded and typed runs are the same bytes, and both decode into `runs`.
    #[test]
    fn encoded_runs_and_runs_are_one_wire_form() {
        let typed = SearchRunsResponse {
            runs: vec![run("a"), run("b")],
            next_page_token: "next".into(),
            ..Default::default()
        };
        let mut framed = Vec::new();
        for r in &typed.runs {
            encoding::message::encode(1, r, &mut framed);
        }
        let pre = SearchRunsResponse {
            encoded_runs: framed.into(),
            next_page_token: "next".into(),
            ..Default::default()
        };
        assert_eq!(pre.encode_to_vec(), typed.encode_to_vec());
        assert_eq!(pre.encoded_len(), typed.encoded_len());
        let back = SearchRunsResponse::decode(&pre.encode_to_vec()[..]).unwrap();
        assert_eq!(back, typed);
        let mixed = SearchRunsResponse {
            runs: vec![run("b")],
            encoded_runs: {
                let mut one = Vec::new();
                encoding::message::encode(1, &run("a"), &mut one);
                one.into()
            },
            next_page_token: "next".into(),
        };
        assert_eq!(mixed.encode_to_vec(), typed.encode_to_vec());
        assert!(SearchRunsResponse::decode(&[0x0a, 0x05, 0x01][..]).is_err());
    }
}

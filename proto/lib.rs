//! The protobuf API of trackd (package `trackd.v1`).
//!
//! The `.proto` sources live next to this file in `proto/trackd/v1/`; `build.rs` compiles them
//! with protox, so no system `protoc` is needed. Server and client crates use these types only at
//! their edges: the domain model of the server never sees a prost type.

/// Generated messages and tonic services of `trackd.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("trackd.v1");
    pub use crate::search_runs::SearchRunsResponse;
}

pub mod codec;
pub mod errors;
mod fast_encode;
mod search_runs;

/// Encoded `FileDescriptorSet` of every trackd proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("trackd_descriptor");

impl v1::MetricColumns {
    /// Rewrites plain columns into their compact wire form where that is exact: deltas for
    /// steps and timestamps, and floats for values when every value is exactly a float (bit
    /// for bit, so NaN payloads and -0.0 survive). Typical training curves shrink from about
    /// 17 to about 6 bytes per point. Columns already compact are left as they are.
    pub fn compact(&mut self) {
        fn to_deltas(plain: &mut Vec<i64>, deltas: &mut Vec<i64>) {
            if plain.is_empty() || !deltas.is_empty() {
                return;
            }
            let mut previous = 0i64;
            for v in plain.iter_mut() {
                let d = v.wrapping_sub(previous);
                previous = *v;
                *v = d;
            }
            std::mem::swap(plain, deltas);
        }
        to_deltas(&mut self.steps, &mut self.step_deltas);
        to_deltas(&mut self.timestamps, &mut self.timestamp_deltas);
        if self.values_f32.is_empty()
            && !self.values.is_empty()
            && self
                .values
                .iter()
                .all(|&v| f64::from(v as f32).to_bits() == v.to_bits())
        {
            self.values_f32 = self.values.iter().map(|&v| v as f32).collect();
            self.values = Vec::new();
        }
    }
}

impl v1::MetricColumns {
    /// Rewrites compact columns back into the plain form (`steps`, `timestamps`, `values`):
    /// the inverse of [`v1::MetricColumns::compact`]. Columns already plain are left as they
    /// are. Returns `false` (and changes nothing) when the columns are mixed or of unequal
    /// lengths, which a well-formed message never is.
    pub fn expand(&mut self) -> bool {
        let len = |plain: usize, compact: usize| if compact > 0 { compact } else { plain };
        let n = len(self.steps.len(), self.step_deltas.len());
        let consistent = (self.steps.is_empty() || self.step_deltas.is_empty())
            && (self.timestamps.is_empty() || self.timestamp_deltas.is_empty())
            && (self.values.is_empty() || self.values_f32.is_empty())
            && len(self.timestamps.len(), self.timestamp_deltas.len()) == n
            && len(self.values.len(), self.values_f32.len()) == n;
        if !consistent {
            return false;
        }
        fn from_deltas(deltas: &mut Vec<i64>, plain: &mut Vec<i64>) {
            if deltas.is_empty() {
                return;
            }
            let mut running = 0i64;
            for d in deltas.iter_mut() {
                running = running.wrapping_add(*d);
                *d = running;
            }
            std::mem::swap(deltas, plain);
        }
        from_deltas(&mut self.step_deltas, &mut self.steps);
        from_deltas(&mut self.timestamp_deltas, &mut self.timestamps);
        if !self.values_f32.is_empty() {
            self.values = self.values_f32.iter().map(|&v| f64::from(v)).collect();
            self.values_f32 = Vec::new();
        }
        true
    }
}

pub use prost;
pub use tonic;

//! A run's inputs (datasets, models) and outputs (models) in the `run_io` tree.
//!
//! | key                                       | value                     |
//! |-------------------------------------------|---------------------------|
//! | run id · 1 · dataset name · 0x00 · digest | `DatasetInput` (postcard) |
//! | run id · 2 · model id                     | empty                     |
//! | run id · 3 · model id · 0x00 · step       | `ModelOutput` (postcard)  |
//!
//! The key is the identity, so logging the same dataset (name, digest), model input or
//! (model, step) output again stores nothing new, as MLflow's SQL store does. Dataset names
//! and model ids never contain NUL (validation refuses it).

use super::{decode_record, encode_record, StoreError, Trees};
use crate::domain::{DatasetInput, ModelOutput, RunId, RunInputs};
use crate::error::Result;

const DATASET: u8 = 1;
const MODEL_INPUT: u8 = 2;
const MODEL_OUTPUT: u8 = 3;

fn key(run: RunId, kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(17 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    k.extend_from_slice(&run.0);
    k.push(kind);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(part);
    }
    k
}

/// Order-preserving bytes of a signed step.
fn step_bytes(step: i64) -> [u8; 8] {
    ((step as u64) ^ (1 << 63)).to_be_bytes()
}

/// Links datasets and models to a run; anything already linked is left as it is.
pub(crate) fn write(
    t: &Trees,
    run: RunId,
    inputs: &RunInputs,
    outputs: &[ModelOutput],
) -> Result<()> {
    // Only the single writer calls this, so check-then-insert cannot race.
    let insert_new = |k: Vec<u8>, v: Vec<u8>| -> Result<()> {
        if !t.run_io.contains_key(&k).map_err(StoreError::from)? {
            t.run_io.insert(k, v).map_err(StoreError::from)?;
        }
        Ok(())
    };
    for input in &inputs.datasets {
        let d = &input.dataset;
        insert_new(
            key(run, DATASET, &[d.name.as_bytes(), d.digest.as_bytes()]),
            encode_record(input),
        )?;
    }
    for model in &inputs.models {
        insert_new(key(run, MODEL_INPUT, &[model.as_bytes()]), Vec::new())?;
    }
    for out in outputs {
        insert_new(
            key(
                run,
                MODEL_OUTPUT,
                &[out.model_id.as_bytes(), &step_bytes(out.step)],
            ),
            encode_record(out),
        )?;
    }
    Ok(())
}

/// A run's inputs and outputs, in key order.
pub(crate) fn read(t: &Trees, run: RunId) -> Result<(RunInputs, Vec<ModelOutput>)> {
    let mut inputs = RunInputs::default();
    let mut outputs = Vec::new();
    for kv in t.run_io.scan_prefix(run.0) {
        let (k, v) = kv.map_err(StoreError::from)?;
        match k.get(16) {
            Some(&DATASET) => inputs.datasets.push(decode_record::<DatasetInput>(&v)?),
            Some(&MODEL_INPUT) => inputs
                .models
                .push(String::from_utf8_lossy(&k[17..]).into_owned()),
            Some(&MODEL_OUTPUT) => outputs.push(decode_record::<ModelOutput>(&v)?),
            _ => return Err(StoreError::Corrupted("run_io key".into()).into()),
        }
    }
    Ok((inputs, outputs))
}

#[cfg(test)]
mod tests {
    use super::step_bytes;

    #[test]
    fn step_bytes_sort_like_steps() {
        let steps = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in steps.windows(2) {
            assert!(step_bytes(w[0]) < step_bytes(w[1]));
        }
    }
}

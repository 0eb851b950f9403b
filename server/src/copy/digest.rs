//! Fingerprints: a SHA-256 over a run's record and every point of its series, the same
//! whichever backend holds the run (the record is hashed in one canonical form).

use sha2::{Digest, Sha256};

use crate::domain::{Point, Run};

/// A run's fingerprint, with what went into it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fingerprint {
    /// The SHA-256.
    pub sha256: [u8; 32],
    /// Params.
    pub params: u64,
    /// Tags.
    pub tags: u64,
    /// Metric series.
    pub series: u64,
    /// Metric points.
    pub points: u64,
    /// Dataset inputs.
    pub dataset_inputs: u64,
}

/// Builds a [`Fingerprint`]: the record first, then each series (in key order) point by
/// point in history order.
pub(super) struct RunHasher {
    sha: Sha256,
    counts: Fingerprint,
}

fn feed<T: serde::Serialize + ?Sized>(sha: &mut Sha256, value: &T) {
    let bytes = postcard::to_allocvec(value).expect("domain records always encode");
    sha.update((bytes.len() as u64).to_le_bytes());
    sha.update(&bytes);
}

impl RunHasher {
    /// Starts with the run's record. Inputs and outputs are hashed sorted, so the order a
    /// backend lists them in does not matter.
    pub fn new(run: &Run) -> RunHasher {
        let mut sha = Sha256::new();
        feed(&mut sha, &run.info);
        feed(&mut sha, &run.metrics);
        feed(&mut sha, &run.params);
        feed(&mut sha, &run.tags);
        let mut datasets = run.inputs.datasets.clone();
        datasets.sort_by(|a, b| {
            (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest))
        });
        feed(&mut sha, &datasets);
        let mut models = run.inputs.models.clone();
        models.sort();
        feed(&mut sha, &models);
        let mut outputs = run.outputs.clone();
        outputs.sort_by(|a, b| (&a.model_id, a.step).cmp(&(&b.model_id, b.step)));
        feed(&mut sha, &outputs);
        RunHasher {
            sha,
            counts: Fingerprint {
                params: run.params.len() as u64,
                tags: run.tags.len() as u64,
                dataset_inputs: datasets.len() as u64,
                ..Fingerprint::default()
            },
        }
    }

    /// Starts the series `key` (series come in key order).
    pub fn series(&mut self, key: &str) {
        feed(&mut self.sha, key);
        self.counts.series += 1;
    }

    /// The next points of the current series.
    pub fn points(&mut self, points: &[Point]) {
        for p in points {
            let mut bytes = [0u8; 24];
            bytes[..8].copy_from_slice(&p.step.to_le_bytes());
            bytes[8..16].copy_from_slice(&p.timestamp.to_le_bytes());
            bytes[16..].copy_from_slice(&p.value.to_bits().to_le_bytes());
            self.sha.update(bytes);
        }
        self.counts.points += points.len() as u64;
    }

    /// The fingerprint.
    pub fn finish(mut self) -> Fingerprint {
        self.counts.sha256 = self.sha.finalize().into();
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Dataset, DatasetInput, ExperimentId, Lifecycle, RunId, RunInfo, RunStatus,
    };

    fn run() -> Run {
        Run {
            info: RunInfo {
                run_id: RunId::generate(),
                experiment_id: ExperimentId(1),
                run_name: "r".into(),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: 1,
                end_time: Some(2),
                artifact_uri: "mlflow-artifacts:/1/x/artifacts".into(),
                lifecycle: Lifecycle::Active,
            },
            metrics: Default::default(),
            params: [("p".to_string(), "1".to_string())].into(),
            tags: Default::default(),
            inputs: Default::default(),
            outputs: Vec::new(),
        }
    }

    fn dataset(name: &str) -> DatasetInput {
        DatasetInput {
            dataset: Dataset {
                name: name.into(),
                digest: "d".into(),
                ..Dataset::default()
            },
            tags: Vec::new(),
        }
    }

    #[test]
    fn the_order_inputs_are_listed_in_does_not_change_a_fingerprint_but_any_point_does() {
        let mut a = run();
        a.inputs.datasets = vec![dataset("x"), dataset("y")];
        let mut b = a.clone();
        b.inputs.datasets.reverse();
        let p = |v: f64| Point {
            step: 1,
            timestamp: 2,
            value: v,
        };
        let print = |r: &Run, points: &[Point]| {
            let mut h = RunHasher::new(r);
            h.series("loss");
            h.points(points);
            h.finish()
        };
        assert_eq!(print(&a, &[p(1.0)]), print(&b, &[p(1.0)]));
        assert_ne!(print(&a, &[p(1.0)]), print(&a, &[p(1.5)]));
        assert_ne!(print(&a, &[p(1.0)]), print(&a, &[p(1.0), p(1.0)]));
        let mut c = a.clone();
        c.params.insert("q".into(), "2".into());
        assert_ne!(print(&a, &[p(1.0)]), print(&c, &[p(1.0)]));
    }
}

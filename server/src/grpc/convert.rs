//! Conversions between `trackd.v1` messages and domain types. Nothing else in the server
//! touches prost types.

use trackd_proto::v1 as pb;

use crate::domain::Durability;
use crate::domain::{
    Dataset, DatasetInput, Experiment, ModelOutput, Point, Run, RunInfo, RunInputs, RunStatus,
    RunWrites,
};
use crate::error::{Result, TrackingError};
use crate::tracker::StreamAck;

/// Domain experiment → proto.
pub fn experiment(e: Experiment) -> pb::Experiment {
    pb::Experiment {
        experiment_id: e.id.to_string(),
        name: e.name,
        artifact_location: e.artifact_location,
        lifecycle_stage: e.lifecycle.as_str().to_owned(),
        last_update_time: e.last_update_time,
        creation_time: e.creation_time,
        tags: e
            .tags
            .into_iter()
            .map(|(key, value)| pb::ExperimentTag { key, value })
            .collect(),
    }
}

/// Domain run status → proto enum value.
pub fn status(s: RunStatus) -> pb::RunStatus {
    match s {
        RunStatus::Running => pb::RunStatus::Running,
        RunStatus::Scheduled => pb::RunStatus::Scheduled,
        RunStatus::Finished => pb::RunStatus::Finished,
        RunStatus::Failed => pb::RunStatus::Failed,
        RunStatus::Killed => pb::RunStatus::Killed,
    }
}

/// Proto enum value → domain run status.
pub fn status_from(v: i32) -> Result<RunStatus> {
    RunStatus::from_number(i64::from(v))
        .ok_or_else(|| TrackingError::invalid(format!("Invalid run status {v}")))
}

/// Domain run info → proto.
pub fn run_info(i: RunInfo) -> pb::RunInfo {
    let id = i.run_id.to_string();
    pb::RunInfo {
        run_uuid: id.clone(),
        run_id: id,
        run_name: i.run_name,
        experiment_id: i.experiment_id.to_string(),
        user_id: i.user_id,
        status: status(i.status) as i32,
        start_time: i.start_time,
        end_time: i.end_time,
        artifact_uri: i.artifact_uri,
        lifecycle_stage: i.lifecycle.as_str().to_owned(),
    }
}

/// Domain metric point → proto metric.
pub fn metric(key: String, p: Point) -> pb::Metric {
    pb::Metric {
        key,
        value: p.value,
        timestamp: p.timestamp,
        step: p.step,
    }
}

/// A run's inputs → proto (unset when empty, as MLflow omits it).
pub(crate) fn run_inputs(inputs: &RunInputs) -> Option<pb::RunInputs> {
    if inputs.is_empty() {
        return None;
    }
    Some(pb::RunInputs {
        dataset_inputs: inputs
            .datasets
            .iter()
            .map(|input| {
                let d = &input.dataset;
                pb::DatasetInput {
                    tags: input
                        .tags
                        .iter()
                        .map(|(key, value)| pb::InputTag {
                            key: key.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                    dataset: Some(pb::Dataset {
                        name: d.name.clone(),
                        digest: d.digest.clone(),
                        source_type: d.source_type.clone(),
                        source: d.source.clone(),
                        schema: d.schema.clone(),
                        profile: d.profile.clone(),
                    }),
                }
            })
            .collect(),
        model_inputs: inputs
            .models
            .iter()
            .map(|model_id| pb::ModelInput {
                model_id: model_id.clone(),
            })
            .collect(),
    })
}

/// A run's outputs → proto (unset when empty).
pub(crate) fn run_outputs(outputs: &[ModelOutput]) -> Option<pb::RunOutputs> {
    (!outputs.is_empty()).then(|| pb::RunOutputs {
        model_outputs: outputs.iter().map(model_output).collect(),
    })
}

fn model_output(m: &ModelOutput) -> pb::ModelOutput {
    pb::ModelOutput {
        model_id: m.model_id.clone(),
        step: m.step,
    }
}

/// Proto dataset inputs and model inputs → domain.
pub fn inputs_in(datasets: Vec<pb::DatasetInput>, models: Vec<pb::ModelInput>) -> RunInputs {
    RunInputs {
        datasets: datasets
            .into_iter()
            .map(|input| {
                let d = input.dataset.unwrap_or_default();
                DatasetInput {
                    dataset: Dataset {
                        name: d.name,
                        digest: d.digest,
                        source_type: d.source_type,
                        source: d.source,
                        schema: d.schema,
                        profile: d.profile,
                    },
                    tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                }
            })
            .collect(),
        models: models.into_iter().map(|m| m.model_id).collect(),
    }
}

/// Proto model outputs → domain.
pub fn outputs_in(models: Vec<pb::ModelOutput>) -> Vec<ModelOutput> {
    models
        .into_iter()
        .map(|m| ModelOutput {
            model_id: m.model_id,
            step: m.step,
        })
        .collect()
}

/// Domain run → proto (by reference: searches convert the catalog's shared runs).
pub fn run(r: &Run) -> pb::Run {
    pb::Run {
        inputs: run_inputs(&r.inputs),
        outputs: run_outputs(&r.outputs),
        info: Some(run_info(r.info.clone())),
        data: Some(pb::RunData {
            metrics: r
                .metrics
                .iter()
                .map(|(k, p)| metric(k.clone(), *p))
                .collect(),
            params: r
                .params
                .iter()
                .map(|(k, v)| pb::Param {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            tags: r
                .tags
                .iter()
                .map(|(k, v)| pb::RunTag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }),
    }
}

/// `run_id`, falling back to the deprecated `run_uuid`.
pub fn run_id<'a>(run_id: &'a str, run_uuid: &'a str) -> &'a str {
    if run_id.is_empty() {
        run_uuid
    } else {
        run_id
    }
}

/// LogBatch message parts → domain writes (points grouped by key, in request order).
pub fn batch_writes(
    metrics: Vec<pb::Metric>,
    params: Vec<pb::Param>,
    tags: Vec<pb::RunTag>,
) -> RunWrites {
    let mut writes = RunWrites {
        metrics: Vec::new(),
        params: params.into_iter().map(|p| (p.key, p.value)).collect(),
        tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
    };
    for m in metrics {
        writes.push_point(
            m.key,
            Point {
                step: m.step,
                timestamp: m.timestamp,
                value: m.value,
            },
        );
    }
    writes
}

/// How many points a LogStream batch carries, from its column lengths (no decoding).
pub fn batch_points(batch: &pb::LogStreamRequest) -> usize {
    batch
        .runs
        .iter()
        .flat_map(|r| &r.metrics)
        .map(|c| {
            c.values
                .len()
                .max(c.values_f32.len())
                .max(c.steps.len())
                .max(c.step_deltas.len())
        })
        .sum()
}

/// Columnar stream writes → domain writes; each column in its plain or compact form, all
/// of the same length.
pub fn stream_writes(runs: Vec<pb::RunWrites>) -> Result<Vec<(String, RunWrites)>> {
    runs.into_iter()
        .map(|r| {
            let metrics = r
                .metrics
                .into_iter()
                .map(|col| {
                    let points = metric_column_points(&col)?;
                    Ok((col.key, points))
                })
                .collect::<Result<Vec<_>>>()?;
            let writes = RunWrites {
                metrics,
                params: r.params.into_iter().map(|p| (p.key, p.value)).collect(),
                tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            };
            Ok((r.run_id, writes))
        })
        .collect()
}

/// One integer column, plain or delta-encoded (not both).
enum IntColumn<'a> {
    Plain(&'a [i64]),
    Deltas(&'a [i64]),
}

impl IntColumn<'_> {
    fn pick<'a>(
        key: &str,
        name: &str,
        plain: &'a [i64],
        deltas: &'a [i64],
    ) -> Result<IntColumn<'a>> {
        match (plain.is_empty(), deltas.is_empty()) {
            (false, false) => Err(TrackingError::invalid(format!(
                "metric '{}': give {name}s or {name}_deltas, not both",
                crate::domain::validate::abbreviate(key)
            ))),
            (true, false) => Ok(IntColumn::Deltas(deltas)),
            _ => Ok(IntColumn::Plain(plain)),
        }
    }

    fn len(&self) -> usize {
        match self {
            IntColumn::Plain(v) | IntColumn::Deltas(v) => v.len(),
        }
    }

    /// Writes the column's values into the points through `field`.
    fn fill(&self, points: &mut [Point], field: impl Fn(&mut Point) -> &mut i64) {
        match self {
            IntColumn::Plain(values) => {
                for (p, &v) in points.iter_mut().zip(values.iter()) {
                    *field(p) = v;
                }
            }
            IntColumn::Deltas(deltas) => {
                let mut current = 0i64;
                for (p, &d) in points.iter_mut().zip(deltas.iter()) {
                    current = current.wrapping_add(d);
                    *field(p) = current;
                }
            }
        }
    }
}

/// The points of one column set, checking that the columns line up.
pub(crate) fn metric_column_points(col: &pb::MetricColumns) -> Result<Vec<Point>> {
    let steps = IntColumn::pick(&col.key, "step", &col.steps, &col.step_deltas)?;
    let timestamps = IntColumn::pick(
        &col.key,
        "timestamp",
        &col.timestamps,
        &col.timestamp_deltas,
    )?;
    let n = match (col.values.is_empty(), col.values_f32.is_empty()) {
        (false, false) => {
            return Err(TrackingError::invalid(format!(
                "metric '{}': give values or values_f32, not both",
                crate::domain::validate::abbreviate(&col.key)
            )))
        }
        (true, false) => col.values_f32.len(),
        _ => col.values.len(),
    };
    if steps.len() != n || timestamps.len() != n {
        return Err(TrackingError::invalid(format!(
            "metric '{}': steps ({}), timestamps ({}) and values ({n}) must have the same length",
            crate::domain::validate::abbreviate(&col.key),
            steps.len(),
            timestamps.len()
        )));
    }
    let mut points: Vec<Point> = if col.values_f32.is_empty() {
        col.values
            .iter()
            .map(|&value| Point {
                step: 0,
                timestamp: 0,
                value,
            })
            .collect()
    } else {
        col.values_f32
            .iter()
            .map(|&v| Point {
                step: 0,
                timestamp: 0,
                value: f64::from(v),
            })
            .collect()
    };
    steps.fill(&mut points, |p| &mut p.step);
    timestamps.fill(&mut points, |p| &mut p.timestamp);
    Ok(points)
}

/// A stream acknowledgement → proto.
pub fn stream_ack(ack: StreamAck) -> pb::LogStreamResponse {
    let durability = match ack.durability {
        Durability::Durable => pb::Durability::Durable,
        Durability::Buffered => pb::Durability::Buffered,
    };
    pb::LogStreamResponse {
        seq: ack.seq,
        durability: durability as i32,
        points_stored: ack.points_stored,
        error: None,
        run_errors: ack
            .refused
            .iter()
            .map(|(run_id, err)| pb::RunError {
                run_id: run_id.clone(),
                error: Some(stream_error_body(err)),
            })
            .collect(),
    }
}

/// A refused stream batch → proto.
pub fn stream_error(seq: u64, err: &TrackingError) -> pb::LogStreamResponse {
    pb::LogStreamResponse {
        seq,
        durability: pb::Durability::Unspecified as i32,
        points_stored: 0,
        error: Some(stream_error_body(err)),
        run_errors: Vec::new(),
    }
}

fn stream_error_body(err: &TrackingError) -> pb::StreamError {
    pb::StreamError {
        code: err.grpc_code() as i32,
        error_code: err.mlflow_error_code().to_owned(),
        message: err.to_string(),
    }
}

/// Domain artifact entry → proto.
pub fn file_info(f: crate::artifacts::ArtifactFile) -> pb::FileInfo {
    pb::FileInfo {
        path: f.path,
        is_dir: f.is_dir,
        file_size: f.size.map(|s| s as i64),
    }
}

/// Points of one key → columns.
pub fn columns(key: String, points: &[Point]) -> pb::MetricColumns {
    pb::MetricColumns {
        key,
        steps: points.iter().map(|p| p.step).collect(),
        timestamps: points.iter().map(|p| p.timestamp).collect(),
        values: points.iter().map(|p| p.value).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(points: &[Point]) -> pb::MetricColumns {
        columns("m".into(), points)
    }

    #[test]
    fn compact_columns_decode_to_the_same_points() {
        let odd = f64::from_bits(0x7ff8_0000_dead_beef); // a NaN with a payload
        let cases: Vec<Vec<Point>> = vec![
            (0..1000)
                .map(|i| Point {
                    step: i,
                    timestamp: 1_700_000_000_000 + i * 37,
                    value: f64::from(1.0f32 / (i as f32 + 1.0)),
                })
                .collect(),
            vec![
                Point {
                    step: i64::MAX,
                    timestamp: 0,
                    value: -0.0,
                },
                Point {
                    step: i64::MIN,
                    timestamp: i64::MAX,
                    value: odd,
                },
                Point {
                    step: -5,
                    timestamp: 3,
                    value: 0.1,
                },
                Point {
                    step: 7,
                    timestamp: 2,
                    value: f64::INFINITY,
                },
            ],
            vec![],
        ];
        for points in cases {
            let mut compact = plain(&points);
            compact.compact();
            let back = metric_column_points(&compact).unwrap();
            assert_eq!(back.len(), points.len());
            for (a, b) in back.iter().zip(&points) {
                assert_eq!((a.step, a.timestamp), (b.step, b.timestamp));
                assert_eq!(a.value.to_bits(), b.value.to_bits());
            }
            assert_eq!(
                metric_column_points(&plain(&points)).unwrap().len(),
                points.len()
            );
        }
        let mut f32_curve = plain(&[Point {
            step: 1,
            timestamp: 2,
            value: 0.5,
        }]);
        f32_curve.compact();
        assert!(f32_curve.values.is_empty() && f32_curve.values_f32 == vec![0.5]);
        let mut f64_curve = plain(&[Point {
            step: 1,
            timestamp: 2,
            value: 0.1,
        }]);
        f64_curve.compact();
        assert!(
            f64_curve.values_f32.is_empty(),
            "0.1 is not exactly a float"
        );
    }

    #[test]
    fn mixed_or_uneven_columns_are_refused() {
        let both = pb::MetricColumns {
            key: "m".into(),
            steps: vec![1],
            step_deltas: vec![1],
            timestamps: vec![1],
            values: vec![1.0],
            ..Default::default()
        };
        assert!(metric_column_points(&both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        let uneven = pb::MetricColumns {
            key: "m".into(),
            step_deltas: vec![1, 1],
            timestamp_deltas: vec![1],
            values_f32: vec![1.0, 2.0],
            ..Default::default()
        };
        assert!(metric_column_points(&uneven)
            .unwrap_err()
            .to_string()
            .contains("same length"));
        let values_twice = pb::MetricColumns {
            key: "m".into(),
            steps: vec![1],
            timestamps: vec![1],
            values: vec![1.0],
            values_f32: vec![1.0],
            ..Default::default()
        };
        assert!(metric_column_points(&values_twice).is_err());
    }
}

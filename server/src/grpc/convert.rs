//! Conversions between `trackd.v1` messages and domain types. Nothing else in the server
//! touches prost types.

use trackd_proto::v1 as pb;

use crate::domain::{
    Dataset, DatasetInput, Experiment, ModelOutput, Point, Run, RunInfo, RunInputs, RunStatus,
    RunWrites,
};
use crate::error::{Result, TrackingError};
use crate::store::Durability;
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
    match pb::RunStatus::try_from(v) {
        Ok(pb::RunStatus::Running) => Ok(RunStatus::Running),
        Ok(pb::RunStatus::Scheduled) => Ok(RunStatus::Scheduled),
        Ok(pb::RunStatus::Finished) => Ok(RunStatus::Finished),
        Ok(pb::RunStatus::Failed) => Ok(RunStatus::Failed),
        Ok(pb::RunStatus::Killed) => Ok(RunStatus::Killed),
        _ => Err(TrackingError::invalid(format!("Invalid run status {v}"))),
    }
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
fn run_inputs(inputs: &RunInputs) -> Option<pb::RunInputs> {
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
fn run_outputs(outputs: &[ModelOutput]) -> Option<pb::RunOutputs> {
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

/// Domain run → proto.
pub fn run(r: Run) -> pb::Run {
    let inputs = run_inputs(&r.inputs);
    let outputs = run_outputs(&r.outputs);
    pb::Run {
        inputs,
        outputs,
        info: Some(run_info(r.info)),
        data: Some(pb::RunData {
            metrics: r.metrics.into_iter().map(|(k, p)| metric(k, p)).collect(),
            params: r
                .params
                .into_iter()
                .map(|(key, value)| pb::Param { key, value })
                .collect(),
            tags: r
                .tags
                .into_iter()
                .map(|(key, value)| pb::RunTag { key, value })
                .collect(),
        }),
    }
}

/// Domain run (shared, e.g. from the search catalog) → proto, copying each field once.
pub fn run_ref(r: &Run) -> pb::Run {
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

/// Columnar stream writes → domain writes; the three columns must have equal lengths.
pub fn stream_writes(runs: Vec<pb::RunWrites>) -> Result<Vec<(String, RunWrites)>> {
    runs.into_iter()
        .map(|r| {
            let mut metrics = Vec::with_capacity(r.metrics.len());
            for col in r.metrics {
                let n = col.values.len();
                if col.steps.len() != n || col.timestamps.len() != n {
                    return Err(TrackingError::invalid(format!(
                        "metric '{}': steps ({}), timestamps ({}) and values ({n}) must have the same length",
                        crate::domain::validate::abbreviate(&col.key),
                        col.steps.len(),
                        col.timestamps.len()
                    )));
                }
                let points = col
                    .steps
                    .iter()
                    .zip(&col.timestamps)
                    .zip(&col.values)
                    .map(|((&step, &timestamp), &value)| Point { step, timestamp, value })
                    .collect();
                metrics.push((col.key, points));
            }
            let writes = RunWrites {
                metrics,
                params: r.params.into_iter().map(|p| (p.key, p.value)).collect(),
                tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            };
            Ok((r.run_id, writes))
        })
        .collect()
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
    }
}

/// A refused stream batch → proto.
pub fn stream_error(seq: u64, err: &TrackingError) -> pb::LogStreamResponse {
    pb::LogStreamResponse {
        seq,
        durability: pb::Durability::Unspecified as i32,
        points_stored: 0,
        error: Some(pb::StreamError {
            code: err.grpc_code() as i32,
            error_code: err.mlflow_error_code().to_owned(),
            message: err.to_string(),
        }),
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
    }
}

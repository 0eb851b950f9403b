//! Every client operation as one gRPC call through [`Backend`]: the same code whether the
//! channel leads to a remote server or to the embedded store's in-process services, so the
//! run handle and the fluent API behave the same in both modes.

use crate::credentials::Transport;
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_client::ArtifactServiceClient;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;

use crate::error::Result;

/// Arguments of CreateRun.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateRun {
    pub experiment_id: String,
    pub run_name: String,
    pub start_time: Option<i64>,
    pub tags: Vec<(String, String)>,
    pub user_id: String,
}

/// The gRPC stubs behind a [`crate::Client`], over one channel: to a remote server, or to
/// the in-process services of an embedded store (`trackd_server::in_process`). Both modes
/// run this same code.
#[derive(Clone)]
pub(crate) struct Backend {
    pub tracking: TrackingServiceClient<Transport>,
    pub artifacts: ArtifactServiceClient<Transport>,
    pub models: trackd_proto::v1::model_service_client::ModelServiceClient<Transport>,
    pub auth: trackd_proto::v1::auth_service_client::AuthServiceClient<Transport>,
}

fn kv<T>(pairs: Vec<(String, String)>, make: impl Fn(String, String) -> T) -> Vec<T> {
    pairs.into_iter().map(|(k, v)| make(k, v)).collect()
}

impl Backend {
    pub async fn create_experiment(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String> {
        let c = &self.tracking;
        Ok(c.clone()
            .create_experiment(pb::CreateExperimentRequest {
                name: name.into(),
                artifact_location: String::new(),
                tags: kv(tags, |key, value| pb::ExperimentTag { key, value }),
            })
            .await?
            .into_inner()
            .experiment_id)
    }

    pub async fn get_experiment(&self, id: &str) -> Result<pb::Experiment> {
        let c = &self.tracking;
        Ok(c.clone()
            .get_experiment(pb::GetExperimentRequest {
                experiment_id: id.into(),
            })
            .await?
            .into_inner()
            .experiment
            .unwrap_or_default())
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<pb::Experiment> {
        let c = &self.tracking;
        Ok(c.clone()
            .get_experiment_by_name(pb::GetExperimentByNameRequest {
                experiment_name: name.into(),
            })
            .await?
            .into_inner()
            .experiment
            .unwrap_or_default())
    }

    pub async fn delete_experiment(&self, id: &str) -> Result<()> {
        let c = &self.tracking;
        c.clone()
            .delete_experiment(pb::DeleteExperimentRequest {
                experiment_id: id.into(),
            })
            .await?;
        Ok(())
    }

    pub async fn create_run(&self, r: CreateRun) -> Result<pb::Run> {
        let c = &self.tracking;
        Ok(c.clone()
            .create_run(pb::CreateRunRequest {
                experiment_id: r.experiment_id,
                user_id: r.user_id,
                run_name: r.run_name,
                start_time: r.start_time,
                tags: kv(r.tags, |key, value| pb::RunTag { key, value }),
            })
            .await?
            .into_inner()
            .run
            .unwrap_or_default())
    }

    pub async fn get_run(&self, run_id: &str) -> Result<pb::Run> {
        let c = &self.tracking;
        Ok(c.clone()
            .get_run(pb::GetRunRequest {
                run_id: run_id.into(),
                run_uuid: String::new(),
            })
            .await?
            .into_inner()
            .run
            .unwrap_or_default())
    }

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<pb::RunStatus>,
        end_time: Option<i64>,
    ) -> Result<pb::RunInfo> {
        let c = &self.tracking;
        Ok(c.clone()
            .update_run(pb::UpdateRunRequest {
                run_id: run_id.into(),
                run_uuid: String::new(),
                status: status.map(|s| s as i32),
                end_time,
                run_name: None,
            })
            .await?
            .into_inner()
            .run_info
            .unwrap_or_default())
    }

    pub async fn log_inputs(&self, run_id: &str, datasets: Vec<pb::DatasetInput>) -> Result<()> {
        let c = &self.tracking;
        c.clone()
            .log_inputs(pb::LogInputsRequest {
                run_id: run_id.into(),
                datasets,
                models: Vec::new(),
            })
            .await?;
        Ok(())
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<pb::Metric>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        let c = &self.tracking;
        c.clone()
            .log_batch(pb::LogBatchRequest {
                run_id: run_id.into(),
                metrics,
                params: kv(params, |key, value| pb::Param { key, value }),
                tags: kv(tags, |key, value| pb::RunTag { key, value }),
            })
            .await?;
        Ok(())
    }

    /// A series in step order, a bounded piece at a time (StreamMetricHistory in the compact
    /// form, expanded here).
    pub async fn metric_history_stream(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<WireColumnsStream> {
        use futures::StreamExt;
        let c = &self.tracking;
        let messages = c
            .clone()
            .stream_metric_history(pb::StreamMetricHistoryRequest {
                run_id: run_id.into(),
                metric_key: key.into(),
                compact: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(messages
            .map(|message| {
                let mut columns = message?.columns.unwrap_or_default();
                if !columns.expand() {
                    return Err(crate::ClientError::Delivery(
                        "the server sent malformed history columns".into(),
                    ));
                }
                Ok(columns)
            })
            .boxed())
    }
}

/// Pieces of one metric's history, in step order, as they come off the wire.
pub(crate) type WireColumnsStream = futures::stream::BoxStream<'static, Result<pb::MetricColumns>>;

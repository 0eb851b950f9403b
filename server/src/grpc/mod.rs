//! The gRPC edge: `trackd.v1.TrackingService` over the [`Tracker`].
//!
//! Each method decodes its request into domain arguments, calls the Tracker, and encodes
//! the answer; errors become `tonic::Status` through the one mapping in [`crate::error`].

pub mod artifacts;
pub mod auth;
pub(crate) mod convert;
pub mod models;
mod run_wire;
mod stream;

use std::time::Duration;

use tonic::{Request, Response, Status, Streaming};
use tracing::instrument;
use trackd_proto::v1 as pb;
use trackd_proto::v1::tracking_service_server::TrackingService;

use crate::domain::{Point, ViewType};
use crate::error::TrackingError;
use crate::identity::grpc_caller;
use futures::StreamExt;

use crate::tracker::{
    ExperimentSearch, HistoryRead, NewRun, RunSearch, RunUpdate, SampledHistory, Sampling, Tracker,
};

pub use trackd_proto::v1::tracking_service_server::TrackingServiceServer;

/// The response stream of StreamMetricHistory.
pub type HistoryStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::StreamMetricHistoryResponse, Status>> + Send>,
>;

/// Largest gRPC message the server decodes (a LogStream batch of ~250k points fits).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Settings of the gRPC edge.
#[derive(Debug, Clone)]
pub struct GrpcOptions {
    /// A LogStream that sends nothing for this long is closed.
    pub stream_idle_timeout: Duration,
    /// Batches of one stream being committed at once (pipelining depth).
    pub stream_in_flight: usize,
    /// Largest request message decoded, in bytes (larger ones are refused; a LogStream
    /// carrying one ends with INVALID_ARGUMENT).
    pub max_message_bytes: usize,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        GrpcOptions {
            stream_idle_timeout: Duration::from_secs(300),
            stream_in_flight: 4,
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }
}

/// `TrackingService` implementation.
#[derive(Clone)]
pub struct TrackingGrpc {
    tracker: Tracker,
    options: GrpcOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl TrackingGrpc {
    /// A service over `tracker`; streams end when `shutdown` turns true.
    pub fn new(
        tracker: Tracker,
        options: GrpcOptions,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        TrackingGrpc {
            tracker,
            options,
            shutdown,
        }
    }

    /// The tonic server wrapper with trackd's message limits.
    pub fn into_server(self) -> TrackingServiceServer<Self> {
        let max = self.options.max_message_bytes;
        TrackingServiceServer::new(self).max_decoding_message_size(max)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn ok<T>(value: T) -> GrpcResult<T> {
    Ok(Response::new(value))
}

#[tonic::async_trait]
impl TrackingService for TrackingGrpc {
    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create_experiment(
        &self,
        request: Request<pb::CreateExperimentRequest>,
    ) -> GrpcResult<pb::CreateExperimentResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let tags = r.tags.into_iter().map(|t| (t.key, t.value)).collect();
        let id = self
            .tracker
            .create_experiment(&caller, &r.name, &r.artifact_location, tags)
            .await?;
        ok(pb::CreateExperimentResponse {
            experiment_id: id.to_string(),
        })
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn get_experiment(
        &self,
        request: Request<pb::GetExperimentRequest>,
    ) -> GrpcResult<pb::GetExperimentResponse> {
        let caller = grpc_caller(&request)?;
        let exp = self
            .tracker
            .get_experiment(&caller, &request.get_ref().experiment_id)
            .await?;
        ok(pb::GetExperimentResponse {
            experiment: Some(convert::experiment(exp)),
        })
    }

    #[instrument(skip_all, fields(name = %request.get_ref().experiment_name))]
    async fn get_experiment_by_name(
        &self,
        request: Request<pb::GetExperimentByNameRequest>,
    ) -> GrpcResult<pb::GetExperimentByNameResponse> {
        let caller = grpc_caller(&request)?;
        let exp = self
            .tracker
            .get_experiment_by_name(&caller, &request.get_ref().experiment_name)
            .await?;
        ok(pb::GetExperimentByNameResponse {
            experiment: Some(convert::experiment(exp)),
        })
    }

    #[instrument(skip_all)]
    async fn search_experiments(
        &self,
        request: Request<pb::SearchExperimentsRequest>,
    ) -> GrpcResult<pb::SearchExperimentsResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let search = ExperimentSearch {
            filter: r.filter,
            view: ViewType::from_i32(r.view_type)?,
            max_results: r.max_results,
            order_by: r.order_by,
            page_token: r.page_token,
        };
        let page = self.tracker.search_experiments(&caller, search).await?;
        ok(pb::SearchExperimentsResponse {
            experiments: page.items.into_iter().map(convert::experiment).collect(),
            next_page_token: page.next_page_token,
        })
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn update_experiment(
        &self,
        request: Request<pb::UpdateExperimentRequest>,
    ) -> GrpcResult<pb::UpdateExperimentResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker
            .update_experiment(&caller, &r.experiment_id, &r.new_name)
            .await?;
        ok(pb::UpdateExperimentResponse {})
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn delete_experiment(
        &self,
        request: Request<pb::DeleteExperimentRequest>,
    ) -> GrpcResult<pb::DeleteExperimentResponse> {
        let caller = grpc_caller(&request)?;
        self.tracker
            .delete_experiment(&caller, &request.get_ref().experiment_id)
            .await?;
        ok(pb::DeleteExperimentResponse {})
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn restore_experiment(
        &self,
        request: Request<pb::RestoreExperimentRequest>,
    ) -> GrpcResult<pb::RestoreExperimentResponse> {
        let caller = grpc_caller(&request)?;
        self.tracker
            .restore_experiment(&caller, &request.get_ref().experiment_id)
            .await?;
        ok(pb::RestoreExperimentResponse {})
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn set_experiment_tag(
        &self,
        request: Request<pb::SetExperimentTagRequest>,
    ) -> GrpcResult<pb::SetExperimentTagResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker
            .set_experiment_tag(&caller, &r.experiment_id, &r.key, &r.value)
            .await?;
        ok(pb::SetExperimentTagResponse {})
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn delete_experiment_tag(
        &self,
        request: Request<pb::DeleteExperimentTagRequest>,
    ) -> GrpcResult<pb::DeleteExperimentTagResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker
            .delete_experiment_tag(&caller, &r.experiment_id, &r.key)
            .await?;
        ok(pb::DeleteExperimentTagResponse {})
    }

    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn create_run(
        &self,
        request: Request<pb::CreateRunRequest>,
    ) -> GrpcResult<pb::CreateRunResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let new = NewRun {
            experiment_id: r.experiment_id,
            user_id: r.user_id,
            run_name: r.run_name,
            start_time: r.start_time,
            tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        };
        let run = self.tracker.create_run(&caller, new).await?;
        ok(pb::CreateRunResponse {
            run: Some(convert::run(&run)),
        })
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn get_run(&self, request: Request<pb::GetRunRequest>) -> GrpcResult<pb::GetRunResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        let run = self
            .tracker
            .get_run(&caller, convert::run_id(&r.run_id, &r.run_uuid))
            .await?;
        ok(pb::GetRunResponse {
            run: Some(convert::run(&run)),
        })
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn update_run(
        &self,
        request: Request<pb::UpdateRunRequest>,
    ) -> GrpcResult<pb::UpdateRunResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let update = RunUpdate {
            status: r.status.map(convert::status_from).transpose()?,
            end_time: r.end_time,
            run_name: r.run_name,
        };
        let info = self
            .tracker
            .update_run(&caller, convert::run_id(&r.run_id, &r.run_uuid), update)
            .await?;
        ok(pb::UpdateRunResponse {
            run_info: Some(convert::run_info(info)),
        })
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn delete_run(
        &self,
        request: Request<pb::DeleteRunRequest>,
    ) -> GrpcResult<pb::DeleteRunResponse> {
        let caller = grpc_caller(&request)?;
        self.tracker
            .delete_run(&caller, &request.get_ref().run_id)
            .await?;
        ok(pb::DeleteRunResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn restore_run(
        &self,
        request: Request<pb::RestoreRunRequest>,
    ) -> GrpcResult<pb::RestoreRunResponse> {
        let caller = grpc_caller(&request)?;
        self.tracker
            .restore_run(&caller, &request.get_ref().run_id)
            .await?;
        ok(pb::RestoreRunResponse {})
    }

    #[instrument(skip_all)]
    async fn create_backup(
        &self,
        request: Request<pb::CreateBackupRequest>,
    ) -> GrpcResult<pb::CreateBackupResponse> {
        let caller = grpc_caller(&request)?;
        let report = self
            .tracker
            .backup(&caller, &request.get_ref().name)
            .await?;
        ok(pb::CreateBackupResponse {
            path: report.path.display().to_string(),
            database_entries: report.database.entries,
            database_bytes: report.database.bytes,
            writes_waited_seconds: report.database.seconds,
            artifact_files: report.artifact_files,
            artifact_bytes: report.artifact_bytes,
        })
    }

    #[instrument(skip_all)]
    async fn search_runs(
        &self,
        request: Request<pb::SearchRunsRequest>,
    ) -> GrpcResult<pb::SearchRunsResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let search = RunSearch {
            experiment_ids: r.experiment_ids,
            filter: r.filter,
            view: ViewType::from_i32(r.run_view_type)?,
            max_results: i64::from(r.max_results),
            order_by: r.order_by,
            page_token: r.page_token,
        };
        let page = self.tracker.search_runs(&caller, search).await?;
        ok(pb::SearchRunsResponse {
            encoded_runs: run_wire::encode_runs(page.items.iter().map(|r| &**r)),
            next_page_token: page.next_page_token,
            ..Default::default()
        })
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn log_metric(
        &self,
        request: Request<pb::LogMetricRequest>,
    ) -> GrpcResult<pb::LogMetricResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        let point = Point {
            step: r.step,
            timestamp: r.timestamp,
            value: r.value,
        };
        self.tracker
            .log_metric(
                &caller,
                convert::run_id(&r.run_id, &r.run_uuid),
                &r.key,
                point,
            )
            .await?;
        ok(pb::LogMetricResponse {})
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn log_param(
        &self,
        request: Request<pb::LogParamRequest>,
    ) -> GrpcResult<pb::LogParamResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker
            .log_param(
                &caller,
                convert::run_id(&r.run_id, &r.run_uuid),
                &r.key,
                &r.value,
            )
            .await?;
        ok(pb::LogParamResponse {})
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn set_tag(&self, request: Request<pb::SetTagRequest>) -> GrpcResult<pb::SetTagResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker
            .set_tag(
                &caller,
                convert::run_id(&r.run_id, &r.run_uuid),
                &r.key,
                &r.value,
            )
            .await?;
        ok(pb::SetTagResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn delete_tag(
        &self,
        request: Request<pb::DeleteTagRequest>,
    ) -> GrpcResult<pb::DeleteTagResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.get_ref();
        self.tracker.delete_tag(&caller, &r.run_id, &r.key).await?;
        ok(pb::DeleteTagResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn log_batch(
        &self,
        request: Request<pb::LogBatchRequest>,
    ) -> GrpcResult<pb::LogBatchResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let writes = convert::batch_writes(r.metrics, r.params, r.tags);
        self.tracker.log_batch(&caller, &r.run_id, writes).await?;
        ok(pb::LogBatchResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn log_inputs(
        &self,
        request: Request<pb::LogInputsRequest>,
    ) -> GrpcResult<pb::LogInputsResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let inputs = convert::inputs_in(r.datasets, r.models);
        self.tracker.log_inputs(&caller, &r.run_id, inputs).await?;
        ok(pb::LogInputsResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn log_outputs(
        &self,
        request: Request<pb::LogOutputsRequest>,
    ) -> GrpcResult<pb::LogOutputsResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let outputs = convert::outputs_in(r.models);
        self.tracker
            .log_outputs(&caller, &r.run_id, outputs)
            .await?;
        ok(pb::LogOutputsResponse {})
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn log_model(
        &self,
        request: Request<pb::LogModelRequest>,
    ) -> GrpcResult<pb::LogModelResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        self.tracker
            .log_model(&caller, &r.run_id, &r.model_json)
            .await?;
        ok(pb::LogModelResponse {})
    }

    #[instrument(skip_all, fields(run_id = %convert::run_id(&request.get_ref().run_id, &request.get_ref().run_uuid)))]
    async fn get_metric_history(
        &self,
        request: Request<pb::GetMetricHistoryRequest>,
    ) -> GrpcResult<pb::GetMetricHistoryResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let page = self
            .tracker
            .metric_history(
                &caller,
                convert::run_id(&r.run_id, &r.run_uuid),
                &r.metric_key,
                &r.page_token,
                i64::from(r.max_results),
            )
            .await?;
        let key = r.metric_key;
        ok(pb::GetMetricHistoryResponse {
            metrics: page
                .items
                .into_iter()
                .map(|p| convert::metric(key.clone(), p))
                .collect(),
            next_page_token: page.next_page_token,
        })
    }

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id))]
    async fn get_metric_history_columns(
        &self,
        request: Request<pb::GetMetricHistoryColumnsRequest>,
    ) -> GrpcResult<pb::GetMetricHistoryColumnsResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let points = self
            .tracker
            .metric_history_range(&caller, &r.run_id, &r.metric_key, r.start_step, r.end_step)
            .await?;
        ok(pb::GetMetricHistoryColumnsResponse {
            columns: Some(convert::columns(r.metric_key, &points)),
        })
    }

    #[instrument(skip_all)]
    async fn get_sampled_metric_history(
        &self,
        request: Request<pb::GetSampledMetricHistoryRequest>,
    ) -> GrpcResult<pb::GetSampledMetricHistoryResponse> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let method = match pb::SamplingMethod::try_from(r.method) {
            Ok(pb::SamplingMethod::Lttb) => Sampling::Lttb,
            Ok(_) => Sampling::MinMax,
            Err(_) => {
                return Err(
                    TrackingError::invalid(format!("Invalid sampling method {}", r.method)).into(),
                )
            }
        };
        let max_points = usize::try_from(r.max_points).map_err(|_| {
            TrackingError::invalid(format!(
                "max_points must not be negative, got {}",
                r.max_points
            ))
        })?;
        let series = self
            .tracker
            .sampled_history(
                &caller,
                SampledHistory {
                    run_ids: r.run_ids,
                    keys: r.metric_keys,
                    max_points,
                    start_step: r.start_step,
                    end_step: r.end_step,
                    method,
                },
            )
            .await?;
        ok(pb::GetSampledMetricHistoryResponse {
            series: series
                .into_iter()
                .map(|s| pb::SampledMetricSeries {
                    run_id: s.run_id.to_string(),
                    points: s
                        .points
                        .into_iter()
                        .map(|p| convert::metric(s.key.clone(), p))
                        .collect(),
                    metric_key: s.key,
                    total_points: s.total_points as i64,
                })
                .collect(),
        })
    }

    type StreamMetricHistoryStream = HistoryStream;

    #[instrument(skip_all, fields(run_id = %request.get_ref().run_id, key = %request.get_ref().metric_key))]
    async fn stream_metric_history(
        &self,
        request: Request<pb::StreamMetricHistoryRequest>,
    ) -> GrpcResult<Self::StreamMetricHistoryStream> {
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let blocks = self
            .tracker
            .history_blocks(
                &caller,
                HistoryRead {
                    run_id: r.run_id,
                    key: r.metric_key.clone(),
                    start_step: r.start_step,
                    end_step: r.end_step,
                    block_points: r.max_points_per_message as usize,
                },
            )
            .await?;
        let mut hint = Some(blocks.points_hint());
        let (key, compact) = (r.metric_key, r.compact);
        let messages = blocks.map(move |block| {
            let block = block.map_err(Status::from)?;
            let mut columns = convert::columns(key.clone(), block.points());
            if compact {
                columns.compact();
            }
            Ok(pb::StreamMetricHistoryResponse {
                columns: Some(columns),
                points_hint: hint.take().unwrap_or(0),
            })
        });
        ok(Box::pin(messages))
    }

    type LogStreamStream = stream::AckStream;

    #[instrument(skip_all)]
    async fn log_stream(
        &self,
        request: Request<Streaming<pb::LogStreamRequest>>,
    ) -> GrpcResult<Self::LogStreamStream> {
        let caller = grpc_caller(&request)?;
        ok(stream::serve(
            self.tracker.clone(),
            caller,
            request.into_inner(),
            self.options.clone(),
            self.shutdown.clone(),
        ))
    }
}

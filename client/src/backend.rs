//! One core over two transports: a remote trackd server (gRPC) or the server's `Tracker`
//! running in-process (embedded). Every client operation goes through [`Backend`], so the
//! run handle and the fluent API behave the same in both modes.

use tonic::transport::Channel;
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_client::ArtifactServiceClient;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;

use crate::error::Result;
#[cfg(feature = "embedded")]
use trackd_server::domain::Caller;

/// Arguments of CreateRun.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateRun {
    pub experiment_id: String,
    pub run_name: String,
    pub start_time: Option<i64>,
    pub tags: Vec<(String, String)>,
    pub user_id: String,
}

/// gRPC stubs over one channel.
#[derive(Clone)]
pub(crate) struct Stubs {
    pub tracking: TrackingServiceClient<Channel>,
    pub artifacts: ArtifactServiceClient<Channel>,
}

/// The transport behind a [`crate::Client`].
// One per Client, behind an Arc: the variants' size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Backend {
    Remote(Stubs),
    #[cfg(feature = "embedded")]
    Embedded(trackd_server::Tracker),
}

#[cfg(feature = "embedded")]
use trackd_server::grpc::convert;

fn kv<T>(pairs: Vec<(String, String)>, make: impl Fn(String, String) -> T) -> Vec<T> {
    pairs.into_iter().map(|(k, v)| make(k, v)).collect()
}

impl Backend {
    pub async fn create_experiment(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
                .create_experiment(pb::CreateExperimentRequest {
                    name: name.into(),
                    artifact_location: String::new(),
                    tags: kv(tags, |key, value| pb::ExperimentTag { key, value }),
                })
                .await?
                .into_inner()
                .experiment_id),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(t
                .create_experiment(&Caller::InProcess, name, "", tags)
                .await?
                .to_string()),
        }
    }

    pub async fn get_experiment(&self, id: &str) -> Result<pb::Experiment> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
                .get_experiment(pb::GetExperimentRequest {
                    experiment_id: id.into(),
                })
                .await?
                .into_inner()
                .experiment
                .unwrap_or_default()),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(convert::experiment(
                t.get_experiment(&Caller::InProcess, id).await?,
            )),
        }
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<pb::Experiment> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
                .get_experiment_by_name(pb::GetExperimentByNameRequest {
                    experiment_name: name.into(),
                })
                .await?
                .into_inner()
                .experiment
                .unwrap_or_default()),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(convert::experiment(
                t.get_experiment_by_name(&Caller::InProcess, name).await?,
            )),
        }
    }

    pub async fn delete_experiment(&self, id: &str) -> Result<()> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => {
                c.clone()
                    .delete_experiment(pb::DeleteExperimentRequest {
                        experiment_id: id.into(),
                    })
                    .await?;
                Ok(())
            }
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(t.delete_experiment(&Caller::InProcess, id).await?),
        }
    }

    pub async fn create_run(&self, r: CreateRun) -> Result<pb::Run> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
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
                .unwrap_or_default()),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => {
                let new = trackd_server::tracker::NewRun {
                    experiment_id: r.experiment_id,
                    user_id: r.user_id,
                    run_name: r.run_name,
                    start_time: r.start_time,
                    tags: r.tags,
                };
                Ok(convert::run(&t.create_run(&Caller::InProcess, new).await?))
            }
        }
    }

    pub async fn get_run(&self, run_id: &str) -> Result<pb::Run> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
                .get_run(pb::GetRunRequest {
                    run_id: run_id.into(),
                    run_uuid: String::new(),
                })
                .await?
                .into_inner()
                .run
                .unwrap_or_default()),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(convert::run(&t.get_run(&Caller::InProcess, run_id).await?)),
        }
    }

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<pb::RunStatus>,
        end_time: Option<i64>,
    ) -> Result<pb::RunInfo> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => Ok(c
                .clone()
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
                .unwrap_or_default()),
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => {
                let update = trackd_server::tracker::RunUpdate {
                    status: status.map(|s| convert::status_from(s as i32)).transpose()?,
                    end_time,
                    run_name: None,
                };
                Ok(convert::run_info(
                    t.update_run(&Caller::InProcess, run_id, update).await?,
                ))
            }
        }
    }

    pub async fn log_inputs(&self, run_id: &str, datasets: Vec<pb::DatasetInput>) -> Result<()> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => {
                c.clone()
                    .log_inputs(pb::LogInputsRequest {
                        run_id: run_id.into(),
                        datasets,
                        models: Vec::new(),
                    })
                    .await?;
                Ok(())
            }
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => Ok(t
                .log_inputs(
                    &Caller::InProcess,
                    run_id,
                    convert::inputs_in(datasets, Vec::new()),
                )
                .await?),
        }
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<pb::Metric>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => {
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
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => {
                let params = kv(params, |key, value| pb::Param { key, value });
                let tags = kv(tags, |key, value| pb::RunTag { key, value });
                Ok(t.log_batch(
                    &Caller::InProcess,
                    run_id,
                    convert::batch_writes(metrics, params, tags),
                )
                .await?)
            }
        }
    }

    pub async fn search_runs(
        &self,
        experiment_ids: Vec<String>,
        max_results: i32,
        page_token: String,
    ) -> Result<(Vec<pb::Run>, String)> {
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => {
                let r = c
                    .clone()
                    .search_runs(pb::SearchRunsRequest {
                        experiment_ids,
                        max_results,
                        page_token,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                Ok((r.runs, r.next_page_token))
            }
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => {
                let search = trackd_server::tracker::RunSearch {
                    experiment_ids,
                    max_results: i64::from(max_results),
                    page_token,
                    ..Default::default()
                };
                let page = t.search_runs(&Caller::InProcess, search).await?;
                Ok((
                    page.items.iter().map(|r| convert::run(r)).collect(),
                    page.next_page_token,
                ))
            }
        }
    }

    /// A series in step order, a bounded piece at a time (remote: StreamMetricHistory in
    /// the compact form, expanded here; embedded: the Tracker's block reader).
    pub async fn metric_history_stream(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<WireColumnsStream> {
        use futures::StreamExt;
        match self {
            Backend::Remote(Stubs { tracking: c, .. }) => {
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
            #[cfg(feature = "embedded")]
            Backend::Embedded(t) => {
                let blocks = t
                    .history_blocks(
                        &Caller::InProcess,
                        trackd_server::tracker::HistoryRead {
                            run_id: run_id.into(),
                            key: key.into(),
                            start_step: None,
                            end_step: None,
                            block_points: 0,
                        },
                    )
                    .await?;
                let key = key.to_owned();
                Ok(blocks
                    .map(move |block| Ok(convert::columns(key.clone(), block?.points())))
                    .boxed())
            }
        }
    }
}

/// Pieces of one metric's history, in step order, as they come off the wire.
pub(crate) type WireColumnsStream = futures::stream::BoxStream<'static, Result<pb::MetricColumns>>;

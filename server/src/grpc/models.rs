//! The gRPC edge of models: `trackd.v1.ModelService` (logged models and the model registry)
//! over the [`Tracker`], with the same operations and rules as MLflow's REST paths.

use tonic::{Request, Response, Status};
use tracing::instrument;
use trackd_proto::v1 as pb;
use trackd_proto::v1::model_service_server::ModelService;

use crate::domain::{Caller, LoggedModel, ModelStatus, ModelVersion, RegisteredModel};
use crate::error::TrackingError;
use crate::identity::grpc_caller;
use crate::tracker::{
    ModelOrder, ModelSearch, NewLoggedModel, NewModelVersion, RegistrySearch, Tracker,
};

pub use trackd_proto::v1::model_service_server::ModelServiceServer;

/// `ModelService` implementation.
#[derive(Clone)]
pub struct ModelGrpc {
    tracker: Tracker,
}

impl ModelGrpc {
    /// A service over `tracker`.
    pub fn new(tracker: Tracker) -> Self {
        ModelGrpc { tracker }
    }

    /// The tonic server wrapper with trackd's message limits.
    pub fn into_server(self) -> ModelServiceServer<Self> {
        ModelServiceServer::new(self).max_decoding_message_size(super::MAX_MESSAGE_BYTES)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn pairs(kv: Vec<pb::ModelKeyValue>) -> Vec<(String, String)> {
    kv.into_iter().map(|t| (t.key, t.value)).collect()
}

fn kv<'a>(items: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<pb::ModelKeyValue> {
    items
        .into_iter()
        .map(|(k, v)| pb::ModelKeyValue {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn status_in(n: i32) -> Option<ModelStatus> {
    ModelStatus::from_number(i64::from(n))
}

fn status_out(s: ModelStatus) -> i32 {
    s.number()
}

fn logged_model(m: &LoggedModel) -> pb::LoggedModel {
    pb::LoggedModel {
        model_id: m.id.to_string(),
        experiment_id: m.experiment_id.to_string(),
        name: m.name.clone(),
        artifact_uri: m.artifact_location.clone(),
        creation_timestamp_ms: m.creation_time,
        last_updated_timestamp_ms: m.last_updated_time,
        model_type: m.model_type.clone(),
        source_run_id: m.source_run_id.map(|r| r.to_string()).unwrap_or_default(),
        status: status_out(m.status),
        status_message: m.status_message.clone(),
        tags: kv(&m.tags),
        params: kv(&m.params),
        metrics: m
            .metrics
            .iter()
            .map(|x| pb::ModelMetric {
                key: x.key.clone(),
                value: x.value,
                timestamp: x.timestamp,
                step: x.step,
                dataset_name: x.dataset_name.clone(),
                dataset_digest: x.dataset_digest.clone(),
                run_id: x.run_id.map(|r| r.to_string()).unwrap_or_default(),
            })
            .collect(),
        deleted: m.lifecycle == crate::domain::Lifecycle::Deleted,
    }
}

fn model_version(m: &RegisteredModel, v: &ModelVersion) -> pb::ModelVersion {
    pb::ModelVersion {
        name: m.name.clone(),
        version: v.version as i64,
        creation_timestamp: v.creation_time,
        last_updated_timestamp: v.last_updated_time,
        description: v.description.clone(),
        source: v.source.clone(),
        storage_location: v.storage_location.clone(),
        run_id: v.run_id.clone(),
        model_id: v.model_id.clone(),
        current_stage: v.stage.as_str().to_owned(),
        tags: kv(&v.tags),
        aliases: m.aliases_of(v.version),
    }
}

fn registered_model(m: &RegisteredModel) -> pb::RegisteredModel {
    pb::RegisteredModel {
        name: m.name.clone(),
        creation_timestamp: m.creation_time,
        last_updated_timestamp: m.last_updated_time,
        description: m.description.clone(),
        tags: kv(&m.tags),
        aliases: m
            .aliases
            .iter()
            .map(|(alias, v)| pb::ModelAlias {
                alias: alias.clone(),
                version: *v as i64,
            })
            .collect(),
        latest_versions: m
            .latest_versions(&[])
            .into_iter()
            .map(|v| model_version(m, v))
            .collect(),
    }
}

/// A version number from the wire: positive.
fn version(n: i64) -> Result<u64, TrackingError> {
    u64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
        TrackingError::invalid(format!(
            "Invalid model version {n}: a version is a positive integer."
        ))
    })
}

fn version_of(m: &RegisteredModel, v: u64) -> Result<pb::ModelVersion, TrackingError> {
    m.version(v)
        .map(|x| model_version(m, x))
        .ok_or_else(|| TrackingError::not_found(format!("Model Version (version={v}) not found")))
}

fn registered_response(m: RegisteredModel) -> GrpcResult<pb::RegisteredModelResponse> {
    Ok(Response::new(pb::RegisteredModelResponse {
        registered_model: Some(registered_model(&m)),
    }))
}

fn version_response(m: &RegisteredModel, v: u64) -> GrpcResult<pb::ModelVersionResponse> {
    Ok(Response::new(pb::ModelVersionResponse {
        model_version: Some(version_of(m, v)?),
    }))
}

fn done() -> GrpcResult<pb::ModelsEmptyResponse> {
    Ok(Response::new(pb::ModelsEmptyResponse {}))
}

fn model_response(m: LoggedModel) -> GrpcResult<pb::LoggedModelResponse> {
    Ok(Response::new(pb::LoggedModelResponse {
        model: Some(logged_model(&m)),
    }))
}

fn registry_search(r: pb::SearchRegistryRequest) -> RegistrySearch {
    RegistrySearch {
        filter: r.filter,
        max_results: i64::from(r.max_results),
        order_by: r.order_by,
        page_token: r.page_token,
    }
}

/// The caller and the request.
fn parts<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    Ok((grpc_caller(&request)?, request.into_inner()))
}

#[tonic::async_trait]
impl ModelService for ModelGrpc {
    #[instrument(skip_all, fields(experiment_id = %request.get_ref().experiment_id))]
    async fn create_logged_model(
        &self,
        request: Request<pb::CreateLoggedModelRequest>,
    ) -> GrpcResult<pb::LoggedModelResponse> {
        let (c, r) = parts(request)?;
        let new = NewLoggedModel {
            experiment_id: r.experiment_id,
            name: r.name,
            model_type: r.model_type,
            source_run_id: r.source_run_id,
            params: pairs(r.params),
            tags: pairs(r.tags),
        };
        model_response(self.tracker.create_logged_model(&c, new).await?)
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn get_logged_model(
        &self,
        request: Request<pb::GetLoggedModelRequest>,
    ) -> GrpcResult<pb::LoggedModelResponse> {
        let (c, r) = parts(request)?;
        model_response(
            self.tracker
                .get_logged_model(&c, &r.model_id, r.allow_deleted)
                .await?,
        )
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn finalize_logged_model(
        &self,
        request: Request<pb::FinalizeLoggedModelRequest>,
    ) -> GrpcResult<pb::LoggedModelResponse> {
        let (c, r) = parts(request)?;
        model_response(
            self.tracker
                .finalize_logged_model(&c, &r.model_id, status_in(r.status))
                .await?,
        )
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn delete_logged_model(
        &self,
        request: Request<pb::DeleteLoggedModelRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker.delete_logged_model(&c, &r.model_id).await?;
        done()
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn set_logged_model_tags(
        &self,
        request: Request<pb::SetLoggedModelTagsRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker
            .set_logged_model_tags(&c, &r.model_id, pairs(r.tags))
            .await?;
        done()
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn delete_logged_model_tag(
        &self,
        request: Request<pb::DeleteLoggedModelTagRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker
            .delete_logged_model_tag(&c, &r.model_id, &r.key)
            .await?;
        done()
    }

    #[instrument(skip_all, fields(model_id = %request.get_ref().model_id))]
    async fn log_logged_model_params(
        &self,
        request: Request<pb::LogLoggedModelParamsRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker
            .log_logged_model_params(&c, &r.model_id, pairs(r.params))
            .await?;
        done()
    }

    #[instrument(skip_all)]
    async fn search_logged_models(
        &self,
        request: Request<pb::SearchLoggedModelsRequest>,
    ) -> GrpcResult<pb::SearchLoggedModelsResponse> {
        let (c, r) = parts(request)?;
        let search = ModelSearch {
            experiment_ids: r.experiment_ids,
            filter: r.filter,
            datasets: r
                .datasets
                .into_iter()
                .map(|d| (d.dataset_name, d.dataset_digest))
                .collect(),
            max_results: i64::from(r.max_results),
            order_by: r
                .order_by
                .into_iter()
                .map(|o| ModelOrder {
                    field_name: o.field_name,
                    ascending: !o.descending,
                })
                .collect(),
            page_token: r.page_token,
        };
        let page = self.tracker.search_logged_models(&c, search).await?;
        Ok(Response::new(pb::SearchLoggedModelsResponse {
            models: page.items.iter().map(logged_model).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create_registered_model(
        &self,
        request: Request<pb::CreateRegisteredModelRequest>,
    ) -> GrpcResult<pb::RegisteredModelResponse> {
        let (c, r) = parts(request)?;
        registered_response(
            self.tracker
                .create_registered_model(&c, &r.name, &r.description, pairs(r.tags))
                .await?,
        )
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn get_registered_model(
        &self,
        request: Request<pb::RegisteredModelRequest>,
    ) -> GrpcResult<pb::RegisteredModelResponse> {
        let (c, r) = parts(request)?;
        registered_response(self.tracker.get_registered_model(&c, &r.name).await?)
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn rename_registered_model(
        &self,
        request: Request<pb::RenameRegisteredModelRequest>,
    ) -> GrpcResult<pb::RegisteredModelResponse> {
        let (c, r) = parts(request)?;
        registered_response(
            self.tracker
                .rename_registered_model(&c, &r.name, &r.new_name)
                .await?,
        )
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn update_registered_model(
        &self,
        request: Request<pb::UpdateRegisteredModelRequest>,
    ) -> GrpcResult<pb::RegisteredModelResponse> {
        let (c, r) = parts(request)?;
        registered_response(
            self.tracker
                .describe(&c, &r.name, None, &r.description)
                .await?,
        )
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn delete_registered_model(
        &self,
        request: Request<pb::RegisteredModelRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker.delete_registered_model(&c, &r.name).await?;
        done()
    }

    #[instrument(skip_all)]
    async fn search_registered_models(
        &self,
        request: Request<pb::SearchRegistryRequest>,
    ) -> GrpcResult<pb::SearchRegisteredModelsResponse> {
        let (c, r) = parts(request)?;
        let page = self
            .tracker
            .search_registered_models(&c, registry_search(r))
            .await?;
        Ok(Response::new(pb::SearchRegisteredModelsResponse {
            registered_models: page.items.iter().map(registered_model).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn set_registry_tag(
        &self,
        request: Request<pb::RegistryTagRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        let v = (r.version != 0).then(|| version(r.version)).transpose()?;
        self.tracker
            .registry_tag(&c, &r.name, v, &r.key, Some(&r.value))
            .await?;
        done()
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn delete_registry_tag(
        &self,
        request: Request<pb::RegistryTagRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        let v = (r.version != 0).then(|| version(r.version)).transpose()?;
        self.tracker
            .registry_tag(&c, &r.name, v, &r.key, None)
            .await?;
        done()
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn set_alias(
        &self,
        request: Request<pb::SetAliasRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker
            .set_alias(&c, &r.name, &r.alias, Some(version(r.version)?))
            .await?;
        done()
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn delete_alias(
        &self,
        request: Request<pb::AliasRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker.set_alias(&c, &r.name, &r.alias, None).await?;
        done()
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn get_model_version_by_alias(
        &self,
        request: Request<pb::AliasRequest>,
    ) -> GrpcResult<pb::ModelVersionResponse> {
        let (c, r) = parts(request)?;
        let (m, v) = self.tracker.version_by_alias(&c, &r.name, &r.alias).await?;
        version_response(&m, v)
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn get_latest_versions(
        &self,
        request: Request<pb::GetLatestVersionsRequest>,
    ) -> GrpcResult<pb::ModelVersionsResponse> {
        let (c, r) = parts(request)?;
        let stages = r
            .stages
            .iter()
            .map(|s| crate::domain::Stage::from_name(s))
            .collect::<Result<Vec<_>, _>>()?;
        let m = self.tracker.get_registered_model(&c, &r.name).await?;
        Ok(Response::new(pb::ModelVersionsResponse {
            model_versions: m
                .latest_versions(&stages)
                .into_iter()
                .map(|v| model_version(&m, v))
                .collect(),
            next_page_token: String::new(),
        }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create_model_version(
        &self,
        request: Request<pb::CreateModelVersionRequest>,
    ) -> GrpcResult<pb::ModelVersionResponse> {
        let (c, r) = parts(request)?;
        let new = NewModelVersion {
            name: r.name,
            source: r.source,
            run_id: r.run_id,
            model_id: r.model_id,
            description: r.description,
            tags: pairs(r.tags),
        };
        let (m, v) = self.tracker.create_model_version(&c, new).await?;
        version_response(&m, v)
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn get_model_version(
        &self,
        request: Request<pb::ModelVersionRequest>,
    ) -> GrpcResult<pb::ModelVersionResponse> {
        let (c, r) = parts(request)?;
        let v = version(r.version)?;
        let m = self.tracker.get_model_version(&c, &r.name, v).await?;
        version_response(&m, v)
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn update_model_version(
        &self,
        request: Request<pb::UpdateModelVersionRequest>,
    ) -> GrpcResult<pb::ModelVersionResponse> {
        let (c, r) = parts(request)?;
        let v = version(r.version)?;
        let m = self
            .tracker
            .describe(&c, &r.name, Some(v), &r.description)
            .await?;
        version_response(&m, v)
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn delete_model_version(
        &self,
        request: Request<pb::ModelVersionRequest>,
    ) -> GrpcResult<pb::ModelsEmptyResponse> {
        let (c, r) = parts(request)?;
        self.tracker
            .delete_model_version(&c, &r.name, version(r.version)?)
            .await?;
        done()
    }

    #[instrument(skip_all)]
    async fn search_model_versions(
        &self,
        request: Request<pb::SearchRegistryRequest>,
    ) -> GrpcResult<pb::ModelVersionsResponse> {
        let (c, r) = parts(request)?;
        let page = self
            .tracker
            .search_model_versions(&c, registry_search(r))
            .await?;
        Ok(Response::new(pb::ModelVersionsResponse {
            model_versions: page
                .items
                .iter()
                .filter_map(|(m, v)| m.version(*v).map(|x| model_version(m, x)))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn transition_model_version_stage(
        &self,
        request: Request<pb::TransitionStageRequest>,
    ) -> GrpcResult<pb::ModelVersionResponse> {
        let (c, r) = parts(request)?;
        let v = version(r.version)?;
        let m = self
            .tracker
            .transition_stage(&c, &r.name, v, &r.stage, r.archive_existing_versions)
            .await?;
        version_response(&m, v)
    }
}

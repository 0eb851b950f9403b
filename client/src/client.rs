//! [`Client`]: one connection (or embedded store), cheap to clone, shared by every run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Endpoint;
use trackd_proto::v1 as pb;
use trackd_proto::v1::artifact_service_client::ArtifactServiceClient;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;

use crate::artifacts;
use crate::backend::{Backend, CreateRun};
use crate::credentials::Credentials;
use crate::error::{ClientError, Result};
use crate::failover::Failover;
use crate::ingest::{Ingest, IngestConfig, IngestStats};
use crate::run::{ActiveRun, RunBuilder, RunHandle};
use crate::types::{
    DatasetInput, Experiment, FileInfo, Metric, MetricColumns, MetricColumnsStream, Run, RunInfo,
    RunStatus,
};
use crate::uri::{self, Target};

/// A tracking client. `Clone + Send + Sync`: clones share one gRPC channel (or one embedded
/// store) and one metric stream.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let store = tempfile::tempdir()?;
/// # let server = trackd_server::ServerHandle::start(
/// #     "127.0.0.1:0".parse()?, trackd_server::StoreConfig::new(store.path()), Default::default(),
/// # ).await?;
/// # let url = server.url();
/// let client = trackd_client::Client::connect(&url).await?; // e.g. "http://127.0.0.1:5000"
/// let run = client.start_run().run_name("baseline").start().await?;
/// run.log_param("lr", 0.01).await?;
/// for step in 0..100 {
///     run.log_metric("loss", 1.0 / (step + 1) as f64, step).await?;
/// }
/// let run_id = run.id().to_owned();
/// run.finish().await?; // waits until the server has every point
/// assert_eq!(client.metric_history(&run_id, "loss").await?.len(), 100);
/// # server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    uri: String,
    backend: Backend,
    ingest: Ingest,
}

impl Client {
    /// Connects to `uri`: `http://HOST:PORT` for a trackd server, or a directory path /
    /// `file:` URI for an embedded store (the server's Tracker in-process).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let store = tempfile::tempdir()?;
    /// # let server = trackd_server::ServerHandle::start(
    /// #     "127.0.0.1:0".parse()?, trackd_server::StoreConfig::new(store.path()), Default::default(),
    /// # ).await?;
    /// # let url = server.url();
    /// use trackd_client::Client;
    /// let remote = Client::connect(&url).await?; // a trackd server, e.g. "http://127.0.0.1:5000"
    /// let local = Client::connect(store.path().join("mlruns").to_str().unwrap()).await?; // no server
    /// assert_eq!(remote.tracking_uri(), url);
    /// assert!(local.tracking_uri().ends_with("mlruns"));
    /// # Ok(()) }
    /// ```
    pub async fn connect(uri: &str) -> Result<Client> {
        Self::connect_with(uri, IngestConfig::default()).await
    }

    /// Connects with explicit metric-delivery settings.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::{Client, IngestConfig};
    /// let config = IngestConfig::default().with_buffer_points(100_000);
    /// let client = Client::connect_with(store.path().to_str().unwrap(), config).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(uri: &str, config: IngestConfig) -> Result<Client> {
        Self::connect_with_credentials(uri, config, Credentials::from_env()?).await
    }

    /// Connects with explicit metric-delivery settings and credentials (for a server with
    /// `--auth`; [`Client::connect`] takes them from MLflow's variables:
    /// `MLFLOW_TRACKING_TOKEN`, else `MLFLOW_TRACKING_USERNAME`/`PASSWORD`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::{Client, Credentials, IngestConfig};
    /// let credentials = Credentials::basic("ann", "s3cret-pass")?;
    /// let client = Client::connect_with_credentials(
    ///     store.path().to_str().unwrap(), // an embedded store ignores them
    ///     IngestConfig::default(),
    ///     credentials,
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with_credentials(
        uri: &str,
        config: IngestConfig,
        credentials: Credentials,
    ) -> Result<Client> {
        let channel = match uri::parse(uri)? {
            Target::Remote(url) => {
                let (endpoint, insecure) = endpoint(uri, &url)?;
                let connected = if insecure {
                    endpoint
                        .connect_with_connector(crate::insecure_tls::InsecureConnector::new())
                        .await
                } else {
                    endpoint.connect().await
                };
                Failover::single(connected.map_err(|e| ClientError::Connect {
                    uri: url.clone(),
                    message: trackd_proto::errors::chain(&e),
                })?)
            }
            Target::Replicas(urls) => {
                let mut endpoints = Vec::with_capacity(urls.len());
                for url in &urls {
                    let (endpoint, insecure) = endpoint(uri, url)?;
                    if insecure {
                        return Err(ClientError::Uri {
                            uri: uri.to_owned(),
                            reason:
                                "MLFLOW_TRACKING_INSECURE_TLS works with one server, not a list"
                                    .into(),
                        });
                    }
                    // Connected on first use, and again after a failure.
                    endpoints.push(endpoint.connect_lazy());
                }
                Failover::over(endpoints)
            }
            #[cfg(feature = "embedded")]
            Target::Embedded(path) => {
                Failover::single(trackd_server::in_process::channel(embedded::open(&path)?))
            }
            #[cfg(not(feature = "embedded"))]
            Target::Embedded(_) => {
                return Err(ClientError::Uri {
                    uri: uri.to_owned(),
                    reason: "embedded stores need the `embedded` feature of trackd-client".into(),
                });
            }
        };
        let channel = tonic::service::interceptor::InterceptedService::new(channel, credentials);
        let backend = Backend {
            tracking: TrackingServiceClient::new(channel.clone())
                .max_decoding_message_size(64 << 20),
            artifacts: ArtifactServiceClient::new(channel.clone())
                .max_decoding_message_size(64 << 20),
            models: trackd_proto::v1::model_service_client::ModelServiceClient::new(
                channel.clone(),
            )
            .max_decoding_message_size(64 << 20),
            auth: trackd_proto::v1::auth_service_client::AuthServiceClient::new(channel.clone()),
        };
        let ingest = Ingest::start(channel, config);
        Ok(Client {
            inner: Arc::new(Inner {
                uri: uri.to_owned(),
                backend,
                ingest,
            }),
        })
    }

    /// Connects to the URI in `MLFLOW_TRACKING_URI`, else the embedded store `./mlruns`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # // SAFETY: single-threaded at this point of the example.
    /// # unsafe { std::env::set_var("MLFLOW_TRACKING_URI", store.path()) };
    /// // MLFLOW_TRACKING_URI=/tmp/... (a server URL or a store directory)
    /// let client = trackd_client::Client::from_env().await?;
    /// assert_eq!(client.tracking_uri(), store.path().to_str().unwrap());
    /// # Ok(()) }
    /// ```
    pub async fn from_env() -> Result<Client> {
        Self::connect(&uri::resolve(None)).await
    }

    /// The gRPC stubs (models, artifacts).
    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The tracking URI this client was made for.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// assert_eq!(client.tracking_uri(), store.path().to_str().unwrap());
    /// # Ok(()) }
    /// ```
    pub fn tracking_uri(&self) -> &str {
        &self.inner.uri
    }

    /// Counters of metric delivery.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// use std::sync::atomic::Ordering;
    /// run.log_metrics(&[("loss", 0.5), ("accuracy", 0.8)], 1).await?;
    /// run.flush().await?;
    /// assert_eq!(client.ingest_stats().points_acked.load(Ordering::Relaxed), 2);
    /// # Ok(()) }
    /// ```
    pub fn ingest_stats(&self) -> &IngestStats {
        self.inner.ingest.stats()
    }

    // --- experiments ----------------------------------------------------------------------

    /// Creates an experiment and returns its id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let id = client.create_experiment("mnist").await?;
    /// assert_eq!(client.get_experiment(&id).await?.name, "mnist");
    /// # Ok(()) }
    /// ```
    pub async fn create_experiment(&self, name: &str) -> Result<String> {
        self.inner.backend.create_experiment(name, Vec::new()).await
    }

    /// An experiment by id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let default = client.get_experiment("0").await?;
    /// assert_eq!(default.name, "Default");
    /// # Ok(()) }
    /// ```
    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        Ok(self
            .inner
            .backend
            .get_experiment(experiment_id)
            .await?
            .into())
    }

    /// An experiment by name, or `None` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// client.create_experiment("mnist").await?;
    /// if let Some(exp) = client.get_experiment_by_name("mnist").await? {
    ///     println!("{} is experiment {}", exp.name, exp.experiment_id);
    /// }
    /// assert!(client.get_experiment_by_name("cifar").await?.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.inner.backend.get_experiment_by_name(name).await {
            Ok(e) => Ok(Some(e.into())),
            Err(e) if e.code() == tonic::Code::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The id of the active experiment named `name`, creating it if needed (a concurrent
    /// creation by someone else is fine). A deleted experiment of that name is an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let first = client.get_or_create_experiment("mnist").await?;
    /// let again = client.get_or_create_experiment("mnist").await?;
    /// assert_eq!(first, again);
    /// # Ok(()) }
    /// ```
    pub async fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if let Some(exp) = self.get_experiment_by_name(name).await? {
            return active_experiment_id(exp);
        }
        match self.create_experiment(name).await {
            Ok(id) => Ok(id),
            Err(e) if e.code() == tonic::Code::AlreadyExists => {
                let exp = self.inner.backend.get_experiment_by_name(name).await?;
                active_experiment_id(exp.into())
            }
            Err(e) => Err(e),
        }
    }

    /// Soft-deletes an experiment (and its runs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let id = client.create_experiment("scratch").await?;
    /// client.delete_experiment(&id).await?;
    /// assert!(client.get_experiment(&id).await?.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.inner.backend.delete_experiment(experiment_id).await
    }

    // --- runs -----------------------------------------------------------------------------

    /// Starts building a new run; finish with [`RunBuilder::start`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let experiment = client.create_experiment("vision").await?;
    /// let run = client
    ///     .start_run()
    ///     .experiment_id(experiment)
    ///     .run_name("lr-sweep-3")
    ///     .tag("team", "vision")
    ///     .start()
    ///     .await?;
    /// assert_eq!(run.info().run_name, "lr-sweep-3");
    /// run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn start_run(&self) -> RunBuilder {
        RunBuilder::new(self.clone())
    }

    /// Resumes an existing run: sets it RUNNING again and returns a handle to it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// use trackd_client::RunStatus;
    /// let run_id = run.id().to_owned();
    /// run.finish().await?;
    /// let run = client.resume_run(&run_id).await?;
    /// assert_eq!(run.info().status, RunStatus::Running);
    /// run.log_metric("loss", 0.1, 1000).await?;
    /// run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn resume_run(&self, run_id: &str) -> Result<ActiveRun> {
        self.resume_run_in(run_id, None).await
    }

    /// [`Client::resume_run`], refusing (before anything changes) a run that is not in
    /// `experiment_id` when one is given.
    pub async fn resume_run_in(
        &self,
        run_id: &str,
        experiment_id: Option<&str>,
    ) -> Result<ActiveRun> {
        let run = self.get_run(run_id).await?;
        let info = run.info;
        if info.deleted {
            return Err(ClientError::Usage(format!(
                "Cannot resume run {run_id}: it is deleted."
            )));
        }
        if let Some(expected) = experiment_id
            && info.experiment_id != expected
        {
            return Err(ClientError::Api {
                code: crate::ErrorKind::InvalidArgument.grpc_code(),
                error_code: crate::ErrorKind::InvalidArgument.mlflow_error_code().into(),
                message: format!(
                    "Cannot start run with ID {run_id} because active experiment ID {expected} \
                     does not match the run's experiment ID {}.",
                    info.experiment_id
                ),
            });
        }
        let info = self
            .inner
            .backend
            .update_run(run_id, Some(pb::RunStatus::Running), None)
            .await?;
        Ok(ActiveRun::new(self.clone(), info.into()))
    }

    /// A logging handle for an existing run, without taking over its lifecycle (the run is
    /// not resumed, and dropping the handle ends nothing). For workers that log into a run
    /// someone else started, e.g. the ranks of a distributed job.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let shared_run_id = run.id().to_owned(); // e.g. passed to every rank
    /// let rank3 = client.attach(&shared_run_id).await?;
    /// rank3.log_metric("loss/rank3", 0.42, 100).await?;
    /// rank3.flush().await?;
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn attach(&self, run_id: &str) -> Result<RunHandle> {
        let info = self.get_run(run_id).await?.info;
        Ok(RunHandle::new(self.clone(), info))
    }

    pub(crate) async fn create_run(&self, request: CreateRun) -> Result<pb::Run> {
        self.inner.backend.create_run(request).await
    }

    /// A run with its latest metrics, params and tags.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// run.log_param("lr", 0.01).await?;
    /// let fetched = client.get_run(run.id()).await?;
    /// let params = fetched.data.params;
    /// assert_eq!(params["lr"], "0.01");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        Ok(self.inner.backend.get_run(run_id).await?.into())
    }

    /// Every point of a metric, in step order.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// for step in 0..3 {
    ///     run.log_metric("loss", 1.0 / (step + 1) as f64, step).await?;
    /// }
    /// run.flush().await?;
    /// let history = client.metric_history(run.id(), "loss").await?;
    /// assert_eq!(history.iter().map(|m| m.step).collect::<Vec<_>>(), [0, 1, 2]);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Any length works: the series arrives in bounded pieces
    /// ([`Client::metric_history_stream`]) and is collected here. For long series,
    /// [`Client::metric_history_columns`] holds a third of the memory, and the stream itself
    /// only what the caller keeps.
    pub async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        use futures::TryStreamExt;
        let mut pieces = self.metric_history_stream(run_id, key).await?;
        let mut out = Vec::new();
        while let Some(c) = pieces.try_next().await? {
            out.extend(c.steps.iter().zip(&c.timestamps).zip(&c.values).map(
                |((&step, &timestamp), &value)| Metric {
                    key: key.to_owned(),
                    value,
                    timestamp,
                    step,
                },
            ));
        }
        Ok(out)
    }

    /// A metric's history in step order as a stream of column pieces (each at most 65,536
    /// points), for series too long to hold at once or to process as they arrive. Memory
    /// stays bounded on both sides: the server reads the series a block at a time, and
    /// nothing is kept here that the caller does not keep. Dropping the stream stops the
    /// read.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// # for step in 0..100_000 { run.log_metric("loss", 1.0 / (step + 1) as f64, step).await?; }
    /// # run.flush().await?;
    /// use futures::TryStreamExt;
    /// let mut pieces = client.metric_history_stream(run.id(), "loss").await?;
    /// let (mut count, mut lowest) = (0, f64::INFINITY);
    /// while let Some(piece) = pieces.try_next().await? {
    ///     count += piece.values.len();
    ///     lowest = piece.values.iter().copied().fold(lowest, f64::min);
    /// }
    /// assert_eq!(count, 100_000);
    /// assert_eq!(lowest, 1.0 / 100_000.0);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn metric_history_stream(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<MetricColumnsStream> {
        use futures::StreamExt;
        let pieces = self
            .inner
            .backend
            .metric_history_stream(run_id, key)
            .await?;
        Ok(pieces.map(|piece| piece.map(MetricColumns::from)).boxed())
    }

    /// Every point of a metric in columns (steps, timestamps, values), in step order: the
    /// compact way to read long series (any length; collected from
    /// [`Client::metric_history_stream`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// # for step in 0..10 { run.log_metric("loss", 1.0 / (step + 1) as f64, step).await?; }
    /// # run.flush().await?;
    /// # let run_id = run.id();
    /// let loss = client.metric_history_columns(run_id, "loss").await?;
    /// println!("{} points, last value {:?}", loss.values.len(), loss.values.last());
    /// assert_eq!(loss.values.len(), 10);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn metric_history_columns(&self, run_id: &str, key: &str) -> Result<MetricColumns> {
        use futures::TryStreamExt;
        let mut pieces = self.metric_history_stream(run_id, key).await?;
        let mut all = MetricColumns {
            key: key.to_owned(),
            ..Default::default()
        };
        while let Some(piece) = pieces.try_next().await? {
            all.steps.extend_from_slice(&piece.steps);
            all.timestamps.extend_from_slice(&piece.timestamps);
            all.values.extend_from_slice(&piece.values);
        }
        Ok(all)
    }

    /// Sets a run's final status and end time (now).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// use trackd_client::RunStatus;
    /// let run_id = run.id().to_owned();
    /// run.finish().await?;
    /// // Later, e.g. from a scheduler that learned the job's outcome:
    /// let info = client.set_terminated(&run_id, RunStatus::Failed).await?;
    /// assert_eq!(info.status, RunStatus::Failed);
    /// # Ok(()) }
    /// ```
    pub async fn set_terminated(&self, run_id: &str, status: RunStatus) -> Result<RunInfo> {
        self.update_run_status(run_id, status, Some(now_ms())).await
    }

    /// Sets a run's status and, when given, its end time (ms since the epoch).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use trackd_client::RunStatus;
    /// let run = client.start_run().start().await?;
    /// let info = client
    ///     .update_run_status(run.id(), RunStatus::Failed, Some(1_700_000_000_000))
    ///     .await?;
    /// assert_eq!(info.end_time, Some(1_700_000_000_000));
    /// # run.end_at(RunStatus::Failed, Some(1_700_000_000_000)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_run_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time_ms: Option<i64>,
    ) -> Result<RunInfo> {
        Ok(self
            .inner
            .backend
            .update_run(run_id, Some(status.to_wire()), end_time_ms)
            .await?
            .into())
    }

    // --- logging to any run by id ---------------------------------------------------------

    /// Buffers a metric point for `run_id` (non-blocking; see [`Client::flush`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let run_id = run.id();
    /// client.log_metric(run_id, "loss", 0.25, 7, 1_700_000_000_000).await?;
    /// client.flush().await?;
    /// assert_eq!(client.metric_history(run_id, "loss").await?[0].timestamp, 1_700_000_000_000);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
        timestamp_ms: i64,
    ) -> Result<()> {
        self.inner
            .ingest
            .log(run_id, key, value, step, timestamp_ms)
            .await
    }

    /// Buffers several metric points of one step for `run_id` (non-blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let run_id = run.id();
    /// client.log_metrics(run_id, &[("loss", 0.3), ("accuracy", 0.9)], 1, 1_700_000_000_000).await?;
    /// client.flush().await?;
    /// assert_eq!(client.get_run(run_id).await?.data.metrics.len(), 2);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_metrics(
        &self,
        run_id: &str,
        metrics: &[(&str, f64)],
        step: i64,
        timestamp_ms: i64,
    ) -> Result<()> {
        self.inner
            .ingest
            .log_many(run_id, metrics, step, timestamp_ms)
            .await
    }

    /// Buffers several metric points of one step for `run_id` if the buffer has room, without
    /// waiting: callable from any thread, inside a runtime or not (the Python binding's
    /// `log_metric`). `Ok(false)` means the buffer is full and nothing was buffered: call
    /// [`Client::log_metrics`], which waits for room.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let buffered = client.try_log_metrics(run.id(), &[("loss", 0.3)], 1, 1_700_000_000_000)?;
    /// assert!(buffered);
    /// client.flush().await?;
    /// assert_eq!(client.metric_history(run.id(), "loss").await?.len(), 1);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn try_log_metrics(
        &self,
        run_id: &str,
        metrics: &[(&str, f64)],
        step: i64,
        timestamp_ms: i64,
    ) -> Result<bool> {
        self.inner
            .ingest
            .try_log_many(run_id, metrics, step, timestamp_ms)
    }

    /// Buffers a whole series of one key in one call (columns of equal length), waiting for
    /// room piece by piece, so a series longer than the buffer streams through it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let steps: Vec<i64> = (0..10_000).collect();
    /// let timestamps = vec![1_700_000_000_000; steps.len()];
    /// let values: Vec<f64> = steps.iter().map(|s| 1.0 / (*s + 1) as f64).collect();
    /// client.log_metric_series(run.id(), "loss", &steps, &timestamps, &values).await?;
    /// client.flush().await?;
    /// assert_eq!(client.metric_history(run.id(), "loss").await?.len(), 10_000);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_metric_series(
        &self,
        run_id: &str,
        key: &str,
        steps: &[i64],
        timestamps: &[i64],
        values: &[f64],
    ) -> Result<()> {
        self.inner
            .ingest
            .log_series(run_id, key, steps, timestamps, values)
            .await
    }

    /// Logs params and tags synchronously (errors such as a changed param come back here).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let params = vec![("lr".to_owned(), "0.01".to_owned())];
    /// let tags = vec![("team".to_owned(), "vision".to_owned())];
    /// client.log_params_and_tags(run.id(), params, tags).await?;
    /// // A param is write-once: another value is refused.
    /// let changed = vec![("lr".to_owned(), "0.1".to_owned())];
    /// let err = client.log_params_and_tags(run.id(), changed, vec![]).await.unwrap_err();
    /// assert_eq!(err.error_code(), Some("INVALID_PARAMETER_VALUE"));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_params_and_tags(
        &self,
        run_id: &str,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        self.inner
            .backend
            .log_batch(run_id, Vec::new(), params, tags)
            .await
    }

    /// Links datasets to a run (MLflow's `log_inputs`); a dataset (name, digest) already
    /// linked is left as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// use trackd_client::{Dataset, DatasetInput};
    /// # let run_id = run.id();
    /// let iris = Dataset {
    ///     name: "iris".into(),
    ///     digest: "5f3a9c".into(),
    ///     source_type: "local".into(),
    ///     source: r#"{"uri": "data/iris.csv"}"#.into(),
    ///     ..Default::default()
    /// };
    /// client
    ///     .log_inputs(run_id, vec![DatasetInput { dataset: iris, ..Default::default() }])
    ///     .await?;
    /// let datasets = client.get_run(run_id).await?.datasets;
    /// assert_eq!(datasets[0].dataset.name, "iris");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_inputs(&self, run_id: &str, datasets: Vec<DatasetInput>) -> Result<()> {
        let datasets = datasets.into_iter().map(Into::into).collect();
        self.inner.backend.log_inputs(run_id, datasets).await
    }

    // --- artifacts ------------------------------------------------------------------------

    /// Uploads a local file to the run, at `<artifact_path>/<file name>` (MLflow's
    /// `log_artifact`). A directory is uploaded recursively, as [`Client::log_artifacts`] would.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let model = store.path().join("model.json");
    /// std::fs::write(&model, r#"{"weights": [0.1, 0.2]}"#)?;
    /// client.log_artifact(run.id(), &model, Some("model")).await?;
    /// let files = client.list_artifacts(run.id(), "model", false).await?;
    /// assert_eq!(files[0].path, "model/model.json");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_artifact(
        &self,
        run_id: &str,
        local_path: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        let local = local_path.as_ref();
        let name = local
            .file_name()
            .ok_or_else(|| ClientError::Usage(format!("{} names no file", local.display())))?
            .to_string_lossy()
            .into_owned();
        let meta = tokio::fs::metadata(local)
            .await
            .map_err(|e| ClientError::Io(format!("{}: {e}", local.display())))?;
        if meta.is_dir() {
            let dest = artifacts::join(&[artifact_path.unwrap_or(""), &name]);
            return self.log_artifacts(run_id, local, Some(&dest)).await;
        }
        let dest = artifacts::join(&[artifact_path.unwrap_or(""), &name]);
        self.inner
            .backend
            .upload_file(run_id, local, &dest)
            .await
            .map(|_| ())
    }

    /// Uploads the contents of a local directory, recursively, under `artifact_path`
    /// (MLflow's `log_artifacts`). A symbolic link pointing outside the directory is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// let outputs = store.path().join("outputs");
    /// std::fs::create_dir_all(outputs.join("plots"))?;
    /// std::fs::write(outputs.join("report.txt"), "ok")?;
    /// std::fs::write(outputs.join("plots/loss.svg"), "<svg/>")?;
    /// client.log_artifacts(run.id(), &outputs, Some("outputs")).await?;
    /// let files = client.list_artifacts(run.id(), "outputs", true).await?;
    /// assert!(files.iter().any(|f| f.path == "outputs/plots/loss.svg"));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_artifacts(
        &self,
        run_id: &str,
        local_dir: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        let dir = local_dir.as_ref().to_path_buf();
        let files = tokio::task::spawn_blocking(move || artifacts::local_tree(&dir))
            .await
            .map_err(|e| ClientError::Io(e.to_string()))??;
        for (local, rel) in files {
            let dest = artifacts::join(&[artifact_path.unwrap_or(""), &rel]);
            self.inner
                .backend
                .upload_file(run_id, &local, &dest)
                .await?;
        }
        Ok(())
    }

    /// Artifacts of a run under `path` ("" for the root), one level or recursively.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// # let notes = store.path().join("notes.txt");
    /// # std::fs::write(&notes, "hello")?;
    /// # client.log_artifact(run.id(), &notes, Some("docs")).await?;
    /// let top = client.list_artifacts(run.id(), "", false).await?;
    /// assert!(top[0].is_dir && top[0].path == "docs");
    /// let all = client.list_artifacts(run.id(), "", true).await?;
    /// assert!(all.iter().any(|f| f.path == "docs/notes.txt" && f.file_size == Some(5)));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_artifacts(
        &self,
        run_id: &str,
        path: &str,
        recursive: bool,
    ) -> Result<Vec<FileInfo>> {
        Ok(self
            .inner
            .backend
            .list_artifacts(run_id, path, recursive)
            .await?
            .1
            .into_iter()
            .map(FileInfo::from)
            .collect())
    }

    /// Downloads the artifact file or directory `path` of a run into the local directory
    /// `dst`, keeping its name (and, for a directory, its tree). Returns the local path.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// # let notes = store.path().join("notes.txt");
    /// # std::fs::write(&notes, "hello")?;
    /// # client.log_artifact(run.id(), &notes, Some("docs")).await?;
    /// let dst = store.path().join("downloads");
    /// let local = client.download_artifacts(run.id(), "docs/notes.txt", &dst).await?;
    /// assert_eq!(local, dst.join("notes.txt"));
    /// assert_eq!(std::fs::read_to_string(local)?, "hello");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_artifacts(
        &self,
        run_id: &str,
        path: &str,
        dst: impl AsRef<Path>,
    ) -> Result<PathBuf> {
        let dst = dst.as_ref();
        let (_, entries) = self
            .inner
            .backend
            .list_artifacts(run_id, path, true)
            .await?;
        let clean = path.trim_matches('/');
        if entries.is_empty() && !clean.is_empty() {
            return Err(ClientError::Api {
                code: tonic::Code::NotFound,
                error_code: "RESOURCE_DOES_NOT_EXIST".into(),
                message: format!("No artifacts at '{clean}' in run {run_id}"),
            });
        }
        let name = clean.rsplit('/').next().unwrap_or("");
        let single_file = entries.len() == 1
            && !entries[0].is_dir
            && entries[0].path == clean
            && !clean.is_empty();
        if single_file {
            let target = dst.join(name);
            self.inner
                .backend
                .download_file(run_id, clean, &target)
                .await?;
            return Ok(target);
        }
        let base = if clean.is_empty() {
            dst.to_path_buf()
        } else {
            dst.join(name)
        };
        tokio::fs::create_dir_all(&base)
            .await
            .map_err(|e| ClientError::Io(format!("{}: {e}", base.display())))?;
        for entry in entries.iter().filter(|e| !e.is_dir) {
            let within = entry
                .path
                .strip_prefix(clean)
                .unwrap_or(&entry.path)
                .trim_start_matches('/');
            self.inner
                .backend
                .download_file(run_id, &entry.path, &base.join(within))
                .await?;
        }
        Ok(base)
    }

    /// Deletes an artifact file or directory of a run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// # let notes = store.path().join("notes.txt");
    /// # std::fs::write(&notes, "hello")?;
    /// client.log_artifact(run.id(), &notes, Some("docs")).await?;
    /// client.delete_artifact(run.id(), "docs").await?;
    /// assert!(client.list_artifacts(run.id(), "", true).await?.is_empty());
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_artifact(&self, run_id: &str, path: &str) -> Result<()> {
        self.inner.backend.delete_artifact(run_id, path).await
    }

    /// Waits until every metric point logged through this client is acknowledged (durably,
    /// with a default server), and returns a delivery error not yet reported (of the stream,
    /// or of any run's refused points).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// # let run = client.start_run().start().await?;
    /// run.log_metric("loss", 0.5, 0).await?; // buffered: returns before the server has it
    /// client.flush().await?; // now it is stored
    /// assert_eq!(client.metric_history(run.id(), "loss").await?.len(), 1);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<()> {
        self.inner.ingest.flush(None).await
    }

    /// Like [`Client::flush`], reporting only errors of the client or of `run_id`.
    pub async fn flush_run(&self, run_id: &str) -> Result<()> {
        self.inner.ingest.flush(Some(run_id)).await
    }
}

fn active_experiment_id(exp: Experiment) -> Result<String> {
    if exp.deleted {
        return Err(ClientError::Api {
            code: crate::ErrorKind::InvalidArgument.grpc_code(),
            error_code: crate::ErrorKind::InvalidArgument.mlflow_error_code().into(),
            message: format!(
                "Cannot set a deleted experiment '{}' as the active experiment. You can restore the \
                 experiment, or permanently delete the experiment to create a new one.",
                exp.name
            ),
        });
    }
    Ok(exp.experiment_id)
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(feature = "embedded")]
mod embedded {
    //! Embedded stores are shared per directory within a process (sled allows one open per
    //! directory), and stay open until the process exits; every write is acknowledged only
    //! after fsync, so nothing acknowledged depends on a clean close.

    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::{LazyLock, Mutex};

    use trackd_server::{Store, StoreConfig, Tracker};

    use crate::error::{ClientError, Result};

    static OPEN: LazyLock<Mutex<HashMap<std::path::PathBuf, Tracker>>> =
        LazyLock::new(Default::default);

    pub fn open(path: &Path) -> Result<Tracker> {
        std::fs::create_dir_all(path)?;
        let key = path.canonicalize()?;
        let mut open = OPEN.lock().expect("embedded store registry");
        if let Some(t) = open.get(&key) {
            return Ok(t.clone());
        }
        let store = Store::open(StoreConfig::new(&key)).map_err(|e| ClientError::Uri {
            uri: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let tracker = Tracker::new(store);
        open.insert(key, tracker.clone());
        Ok(tracker)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tracking_uri", &self.inner.uri)
            .finish()
    }
}

/// The gRPC endpoint of one server URL (`uri` is the whole tracking URI, for errors), and
/// whether MLFLOW_TRACKING_INSECURE_TLS asks for unchecked TLS (our connector does it, so
/// tonic is given plain http://).
fn endpoint(uri: &str, url: &str) -> Result<(Endpoint, bool)> {
    let insecure = url.starts_with("https://") && crate::insecure_tls::requested();
    let target = if insecure {
        url.replacen("https://", "http://", 1)
    } else {
        url.to_owned()
    };
    let mut endpoint = Endpoint::from_shared(target)
        .map_err(|e| ClientError::Uri {
            uri: uri.to_owned(),
            reason: e.to_string(),
        })?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(16 << 20));
    if url.starts_with("https://") && !insecure {
        endpoint = endpoint
            .tls_config(crate::credentials::tls_config()?)
            .map_err(|e| ClientError::Uri {
                uri: uri.to_owned(),
                reason: trackd_proto::errors::chain(&e),
            })?;
    }
    Ok((endpoint, insecure))
}

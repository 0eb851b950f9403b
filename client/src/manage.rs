//! Everyday management calls of MLflow's client API: searching, renaming, restoring and
//! tagging experiments; deleting, restoring and tagging runs; a run's parent.

use trackd_proto::v1 as pb;

use crate::Client;
use crate::error::Result;
use crate::types::{Experiment, Run};

/// The tag MLflow puts on a child run to name its parent.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

impl Client {
    fn tracking(
        &self,
    ) -> pb::tracking_service_client::TrackingServiceClient<crate::credentials::Transport> {
        self.backend().tracking.clone()
    }

    /// Experiments matching `filter` (`name LIKE 'sweep%'`, `tags.team = 'vision'`; empty for
    /// all), active ones, by MLflow's default order (newest first), every page.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// client.create_experiment("sweep-a").await?;
    /// client.create_experiment("sweep-b").await?;
    /// client.create_experiment("other").await?;
    /// let found = client.search_experiments("name LIKE 'sweep-%'").await?;
    /// assert_eq!(found.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["sweep-b", "sweep-a"]);
    /// # Ok(()) }
    /// ```
    pub async fn search_experiments(&self, filter: &str) -> Result<Vec<Experiment>> {
        self.search_experiments_in(filter, crate::RunView::ActiveOnly)
            .await
    }

    /// Experiments matching `filter` in a lifecycle view (active, deleted or all), newest
    /// first, every page.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use trackd_client::RunView;
    /// let id = client.create_experiment("old").await?;
    /// client.delete_experiment(&id).await?;
    /// let deleted = client.search_experiments_in("", RunView::DeletedOnly).await?;
    /// assert_eq!(deleted.len(), 1);
    /// assert!(deleted[0].deleted);
    /// assert_eq!(client.search_experiments_in("", RunView::All).await?.len(), 2); // and Default
    /// # Ok(()) }
    /// ```
    pub async fn search_experiments_in(
        &self,
        filter: &str,
        view: crate::RunView,
    ) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let r = self
                .tracking()
                .search_experiments(pb::SearchExperimentsRequest {
                    filter: filter.into(),
                    max_results: 1000,
                    page_token,
                    view_type: view.wire(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            out.extend(r.experiments.into_iter().map(Experiment::from));
            if r.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = r.next_page_token;
        }
    }

    /// Renames an experiment (names are unique, deleted experiments included).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let id = client.create_experiment("draft").await?;
    /// client.rename_experiment(&id, "final").await?;
    /// assert_eq!(client.get_experiment(&id).await?.name, "final");
    /// # Ok(()) }
    /// ```
    pub async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        self.tracking()
            .update_experiment(pb::UpdateExperimentRequest {
                experiment_id: experiment_id.into(),
                new_name: new_name.into(),
            })
            .await?;
        Ok(())
    }

    /// Restores a deleted experiment (and its runs).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let id = client.create_experiment("oops").await?;
    /// client.delete_experiment(&id).await?;
    /// client.restore_experiment(&id).await?;
    /// assert!(!client.get_experiment(&id).await?.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.tracking()
            .restore_experiment(pb::RestoreExperimentRequest {
                experiment_id: experiment_id.into(),
            })
            .await?;
        Ok(())
    }

    /// Sets (`Some`) or deletes (`None`) a tag of an experiment.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let id = client.create_experiment("tagged").await?;
    /// client.set_experiment_tag(&id, "team", Some("vision")).await?;
    /// assert_eq!(client.get_experiment(&id).await?.tags["team"], "vision");
    /// client.set_experiment_tag(&id, "team", None).await?;
    /// assert!(client.get_experiment(&id).await?.tags.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let mut c = self.tracking();
        match value {
            Some(value) => {
                c.set_experiment_tag(pb::SetExperimentTagRequest {
                    experiment_id: experiment_id.into(),
                    key: key.into(),
                    value: value.into(),
                })
                .await?;
            }
            None => {
                c.delete_experiment_tag(pb::DeleteExperimentTagRequest {
                    experiment_id: experiment_id.into(),
                    key: key.into(),
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Soft-deletes a run (`restore_run` brings it back).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// let id = run.id().to_owned();
    /// run.finish().await?;
    /// client.delete_run(&id).await?;
    /// assert!(client.get_run(&id).await?.info.deleted);
    /// client.restore_run(&id).await?;
    /// assert!(!client.get_run(&id).await?.info.deleted);
    /// # Ok(()) }
    /// ```
    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.tracking()
            .delete_run(pb::DeleteRunRequest {
                run_id: run_id.into(),
            })
            .await?;
        Ok(())
    }

    /// Restores a deleted run.
    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.tracking()
            .restore_run(pb::RestoreRunRequest {
                run_id: run_id.into(),
            })
            .await?;
        Ok(())
    }

    /// Takes a consistent backup of the store the client talks to, named `name` (the
    /// server writes it under `<store>/backups/<name>`; in embedded mode, under the store
    /// directory): exactly the writes acknowledged before it began. Returns where it is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// client.create_experiment("precious").await?;
    /// let backup = client.backup("nightly-1").await?;
    /// assert!(backup.path.ends_with("backups/nightly-1"));
    /// assert!(backup.database_entries > 0);
    /// assert!(client.backup("nightly-1").await.is_err(), "names are not reused");
    /// # Ok(()) }
    /// ```
    pub async fn backup(&self, name: &str) -> Result<Backup> {
        let r = self
            .tracking()
            .create_backup(pb::CreateBackupRequest { name: name.into() })
            .await?
            .into_inner();
        Ok(Backup {
            path: r.path,
            database_entries: r.database_entries,
            database_bytes: r.database_bytes,
            writes_waited_seconds: r.writes_waited_seconds,
            artifact_files: r.artifact_files,
            artifact_bytes: r.artifact_bytes,
        })
    }

    /// Sets several tags of a run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// client.set_tags(run.id(), [("team", "vision"), ("stage", "dev")]).await?;
    /// client.delete_tag(run.id(), "stage").await?;
    /// let tags = client.get_run(run.id()).await?.data.tags;
    /// assert_eq!(tags["team"], "vision");
    /// assert!(!tags.contains_key("stage"));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_tags<K, V>(
        &self,
        run_id: &str,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()>
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.tracking()
            .log_batch(pb::LogBatchRequest {
                run_id: run_id.into(),
                tags: tags
                    .into_iter()
                    .map(|(k, v)| pb::RunTag {
                        key: k.into(),
                        value: v.into(),
                    })
                    .collect(),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Deletes a tag of a run (it must exist).
    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.tracking()
            .delete_tag(pb::DeleteTagRequest {
                run_id: run_id.into(),
                key: key.into(),
            })
            .await?;
        Ok(())
    }

    /// The parent of a nested run (MLflow's `mlflow.parentRunId` tag), if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let parent = client.start_run().start().await?;
    /// let child = parent.start_child().start().await?;
    /// let found = client.get_parent_run(child.id()).await?.expect("a parent");
    /// assert_eq!(found.info.run_id, parent.id());
    /// assert!(client.get_parent_run(parent.id()).await?.is_none());
    /// # child.finish().await?;
    /// # parent.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_parent_run(&self, run_id: &str) -> Result<Option<Run>> {
        let run = self.get_run(run_id).await?;
        match run.data.tags.get(PARENT_RUN_TAG) {
            Some(parent) => Ok(Some(self.get_run(parent).await?)),
            None => Ok(None),
        }
    }
}

impl crate::RunHandle {
    /// Saves `text` as the artifact file `artifact_file` (MLflow's `log_text`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// run.log_text("all good", "notes/summary.txt").await?;
    /// let files = run.list_artifacts("notes", false).await?;
    /// assert_eq!(files[0].path, "notes/summary.txt");
    /// assert_eq!(files[0].file_size, Some(8));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_text(&self, text: &str, artifact_file: &str) -> Result<()> {
        self.log_bytes(text.as_bytes(), artifact_file).await
    }

    /// Saves `value` as the artifact file `artifact_file`: YAML when its name ends in `.yaml`
    /// or `.yml`, JSON otherwise (MLflow's `log_dict`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// let config = serde_json::json!({"lr": 0.01, "layers": [64, 64]});
    /// run.log_dict(&config, "config.json").await?;
    /// run.log_dict(&config, "config.yaml").await?;
    /// let dir = store.path().join("dl");
    /// run.download_artifacts("", &dir).await?;
    /// let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?).unwrap();
    /// assert_eq!(json, config);
    /// assert!(std::fs::read_to_string(dir.join("config.yaml"))?.contains("lr: 0.01"));
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_dict<T: serde::Serialize>(
        &self,
        value: &T,
        artifact_file: &str,
    ) -> Result<()> {
        let lower = artifact_file.to_ascii_lowercase();
        let bytes = if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            yaml_serde::to_string(value)
                .map_err(|e| crate::ClientError::Usage(format!("not YAML-serializable: {e}")))?
                .into_bytes()
        } else {
            serde_json::to_vec_pretty(value)
                .map_err(|e| crate::ClientError::Usage(format!("not JSON-serializable: {e}")))?
        };
        self.log_bytes(&bytes, artifact_file).await
    }

    /// Uploads `bytes` as `artifact_file` through a private temporary file.
    pub(crate) async fn log_bytes(&self, bytes: &[u8], artifact_file: &str) -> Result<()> {
        let staging = crate::artifacts::Staging::new()?;
        let name = artifact_file
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("artifact");
        let local = staging.path().join(name);
        std::fs::write(&local, bytes)?;
        let parent = artifact_file
            .trim_matches('/')
            .rsplit_once('/')
            .map(|(p, _)| p);
        self.log_artifact(&local, parent).await
    }
}

/// A finished backup ([`Client::backup`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// Where it is, on the server's machine.
    pub path: String,
    /// Database entries copied.
    pub database_entries: u64,
    /// Bytes of keys and values copied.
    pub database_bytes: u64,
    /// How long writes waited for the database copy, seconds.
    pub writes_waited_seconds: f64,
    /// Artifact files copied.
    pub artifact_files: u64,
    /// Artifact bytes copied.
    pub artifact_bytes: u64,
}

/// How a sampled history picks its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// The minimum and maximum of each bucket (spikes are never lost; the default).
    #[default]
    MinMax,
    /// Largest-Triangle-Three-Buckets (the curve's shape), plus the global min and max.
    Lttb,
}

/// One sampled series, for a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledSeries {
    /// The run.
    pub run_id: String,
    /// The metric.
    pub key: String,
    /// The kept points, in step order.
    pub points: Vec<crate::types::Metric>,
    /// Points of the series in the step range before sampling.
    pub total_points: u64,
}

impl Client {
    /// Metric histories sampled for charts: at most `max_points` per (run, key), optionally
    /// only steps in `steps` (zoom), min/max or LTTB.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use trackd_client::manage::Sampling;
    /// let run = client.start_run().start().await?;
    /// for step in 0..10_000 {
    ///     run.log_metric("loss", if step == 4321 { 99.0 } else { 1.0 }, step).await?;
    /// }
    /// run.flush().await?;
    /// let series = client
    ///     .sampled_history(&[run.id()], &["loss"], 100, None, Sampling::MinMax)
    ///     .await?;
    /// assert_eq!(series[0].total_points, 10_000);
    /// assert!(series[0].points.len() <= 100);
    /// assert!(series[0].points.iter().any(|p| p.value == 99.0), "the spike is kept");
    /// let zoom = client
    ///     .sampled_history(&[run.id()], &["loss"], 100, Some((4000, 4999)), Sampling::Lttb)
    ///     .await?;
    /// assert_eq!(zoom[0].total_points, 1000);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn sampled_history(
        &self,
        run_ids: &[&str],
        keys: &[&str],
        max_points: i32,
        steps: Option<(i64, i64)>,
        method: Sampling,
    ) -> Result<Vec<SampledSeries>> {
        let r = self
            .tracking()
            .get_sampled_metric_history(pb::GetSampledMetricHistoryRequest {
                run_ids: run_ids.iter().map(|s| s.to_string()).collect(),
                metric_keys: keys.iter().map(|s| s.to_string()).collect(),
                max_points,
                start_step: steps.map(|(a, _)| a),
                end_step: steps.map(|(_, b)| b),
                method: match method {
                    Sampling::MinMax => pb::SamplingMethod::MinMax as i32,
                    Sampling::Lttb => pb::SamplingMethod::Lttb as i32,
                },
            })
            .await?
            .into_inner();
        Ok(r.series
            .into_iter()
            .map(|s| SampledSeries {
                run_id: s.run_id,
                key: s.metric_key,
                points: s.points.into_iter().map(Into::into).collect(),
                total_points: u64::try_from(s.total_points).unwrap_or(0),
            })
            .collect())
    }
}

impl Client {
    /// Logs metric points, params and tags in one synchronous call (MLflow's `log_batch`):
    /// everything is stored — durably — when it returns, or nothing and the error says why.
    /// For training loops, the buffered `log_metric` path is faster.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use trackd_client::Metric;
    /// let run = client.start_run().start().await?;
    /// let points = [
    ///     Metric { key: "loss".into(), value: 0.9, timestamp: 1, step: 0 },
    ///     Metric { key: "loss".into(), value: 0.5, timestamp: 2, step: 1 },
    /// ];
    /// client.log_batch(run.id(), &points, [("lr", "0.01")], [("team", "vision")]).await?;
    /// assert_eq!(client.metric_history(run.id(), "loss").await?.len(), 2);
    /// assert_eq!(client.get_run(run.id()).await?.data.params["lr"], "0.01");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_batch<K1, V1, K2, V2>(
        &self,
        run_id: &str,
        metrics: &[crate::types::Metric],
        params: impl IntoIterator<Item = (K1, V1)>,
        tags: impl IntoIterator<Item = (K2, V2)>,
    ) -> Result<()>
    where
        K1: Into<String>,
        V1: Into<String>,
        K2: Into<String>,
        V2: Into<String>,
    {
        self.tracking()
            .log_batch(pb::LogBatchRequest {
                run_id: run_id.into(),
                metrics: metrics
                    .iter()
                    .map(|m| pb::Metric {
                        key: m.key.clone(),
                        value: m.value,
                        timestamp: m.timestamp,
                        step: m.step,
                    })
                    .collect(),
                params: params
                    .into_iter()
                    .map(|(k, v)| pb::Param {
                        key: k.into(),
                        value: v.into(),
                    })
                    .collect(),
                tags: tags
                    .into_iter()
                    .map(|(k, v)| pb::RunTag {
                        key: k.into(),
                        value: v.into(),
                    })
                    .collect(),
            })
            .await?;
        Ok(())
    }
}

/// An API token's public half (`Client::list_tokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public id (16 hex characters, also inside the token string).
    pub id: String,
    /// Owner.
    pub username: String,
    /// What it is for.
    pub description: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

impl From<pb::ApiTokenInfo> for TokenInfo {
    fn from(t: pb::ApiTokenInfo) -> Self {
        TokenInfo {
            id: t.id,
            username: t.username,
            description: t.description,
            created_ms: t.created_ms,
        }
    }
}

impl Client {
    /// Creates an API token (for a server with `--auth`) for the caller, or — as an
    /// administrator — for `username`; returns its info and the token string
    /// (`trk_<id>_<secret>`, for `MLFLOW_TRACKING_TOKEN`), which the server never shows again.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// // A server without --auth has no tokens:
    /// let err = client.create_token(None, "laptop").await.unwrap_err();
    /// assert_eq!(err.error_code(), Some("NOT_IMPLEMENTED"));
    /// # Ok(()) }
    /// ```
    pub async fn create_token(
        &self,
        username: Option<&str>,
        description: &str,
    ) -> Result<(TokenInfo, String)> {
        let answer = self
            .backend()
            .auth
            .clone()
            .create_token(pb::CreateTokenRequest {
                username: username.unwrap_or_default().to_owned(),
                description: description.to_owned(),
            })
            .await?
            .into_inner();
        let info = answer
            .info
            .ok_or_else(|| crate::ClientError::Delivery("the server sent no token info".into()))?;
        Ok((info.into(), answer.token))
    }

    /// The caller's tokens (or, as an administrator, `username`'s), without secrets.
    pub async fn list_tokens(&self, username: Option<&str>) -> Result<Vec<TokenInfo>> {
        Ok(self
            .backend()
            .auth
            .clone()
            .list_tokens(pb::ListTokensRequest {
                username: username.unwrap_or_default().to_owned(),
            })
            .await?
            .into_inner()
            .tokens
            .into_iter()
            .map(TokenInfo::from)
            .collect())
    }

    /// Revokes a token by id; it stops working at once.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.backend()
            .auth
            .clone()
            .revoke_token(pb::RevokeTokenRequest { id: id.to_owned() })
            .await?;
        Ok(())
    }
}

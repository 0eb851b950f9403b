//! An MLflow-like global API over a process-wide active-run stack.
//!
//! Mirrors `mlflow.start_run` / `log_param` / `log_metric` / `set_tag` / `end_run`:
//! - the tracking URI is `set_tracking_uri` → `MLFLOW_TRACKING_URI` → `./mlruns`;
//! - new runs go to: the `experiment_id` argument → `set_experiment` →
//!   `MLFLOW_EXPERIMENT_NAME` (created if missing) → `MLFLOW_EXPERIMENT_ID` → `"0"`;
//! - `start_run` resumes `run_id` (or `MLFLOW_RUN_ID`, used once per process) instead of
//!   creating a run; a second top-level run needs `nested(true)`, which tags the child with
//!   `mlflow.parentRunId`;
//! - `log_*` and `set_tag` start a run when none is active.
//!
//! The stack is process-wide (like MLflow 2.x), shared by every task and thread.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main] async fn main() -> trackd_client::Result<()> {
//! # let store = tempfile::tempdir()?;
//! use trackd_client::fluent::{self, StartRun};
//!
//! fluent::set_tracking_uri(store.path().to_str().unwrap()).await; // or MLFLOW_TRACKING_URI
//! fluent::set_experiment("mnist").await?;
//! fluent::start_run(StartRun::new().run_name("baseline")).await?;
//! fluent::log_param("lr", 0.01).await?;
//! fluent::log_metric("loss", 0.25, Some(1)).await?;
//! fluent::end_run(trackd_client::RunStatus::Finished).await?;
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use crate::Client;
use crate::error::{ClientError, Result};
use crate::run::{ActiveRun, RunHandle};
use crate::uri;

/// Run to resume when set (consumed by the first `start_run`).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// # let run_id = fluent::start_run(StartRun::new()).await?.id().to_owned();
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// // MLFLOW_RUN_ID=<run id> makes the first start_run resume that run:
/// # // SAFETY: single-threaded at this point of the example.
/// # unsafe { std::env::set_var(fluent::RUN_ID_ENV, &run_id) };
/// let resumed = fluent::start_run(StartRun::new()).await?;
/// assert_eq!(resumed.id(), run_id);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub const RUN_ID_ENV: &str = "MLFLOW_RUN_ID";
/// Experiment (by name) for new runs; created if it does not exist.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// // MLFLOW_EXPERIMENT_NAME=nightly sends new runs to the experiment "nightly":
/// # // SAFETY: single-threaded at this point of the example.
/// # unsafe { std::env::set_var(fluent::EXPERIMENT_NAME_ENV, "nightly") };
/// let run = fluent::start_run(StartRun::new()).await?;
/// let experiment = fluent::client().await?.get_experiment(run.experiment_id()).await?;
/// assert_eq!(experiment.name, "nightly");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub const EXPERIMENT_NAME_ENV: &str = "MLFLOW_EXPERIMENT_NAME";
/// Experiment (by id) for new runs; it must exist.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let id = fluent::create_experiment("nightly").await?;
/// // MLFLOW_EXPERIMENT_ID=<id> sends new runs to that experiment:
/// # // SAFETY: single-threaded at this point of the example.
/// # unsafe { std::env::set_var(fluent::EXPERIMENT_ID_ENV, &id) };
/// let run = fluent::start_run(StartRun::new()).await?;
/// assert_eq!(run.experiment_id(), id);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub const EXPERIMENT_ID_ENV: &str = "MLFLOW_EXPERIMENT_ID";

#[derive(Default)]
struct State {
    tracking_uri: Option<String>,
    client: Option<Client>,
    experiment_id: Option<String>,
    stack: Vec<ActiveRun>,
    last_run_id: Option<String>,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(Default::default);
static ENV_RUN_ID_USED: AtomicBool = AtomicBool::new(false);

/// Options of [`start_run`], as MLflow's keyword arguments.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let options = StartRun::new().run_name("baseline").tag("team", "vision");
/// let run = fluent::start_run(options).await?;
/// assert_eq!(run.info().run_name, "baseline");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct StartRun {
    run_id: Option<String>,
    experiment_id: Option<String>,
    run_name: Option<String>,
    nested: bool,
    tags: Vec<(String, String)>,
}

impl StartRun {
    /// No options: a new top-level run in the resolved experiment.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let run = fluent::start_run(StartRun::new()).await?;
    /// assert_eq!(run.experiment_id(), "0");
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Resume this run instead of creating one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let first = fluent::start_run(StartRun::new()).await?.id().to_owned();
    /// fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// let again = fluent::start_run(StartRun::new().run_id(&first)).await?;
    /// assert_eq!(again.id(), first);
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }

    /// Experiment of a new run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let id = fluent::create_experiment("ablation").await?;
    /// let run = fluent::start_run(StartRun::new().experiment_id(&id)).await?;
    /// assert_eq!(run.experiment_id(), id);
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn experiment_id(mut self, id: impl Into<String>) -> Self {
        self.experiment_id = Some(id.into());
        self
    }

    /// Name of a new run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let run = fluent::start_run(StartRun::new().run_name("baseline")).await?;
    /// assert_eq!(run.info().run_name, "baseline");
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn run_name(mut self, name: impl Into<String>) -> Self {
        self.run_name = Some(name.into());
        self
    }

    /// Start the run as a child of the active run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let parent = fluent::start_run(StartRun::new()).await?;
    /// let child = fluent::start_run(StartRun::new().nested(true)).await?;
    /// let tags = fluent::get_run(child.id()).await?.data.tags;
    /// assert_eq!(tags["mlflow.parentRunId"], parent.id());
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn nested(mut self, nested: bool) -> Self {
        self.nested = nested;
        self
    }

    /// A tag for the run (new or resumed).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// use trackd_client::fluent::{self, StartRun};
    /// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
    /// let run = fluent::start_run(StartRun::new().tag("team", "vision")).await?;
    /// let tags = fluent::get_run(run.id()).await?.data.tags;
    /// assert_eq!(tags["team"], "vision");
    /// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
    /// # Ok(()) }
    /// ```
    pub fn tag(mut self, key: impl Into<String>, value: impl Display) -> Self {
        self.tags.push((key.into(), value.to_string()));
        self
    }
}

/// Sets the tracking URI for the fluent API (a server URL or a store directory).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// // e.g. fluent::set_tracking_uri("http://127.0.0.1:5000").await;
/// assert_eq!(fluent::get_tracking_uri().await, store.path().to_str().unwrap());
/// # Ok(()) }
/// ```
pub async fn set_tracking_uri(uri: impl Into<String>) {
    let mut state = STATE.lock().await;
    state.tracking_uri = Some(uri.into());
    state.client = None;
}

/// The tracking URI the fluent API uses: the one set with [`set_tracking_uri`], else
/// `MLFLOW_TRACKING_URI`, else `./mlruns`.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # // SAFETY: single-threaded at this point of the example.
/// # unsafe { std::env::remove_var("MLFLOW_TRACKING_URI") };
/// use trackd_client::fluent;
/// assert_eq!(fluent::get_tracking_uri().await, "./mlruns"); // nothing set
/// fluent::set_tracking_uri("http://127.0.0.1:5000").await;
/// assert_eq!(fluent::get_tracking_uri().await, "http://127.0.0.1:5000");
/// # Ok(()) }
/// ```
pub async fn get_tracking_uri() -> String {
    uri::resolve(STATE.lock().await.tracking_uri.as_deref())
}

async fn client_locked(state: &mut State) -> Result<Client> {
    if let Some(c) = &state.client {
        return Ok(c.clone());
    }
    let client = Client::connect(&uri::resolve(state.tracking_uri.as_deref())).await?;
    state.client = Some(client.clone());
    Ok(client)
}

/// The client behind the fluent API.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let client = fluent::client().await?;
/// assert_eq!(client.tracking_uri(), fluent::get_tracking_uri().await);
/// # Ok(()) }
/// ```
pub async fn client() -> Result<Client> {
    client_locked(&mut *STATE.lock().await).await
}

/// Makes the experiment named `name` active for new runs, creating it if needed; returns
/// its id.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let id = fluent::set_experiment("mnist").await?;
/// let run = fluent::start_run(StartRun::new()).await?;
/// assert_eq!(run.experiment_id(), id);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn set_experiment(name: &str) -> Result<String> {
    let mut state = STATE.lock().await;
    let client = client_locked(&mut state).await?;
    let id = client.get_or_create_experiment(name).await?;
    state.experiment_id = Some(id.clone());
    Ok(id)
}

/// Makes the experiment with id `id` active for new runs; it must exist and be active.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let id = fluent::create_experiment("mnist").await?;
/// fluent::set_experiment_by_id(&id).await?;
/// assert_eq!(fluent::start_run(StartRun::new()).await?.experiment_id(), id);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// assert!(fluent::set_experiment_by_id("12345").await.is_err()); // no such experiment
/// # Ok(()) }
/// ```
pub async fn set_experiment_by_id(id: &str) -> Result<()> {
    let mut state = STATE.lock().await;
    let client = client_locked(&mut state).await?;
    let exp = client.get_experiment(id).await?;
    if exp.deleted {
        return Err(invalid(format!(
            "Cannot set a deleted experiment '{}' as the active experiment.",
            exp.name
        )));
    }
    state.experiment_id = Some(id.to_owned());
    Ok(())
}

/// Creates an experiment and returns its id.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let id = fluent::create_experiment("mnist").await?;
/// assert_eq!(fluent::client().await?.get_experiment(&id).await?.name, "mnist");
/// // Names are unique:
/// assert!(fluent::create_experiment("mnist").await.is_err());
/// # Ok(()) }
/// ```
pub async fn create_experiment(name: &str) -> Result<String> {
    client().await?.create_experiment(name).await
}

fn invalid(message: String) -> ClientError {
    ClientError::api(crate::ErrorKind::InvalidArgument, message)
}

/// The experiment new runs go to: `explicit` (an argument, or the one `set_experiment`
/// chose) → `MLFLOW_EXPERIMENT_NAME` (created if missing) → `MLFLOW_EXPERIMENT_ID` (which
/// must exist) → `"0"`, the default experiment.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
/// use trackd_client::fluent::resolve_experiment;
/// assert_eq!(resolve_experiment(&client, Some("7".into())).await?, "7");
/// # // SAFETY: single-threaded at this point of the example.
/// # unsafe { std::env::remove_var("MLFLOW_EXPERIMENT_NAME"); std::env::remove_var("MLFLOW_EXPERIMENT_ID") };
/// assert_eq!(resolve_experiment(&client, None).await?, "0");
/// # Ok(()) }
/// ```
pub async fn resolve_experiment(client: &Client, explicit: Option<String>) -> Result<String> {
    if let Some(id) = explicit {
        return Ok(id);
    }
    let env_id = std::env::var(EXPERIMENT_ID_ENV)
        .ok()
        .filter(|s| !s.is_empty());
    if let Some(name) = std::env::var(EXPERIMENT_NAME_ENV)
        .ok()
        .filter(|s| !s.is_empty())
    {
        let id = client.get_or_create_experiment(&name).await?;
        if let Some(env_id) = env_id.filter(|e| *e != id) {
            return Err(invalid(format!(
                "{EXPERIMENT_NAME_ENV}='{name}' (id {id}) and {EXPERIMENT_ID_ENV}='{env_id}' name different experiments."
            )));
        }
        return Ok(id);
    }
    if let Some(id) = env_id {
        return match client.get_experiment(&id).await {
            Ok(_) => Ok(id),
            Err(e) if e.code() == tonic::Code::NotFound => Err(invalid(format!(
                "{EXPERIMENT_ID_ENV}='{id}' names an experiment that does not exist."
            ))),
            Err(e) => Err(e),
        };
    }
    Ok("0".to_owned())
}

/// Starts (or resumes) a run and pushes it on the active-run stack.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let parent = fluent::start_run(StartRun::new().run_name("sweep")).await?;
/// let child = fluent::start_run(StartRun::new().nested(true)).await?;
/// // Another run that is not nested is refused while one is active, as in MLflow:
/// assert!(fluent::start_run(StartRun::new()).await.is_err());
/// fluent::end_run(trackd_client::RunStatus::Finished).await?; // child
/// fluent::end_run(trackd_client::RunStatus::Finished).await?; // parent
/// # Ok(()) }
/// ```
pub async fn start_run(options: StartRun) -> Result<RunHandle> {
    let mut state = STATE.lock().await;
    let client = client_locked(&mut state).await?;
    let active = state.stack.last().map(|r| r.id().to_owned());
    let run = options
        .start_on(&client, active.as_deref(), state.experiment_id.as_deref())
        .await?;
    let handle = run.handle();
    state.last_run_id = Some(handle.id().to_owned());
    state.stack.push(run);
    Ok(handle)
}

impl StartRun {
    /// Starts (or resumes) the run these options describe on `client`, for a caller that
    /// keeps its own active-run stack (such as the Python binding): `active` is the
    /// innermost active run (refused unless `nested`, else the parent), `chosen_experiment`
    /// the experiment set with `set_experiment`. New runs go to the `experiment_id` option →
    /// `chosen_experiment` → `MLFLOW_EXPERIMENT_NAME` → `MLFLOW_EXPERIMENT_ID` → `"0"`;
    /// the `run_id` option (or `MLFLOW_RUN_ID`, used once per process) resumes instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use trackd_client::fluent::StartRun;
    /// let parent = StartRun::new().start_on(&client, None, None).await?;
    /// // With a run active, only a nested run may start; it becomes the parent's child.
    /// assert!(StartRun::new().start_on(&client, Some(parent.id()), None).await.is_err());
    /// let child = StartRun::new().nested(true).start_on(&client, Some(parent.id()), None).await?;
    /// let tags = client.get_run(child.id()).await?.data.tags;
    /// assert_eq!(tags["mlflow.parentRunId"], parent.id());
    /// child.finish().await?;
    /// parent.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_on(
        self,
        client: &Client,
        active: Option<&str>,
        chosen_experiment: Option<&str>,
    ) -> Result<ActiveRun> {
        if let Some(top) = active
            && !self.nested
        {
            return Err(ClientError::Usage(format!(
                "Run with UUID {top} is already active. To start a new run, first end the \
                 current run with end_run(). To start a nested run, use nested=True."
            )));
        }
        let resume = self.run_id.clone().or_else(|| {
            let id = std::env::var(RUN_ID_ENV).ok().filter(|s| !s.is_empty())?;
            (!ENV_RUN_ID_USED.swap(true, Ordering::SeqCst)).then_some(id)
        });
        match resume {
            Some(run_id) => {
                // A run of another experiment than the active one is refused before resuming.
                let run = client.resume_run_in(&run_id, chosen_experiment).await?;
                if !self.tags.is_empty() {
                    client
                        .log_params_and_tags(run.id(), Vec::new(), self.tags.clone())
                        .await?;
                }
                Ok(run)
            }
            None => {
                let explicit = self
                    .experiment_id
                    .clone()
                    .or_else(|| chosen_experiment.map(str::to_owned));
                let experiment_id = resolve_experiment(client, explicit).await?;
                let mut builder = client.start_run().experiment_id(experiment_id);
                if let Some(name) = &self.run_name {
                    builder = builder.run_name(name.clone());
                }
                if let Some(parent) = active.filter(|_| self.nested) {
                    builder = builder.parent(parent);
                }
                for (k, v) in &self.tags {
                    builder = builder.tag(k.clone(), v);
                }
                builder.start().await
            }
        }
    }
}

/// The innermost active run, if any.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// assert!(fluent::active_run().await.is_none());
/// let run = fluent::start_run(StartRun::new()).await?;
/// assert_eq!(fluent::active_run().await.map(|r| r.id().to_owned()), Some(run.id().to_owned()));
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn active_run() -> Option<RunHandle> {
    STATE.lock().await.stack.last().map(ActiveRun::handle)
}

/// The id of the active run, or of the last run this process ended.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let run_id = fluent::start_run(StartRun::new()).await?.id().to_owned();
/// fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// assert_eq!(fluent::last_active_run_id().await, Some(run_id));
/// # Ok(()) }
/// ```
pub async fn last_active_run_id() -> Option<String> {
    STATE.lock().await.last_run_id.clone()
}

/// Ends the innermost active run with `status` (flushing its metrics first). No-op without
/// an active run.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// use trackd_client::RunStatus;
/// let run = fluent::start_run(StartRun::new()).await?;
/// fluent::log_metric("loss", 0.5, Some(0)).await?;
/// fluent::end_run(RunStatus::Finished).await?;
/// let info = fluent::get_run(run.id()).await?.info;
/// assert_eq!(info.status, RunStatus::Finished);
/// fluent::end_run(RunStatus::Finished).await?; // nothing active: no-op
/// # Ok(()) }
/// ```
pub async fn end_run(status: crate::RunStatus) -> Result<()> {
    let run = STATE.lock().await.stack.pop();
    match run {
        Some(run) => run.end(status).await,
        None => Ok(()),
    }
}

async fn active_or_start() -> Result<RunHandle> {
    if let Some(run) = active_run().await {
        return Ok(run);
    }
    start_run(StartRun::new()).await
}

/// Logs a param to the active run (starting one if needed).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::log_param("lr", 0.01).await?; // starts a run: none was active
/// let run = fluent::active_run().await.expect("started by log_param");
/// let params = fluent::get_run(run.id()).await?.data.params;
/// assert_eq!(params["lr"], "0.01");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_param(key: &str, value: impl Display) -> Result<()> {
    active_or_start().await?.log_param(key, value).await
}

/// Logs params to the active run (starting one if needed).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::log_params([("epochs", 10), ("batch_size", 64)]).await?;
/// # let run = fluent::active_run().await.unwrap();
/// # assert_eq!(fluent::get_run(run.id()).await?.data.params.len(), 2);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_params<K: Display, V: Display>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<()> {
    active_or_start().await?.log_params(params).await
}

/// Logs a metric to the active run (starting one if needed); `step` defaults to 0.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// for epoch in 0..3 {
///     fluent::log_metric("loss", 1.0 / f64::from(epoch + 1), Some(i64::from(epoch))).await?;
/// }
/// fluent::flush().await?;
/// # let run = fluent::active_run().await.unwrap();
/// # assert_eq!(fluent::client().await?.metric_history(run.id(), "loss").await?.len(), 3);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_metric(key: &str, value: f64, step: Option<i64>) -> Result<()> {
    active_or_start()
        .await?
        .log_metric(key, value, step.unwrap_or(0))
        .await
}

/// Logs several metrics at one step to the active run (starting one if needed).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::log_metrics(&[("loss", 0.3), ("accuracy", 0.9)], Some(1)).await?;
/// fluent::flush().await?;
/// # let run = fluent::active_run().await.unwrap();
/// # assert_eq!(fluent::get_run(run.id()).await?.data.metrics.len(), 2);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_metrics(metrics: &[(&str, f64)], step: Option<i64>) -> Result<()> {
    active_or_start()
        .await?
        .log_metrics(metrics, step.unwrap_or(0))
        .await
}

/// Sets a tag on the active run (starting one if needed).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::set_tag("release", "v1.2").await?;
/// # let run = fluent::active_run().await.unwrap();
/// # let tags = fluent::get_run(run.id()).await?.data.tags;
/// # assert_eq!(tags["release"], "v1.2");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn set_tag(key: &str, value: impl Display) -> Result<()> {
    active_or_start().await?.set_tag(key, value).await
}

/// A run by id.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let run = fluent::start_run(StartRun::new().run_name("baseline")).await?;
/// let fetched = fluent::get_run(run.id()).await?;
/// assert_eq!(fetched.info.run_name, "baseline");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn get_run(run_id: &str) -> Result<crate::Run> {
    client().await?.get_run(run_id).await
}

/// Logs a serde model named `name` from the active run (one is started if none is), as
/// MLflow's `log_model` does; for files, flavors or tags use [`RunHandle::log_model`].
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent;
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let logged = fluent::log_model(&vec![1.0, 2.0], "weights").await?;
/// let v = fluent::register_model(&logged.model_uri(), "weights").await?;
/// let loaded = fluent::load_model(&format!("models:/weights/{}", v.version), store.path().join("m")).await?;
/// assert_eq!(loaded.load_serde::<Vec<f64>>()?, [1.0, 2.0]);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_model<T: serde::Serialize>(model: &T, name: &str) -> Result<crate::LoggedModel> {
    active_or_start()
        .await?
        .log_model(name)
        .serde(model)?
        .log()
        .await
}

/// Downloads a model by any MLflow model URI into `dest` (see [`Client::load_model`]).
pub async fn load_model(
    model_uri: &str,
    dest: impl AsRef<std::path::Path>,
) -> Result<crate::LoadedModel> {
    client().await?.load_model(model_uri, dest).await
}

/// Registers a model as a new version of `name` (see [`Client::register_model`]).
pub async fn register_model(model_uri: &str, name: &str) -> Result<crate::ModelVersion> {
    client().await?.register_model(model_uri, name).await
}

/// A run search over the current experiment (MLflow's fluent `search_runs`): set with
/// [`set_experiment`], else `MLFLOW_EXPERIMENT_NAME` / `MLFLOW_EXPERIMENT_ID`, else
/// `Default`. Refine it with [`crate::SearchRuns`]'s calls (another `.experiments(..)`
/// replaces the current one).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::set_experiment("fluent-search").await?;
/// for lr in [0.1, 0.01] {
///     fluent::start_run(StartRun::new()).await?;
///     fluent::log_param("lr", lr).await?;
///     fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// }
/// let runs = fluent::search_runs().await?.filter("params.lr = '0.01'").all().await?;
/// assert_eq!(runs.len(), 1);
/// # Ok(()) }
/// ```
pub async fn search_runs() -> Result<crate::SearchRuns> {
    let mut state = STATE.lock().await;
    let client = client_locked(&mut state).await?;
    let experiment = resolve_experiment(&client, state.experiment_id.clone()).await?;
    Ok(client.search_runs().experiments([experiment]))
}

/// The last run the fluent API ended (MLflow's `last_active_run`), fetched.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::start_run(StartRun::new().run_name("done")).await?;
/// fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// let last = fluent::last_active_run().await?.expect("a run ended");
/// assert_eq!(last.info.run_name, "done");
/// # Ok(()) }
/// ```
pub async fn last_active_run() -> Result<Option<crate::Run>> {
    match last_active_run_id().await {
        Some(id) => Ok(Some(client().await?.get_run(&id).await?)),
        None => Ok(None),
    }
}

/// Uploads a local file to the active run's artifacts, under `artifact_path` (MLflow's
/// `log_artifact`; a run is started if none is active).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent;
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// # let notes = store.path().join("notes.txt");
/// # std::fs::write(&notes, "hello")?;
/// fluent::log_artifact(&notes, Some("docs")).await?;
/// let uri = fluent::get_artifact_uri(Some("docs/notes.txt")).await?;
/// assert!(uri.ends_with("/artifacts/docs/notes.txt"), "{uri}");
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_artifact(
    local_path: impl AsRef<std::path::Path>,
    artifact_path: Option<&str>,
) -> Result<()> {
    active_or_start()
        .await?
        .log_artifact(local_path, artifact_path)
        .await
}

/// Uploads a local directory, recursively, to the active run's artifacts (MLflow's
/// `log_artifacts`).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent;
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// # let out = store.path().join("out");
/// # std::fs::create_dir_all(out.join("plots"))?;
/// # std::fs::write(out.join("plots/loss.svg"), "<svg/>")?;
/// fluent::log_artifacts(&out, None).await?;
/// let run = fluent::active_run().await.unwrap();
/// assert_eq!(run.list_artifacts("", true).await?.iter().filter(|f| !f.is_dir).count(), 1);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn log_artifacts(
    local_dir: impl AsRef<std::path::Path>,
    artifact_path: Option<&str>,
) -> Result<()> {
    active_or_start()
        .await?
        .log_artifacts(local_dir, artifact_path)
        .await
}

/// The artifact URI of the active run, or of `path` inside it (MLflow's
/// `get_artifact_uri`; a run is started if none is active).
pub async fn get_artifact_uri(path: Option<&str>) -> Result<String> {
    Ok(active_or_start().await?.get_artifact_uri(path))
}

/// Sets several tags of the active run (MLflow's `set_tags`).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent;
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::set_tags([("team", "vision"), ("stage", "dev")]).await?;
/// fluent::delete_tag("stage").await?;
/// let run = fluent::active_run().await.unwrap();
/// let tags = fluent::get_run(run.id()).await?.data.tags;
/// assert_eq!(tags["team"], "vision");
/// assert!(!tags.contains_key("stage"));
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn set_tags<K: Into<String>, V: Into<String>>(
    tags: impl IntoIterator<Item = (K, V)>,
) -> Result<()> {
    let run = active_or_start().await?;
    run.client().set_tags(run.id(), tags).await
}

/// Deletes a tag of the active run (MLflow's `delete_tag`).
pub async fn delete_tag(key: &str) -> Result<()> {
    let run = active_or_start().await?;
    run.client().delete_tag(run.id(), key).await
}

/// Waits until every metric logged through the fluent API is acknowledged.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// fluent::log_metric("loss", 0.5, None).await?; // buffered
/// fluent::flush().await?; // stored
/// # let run = fluent::active_run().await.unwrap();
/// # assert_eq!(fluent::client().await?.metric_history(run.id(), "loss").await?.len(), 1);
/// # fluent::end_run(trackd_client::RunStatus::Finished).await?;
/// # Ok(()) }
/// ```
pub async fn flush() -> Result<()> {
    client().await?.flush().await
}

/// Ends every active run (KILLED), forgets the experiment and the client (for tests and for
/// programs that switch stores).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
/// # let store = tempfile::tempdir()?;
/// use trackd_client::fluent::{self, StartRun};
/// fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let run = fluent::start_run(StartRun::new()).await?;
/// fluent::reset().await?;
/// assert!(fluent::active_run().await.is_none());
/// # fluent::set_tracking_uri(store.path().to_str().unwrap()).await;
/// let info = fluent::get_run(run.id()).await?.info;
/// assert_eq!(info.status, trackd_client::RunStatus::Killed);
/// # Ok(()) }
/// ```
pub async fn reset() -> Result<()> {
    let runs: Vec<ActiveRun> = std::mem::take(&mut STATE.lock().await.stack);
    for run in runs.into_iter().rev() {
        run.end(crate::RunStatus::Killed).await?;
    }
    let mut state = STATE.lock().await;
    *state = State::default();
    ENV_RUN_ID_USED.store(false, Ordering::SeqCst);
    Ok(())
}

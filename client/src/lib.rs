//! # trackd-client
//!
//! A typed async client for [trackd](https://github.com/) — and an MLflow-style fluent API.
//!
//! - [`Client`]: one connection, `Clone + Send + Sync`. `http://HOST:PORT` talks to a trackd
//!   server over gRPC; a directory path or `file:` URI runs the server's Tracker in-process
//!   (feature `embedded`, on by default), so no server is needed.
//! - Runs: [`Client::start_run`] → [`ActiveRun`] (owner; [`ActiveRun::finish`]) and
//!   [`RunHandle`] (cheap clone for logging from many tasks).
//! - [`fluent`]: `start_run`, `log_param`, `log_metric`, `set_tag`, `end_run`, … over a
//!   process-wide active-run stack, with MLflow's environment variables.
//!
//! Metric logging never waits for a round trip: points go into a bounded buffer and a
//! background task streams them in batches over `LogStream`; `flush()`/`finish()` return
//! once the server has acknowledged every point (durably, by default).
//!
//! ## Layout
//! - `client.rs`: [`Client`]; `run.rs`: runs; `fluent.rs`: the global API;
//! - `ingest.rs`: buffering, batching, acknowledgements and reconnects;
//! - `backend.rs`: the same operations over gRPC or the embedded Tracker;
//! - `uri.rs`: tracking URI resolution; `context.rs`: MLflow system tags.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main] async fn main() -> trackd_client::Result<()> {
//! # let store = tempfile::tempdir()?;
//! # // SAFETY: single-threaded at this point of the example.
//! # unsafe { std::env::set_var("MLFLOW_TRACKING_URI", store.path()) };
//! use trackd_client::Client;
//!
//! let client = Client::from_env().await?; // MLFLOW_TRACKING_URI, else ./mlruns
//! let run = client.start_run().run_name("quickstart").start().await?;
//! run.log_param("epochs", 3).await?;
//! for epoch in 0..3 {
//!     run.log_metric("loss", 1.0 / f64::from(epoch + 1), i64::from(epoch)).await?;
//! }
//! run.finish().await?;
//! # Ok(()) }
//! ```

mod artifacts;
mod backend;
mod client;
pub mod context;
mod credentials;
mod error;
mod failover;
pub mod fluent;
mod ingest;
mod insecure_tls;
mod latency;
pub mod manage;
pub mod media;
pub mod models;
mod run;
mod search;
mod types;
pub mod uri;

pub use client::Client;
pub use credentials::Credentials;
pub use error::{ClientError, ErrorKind, Result};
pub use ingest::{IngestConfig, IngestStats};
pub use latency::AckLatency;
pub use models::{LoadedModel, LogModel, LoggedModel, MlModel, ModelVersion};
pub use run::{ActiveRun, RunBuilder, RunHandle};
pub use search::{RunView, RunsPage, SearchRuns};
pub use types::{
    Dataset, DatasetInput, Experiment, FileInfo, Metric, MetricColumns, MetricColumnsStream,
    MetricPoint, ModelOutput, Run, RunData, RunInfo, RunStatus,
};

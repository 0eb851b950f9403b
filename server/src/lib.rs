//! # trackd-server
//!
//! An experiment-tracking server that speaks MLflow's tracking semantics over gRPC (and,
//! on the same port, plain HTTP), backed by an embedded sled store.
//!
//! ## Layout
//!
//! Data flows one way: edge → domain → store.
//!
//! - Edges (decode, validate, encode; nothing else):
//!   - [`grpc`]: the tonic services (`TrackingService`, `ArtifactService`); errors become
//!     `tonic::Status` through the shared table.
//!   - [`rest`]: MLflow's REST API and the artifact proxy (axum): one request struct per
//!     endpoint (`rest::requests`, field rules in `rest::fields`), tracking, logged-model,
//!     registry and artifact endpoints in their own modules, streamed answers for responses
//!     that grow with the data.
//!   - [`http`]: `/health` and `/metrics` (Prometheus text).
//!   - [`ui`]: the web UI — server-rendered pages (maud), an embedded script with uPlot for
//!     charts, and the columnar sampled-history endpoint that feeds them.
//! - [`tracker`]: the [`Tracker`], the one implementation of every tracking operation —
//!   validation, defaults, MLflow's rules, which artifact path names what; every edge calls
//!   it. Its reads (`tracker::reads`), streaming history reads (`tracker::history`), logged
//!   models (`tracker::models`) and the model registry (`tracker::registry`).
//! - [`backend`]: the seam under the Tracker — the `TrackingBackend` trait (the sled store
//!   implements it) and history sources.
//! - [`domain`]: entities, validation limits and state rules, free of wire and storage types
//!   (logged models and the registry carry their rules as `ModelWrite::apply` and
//!   `RegistryWrite::apply`, so every backend shares them).
//! - [`query`]: pure query logic (filter language, evaluation over runs, experiments, logged
//!   models and the registry, ordering, keyset pages, sampling), used by the store and the
//!   Tracker.
//! - [`store`]: sled trees, the chunked metric encoding with chunk spans, the history block
//!   reader, and the group-commit writer.
//! - [`artifacts`]: the one path validator and the files under `<store>/artifacts`.
//! - [`copy`]: `trackd copy` — a whole store into another (sled ↔ PostgreSQL, local ↔
//!   object-store artifacts) with ids kept, through the target's writer (`Restore` ops),
//!   resumable and verified.
//! - [`fuzzing`]: the bodies of the fuzz targets (`fuzz/`): every decoder of untrusted input
//!   with what must hold for any bytes; `tests/fuzz_seeds.rs` replays the seeds through them.
//! - [`error`]: the domain error enum; each variant is one row of the shared error table
//!   (`trackd_proto::errors`).
//! - [`identity`]: the layer that marks every request with its caller.
//! - [`in_process`]: the gRPC services over an in-memory connection, the client's
//!   embedded mode (same client code as remote).
//! - [`connections`]: the listener — connection cap, header/body timeouts, HTTP/2 limits.
//! - [`latency`]: the Prometheus histogram of LogStream acknowledgement latency.
//! - [`server`]: binds everything to one listener, with reflection, health and graceful
//!   shutdown. [`config`] is the `trackd server` command line; [`telemetry`] the logging.

pub mod artifacts;
pub mod auth;
pub mod backend;
pub mod config;
pub mod connections;
pub mod copy;
pub mod domain;
pub mod error;
pub mod fuzzing;
pub mod grpc;
pub mod http;
pub mod identity;
pub mod in_process;
pub mod latency;
pub mod memory;
pub mod query;
pub mod rest;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tracker;
pub mod ui;

pub use error::{Result, TrackingError};
pub use server::{serve, ServerHandle};
pub use store::{Durability, Store, StoreConfig};
pub use tracker::Tracker;

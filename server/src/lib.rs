//! # trackd-server
//!
//! An experiment-tracking server that speaks MLflow's tracking semantics over gRPC (and,
//! on the same port, plain HTTP), backed by an embedded sled store.
//!
//! ## Layout
//!
//! Data flows one way: edge → domain → store.
//!
//! - [`grpc`]: the tonic edge. Converts protobuf messages to domain calls and errors to
//!   `tonic::Status`; nothing else.
//! - [`http`]: the HTTP edge on the same port (`/health`).
//! - [`tracker`]: the [`Tracker`], the one implementation of every tracking operation:
//!   validation, defaults and MLflow's rules. Every edge calls it.
//! - [`domain`]: entities, validation limits and state rules, free of wire and storage types.
//! - [`store`]: sled trees, the chunked metric encoding and the group-commit writer.
//! - [`error`]: the domain error enum and its single mapping to gRPC codes, MLflow
//!   `error_code`s and HTTP statuses.
//! - [`connections`]: the listener: connection cap, header/body timeouts, HTTP/2 limits.
//! - [`server`]: binds everything to one listener, with reflection, health and graceful
//!   shutdown. [`config`] is the `trackd server` command line.

pub mod artifacts;
pub mod config;
pub mod connections;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod query;
pub mod rest;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tracker;

pub use error::{Result, TrackingError};
pub use server::{serve, ServerHandle};
pub use store::{Durability, Store, StoreConfig};
pub use tracker::Tracker;

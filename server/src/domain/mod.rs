//! The domain model and MLflow's rules, free of wire and storage types.

pub mod access;
pub mod caller;
mod logged_model;
mod model;
pub mod names;
pub mod registry;
pub mod rules;
pub mod validate;
mod writes;

pub use caller::{Caller, Need, Permission};
pub use logged_model::{
    not_found as logged_model_not_found, LoggedModel, ModelId, ModelMetric, ModelStatus, ModelWrite,
};
pub use model::*;
pub use registry::{ModelVersion, RegisteredModel, RegistryWrite, Stage};
pub use writes::{Outcome, Restore, WriteOp};

//! The domain model and MLflow's rules, free of wire and storage types.

mod model;
pub mod names;
pub mod rules;
pub mod validate;

pub use model::*;

//! The domain model and MLflow's rules, free of wire and storage types.

pub mod caller;
mod model;
pub mod names;
pub mod rules;
pub mod validate;
mod writes;

pub use caller::{Caller, Need, Permission};
pub use model::*;
pub use writes::{Outcome, WriteOp};

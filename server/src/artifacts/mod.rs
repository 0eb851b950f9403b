//! Artifact storage helpers. Every path a client sends goes through
//! [`validate_relative_path`] before it is joined under a root.

mod path;

pub use path::validate_relative_path;

//! Artifact files: where they live and the only code that touches them.
//!
//! Every path from a client goes through [`validate_relative_path`] and then
//! [`ArtifactStore`], which joins it under the store's artifact root, refuses to pass through
//! a symbolic link, opens files with `O_NOFOLLOW`, and writes uploads to a temporary file
//! that is renamed into place only when complete.

mod path;
mod store;

pub use path::validate_relative_path;
pub use store::{ArtifactFile, ArtifactStore, Upload, DEFAULT_MAX_FILE_BYTES};

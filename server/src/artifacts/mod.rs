//! Artifact files: where they live and the only code that touches them.
//!
//! Every path from a client goes through [`validate_relative_path`] (the Tracker calls it
//! before any [`ArtifactRepository`]). [`ArtifactStore`], the local repository, joins paths
//! under the store's artifact root, refuses to pass through a symbolic link, opens files with
//! `O_NOFOLLOW`, and writes uploads to a temporary file renamed into place only when
//! complete.

mod path;
mod repository;
mod store;

pub use path::{directory_of_uri, validate_relative_path, SCHEME};
pub use repository::{ArtifactRead, ArtifactRepository, ArtifactUpload, ByteStream};
pub use store::{ArtifactFile, ArtifactStore, Upload};

/// Size of the chunks an artifact is read in.
pub const READ_CHUNK_BYTES: usize = 256 << 10;

/// Default largest artifact file, in bytes (5 GiB, the size of one S3 PUT).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 << 30;

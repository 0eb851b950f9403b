//! Artifact files: where they live and the only code that touches them.
//!
//! Every path from a client goes through [`validate_relative_path`] (the Tracker calls it
//! before any [`ArtifactRepository`]). [`ArtifactStore`], the local repository, joins paths
//! under the store's artifact root, refuses to pass through a symbolic link, opens files with
//! `O_NOFOLLOW`, and writes uploads to a temporary file renamed into place only when
//! complete.

mod destination;
mod object;
mod path;
mod repository;
mod store;

pub use destination::open_destination;
pub use object::ObjectArtifacts;
pub use path::{directory_of_uri, validate_relative_path, SCHEME};
pub use repository::{
    ArtifactRead, ArtifactRepository, ArtifactUpload, ByteStream, DirectTransfers, PresignedPart,
    PresignedRequest,
};
pub use store::{ArtifactFile, ArtifactStore, Upload};

use crate::error::TrackingError;

/// MLflow's answer when the artifact store cannot do multipart uploads (the stock client
/// falls back to a plain upload on this message).
pub fn multipart_unsupported() -> TrackingError {
    TrackingError::Unsupported(
        "Multipart upload is not supported for the current artifact repository".into(),
    )
}

/// The refusal of a file over the largest artifact size.
pub fn too_large(rel: &str, limit: u64) -> TrackingError {
    TrackingError::TooLarge(format!(
        "Artifact '{}' is larger than this server accepts ({limit} bytes; see \
         --max-artifact-mb).",
        crate::domain::validate::abbreviate(rel),
    ))
}

/// Size of the chunks an artifact is read in.
pub const READ_CHUNK_BYTES: usize = 256 << 10;

/// Default largest artifact file, in bytes (5 GiB, the size of one S3 PUT).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 << 30;

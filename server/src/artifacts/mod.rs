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

/// The bytes of an artifact file, read as they are sent (chunks of [`READ_CHUNK_BYTES`]).
pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// Size of the chunks an artifact is read in.
pub const READ_CHUNK_BYTES: usize = 256 << 10;

/// An artifact file being read: its size, and its bytes.
pub struct ArtifactRead {
    /// Size in bytes (known before the first chunk).
    pub size: u64,
    /// The file's bytes, in order.
    pub bytes: ByteStream,
}
